"""omega.py: the closed-form Omega of paper eq. 11 against scipy's sqrtm, its invariants,
the trace penalty and its gradient, the correlation matrix (method.md, section 3)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

from aesthetic_jax.core import omega


def _reference(w: np.ndarray) -> np.ndarray:
  root = np.real(scipy.linalg.sqrtm(w.T.astype(np.float64) @ w.astype(np.float64)))
  return root / np.trace(root)


def _svd_reference(w: np.ndarray) -> np.ndarray:
  # (W^T W)^{1/2} = V diag(s) V^T for W = U diag(s) V^T: exact also when W is rank-deficient.
  _, s, vt = np.linalg.svd(w.astype(np.float64), full_matrices=False)
  root = (vt.T * s) @ vt
  return root / np.trace(root)


def _assert_valid_omega(om):
  om = np.asarray(om, np.float64)
  np.testing.assert_array_equal(om, om.T)
  assert abs(np.trace(om) - 1) < 1e-5
  assert np.linalg.eigvalsh(om).min() >= -1e-6


def _random_w(d, t, seed=0):
  return np.random.default_rng(seed).normal(size=(d, t)).astype(np.float32)


def test_initial_omega():
  np.testing.assert_array_equal(omega.initial_omega(4), np.eye(4) / 4)
  assert omega.initial_omega(3).dtype == jnp.float32


def test_update_matches_sqrtm_for_a_random_w():
  w = _random_w(16, 5)
  om = omega.update(jnp.asarray(w))
  assert om.shape == (5, 5) and om.dtype == jnp.float32
  np.testing.assert_allclose(om, _reference(w), rtol=1e-5, atol=1e-6)
  _assert_valid_omega(om)


@pytest.mark.parametrize('case', ['d_smaller_than_t', 'repeated_column'])
def test_update_matches_sqrtm_for_a_rank_deficient_w(case):
  if case == 'd_smaller_than_t':
    w = _random_w(3, 6, seed=1)  # rank 3 < T = 6
  else:
    w = _random_w(16, 5, seed=2)
    w[:, 3] = w[:, 1]            # two identical columns: rank 4 < T = 5
  reference = _reference(w)
  np.testing.assert_allclose(reference, _svd_reference(w), atol=1e-6)  # the reference holds
  om = omega.update(jnp.asarray(w))
  # float32 eigh of W^T W loses ~sqrt(float32 eps) on the zero eigenvalues' square roots.
  np.testing.assert_allclose(om, reference, atol=2e-4)
  _assert_valid_omega(om)
  with jax.enable_x64(True):
    om64 = omega.update(jnp.asarray(w, jnp.float64))
    assert om64.dtype == jnp.float64
    np.testing.assert_allclose(om64, reference, atol=1e-7)
    _assert_valid_omega(om64)


def test_update_of_zero_w_is_identity_over_t():
  om = omega.update(jnp.zeros((8, 4)))
  np.testing.assert_array_equal(om, np.eye(4) / 4)
  assert np.isfinite(np.asarray(omega.trace_penalty(jnp.ones((8, 4)), om)))


def test_update_is_scale_invariant_and_survives_tiny_and_huge_w():
  w = _random_w(16, 5, seed=3)
  expected = _reference(w)
  for scale in (1e-25, 1e-10, 1e10, 1e25):  # W^T W would under/overflow float32 at the ends
    np.testing.assert_allclose(omega.update(jnp.asarray(w * np.float32(scale))), expected,
                               rtol=1e-5, atol=1e-6)


def test_update_eps_sets_what_counts_as_zero():
  w = jnp.asarray(_random_w(16, 5, seed=4)) * 1e-3
  np.testing.assert_array_equal(omega.update(w, eps=1e-2), omega.initial_omega(5))
  np.testing.assert_allclose(omega.update(w, eps=1e-6), _reference(np.asarray(w)), atol=1e-6)


def test_update_under_an_outer_jit():
  w = jnp.asarray(_random_w(16, 5))
  np.testing.assert_allclose(jax.jit(omega.update)(w), omega.update(w), rtol=1e-6, atol=1e-7)


def test_trace_penalty_matches_numpy():
  w = _random_w(16, 5, seed=5)
  om = np.asarray(omega.update(jnp.asarray(_random_w(16, 5, seed=6))), np.float64)
  eps = 1e-6
  a_inv = np.linalg.inv(om + eps * np.eye(5))
  expected = np.trace(w.astype(np.float64) @ a_inv @ w.T.astype(np.float64))
  value = omega.trace_penalty(jnp.asarray(w), jnp.asarray(om, jnp.float32), eps=eps)
  assert value.shape == ()
  np.testing.assert_allclose(value, expected, rtol=1e-5)
  np.testing.assert_allclose(jax.jit(omega.trace_penalty)(jnp.asarray(w),
                                                          jnp.asarray(om, jnp.float32)),
                             expected, rtol=1e-5)


def test_trace_penalty_of_identity_over_t_is_t_times_frobenius_norm():
  w = _random_w(7, 4, seed=7)
  value = omega.trace_penalty(jnp.asarray(w), omega.initial_omega(4), eps=0.0)
  np.testing.assert_allclose(value, 4 * np.sum(w.astype(np.float64) ** 2), rtol=1e-5)


def test_trace_penalty_gradient_is_two_w_omega_inverse_and_omega_is_constant():
  w = jnp.asarray(_random_w(16, 5, seed=8))
  om = omega.update(jnp.asarray(_random_w(16, 5, seed=9)))
  eps = 1e-6
  grad_w, grad_omega = jax.grad(lambda a, b: omega.trace_penalty(a, b, eps=eps),
                                argnums=(0, 1))(w, om)
  a_inv = np.linalg.inv(np.asarray(om, np.float64) + eps * np.eye(5))
  np.testing.assert_allclose(grad_w, 2 * np.asarray(w, np.float64) @ a_inv, rtol=1e-4,
                             atol=1e-4)
  np.testing.assert_array_equal(grad_omega, np.zeros((5, 5)))


def test_correlation_hand_example():
  om = jnp.array([[0.25, 0.1], [0.1, 0.75]])
  expected_off = 0.1 / math.sqrt(0.25 * 0.75)  # 0.23094010767585033
  np.testing.assert_allclose(omega.correlation(om),
                             [[1.0, expected_off], [expected_off, 1.0]], rtol=1e-6)


def test_correlation_diagonal_is_exactly_one_and_bounded():
  corr = np.asarray(omega.correlation(omega.update(jnp.asarray(_random_w(3, 6, seed=10)))))
  np.testing.assert_array_equal(np.diag(corr), np.ones(6))
  assert np.all(np.abs(corr) <= 1)
  np.testing.assert_array_equal(corr, corr.T)


def test_correlation_with_a_zero_variance_task_is_finite():
  corr = np.asarray(omega.correlation(np.array([[1.0, 0.0, 0.0],
                                                [0.0, 0.0, 0.0],
                                                [0.0, 0.0, 1e-45]])))
  np.testing.assert_array_equal(corr, np.eye(3))


def test_subtask_names():
  assert omega.subtask_names(['Landscape', 'Nature']) == [
      'low aesthetic', 'high aesthetic', 'Landscape', 'Nature']
  assert omega.subtask_names(('A',), extra_names=['score']) == [
      'low aesthetic', 'high aesthetic', 'A', 'score']

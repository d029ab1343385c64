"""losses.py against hand-computed values, with and without jit, gradients, extreme logits
and masking (method.md, section 2)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from aesthetic_jax.core import losses, omega

LN2, LN4, LN4_3, LN8, LN8_5 = (math.log(2), math.log(4), math.log(4 / 3), math.log(8),
                               math.log(8 / 5))
LN3, LN5 = math.log(3), math.log(5)

both_jit = pytest.mark.parametrize('jit', [False, True], ids=['eager', 'jit'])


def _maybe_jit(fn, jit):
  return jax.jit(fn) if jit else fn


@both_jit
def test_softmax_cross_entropy_hand_values(jit):
  # softmax([ln 3, 0]) = [3/4, 1/4]; softmax([0, ln 2, ln 5]) = [1/8, 2/8, 5/8].
  fn = _maybe_jit(losses.softmax_cross_entropy, jit)
  two = fn(logits=jnp.array([[LN3, 0.], [LN3, 0.], [0., 0.]]), labels=jnp.array([0, 1, 1]))
  np.testing.assert_allclose(two, [LN4_3, LN4, LN2], rtol=1e-6)
  three = fn(logits=jnp.array([[0., math.log(2), LN5]] * 2), labels=jnp.array([2, 0]))
  np.testing.assert_allclose(three, [LN8_5, LN8], rtol=1e-6)


def test_softmax_cross_entropy_keeps_leading_dims():
  logits = jnp.zeros((2, 3, 4))
  out = losses.softmax_cross_entropy(logits=logits, labels=jnp.zeros((2, 3), jnp.int32))
  assert out.shape == (2, 3)
  np.testing.assert_allclose(out, np.full((2, 3), math.log(4)), rtol=1e-6)


def test_softmax_cross_entropy_gradient_is_softmax_minus_onehot():
  logits = jnp.array([[0.3, -1.2, 2.0], [1.0, 1.0, -0.5]])
  labels = jnp.array([2, 0])
  grad = jax.grad(lambda x: losses.softmax_cross_entropy(logits=x, labels=labels).sum())(logits)
  expected = np.asarray(jax.nn.softmax(logits)) - np.eye(3)[np.asarray(labels)]
  np.testing.assert_allclose(grad, expected, atol=1e-6)


@both_jit
def test_softmax_cross_entropy_extreme_logits(jit):
  fn = _maybe_jit(losses.softmax_cross_entropy, jit)
  logits = jnp.array([[1e4, -1e4], [1e4, -1e4]])
  labels = jnp.array([0, 1])
  np.testing.assert_allclose(fn(logits=logits, labels=labels), [0., 2e4], rtol=1e-6)
  grad = jax.grad(lambda x: fn(logits=x, labels=labels).sum())(logits)
  np.testing.assert_array_equal(grad, [[0., 0.], [1., -1.]])


def test_softmax_cross_entropy_out_of_range_label_is_zero_not_nan():
  out = losses.softmax_cross_entropy(logits=jnp.array([[1., 2.]]), labels=jnp.array([-1]))
  np.testing.assert_array_equal(out, [0.])


@both_jit
def test_sigmoid_cross_entropy_hand_values(jit):
  # sigmoid(ln 3) = 3/4, sigmoid(-ln 3) = 1/4, sigmoid(0) = 1/2.
  fn = _maybe_jit(losses.sigmoid_cross_entropy, jit)
  logits = jnp.array([[0., LN3, LN3], [-LN3, -LN3, 0.]])
  labels = jnp.array([[1, 1, 0], [1, 0, 0]])
  expected = [[LN2, LN4_3, LN4], [LN4, LN4_3, LN2]]
  np.testing.assert_allclose(fn(logits=logits, labels=labels), expected, rtol=1e-6)
  for dtype in (bool, jnp.float32, jnp.int8):
    np.testing.assert_allclose(fn(logits=logits, labels=labels.astype(dtype)), expected,
                               rtol=1e-6)


def test_sigmoid_cross_entropy_matches_the_textbook_formula():
  rng = np.random.default_rng(0)
  x = rng.normal(size=(5, 7)) * 3
  z = rng.random((5, 7)) < 0.5
  s = 1 / (1 + np.exp(-x))
  expected = -(z * np.log(s) + (1 - z) * np.log(1 - s))
  np.testing.assert_allclose(
      losses.sigmoid_cross_entropy(logits=jnp.asarray(x, jnp.float32), labels=z), expected,
      rtol=2e-5, atol=1e-6)


def test_sigmoid_cross_entropy_gradient_is_sigmoid_minus_label():
  logits = jnp.array([[-2., 0., 0.5, 3.], [0., 1., -1., 7.]])
  labels = jnp.array([[0., 1., 1., 0.], [0., 0., 1., 1.]])
  grad = jax.grad(lambda x: losses.sigmoid_cross_entropy(logits=x, labels=labels).sum())(logits)
  np.testing.assert_allclose(grad, jax.nn.sigmoid(logits) - labels, atol=1e-6)


@both_jit
def test_sigmoid_cross_entropy_extreme_logits(jit):
  fn = _maybe_jit(losses.sigmoid_cross_entropy, jit)
  logits = jnp.array([1e4, 1e4, -1e4, -1e4])
  labels = jnp.array([1, 0, 0, 1])
  np.testing.assert_allclose(fn(logits=logits, labels=labels), [0., 1e4, 0., 1e4], rtol=1e-6)
  grad = jax.grad(lambda x: fn(logits=x, labels=labels).sum())(logits)
  np.testing.assert_array_equal(grad, [0., 1., 0., -1.])


# Three examples; the third is padding (mask 0) with absurd logits and labels.
A_LOGITS = jnp.array([[LN3, 0.], [0., 0.], [1e4, -1e4]])
A_LABELS = jnp.array([0, 1, 1])
S_LOGITS = jnp.array([[0., LN3], [-LN3, 0.], [1e4, -1e4]])
S_LABELS = jnp.array([[1, 1], [1, 0], [0, 1]], bool)
MASK = jnp.array([True, True, False])
AESTHETIC = (LN4_3 + LN2) / 2                   # rows 0 and 1
SEMANTIC = ((LN2 + LN4_3) + (LN4 + LN2)) / 2    # sum over tags, mean over rows 0 and 1


@both_jit
def test_joint_objective_hand_values(jit):
  fn = _maybe_jit(losses.joint_objective, jit)
  out = fn(aesthetic_logits=A_LOGITS, aesthetic_labels=A_LABELS, semantic_logits=S_LOGITS,
           semantic_labels=S_LABELS, semantic_weight=0.5, example_mask=MASK)
  assert set(out) == {'aesthetic', 'semantic', 'total'}
  assert all(v.shape == () for v in out.values())
  np.testing.assert_allclose(out['aesthetic'], AESTHETIC, rtol=1e-6)
  np.testing.assert_allclose(out['semantic'], SEMANTIC, rtol=1e-6)
  np.testing.assert_allclose(out['total'], AESTHETIC + 0.5 * SEMANTIC, rtol=1e-6)


def test_joint_objective_without_mask_is_the_plain_mean():
  out = losses.joint_objective(aesthetic_logits=A_LOGITS[:2], aesthetic_labels=A_LABELS[:2],
                               semantic_logits=S_LOGITS[:2], semantic_labels=S_LABELS[:2],
                               semantic_weight=1.0)
  np.testing.assert_allclose(out['aesthetic'], AESTHETIC, rtol=1e-6)
  np.testing.assert_allclose(out['total'], AESTHETIC + SEMANTIC, rtol=1e-6)


def test_float_mask_equals_bool_mask_and_weights_examples():
  kwargs = dict(aesthetic_logits=A_LOGITS, aesthetic_labels=A_LABELS, semantic_logits=S_LOGITS,
                semantic_labels=S_LABELS, semantic_weight=0.5)
  as_bool = losses.joint_objective(**kwargs, example_mask=MASK)
  as_float = losses.joint_objective(**kwargs, example_mask=MASK.astype(jnp.float32))
  for k in as_bool:
    np.testing.assert_allclose(as_float[k], as_bool[k], rtol=1e-6)
  weighted = losses.joint_objective(**kwargs, example_mask=jnp.array([3., 1., 0.]))
  np.testing.assert_allclose(weighted['aesthetic'], (3 * LN4_3 + LN2) / 4, rtol=1e-6)


def test_masked_example_is_ignored_even_when_nan():
  logits = A_LOGITS.at[2].set(jnp.nan)
  out = losses.joint_objective(aesthetic_logits=logits, aesthetic_labels=A_LABELS,
                               semantic_logits=S_LOGITS.at[2].set(jnp.nan),
                               semantic_labels=S_LABELS, semantic_weight=0.5, example_mask=MASK)
  np.testing.assert_allclose(out['total'], AESTHETIC + 0.5 * SEMANTIC, rtol=1e-6)


@both_jit
def test_all_zero_mask_gives_zero_loss_and_zero_gradient(jit):
  def total(a_logits, s_logits):
    return losses.joint_objective(
        aesthetic_logits=a_logits, aesthetic_labels=A_LABELS, semantic_logits=s_logits,
        semantic_labels=S_LABELS, semantic_weight=0.5, example_mask=jnp.zeros(3, bool))['total']
  fn = _maybe_jit(total, jit)
  assert float(fn(A_LOGITS, S_LOGITS)) == 0.0
  grads = jax.grad(fn, argnums=(0, 1))(A_LOGITS, S_LOGITS)
  for g in grads:
    np.testing.assert_array_equal(g, np.zeros(g.shape))


def test_joint_objective_gradient_matches_analytic():
  lam = 0.25
  def total(a_logits, s_logits):
    return losses.joint_objective(
        aesthetic_logits=a_logits, aesthetic_labels=A_LABELS, semantic_logits=s_logits,
        semantic_labels=S_LABELS, semantic_weight=lam, example_mask=MASK)['total']
  g_a, g_s = jax.jit(jax.grad(total, argnums=(0, 1)))(A_LOGITS, S_LOGITS)
  keep = np.array([1., 1., 0.])[:, None] / 2  # masked mean over the two kept examples
  expected_a = keep * (np.asarray(jax.nn.softmax(A_LOGITS)) - np.eye(2)[np.asarray(A_LABELS)])
  expected_s = lam * keep * (np.asarray(jax.nn.sigmoid(S_LOGITS)) - np.asarray(S_LABELS))
  np.testing.assert_allclose(g_a, expected_a, atol=1e-6)
  np.testing.assert_allclose(g_s, expected_s, atol=1e-6)


def test_semantic_weight_zero_is_the_aesthetic_loss_alone():
  out = losses.joint_objective(aesthetic_logits=A_LOGITS, aesthetic_labels=A_LABELS,
                               semantic_logits=S_LOGITS, semantic_labels=S_LABELS,
                               semantic_weight=0.0, example_mask=MASK)
  np.testing.assert_allclose(out['total'], AESTHETIC, rtol=1e-6)
  np.testing.assert_allclose(out['semantic'], SEMANTIC, rtol=1e-6)  # still reported
  alone = losses.joint_objective(aesthetic_logits=A_LOGITS, aesthetic_labels=A_LABELS,
                                 example_mask=MASK)
  assert float(alone['semantic']) == 0.0
  np.testing.assert_allclose(alone['total'], AESTHETIC, rtol=1e-6)


def test_semantic_weight_may_be_traced():
  fn = jax.jit(lambda lam: losses.joint_objective(
      aesthetic_logits=A_LOGITS, aesthetic_labels=A_LABELS, semantic_logits=S_LOGITS,
      semantic_labels=S_LABELS, semantic_weight=lam, example_mask=MASK)['total'])
  np.testing.assert_allclose(fn(jnp.float32(2.0)), AESTHETIC + 2 * SEMANTIC, rtol=1e-6)


def test_semantic_logits_without_labels_is_an_error():
  with pytest.raises(ValueError, match='semantic_labels'):
    losses.joint_objective(aesthetic_logits=A_LOGITS, aesthetic_labels=A_LABELS,
                           semantic_logits=S_LOGITS)


def test_functions_are_keyword_only():
  with pytest.raises(TypeError):
    losses.softmax_cross_entropy(A_LOGITS, A_LABELS)  # pylint: disable=too-many-function-args


@both_jit
def test_mtrl_penalty_is_the_trace_penalty(jit):
  w = jnp.array([[1., 0., 2.], [0., 1., -1.]])
  om = jnp.diag(jnp.array([0.5, 0.25, 0.25]))
  fn = _maybe_jit(losses.mtrl_penalty, jit)
  # tr(W Omega^-1 W^T) = sum_j ||w_j||^2 / Omega_jj = 1/0.5 + 1/0.25 + 5/0.25 = 26.
  np.testing.assert_allclose(fn(task_matrix=w, omega=om, eps=0.0), 26.0, rtol=1e-6)
  np.testing.assert_allclose(fn(task_matrix=w, omega=om),
                             omega.trace_penalty(w, om, eps=1e-6), rtol=1e-7)


# ---------------------------------------------------------------------------------------------
# Precision against float64 (confident, correct logits keep their small losses).

def _sigmoid_ce_float64(x, z):
  """The stable form in float64: max(x, 0) - x z + log1p(exp(-|x|))."""
  x, z = np.asarray(x, np.float64), np.asarray(z, np.float64)
  return np.maximum(x, 0) - x * z + np.log1p(np.exp(-np.abs(x)))


def _rel_error_ok(got, want, rel):
  """Relative error <= rel where the true value is a normal float32, else (float32 flushes
  or cannot hold it: below 1.2e-38) an absolute error below float32's smallest normal."""
  got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
  tiny = np.finfo(np.float32).tiny
  ok = np.where(np.abs(want) >= tiny, np.abs(got - want) <= rel * np.abs(want),
                np.abs(got - want) <= tiny)
  return ok


def test_sigmoid_cross_entropy_precision_and_gradient_against_float64_and_optax():
  optax = pytest.importorskip('optax')
  x = np.concatenate([np.linspace(-100, 100, 4001), [-16.0, -10.0, -1e-6, 0.0, 1e-6, 10.0,
                                                     16.0]]).astype(np.float32)
  for z in (0.0, 1.0):
    labels = np.full_like(x, z)
    got = losses.sigmoid_cross_entropy(logits=jnp.asarray(x), labels=jnp.asarray(labels))
    want = _sigmoid_ce_float64(x, labels)
    assert _rel_error_ok(got, want, 1e-4).all(), x[~_rel_error_ok(got, want, 1e-4)]
    ours = np.asarray(got, np.float64)
    reference = np.asarray(optax.sigmoid_binary_cross_entropy(jnp.asarray(x), jnp.asarray(labels)),
                           np.float64)
    assert _rel_error_ok(ours, reference, 1e-4).all()
    grad = jax.grad(lambda v: losses.sigmoid_cross_entropy(
        logits=v, labels=jnp.asarray(labels)).sum())(jnp.asarray(x))
    x64 = x.astype(np.float64)  # s(x) - z, each branch exact in float64
    want_grad = np.where(x64 >= 0, (1 - z) - 1 / (1 + np.exp(x64)), 1 / (1 + np.exp(-x64)) - z)
    assert _rel_error_ok(grad, want_grad, 1e-4).all()
  # The value the old logaddexp(x, 0) - x z form rounded to 0.
  assert float(losses.sigmoid_cross_entropy(logits=jnp.float32(16.0), labels=1.0)) == (
      pytest.approx(1.1253517e-07, rel=1e-6))
  assert float(jax.grad(lambda v: losses.sigmoid_cross_entropy(logits=v, labels=1.0))(
      jnp.float32(0.0))) == -0.5


def test_softmax_cross_entropy_precision_against_float64():
  rng = np.random.default_rng(0)
  margins = np.concatenate([np.linspace(-1e4, 1e4, 2001), np.linspace(-30, 30, 601)])
  logits = np.stack([margins, np.zeros_like(margins), rng.normal(size=margins.shape) - 5], 1)
  logits = logits.astype(np.float32)
  labels = np.zeros(len(logits), np.int32)
  got = losses.softmax_cross_entropy(logits=jnp.asarray(logits), labels=jnp.asarray(labels))
  x = logits.astype(np.float64)
  top = x.max(1, keepdims=True)
  # (max - x_y) + log(1 + the other terms), log1p: exact in float64 for tiny losses too.
  others = np.exp(x - top)
  others[np.arange(len(x)), x.argmax(1)] = 0.0
  want = (top[:, 0] - x[:, 0]) + np.log1p(others.sum(1))
  assert _rel_error_ok(got, want, 1e-4).all()
  assert float(losses.softmax_cross_entropy(logits=jnp.array([16.0, 0.0]), labels=0)) == (
      pytest.approx(1.1253517e-07, rel=1e-5))
  grad = jax.grad(lambda v: losses.softmax_cross_entropy(logits=v, labels=jnp.asarray(
      labels)).sum())(jnp.asarray(logits))
  probs = np.exp(x - top) / np.exp(x - top).sum(1, keepdims=True)
  want_grad = probs.copy()  # softmax - one-hot, the label's entry as -(the others' sum)
  want_grad[:, 0] = -probs[:, 1:].sum(1)
  assert _rel_error_ok(grad, want_grad, 1e-4).all()


def test_squared_emd_precision_against_float64():
  rng = np.random.default_rng(1)
  logits = (rng.normal(size=(500, 10)) * np.logspace(-2, 4, 500)[:, None]).astype(np.float32)
  target = rng.dirichlet(np.ones(10), size=500).astype(np.float32)
  got = losses.squared_emd(logits=jnp.asarray(logits), target_distribution=jnp.asarray(target))
  x = logits.astype(np.float64)
  probs = np.exp(x - x.max(1, keepdims=True))
  probs /= probs.sum(1, keepdims=True)
  want = np.mean((np.cumsum(probs, 1) - np.cumsum(target.astype(np.float64), 1)) ** 2, 1)
  # Its terms are differences of cumulative sums: the error is absolute, ~float32 epsilon.
  np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-7)

"""Task relationship learning (MTRL): paper eq. 11 of Kao, He and Huang (IEEE TIP 2017).

The task covariance Omega (T x T, T = C + M subtasks) enters the loss through the penalty
tr(W Omega^{-1} W^T) on the task matrix W (d, T), and is re-estimated between epochs in closed
form, Omega = (W^T W)^{1/2} / tr((W^T W)^{1/2}) (method.md, section 3). All functions are
pure jnp and jit-able.
"""

from collections.abc import Sequence

import jax
import jax.numpy as jnp


def initial_omega(num_tasks: int, dtype=jnp.float32) -> jax.Array:
  """I / T (T, T): independent subtasks, trace 1."""
  return jnp.eye(num_tasks, dtype=dtype) / num_tasks


def trace_penalty(w: jax.Array, omega: jax.Array, *, eps: float = 1e-6) -> jax.Array:
  """tr(W (Omega + eps I)^{-1} W^T) as a scalar.

  Omega is a constant here (stop_gradient): the closed-form update sets it, SGD does not.
  The inverse is never formed: the symmetrised system (Omega + eps I) X = W^T is solved.
  The gradient w.r.t. W is therefore 2 W (Omega + eps I)^{-1}.

  Args:
    w: (d, T) task matrix, the heads' kernels side by side, biases excluded.
    omega: (T, T) symmetric PSD task covariance.
    eps: ridge added to Omega's diagonal so that the system stays well posed.

  Returns:
    A scalar in the promoted dtype of w and omega.
  """
  dtype = jnp.result_type(w, omega)
  w = w.astype(dtype)
  omega = jax.lax.stop_gradient(omega.astype(dtype))
  a = 0.5 * (omega + omega.T) + eps * jnp.eye(omega.shape[0], dtype=dtype)
  x = jnp.linalg.solve(a, w.T)  # (T, d) = (Omega + eps I)^{-1} W^T
  return jnp.sum(w * x.T)


@jax.jit
def update(w: jax.Array, *, eps: float = 1e-30) -> jax.Array:
  """Closed-form Omega = (W^T W)^{1/2} / tr((W^T W)^{1/2}) of paper eq. 11; jitted.

  The square root comes from a symmetric eigendecomposition of W^T W (symmetrised first),
  eigenvalues clipped at 0. The result is symmetric PSD with trace 1, also for a
  rank-deficient W (e.g. d < T, or repeated columns).

  Args:
    w: (d, T) task matrix (biases excluded).
    eps: a W whose largest |entry| is <= eps counts as zero; Omega is then I / T (the
      formula would be 0/0, and every Omega minimises the penalty of a zero W).

  Returns:
    (T, T) Omega in w's dtype (promoted to at least float32).
  """
  num_tasks = w.shape[1]
  dtype = jnp.promote_types(w.dtype, jnp.float32)  # eigh needs at least float32
  w = w.astype(dtype)
  # Omega is invariant to the scale of W; dividing by max |W| keeps W^T W clear of float
  # underflow and overflow, and makes tr((W^T W)^{1/2}) >= ||W||_F >= 1 for any W != 0.
  scale = jnp.max(jnp.abs(w))
  is_zero = scale <= eps
  w = w / jnp.where(is_zero, 1, scale)
  gram = w.T @ w
  gram = 0.5 * (gram + gram.T)
  evals, evecs = jnp.linalg.eigh(gram)
  roots = jnp.sqrt(jnp.clip(evals, 0, None))  # rounding can leave tiny negative eigenvalues
  root = (evecs * roots) @ evecs.T
  root = 0.5 * (root + root.T)
  omega = root / jnp.where(is_zero, 1, jnp.trace(root))
  # A zero W says nothing on how tasks relate and its penalty is 0 for every Omega, so every
  # feasible Omega is a minimiser; I/T (the initial Omega) replaces the formula's 0/0.
  return jnp.where(is_zero, initial_omega(num_tasks, dtype), omega)


def correlation(omega: jax.Array) -> jax.Array:
  """Subtask correlations Omega_ij / sqrt(Omega_ii Omega_jj) (T, T) (paper Fig. 9).

  The diagonal is exactly 1; a subtask whose variance Omega_ii is ~0 gets correlation 0 with
  the others (instead of a division by zero). Values are clipped to [-1, 1] against rounding.
  """
  omega = jnp.asarray(omega)
  if not jnp.issubdtype(omega.dtype, jnp.floating):
    omega = omega.astype(jnp.float32)
  diag = jnp.clip(jnp.diagonal(omega), 0, None)
  denom = jnp.sqrt(jnp.outer(diag, diag))
  tiny = jnp.finfo(omega.dtype).tiny
  corr = jnp.where(denom > tiny, omega / jnp.where(denom > tiny, denom, 1), 0)
  corr = jnp.clip(corr, -1, 1)
  return jnp.where(jnp.eye(omega.shape[0], dtype=bool), jnp.ones_like(corr), corr)


def subtask_names(tag_names: Sequence[str],
                  extra_names: Sequence[str] | None = None) -> list[str]:
  """Names of Omega's rows: 'low aesthetic', 'high aesthetic', the tags, then any extras.

  The order of the columns of W (models.task_matrix); the rows of paper Fig. 9.
  """
  return ['low aesthetic', 'high aesthetic', *tag_names, *(extra_names or ())]

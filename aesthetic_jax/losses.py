"""The joint objective of Kao, He and Huang (IEEE TIP 2017), eq. 7, as pure jnp functions.

Every function is keyword-only, pure and jit-able, and may be imported from any JAX code:
no Flax, no config. Weight decay (the Gaussian priors of eq. 7) is not here: it belongs to
the optimizer. See docs/method.md, sections 2 and 3.
"""

import jax
import jax.numpy as jnp

from aesthetic_jax import omega as omega_lib


def softmax_cross_entropy(*, logits: jax.Array, labels: jax.Array) -> jax.Array:
  """Softmax cross-entropy -log softmax(logits)[label], unreduced; jit-able.

  Args:
    logits: (..., C) float.
    labels: (...) int class ids in [0, C). An id outside that range (e.g. the label of a
      padding example) gives a loss of 0 rather than NaN, so it cannot poison a masked sum.

  Returns:
    (...) per-example loss in the logits' dtype. Its gradient w.r.t. logits is
    softmax(logits) - one_hot(labels).
  """
  log_probs = jax.nn.log_softmax(logits, axis=-1)
  one_hot = jax.nn.one_hot(labels, logits.shape[-1], dtype=log_probs.dtype)
  return -jnp.sum(one_hot * log_probs, axis=-1)


def sigmoid_cross_entropy(*, logits: jax.Array, labels: jax.Array) -> jax.Array:
  """Binary cross-entropy -(z log s(x) + (1 - z) log(1 - s(x))) from logits, elementwise.

  The paper prints the semantic term of eq. 7 as (1 - z)(1 - log s), a typo for this
  standard binary cross-entropy (method.md, section 2). It is evaluated as
  softplus(x) - x z = max(x, 0) - x z + log1p(exp(-|x|)), which is finite, with the finite
  gradient s(x) - z, for any finite x (e.g. +-1e4). Unreduced; jit-able.

  Args:
    logits: (..., M) float.
    labels: (..., M) in {0, 1}; bool, int or float.

  Returns:
    (..., M) loss per element, in the logits' dtype.
  """
  z = jnp.asarray(labels).astype(logits.dtype)
  # jnp.logaddexp(x, 0) is max(x, 0) + log1p(exp(-|x|)) with a derivative rule, sigmoid(x),
  # that holds at x = 0 too: autodiff through max and abs picks inconsistent subgradients at
  # their kinks there (the kinks cancel in value, not in jax.grad).
  return jnp.logaddexp(logits, 0) - logits * z


def squared_emd(*, logits: jax.Array, target_distribution: jax.Array) -> jax.Array:
  """Squared earth mover's distance between softmax(logits) and a distribution over K ordered
  score bins (the score-distribution head; Talebi and Milanfar, NIMA, IEEE TIP 2018).

  With unit distance between neighbouring bins, NIMA's EMD_r(p, q) is
  ((1/K) sum_k |CDF_p(k) - CDF_q(k)|^r)^(1/r), r = 2. This returns its square,
  (1/K) sum_k (CDF_p(k) - CDF_q(k))^2: the same minimiser, and unlike the root it has a
  bounded gradient where p = q. Unreduced; jit-able; finite for any finite logits.

  Args:
    logits: (..., K) float; the predicted distribution is softmax(logits).
    target_distribution: (..., K) non-negative, summing to 1 over the last axis (e.g. an
      image's vote histogram divided by its number of votes).

  Returns:
    (...) per-example loss in the logits' dtype.
  """
  probs = jax.nn.softmax(logits, axis=-1)
  target = jnp.asarray(target_distribution).astype(probs.dtype)
  cdf_gap = jnp.cumsum(probs, axis=-1) - jnp.cumsum(target, axis=-1)
  return jnp.mean(jnp.square(cdf_gap), axis=-1)


def _masked_mean(values: jax.Array, mask: jax.Array) -> jax.Array:
  """sum(mask * values) / sum(mask); 0 (not NaN) when the mask is all zeros."""
  kept = jnp.where(mask > 0, values * mask, 0)  # where: a NaN in a masked-out row stays out
  total = jnp.sum(mask)
  return jnp.where(total > 0, jnp.sum(kept) / jnp.where(total > 0, total, 1), 0)


def joint_objective(*, aesthetic_logits: jax.Array, aesthetic_labels: jax.Array,
                    semantic_logits: jax.Array | None = None,
                    semantic_labels: jax.Array | None = None,
                    semantic_weight: float | jax.Array = 0.0,
                    example_mask: jax.Array | None = None) -> dict[str, jax.Array]:
  """The joint objective of paper eq. 7 (without the priors), averaged over examples.

  total = aesthetic + semantic_weight * semantic, where semantic_weight is lambda:
  lambda = 1/M balances the two tasks' pull on the shared layers, lambda = 0 is the
  single-task baseline STCNN (method.md, section 2). Jit-able and differentiable.

  Args:
    aesthetic_logits: (B, C) float.
    aesthetic_labels: (B,) int class ids.
    semantic_logits: (B, M) float, or None when the model has no semantic head.
    semantic_labels: (B, M) in {0, 1}; required when semantic_logits is given.
    semantic_weight: lambda, a python or traced scalar.
    example_mask: (B,) bool or float weights; an example with mask 0 contributes nothing
      (batch padding, or a label dropped by the delta rule). None means all ones.

  Returns:
    {'aesthetic': masked mean over examples of the softmax cross-entropy,
     'semantic': masked mean over examples of the sum over the M tags of the binary
       cross-entropy (0 when semantic_logits is None),
     'total': aesthetic + semantic_weight * semantic}, all scalars. A mask of all zeros
    gives 0 everywhere, not NaN.
  """
  dtype = aesthetic_logits.dtype
  if example_mask is None:
    mask = jnp.ones(aesthetic_logits.shape[:1], dtype)
  else:
    mask = jnp.asarray(example_mask).astype(dtype)
  aesthetic = _masked_mean(
      softmax_cross_entropy(logits=aesthetic_logits, labels=aesthetic_labels), mask)
  if semantic_logits is None:
    semantic = jnp.zeros((), dtype)
  else:
    if semantic_labels is None:
      raise ValueError('semantic_logits were given without semantic_labels.')
    per_example = sigmoid_cross_entropy(logits=semantic_logits, labels=semantic_labels).sum(-1)
    semantic = _masked_mean(per_example, mask.astype(per_example.dtype))
  return {'aesthetic': aesthetic, 'semantic': semantic,
          'total': aesthetic + semantic_weight * semantic}


def mtrl_penalty(*, task_matrix: jax.Array, omega: jax.Array, eps: float = 1e-6) -> jax.Array:
  """tr(W (Omega + eps I)^{-1} W^T), the MTRL prior of paper eq. 11; a scalar, jit-able.

  task_matrix: W (d, T), the heads' kernels side by side (biases excluded); omega: (T, T),
  held constant (the gradient w.r.t. W is 2 W Omega^{-1}). See omega.trace_penalty.
  """
  return omega_lib.trace_penalty(task_matrix, omega, eps=eps)

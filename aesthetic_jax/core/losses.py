"""The joint objective of Kao, He and Huang (IEEE TIP 2017), eq. 7, as pure jnp functions.

Every function is keyword-only, pure and jit-able, and may be imported from any JAX code:
no Flax, no config. Weight decay (the Gaussian priors of eq. 7) is not here: it belongs to
the optimizer. See docs/method.md, sections 2 and 3.
"""

import jax
import jax.numpy as jnp

from aesthetic_jax.core import omega as omega_lib


def softmax_cross_entropy(*, logits: jax.Array, labels: jax.Array) -> jax.Array:
  """Softmax cross-entropy -log softmax(logits)[label], unreduced; jit-able.

  Args:
    logits: (..., C) float.
    labels: (...) int class ids in [0, C). An id outside that range (e.g. the label of a
      padding example) gives a loss of 0 and a gradient of 0 rather than NaN, so it cannot
      poison a masked sum.

  Returns:
    (...) per-example loss in the logits' dtype. Its gradient w.r.t. logits is
    softmax(logits) - one_hot(labels).
  """
  one_hot = jax.nn.one_hot(labels, logits.shape[-1], dtype=logits.dtype)
  return _softmax_cross_entropy(logits, one_hot)


@jax.custom_jvp
def _softmax_cross_entropy(logits, one_hot):
  # -log softmax_y = (m - x_y) + log(sum_j exp(x_j - m)), m = max_j x_j. The sum is 1 (the
  # maximum's own term) plus the rest, so its log is log1p(rest): exact for a confident,
  # correct prediction, where log(1 + tiny) would round to 0.
  top = jnp.max(logits, axis=-1, keepdims=True)
  is_top = jax.nn.one_hot(jnp.argmax(logits, axis=-1), logits.shape[-1], dtype=bool)
  rest = jnp.sum(jnp.where(is_top, 0, jnp.exp(logits - top)), axis=-1)
  label_logit = jnp.sum(one_hot * logits, axis=-1)
  valid = jnp.sum(one_hot, axis=-1)
  return valid * (top[..., 0] - label_logit + jnp.log1p(rest))


@_softmax_cross_entropy.defjvp
def _softmax_cross_entropy_jvp(primals, tangents):
  logits, one_hot = primals
  logits_dot, _ = tangents  # labels are constants
  valid = jnp.sum(one_hot, axis=-1, keepdims=True)
  probs = jax.nn.softmax(logits, axis=-1)
  # The label's entry p_y - 1 is written -(sum of the other p_j): exact when p_y ~ 1.
  others = jnp.sum(probs * (1 - one_hot), axis=-1, keepdims=True)
  grad = valid * jnp.where(one_hot > 0, -others, probs)
  return _softmax_cross_entropy(logits, one_hot), jnp.sum(grad * logits_dot, axis=-1)


def sigmoid_cross_entropy(*, logits: jax.Array, labels: jax.Array) -> jax.Array:
  """Binary cross-entropy -(z log s(x) + (1 - z) log(1 - s(x))) from logits, elementwise.

  The paper prints the semantic term of eq. 7 as (1 - z)(1 - log s), a typo for this
  standard binary cross-entropy. It is evaluated as max(x, 0) - x z + log1p(exp(-|x|)),
  which for a confident, correct logit (x > 0, z = 1) is log1p(exp(-x)) exactly, finite for
  any finite x (e.g. +-1e4), with the exact gradient s(x) - z (a custom JVP: autodiff
  through max and abs would pick inconsistent subgradients at x = 0). Unreduced; jit-able.

  Args:
    logits: (..., M) float.
    labels: (..., M) in {0, 1}; bool, int or float (soft labels in [0, 1] work too).

  Returns:
    (..., M) loss per element, in the logits' dtype.
  """
  return _sigmoid_cross_entropy(logits, jnp.asarray(labels).astype(logits.dtype))


@jax.custom_jvp
def _sigmoid_cross_entropy(logits, labels):
  return (jnp.maximum(logits, 0) - logits * labels
          + jnp.log1p(jnp.exp(-jnp.abs(logits))))


@_sigmoid_cross_entropy.defjvp
def _sigmoid_cross_entropy_jvp(primals, tangents):
  logits, labels = primals
  logits_dot, labels_dot = tangents
  # s(x) - z, written (1 - z) - s(-x) for x >= 0 so that it stays exact when s(x) ~ 1.
  grad = jnp.where(logits >= 0, (1 - labels) - jax.nn.sigmoid(-logits),
                   jax.nn.sigmoid(logits) - labels)
  tangent = grad * logits_dot - logits * labels_dot
  return _sigmoid_cross_entropy(logits, labels), tangent


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

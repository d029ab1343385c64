"""What a model predicts, from its head logits: shared by evaluation, scoring and export."""

import jax
import jax.numpy as jnp


def predictions(outputs, *, score_min: float = 1.0) -> dict[str, jax.Array]:
  """What a model predicts, from its head logits (shared by evaluation and scoring).

  Returns {'p_high': (b,) P(high aesthetic), 'semantic_probs': (b, M) tag probabilities,
           'score_distribution': (b, K) softmax over the scores score_min..score_min+K-1,
           'predicted_mean_score': (b,) its expectation}, each entry only when the model
  has the head it comes from.
  """
  result = {'p_high': jax.nn.softmax(outputs['aesthetic'])[:, 1]}
  if 'semantic' in outputs:
    result['semantic_probs'] = jax.nn.sigmoid(outputs['semantic'])
  if 'distribution' in outputs:
    probs = jax.nn.softmax(outputs['distribution'])
    scores = score_min + jnp.arange(probs.shape[-1], dtype=probs.dtype)
    result['score_distribution'] = probs
    result['predicted_mean_score'] = probs @ scores
  return result

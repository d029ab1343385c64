"""Evaluation of a state on a set of records: per-image predictions, then the metrics."""

import jax
import numpy as np
from jax.experimental import multihost_utils

from aesthetic_jax.core import metrics as metrics_lib
from aesthetic_jax.data import pipeline

# Batch fields the eval step reads; the rest ('mask', 'label', 'mean_score', 'image_id',
# 'tags') is gathered on the host beside its outputs.
_STEP_INPUTS = ('image', 'label', 'tags', 'vote_distribution')
_HOST_FIELDS = ('mask', 'label', 'mean_score', 'image_id', 'tags')


def to_global(batch: dict, sharding) -> dict:
  """Per-process numpy batch -> global jax.Arrays split over the 'data' mesh axis."""
  return jax.tree.map(lambda x: jax.make_array_from_process_local_data(sharding, x), batch)


def predict(state, eval_step, batches, sharding) -> dict[str, np.ndarray]:
  """Runs `eval_step` over `batches` (pipeline.eval_batches); returns numpy arrays over the
  real (unpadded) images of all processes: 'p_high' (N,), 'label' (N,), 'mean_score' (N,),
  'image_id' (N,), the per-image losses, and per head e.g. 'semantic_probs' (N, M),
  'tags' (N, M)."""
  outputs = {}
  for batch in batches:
    result = eval_step(state, to_global({k: batch[k] for k in _STEP_INPUTS if k in batch},
                                        sharding))
    result = multihost_utils.process_allgather(result, tiled=True)
    result.update(multihost_utils.process_allgather(
        {k: batch[k] for k in _HOST_FIELDS if k in batch}, tiled=True))
    for k, v in result.items():
      outputs.setdefault(k, []).append(np.asarray(v))
  preds = {k: np.concatenate(v) for k, v in outputs.items()}
  mask = preds.pop('mask')
  return {k: v[mask] for k, v in preds.items()}


def metrics_of(preds: dict[str, np.ndarray]) -> dict:
  """The evaluation metrics (core.metrics.evaluate) and mean losses of `predict`'s output."""
  values = metrics_lib.evaluate(
      p_high=preds['p_high'], labels=preds['label'], mean_score=preds['mean_score'],
      semantic_scores=preds.get('semantic_probs'), tags=preds.get('tags'))
  for loss in ('aesthetic_loss', 'semantic_loss', 'distribution_loss'):
    if loss in preds:
      values[loss] = float(preds[loss].mean())
  if 'predicted_mean_score' in preds:  # the score-distribution head's expectation
    values['mean_score_srcc'] = metrics_lib.srcc(preds['predicted_mean_score'],
                                                 preds['mean_score'])
    values['mean_score_plcc'] = metrics_lib.plcc(preds['predicted_mean_score'],
                                                 preds['mean_score'])
  values['num_images'] = len(preds['p_high'])
  return values


def evaluate(state, eval_step, config, source, indices, meta, sharding):
  """(metrics, predictions) of `state` on the records `indices` of `source` (delta = 0)."""
  preds = predict(state, eval_step, pipeline.eval_batches(config, source, indices, meta),
                  sharding)
  return metrics_of(preds), preds

"""Semantic early stopping (paper Table I, "lambda = 1 with early stopping of the semantic
task"): lambda is gated to 0 for good once the semantic loss on held-out validation images
has not improved for `loss.semantic_patience_epochs` epoch ends. The aesthetic task trains on.
"""

import logging

import jax.numpy as jnp

from aesthetic_jax.config_error import ConfigError


def update(state, validation_metrics: dict, config):
  """`state` with its early-stop bookkeeping (best loss, epochs without improvement, gate)
  updated by this epoch's validation semantic loss; unchanged when early stopping is off."""
  if not config.loss.semantic_early_stop:
    return state
  if 'semantic_loss' not in validation_metrics:
    raise ConfigError('loss.semantic_early_stop needs held-out validation images: set '
                     'data.validation_size > 0.')
  loss = validation_metrics['semantic_loss']
  if loss < float(state.best_semantic_loss):
    return state.replace(best_semantic_loss=jnp.float32(loss),
                         epochs_without_improvement=jnp.int32(0))
  bad = int(state.epochs_without_improvement) + 1
  gate = 0.0 if bad >= config.loss.semantic_patience_epochs else float(state.semantic_gate)
  if gate == 0.0 and float(state.semantic_gate) == 1.0:
    logging.info('Semantic task early-stopped (no improvement for %d epochs).', bad)
  return state.replace(epochs_without_improvement=jnp.int32(bad),
                       semantic_gate=jnp.float32(gate))

"""The semantic early-stop switch (method.md section 2, "lambda = 1 with the semantic task
early-stopped"): when it turns lambda off, that it stays off, and that the semantic loss then
reaches no parameter."""

import functools
import json
import os

import flax.traverse_util
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import tiny_config
from aesthetic_jax import model as models
from aesthetic_jax.experiments import runner
from aesthetic_jax.run_dir import RunDir
from aesthetic_jax.train import early_stop
from aesthetic_jax.train import loop as train
from aesthetic_jax.train import state as train_state
from aesthetic_jax.train import steps
from configs import rows, table1

TAGS, SIZE = 4, 32


@functools.lru_cache(maxsize=None)
def _model_and_state():
  """A tiny MTCNN #1 and its initial TrainState (built once: the tests only read it)."""
  config = _config()
  model = models.build_model(config.model, num_tags=TAGS)
  tx = train_state.make_optimizer(config, steps_per_epoch=10)
  state = jax.jit(lambda rng: train_state.create_train_state(
      config, model, tx, image_shape=(SIZE, SIZE, 3), rng=rng))(jax.random.PRNGKey(0))
  return model, state


def _config(patience=1, enabled=True):
  config = table1.get_config('lambda1es_delta0:demo')
  config.model.conv_features = (8, 8, 8, 8)
  config.model.fc_features = (16, 12)
  config.input.crop_size = SIZE
  config.loss.semantic_early_stop = enabled
  config.loss.semantic_patience_epochs = patience
  return config


def _gates(config, losses):
  """semantic_gate after each epoch end that saw validation semantic loss `losses[i]`."""
  _, state = _model_and_state()
  gates = []
  for loss in losses:
    state = early_stop.update(state, {'semantic_loss': loss}, config)
    gates.append(float(state.semantic_gate))
  return gates, state


def test_gate_closes_after_patience_epochs_without_improvement_and_stays_closed():
  # patience 1: the first epoch that does not beat the best closes the gate.
  assert _gates(_config(patience=1), [3.0, 2.5, 2.5, 1.0])[0] == [1.0, 1.0, 0.0, 0.0]
  # patience 2: one bad epoch is forgiven, improvement resets the count, two in a row stop.
  gates, state = _gates(_config(patience=2), [3.0, 3.1, 2.0, 2.2, 2.1, 0.5])
  assert gates == [1.0, 1.0, 1.0, 1.0, 0.0, 0.0]
  # A later improvement updates the bookkeeping but never reopens the gate.
  assert float(state.best_semantic_loss) == pytest.approx(0.5)
  assert int(state.epochs_without_improvement) == 0


def test_switch_off_leaves_the_state_alone():
  gates, state = _gates(_config(enabled=False), [3.0, 4.0, 5.0])
  assert gates == [1.0, 1.0, 1.0]
  assert float(state.best_semantic_loss) == np.inf


def test_switch_without_validation_images_is_refused():
  _, state = _model_and_state()
  with pytest.raises(ValueError, match='validation_size'):
    early_stop.update(state, {}, _config())


def _semantic_grads(config, state, model):
  """Gradient of the objective's data terms with respect to the semantic head."""
  rng = np.random.default_rng(0)
  batch = {'image': jnp.asarray(rng.integers(0, 256, (8, SIZE, SIZE, 3)), jnp.uint8),
           'label': jnp.asarray(rng.integers(0, 2, 8), jnp.int32),
           'tags': jnp.asarray(rng.random((8, TAGS)) < 0.4),
           'mask': jnp.ones(8, bool)}

  def loss(params):
    outputs = model.apply({'params': params}, batch['image'])
    return steps.objective(config, outputs, batch, params, state, num_tags=TAGS)['total']

  grads = flax.traverse_util.flatten_dict(jax.jit(jax.grad(loss))(state.params), sep='/')
  return {k: np.abs(np.asarray(v)).max() for k, v in grads.items()}


def test_closed_gate_stops_the_semantic_gradient():
  config = _config()
  model, state = _model_and_state()
  open_grads = _semantic_grads(config, state, model)
  closed_grads = _semantic_grads(config, state.replace(semantic_gate=jnp.float32(0.0)), model)
  assert open_grads['shared/semantic_head/kernel'] > 0
  assert closed_grads['shared/semantic_head/kernel'] == 0
  assert closed_grads['shared/semantic_head/bias'] == 0
  assert closed_grads['shared/aesthetic_head/kernel'] > 0  # the aesthetic task trains on
  # With the gate closed the step is that of lambda = 0.
  config.loss.semantic_weight = 0.0
  zero_grads = _semantic_grads(config, state, model)
  for key, value in closed_grads.items():
    assert value == pytest.approx(zero_grads[key], rel=1e-6, abs=1e-12)


def _restore_state(workdir, step):
  keys = ('semantic_gate', 'best_semantic_loss', 'epochs_without_improvement')
  return RunDir(workdir).read_checkpoint(keys, step=step)[1]


@pytest.mark.slow
def test_training_closes_the_gate_when_validation_loss_stalls(tiny_data_dir, tmp_path):
  # Learning rate 0: the parameters, hence the validation loss, never change, so epoch 1 sets
  # the best loss and epoch 2 (no improvement, patience 1) stops the semantic task.
  config = table1.get_config('lambda1es_delta0:demo')  # the paper's row, shrunk
  rows.apply_overrides(config, {**tiny_config.OVERRIDES, 'data.data_dir': tiny_data_dir,
                                'batch_size': 16, 'num_epochs': 2,
                                'optimizer.learning_rate': 0.0, 'data.validation_size': 16})
  assert config.loss.semantic_early_stop and config.loss.semantic_patience_epochs == 1
  workdir = str(tmp_path / 'es')
  train.train_and_evaluate(config, workdir)
  with open(os.path.join(workdir, 'metrics.jsonl')) as f:
    records = [json.loads(line) for line in f]
  validation = [r for r in records if r['kind'] == 'validation']
  assert [r['epoch'] for r in validation] == [1, 2]
  assert validation[0]['num_images'] == 16
  assert validation[0]['semantic_loss'] == pytest.approx(validation[1]['semantic_loss'])
  steps_per_epoch = validation[0]['step']
  first, second = _restore_state(workdir, steps_per_epoch), _restore_state(workdir,
                                                                           2 * steps_per_epoch)
  assert float(first['semantic_gate']) == 1.0
  assert float(first['best_semantic_loss']) == pytest.approx(validation[0]['semantic_loss'])
  assert float(second['semantic_gate']) == 0.0
  assert int(second['epochs_without_improvement']) == 1
  # The log says so too (what the experiment runner reads): the gate after each epoch end,
  # and the gate each epoch trained with.
  assert [r['semantic_gate_next'] for r in validation] == [1.0, 0.0]
  assert [r['semantic_gate'] for r in records if r['kind'] == 'train'] == [1.0, 1.0]
  assert runner.early_stop_epoch(RunDir(workdir)) == 2

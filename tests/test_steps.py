"""The per-device train step gives the same result on 1 device, under shard_map over 8 fake
devices, and under pmap over 8 (design.md: data parallelism)."""

import flax.jax_utils
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import NamedSharding, PartitionSpec as P

from aesthetic_jax import model as models
from aesthetic_jax.train import state as train_state
from aesthetic_jax.train import steps
from configs import mtrl

BATCH, SIZE, TAGS = 16, 32, 4


def _config():
  config = mtrl.get_config('demo')
  config.model.conv_features = (8, 8, 8, 8)
  config.model.fc_features = (16, 12)
  config.model.dropout_rate = 0.0  # dropout masks differ per device split; compare without
  config.input.crop_size = SIZE
  config.mtrl.penalty_weight = 0.1  # large enough that the penalty visibly shapes the step
  config.optimizer.schedule = 'constant'
  config.optimizer.warmup_epochs = 0.0
  return config


def _batches(n):
  rng = np.random.default_rng(0)
  return [{'image': rng.integers(0, 256, (BATCH, SIZE, SIZE, 3)).astype(np.uint8),
           'label': rng.integers(0, 2, BATCH).astype(np.int32),
           'tags': rng.random((BATCH, TAGS)) < 0.3,
           'mask': np.ones(BATCH, bool)} for _ in range(n)]


def _setup():
  config = _config()
  model = models.build_model(config.model, num_tags=TAGS)
  tx = train_state.make_optimizer(config, steps_per_epoch=10)
  state = train_state.create_train_state(config, model, tx, image_shape=(SIZE, SIZE, 3),
                                         rng=jax.random.PRNGKey(0))
  return steps.bind_train_step(model, tx, config, TAGS), state


def _run_mesh(devices, batches):
  step_fn, state = _setup()
  mesh = jax.make_mesh((len(devices),), (steps.AXIS,), devices=devices)
  state = jax.device_put(state, NamedSharding(mesh, P()))
  step = steps.shard_map_train_step(step_fn, mesh)
  for batch in batches:
    state, metrics = step(state, jax.device_put(batch, NamedSharding(mesh, P(steps.AXIS))))
  return jax.device_get(state.params), float(metrics['total'])


def _run_pmap(batches):
  step_fn, state = _setup()
  n = jax.local_device_count()
  state = flax.jax_utils.replicate(state)
  step = steps.pmap_train_step(step_fn)
  for batch in batches:
    state, metrics = step(state, jax.tree.map(lambda x: x.reshape((n, -1) + x.shape[1:]), batch))
  return jax.device_get(flax.jax_utils.unreplicate(state).params), float(metrics['total'][0])


def test_shard_map_and_pmap_match_one_device():
  assert jax.device_count() == 8, 'conftest sets 8 fake CPU devices'
  batches = _batches(2)
  one, loss_one = _run_mesh(jax.devices()[:1], batches)
  sharded, loss_sharded = _run_mesh(jax.devices(), batches)
  pmapped, loss_pmapped = _run_pmap(batches)
  assert loss_one == pytest.approx(loss_sharded, rel=1e-5)
  assert loss_one == pytest.approx(loss_pmapped, rel=1e-5)
  for other in (sharded, pmapped):
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-6), one, other)
  # The steps really moved the parameters (so the comparison above is not vacuous).
  _, initial = _setup()
  moved = jax.tree.map(lambda a, b: float(jnp.abs(a - b).max()), one, initial.params)
  assert max(jax.tree.leaves(moved)) > 1e-4


def test_objective_terms():
  config = _config()
  model = models.build_model(config.model, num_tags=TAGS)
  tx = train_state.make_optimizer(config, 10)
  state = train_state.create_train_state(config, model, tx, image_shape=(SIZE, SIZE, 3),
                                         rng=jax.random.PRNGKey(0))
  batch = jax.tree.map(jnp.asarray, _batches(1)[0])
  outputs = model.apply({'params': state.params}, batch['image'])
  terms = steps.objective(config, outputs, batch, state.params, state, num_tags=TAGS)
  lam = 1.0 / TAGS  # 'per_tag' unit
  expected = terms['aesthetic'] + lam * terms['semantic'] + 0.1 * terms['mtrl_penalty']
  assert float(terms['total']) == pytest.approx(float(expected), rel=1e-6)
  gated = steps.objective(config, outputs, batch, state.params,
                          state.replace(semantic_gate=jnp.float32(0.0)), num_tags=TAGS)
  assert float(gated['total']) == pytest.approx(
      float(terms['aesthetic'] + 0.1 * terms['mtrl_penalty']), rel=1e-6)

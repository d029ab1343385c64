"""train_and_evaluate: the one training loop of every experiment (configs choose the rest)."""

import json
import logging
import os

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import NamedSharding, PartitionSpec as P

from aesthetic_jax import (checkpointing, input_pipeline, metrics as metrics_lib, models,
                           omega as omega_lib, preemption, reporting, scorer as scorer_lib,
                           steps, train_state)


class NonFiniteLossError(FloatingPointError):
  """Raised when a training loss is NaN or Inf; names the step."""


class Preempted(Exception):
  """Raised after SIGTERM once a checkpoint is saved; the same command resumes the run."""


def uses_semantic_task(config) -> bool:
  return config.model.architecture != 'stcnn'


def check_compatible(config, meta) -> None:
  """Fails before training when the dataset lacks what the model needs."""
  if uses_semantic_task(config) and not meta.num_tags:
    raise ValueError(
        f'model.architecture={config.model.architecture!r} learns semantic tags but dataset '
        f'{meta.name!r} has none; use model.architecture=stcnn (e.g. configs/photonet.py).')


def to_global(batch, sharding):
  """Per-process numpy batch -> global jax.Arrays split over the 'data' mesh axis."""
  return jax.tree.map(lambda x: jax.make_array_from_process_local_data(sharding, x), batch)


def evaluate(state, eval_step, source, indices, meta, config, batch_sharding):
  """Runs the records `indices` of `source`; returns (metrics, per-image predictions).

  Predictions: dict of numpy arrays over the images, e.g. 'p_high' (N,), 'label' (N,),
  'mean_score' (N,), 'image_id' (N,), 'semantic_probs' (N, M), 'tags' (N, M).
  """
  outputs = {}
  for batch in input_pipeline.eval_batches(config, source, indices, meta):
    keep = {k: batch[k] for k in ('image', 'label', 'tags', 'vote_distribution') if k in batch}
    result = eval_step(state, to_global(keep, batch_sharding))
    result = multihost_utils.process_allgather(result, tiled=True)
    result.update(multihost_utils.process_allgather(
        {k: batch[k] for k in ('mask', 'label', 'mean_score', 'image_id')}, tiled=True))
    if 'tags' in batch:
      result['tags'] = multihost_utils.process_allgather(batch['tags'], tiled=True)
    for k, v in result.items():
      outputs.setdefault(k, []).append(np.asarray(v))
  preds = {k: np.concatenate(v) for k, v in outputs.items()}
  mask = preds.pop('mask')
  preds = {k: v[mask] for k, v in preds.items()}
  values = metrics_lib.evaluate(
      p_high=preds['p_high'], labels=preds['label'], mean_score=preds['mean_score'],
      semantic_scores=preds.get('semantic_probs'), tags=preds.get('tags'))
  values['aesthetic_loss'] = float(preds['aesthetic_loss'].mean())
  if 'semantic_loss' in preds:
    values['semantic_loss'] = float(preds['semantic_loss'].mean())
  if 'predicted_mean_score' in preds:  # the score-distribution head's expectation
    values['mean_score_srcc'] = metrics_lib.srcc(preds['predicted_mean_score'],
                                                 preds['mean_score'])
    values['mean_score_plcc'] = metrics_lib.plcc(preds['predicted_mean_score'],
                                                 preds['mean_score'])
  if 'distribution_loss' in preds:
    values['distribution_loss'] = float(preds['distribution_loss'].mean())
  values['num_images'] = int(mask.sum())
  return values, preds


def update_early_stop(state, validation_metrics, config):
  """Semantic early stopping: lambda is gated to 0 (the semantic gradient stops for good)
  once the semantic loss on the held-out validation images has not improved for
  `loss.semantic_patience_epochs` epochs. The aesthetic task trains on."""
  if not config.loss.semantic_early_stop:
    return state
  if 'semantic_loss' not in validation_metrics:
    raise ValueError('loss.semantic_early_stop needs held-out validation images: set '
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


def write_omega(workdir, state, meta):
  """Omega and its subtask correlation matrix, with row names, as JSON in the workdir."""
  if jax.process_index():
    return
  omega = np.asarray(state.omega)
  names = models.task_matrix_names(state.params, tag_names=meta.tag_names,
                                   score_min=meta.score_min)
  record = {'subtasks': names, 'omega': omega.tolist(),
            'correlation': np.asarray(omega_lib.correlation(omega)).tolist(),
            'step': int(state.step)}
  with open(os.path.join(workdir, 'omega.json.tmp'), 'w') as f:
    json.dump(record, f, indent=1)
  os.replace(os.path.join(workdir, 'omega.json.tmp'), os.path.join(workdir, 'omega.json'))


def save_predictions(workdir, preds):
  if jax.process_index() == 0:
    np.savez(os.path.join(workdir, 'test_predictions.npz'), **preds)


def train_and_evaluate(config, workdir: str) -> dict:
  """Trains `config` in `workdir` (resuming from its latest checkpoint); returns final eval."""
  return train(config, workdir)[1]


def train(config, workdir: str):
  """Like train_and_evaluate, but returns (final TrainState, final eval metrics)."""
  os.makedirs(workdir, exist_ok=True)
  data = input_pipeline.load(config)
  check_compatible(config, data.meta)
  num_tags = data.meta.num_tags if uses_semantic_task(config) else 0
  steps_per_epoch = len(data.train_indices) // config.batch_size
  total_steps = steps_per_epoch * config.num_epochs

  model = models.build_model(config.model, num_tags=num_tags, num_bins=data.meta.num_bins)
  # What scoring needs without the dataset: the config and the model's tags and score range.
  scorer_lib.write_run_info(workdir, config, data.meta, num_tags=num_tags)
  tx = train_state.make_optimizer(config, steps_per_epoch)
  mesh = steps.make_mesh()
  replicated, batch_sharding = NamedSharding(mesh, P()), NamedSharding(mesh, P(steps.AXIS))
  crop = config.input.crop_size
  state = jax.jit(lambda rng: train_state.create_train_state(
      config, model, tx, image_shape=(crop, crop, 3), rng=rng), out_shardings=replicated)(
          jax.random.PRNGKey(config.seed))

  train_iter = iter(input_pipeline.train_dataset(config, data.train_source, data.train_indices,
                                                 data.meta))
  checkpointer = checkpointing.Checkpointer(os.path.join(os.path.abspath(workdir), 'checkpoints'),
                                            max_to_keep=config.checkpoint.max_to_keep)
  restored = checkpointer.restore_latest(state, train_iter)
  writer = reporting.MetricWriter(workdir)
  if restored is not None:
    state = restored
    writer.truncate_after(int(state.step))
    if jax.process_index() == 0:
      print(f'Resumed from the checkpoint at step {int(state.step)} in {workdir}.', flush=True)
  else:
    state = train_state.with_pretrained_weights(state, config)

  train_step = steps.shard_map_train_step(
      steps.bind_train_step(model, tx, config, num_tags), mesh)
  eval_step = steps.shard_map_eval_step(
      steps.bind_eval_step(model, score_min=data.meta.score_min), mesh)
  omega_update = jax.jit(omega_lib.update, out_shardings=replicated)
  progress = reporting.Progress(total_steps, steps_per_epoch, config.batch_size,
                                config.log_every_steps)
  if jax.process_index() == 0:
    print(f'{config.data.name}: {len(data.train_indices)} training images '
          f'(delta={config.data.delta}), {len(data.test_indices)} test images; '
          f'{steps_per_epoch} steps/epoch x {config.num_epochs} epochs on '
          f'{jax.device_count()} device(s).', flush=True)

  watcher = preemption.PreemptionWatcher(config.checkpoint.preemption_sync_steps)
  try:
    state, eval_metrics = _loop(config, workdir, data, state, train_iter, train_step, eval_step,
                         omega_update, checkpointer, writer, progress, watcher,
                         steps_per_epoch, total_steps, batch_sharding)
  finally:
    watcher.close()
    checkpointer.close()
  return state, eval_metrics


def _loop(config, workdir, data, state, train_iter, train_step, eval_step, omega_update,
          checkpointer, writer, progress, watcher, steps_per_epoch, total_steps,
          batch_sharding):
  """Steps from state.step to total_steps; evaluation, Omega and checkpoints at epoch ends."""
  def run_eval(state):
    return evaluate(state, eval_step, data.test_source, data.test_indices, data.meta, config,
                    batch_sharding)

  eval_metrics = {}
  step = int(state.step)
  pending = None  # the previous step's metrics, read one step late to keep the device busy
  while step < total_steps:
    batch = to_global(next(train_iter), batch_sharding)
    state, step_metrics = train_step(state, batch)
    if pending is not None:
      _check_finite(*pending)
      progress.update(*pending)
    step += 1
    pending = (step, step_metrics)
    epoch_end = step % steps_per_epoch == 0 or step == total_steps
    preempted = watcher.should_stop(step)
    if not (epoch_end or preempted or (
        config.checkpoint.every_steps and step % config.checkpoint.every_steps == 0)):
      continue
    _check_finite(*pending)  # never checkpoint a state that produced a NaN loss
    progress.update(*pending)
    pending = None
    if epoch_end:
      epoch = step // steps_per_epoch
      if config.mtrl.enabled and epoch % config.mtrl.omega_update_epochs == 0:
        state = state.replace(omega=omega_update(models.task_matrix(state.params)))
        write_omega(workdir, state, data.meta)
      eval_metrics, preds = run_eval(state)
      validation_metrics = {}
      if len(data.validation_indices):
        validation_metrics, _ = evaluate(state, eval_step, data.train_source,
                                         data.validation_indices, data.meta, config,
                                         batch_sharding)
      state = update_early_stop(state, validation_metrics, config)
    checkpointer.save(step, state, train_iter)
    if epoch_end:
      writer.write('train', step, {k: float(v) for k, v in step_metrics.items()} | {'epoch': epoch})
      if validation_metrics:
        writer.write('validation', step, validation_metrics | {'epoch': epoch})
      writer.write('eval', step, eval_metrics | {'epoch': epoch})
      save_predictions(workdir, preds)
    if preempted and step < total_steps:
      raise Preempted(f'SIGTERM received: saved a checkpoint at step {step} in {workdir}; '
                      'rerun the same command to resume.')
  if not eval_metrics:  # resumed a finished run: report its final evaluation again
    eval_metrics, _ = run_eval(state)
  return state, eval_metrics


def _check_finite(step, step_metrics):
  loss = float(step_metrics['total'])
  if not np.isfinite(loss):
    raise NonFiniteLossError(
        f'Training loss became {loss} at step {step}; stopping. The last good checkpoint is '
        'kept in the workdir. Lower optimizer.learning_rate or check the data.')

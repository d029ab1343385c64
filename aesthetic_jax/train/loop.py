"""train_and_evaluate: the one training loop of every experiment (configs choose the rest).

A run steps from its state's step to num_epochs x steps_per_epoch. At each epoch end:
Omega's closed-form update (MTRL), test and validation evaluation, semantic early stopping,
then the epoch's records (metrics.jsonl, TensorBoard, test predictions, omega.json), and only
then the checkpoint that covers them, so that a kill at any moment loses no record (a
resumed run drops the records past its checkpoint and writes them again).
"""

import dataclasses

import jax
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P

from aesthetic_jax import model as model_lib
from aesthetic_jax.config_error import ConfigError
from aesthetic_jax.core import omega as omega_lib
from aesthetic_jax.data import pipeline
from aesthetic_jax.run_dir import CONFIG, RunDir
from aesthetic_jax.run_dir.checkpoints import Checkpointer
from aesthetic_jax.train import early_stop, evaluation, multihost, preemption, progress
from aesthetic_jax.train import state as state_lib
from aesthetic_jax.train import steps
from aesthetic_jax.train.tensorboard import SummaryWriter, heatmap_image


class NonFiniteLossError(FloatingPointError):
  """Raised when a training loss is NaN or Inf; names the step."""


class RunMismatchError(ConfigError):
  """The workdir holds checkpoints of a run made with other settings; says what differs."""


# Settings a resumed run may change: where the data is, how often to save and log, the
# evaluation batch, num_epochs (to train on further) and model.init_from (read by a fresh run
# only). Any other change would continue one config's run under another's name.
RESUMABLE_SETTINGS = ('num_epochs', 'data.data_dir', 'checkpoint.', 'log_every_steps',
                      'eval_batch_size', 'model.init_from')


Preempted = preemption.Preempted


def uses_semantic_task(config) -> bool:
  return config.model.architecture != 'stcnn'


def check_compatible(config, meta) -> None:
  """Fails before training when the dataset lacks what the model needs."""
  if uses_semantic_task(config) and not meta.num_tags:
    raise ConfigError(
        f'model.architecture={config.model.architecture!r} learns semantic tags but dataset '
        f'{meta.name!r} has none; use model.architecture=stcnn (e.g. configs/photonet.py).')


def train_and_evaluate(config, workdir: str) -> dict:
  """Trains `config` in `workdir` (resuming from its latest checkpoint); returns final eval."""
  return train(config, workdir)[1]


def train(config, workdir: str):
  """Like train_and_evaluate, but returns (final TrainState, final eval metrics).

  Raises Preempted after SIGTERM (at any moment, start-up included) once everything up to
  the current step is saved; the same command resumes the run.
  """
  # First, so that a SIGTERM during start-up (data loading, compilation) is noticed.
  watcher = preemption.PreemptionWatcher(config.checkpoint.preemption_sync_steps)
  trainer = None
  try:
    trainer = Trainer(config, RunDir(workdir, writer=jax.process_index() == 0).make(),
                      watcher)
    return trainer.run()
  finally:
    if trainer is not None:
      trainer.close()
    watcher.close()


def _refuse_other_settings(config, run: RunDir) -> None:
  """Raises RunMismatchError when `run` has checkpoints and config.json differs from
  `config` in a setting outside RESUMABLE_SETTINGS."""
  if not run.checkpoint_steps():
    return
  changes = run.config_changes(config, ignore=RESUMABLE_SETTINGS)
  if changes:
    shown = '; '.join(changes[:4]) + (f'; and {len(changes) - 4} more' if len(changes) > 4
                                      else '')
    raise RunMismatchError(
        f'{run.path} holds checkpoints of a run with other settings ({shown}); resuming it '
        'would continue that run under this config. Give another --workdir, or use the '
        f'settings in {run.file(CONFIG)} to resume, or move {run.checkpoints_dir} '
        'away to start afresh.')


@dataclasses.dataclass
class _EpochMeans:
  """Running sums of the step metrics since the epoch began (or since a resume)."""
  sums: dict = dataclasses.field(default_factory=dict)
  steps: int = 0

  def add(self, metrics: dict[str, float]) -> None:
    for k, v in metrics.items():
      self.sums[k] = self.sums.get(k, 0.0) + v
    self.steps += 1

  def means(self) -> dict[str, float]:
    return {k: v / max(self.steps, 1) for k, v in self.sums.items()}


class Trainer:
  """Everything one run needs, built once; `run()` trains to the end."""

  def __init__(self, config, run: RunDir, watcher: preemption.PreemptionWatcher):
    self.config, self.run_dir, self.watcher = config, run, watcher
    _refuse_other_settings(config, run)
    self.leader = jax.process_index() == 0
    self.data = pipeline.load(config)
    check_compatible(config, self.data.meta)
    self.num_tags = self.data.meta.num_tags if uses_semantic_task(config) else 0
    self.steps_per_epoch = len(self.data.train_indices) // config.batch_size
    self.total_steps = self.steps_per_epoch * config.num_epochs
    self.model = model_lib.build_model(config.model, num_tags=self.num_tags,
                                       num_bins=self.data.meta.num_bins)
    # What scoring needs without the dataset: the config and the model's tags and scores.
    run.write_run_info(config, self.data.meta.with_tags(self.num_tags))
    self.schedule = state_lib.learning_rate_schedule(config, self.steps_per_epoch)
    tx = state_lib.make_optimizer(config, self.steps_per_epoch)
    mesh = steps.make_mesh()
    self.replicated = NamedSharding(mesh, P())
    self.batch_sharding = NamedSharding(mesh, P(steps.AXIS))
    self.train_iter = iter(pipeline.train_dataset(config, self.data.train_source,
                                                  self.data.train_indices, self.data.meta))
    self.checkpointer = Checkpointer(run.checkpoints_dir,
                                     max_to_keep=config.checkpoint.max_to_keep,
                                     is_leader=self.leader, barrier=multihost.barrier,
                                     agree=multihost.all_true)
    self.state, self.resumed = self._initial_state(tx)
    self.train_step = steps.shard_map_train_step(
        steps.bind_train_step(self.model, tx, config, self.num_tags), mesh)
    self.eval_step = steps.shard_map_eval_step(
        steps.bind_eval_step(self.model, score_min=self.data.meta.score_min), mesh)
    self.omega_update = jax.jit(omega_lib.update, out_shardings=self.replicated)
    self.progress = progress.Progress(self.total_steps, self.steps_per_epoch, config.batch_size,
                                      config.log_every_steps, enabled=self.leader)
    self.summaries = SummaryWriter(run.tensorboard_dir) if self.leader else None
    if self.summaries is not None and self.resumed:
      self.summaries.restart(int(self.state.step))
    self.epoch_means = _EpochMeans()

  def _initial_state(self, tx):
    """(state, resumed): the newest verified checkpoint, else a fresh state (with
    model.init_from's weights)."""
    crop = self.config.input.crop_size
    fresh = jax.jit(lambda rng: state_lib.create_train_state(
        self.config, self.model, tx, image_shape=(crop, crop, 3), rng=rng),
                    out_shardings=self.replicated)(jax.random.PRNGKey(self.config.seed))
    restored = self.checkpointer.restore_latest(fresh, self.train_iter)
    if restored is None:
      return state_lib.with_pretrained_weights(fresh, self.config), False
    self.run_dir.metrics.truncate_after(int(restored.step))
    self._say(f'Resumed from the checkpoint at step {int(restored.step)} in '
              f'{self.run_dir.path}.')
    return restored, True

  def _say(self, message: str) -> None:
    if self.leader:
      print(message, flush=True)

  def close(self) -> None:
    self.checkpointer.close()
    if self.summaries is not None:
      self.summaries.close()

  # -- the loop --------------------------------------------------------------------------------

  def run(self):
    """Trains to the end; returns (final state, final eval metrics)."""
    step = int(self.state.step)
    if self.watcher.agreed_stop():
      raise Preempted(f'SIGTERM received during start-up, before any new step: nothing to '
                      f'save (the run is at step {step}); rerun the same command to resume.')
    data = self.data
    self._say(f'{self.config.data.name}: {len(data.train_indices)} training images '
              f'(delta={self.config.data.delta}), {len(data.test_indices)} test images; '
              f'{self.steps_per_epoch} steps/epoch x {self.config.num_epochs} epochs on '
              f'{jax.device_count()} device(s).')
    eval_metrics = {}
    pending = None  # the previous step's metrics, read one step late to keep the device busy
    while step < self.total_steps:
      batch = evaluation.to_global(next(self.train_iter), self.batch_sharding)
      self.state, step_metrics = self.train_step(self.state, batch)
      if pending is not None:
        self._account(*pending)
      step += 1
      pending = (step, step_metrics)
      epoch_end = step % self.steps_per_epoch == 0 or step == self.total_steps
      preempted = self.watcher.should_stop(step)
      every = self.config.checkpoint.every_steps
      if not (epoch_end or preempted or (every and step % every == 0)):
        continue
      self._account(*pending)  # never checkpoint a state that produced a NaN loss
      pending = None
      if epoch_end:
        eval_metrics = self._end_epoch(step)
      self.checkpointer.save(step, self.state, self.train_iter)
      if preempted and step < self.total_steps:
        raise Preempted(f'SIGTERM received: saved a checkpoint at step {step} in '
                        f'{self.run_dir.path}; rerun the same command to resume.')
    if not eval_metrics:  # resumed a finished run: report its final evaluation again
      eval_metrics, _ = self._evaluate(data.test_source, data.test_indices)
    return self.state, eval_metrics

  def _account(self, step: int, step_metrics) -> None:
    """Reads one step's metrics: NaN check, epoch means, progress line, TensorBoard."""
    values = {k: float(v) for k, v in jax.device_get(step_metrics).items()}
    if not np.isfinite(values['total']):
      raise NonFiniteLossError(
          f'Training loss became {values["total"]} at step {step}; stopping. The last good '
          'checkpoint is kept in the workdir. Lower optimizer.learning_rate or check the data.')
    self.epoch_means.add(values)
    self.progress.update(step, values)
    if self.summaries is not None and self.progress.due(step):
      self.summaries.scalars(values, step, prefix='train/')
      self.summaries.scalar('train/learning_rate', float(self.schedule(step - 1)), step)

  def _evaluate(self, source, indices):
    return evaluation.evaluate(self.state, self.eval_step, self.config, source, indices,
                               self.data.meta, self.batch_sharding)

  def _end_epoch(self, step: int) -> dict:
    """Omega, evaluation and early stopping, then every record of the epoch; returns the
    test metrics."""
    epoch = -(-step // self.steps_per_epoch)
    config, data = self.config, self.data
    gate_during_epoch = float(self.state.semantic_gate)
    omega_record = None
    if config.mtrl.enabled and epoch % config.mtrl.omega_update_epochs == 0:
      self.state = self.state.replace(
          omega=self.omega_update(model_lib.task_matrix(self.state.params)))
      omega_record = self._omega_record(step)
    eval_metrics, preds = self._evaluate(data.test_source, data.test_indices)
    validation_metrics = {}
    if len(data.validation_indices):
      validation_metrics, _ = self._evaluate(data.train_source, data.validation_indices)
    self.state = early_stop.update(self.state, validation_metrics, config)

    means = self.epoch_means.means()
    train_record = {**{f'{k}_mean': v for k, v in means.items()},
                    'num_steps_averaged': self.epoch_means.steps, 'epoch': epoch,
                    'learning_rate': float(self.schedule(step - 1)),
                    'semantic_gate': gate_during_epoch}
    if config.optimizer.get('body_lr_multiplier', 1.0) != 1.0:
      train_record['body_learning_rate'] = (train_record['learning_rate']
                                            * config.optimizer.body_lr_multiplier)
    self.epoch_means = _EpochMeans()
    records = [('train', train_record)]
    if validation_metrics:
      records.append(('validation', validation_metrics | {
          'epoch': epoch, 'semantic_gate_next': float(self.state.semantic_gate),
          'epochs_without_improvement': int(self.state.epochs_without_improvement)}))
    records.append(('eval', eval_metrics | {'epoch': epoch}))
    self._write_epoch(step, records, preds, omega_record)
    return eval_metrics

  def _omega_record(self, step: int) -> dict:
    omega = np.asarray(self.state.omega)
    names = model_lib.task_matrix_names(self.state.params, tag_names=self.data.meta.tag_names,
                                        score_min=self.data.meta.score_min)
    return {'subtasks': names, 'omega': omega.tolist(),
            'correlation': np.asarray(omega_lib.correlation(omega)).tolist(), 'step': step}

  def _write_epoch(self, step: int, records, preds, omega_record) -> None:
    """The epoch's outputs, before the checkpoint that covers them (process 0 writes)."""
    if not self.leader:
      return
    for kind, values in records:
      progress.print_record(self.run_dir.metrics.append(kind, step, values))
      self.summaries.scalars(values, step, prefix=f'{kind}/')
    self.run_dir.write_predictions(preds)
    if omega_record is not None:
      self.run_dir.write_omega(omega_record)
      self.summaries.image('mtrl/omega_correlation',
                           heatmap_image(np.asarray(omega_record['correlation'])), step)
    self.summaries.flush()


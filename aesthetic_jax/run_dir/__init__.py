"""The one owner of a run directory (`--workdir`): its file names, what they hold, and how
they are written and read. Training, scoring, weight transfer, analyses and the experiment
runner all go through `RunDir`; no other module names a file of a run.

  <workdir>/config.json            the experiment config (what `--config` resolved to)
  <workdir>/model_info.json        core.dataset_meta.DatasetMeta of the model (its own tags)
  <workdir>/metrics.jsonl          one record per line: train/validation/eval per epoch
  <workdir>/omega.json             MTRL: Omega, its correlations and the subtask names
  <workdir>/test_predictions.npz   per test image: p_high, label, mean_score, image_id, ...
  <workdir>/tensorboard/           TensorBoard event files
  <workdir>/checkpoints/<step>/    orbax: state, data (input position), checksums
  <workdir>/checkpoints_set_aside/ checkpoints found unreadable or altered (kept, not used)
  <workdir>/result.json            the experiment runner's summary of a finished run
  <workdir>/demo_images/           test images exported by `predict --demo_from_test_split`

Every file is written atomically (run_dir.files); only the writer process (process 0 of a
multi-process run) writes.
"""

import os
from typing import Any, Iterable, Mapping

import numpy as np

from aesthetic_jax.core.dataset_meta import DatasetMeta
from aesthetic_jax.run_dir import checkpoints, files
from aesthetic_jax.run_dir.metrics_log import MetricsLog

CONFIG = 'config.json'
MODEL_INFO = 'model_info.json'
METRICS = 'metrics.jsonl'
OMEGA = 'omega.json'
PREDICTIONS = 'test_predictions.npz'
TENSORBOARD = 'tensorboard'
CHECKPOINTS = 'checkpoints'
RESULT = 'result.json'
DEMO_IMAGES = 'demo_images'


class RunDirError(FileNotFoundError):
  """A run directory lacks what was asked of it; the message says what to do."""


class RunDir:
  """A run's folder. writer=False makes every write a no-op (processes other than 0)."""

  def __init__(self, path: str, *, writer: bool = True):
    self.path = os.path.abspath(os.path.expanduser(os.fspath(path)))
    self.writer = writer
    self.metrics = MetricsLog(self.file(METRICS), enabled=writer)

  def __repr__(self) -> str:
    return f'RunDir({self.path!r})'

  def file(self, name: str) -> str:
    return os.path.join(self.path, name)

  @property
  def name(self) -> str:
    return os.path.basename(self.path)

  @property
  def checkpoints_dir(self) -> str:
    return self.file(CHECKPOINTS)

  @property
  def tensorboard_dir(self) -> str:
    return self.file(TENSORBOARD)

  def exists(self, name: str) -> bool:
    return os.path.exists(self.file(name))

  def make(self) -> 'RunDir':
    if self.writer:
      os.makedirs(self.path, exist_ok=True)
    return self

  # -- run info: the config and the dataset facts the model was built for -------------------

  def write_config(self, config) -> None:
    if self.writer:
      files.write_json(self.file(CONFIG), config_record(config))

  def write_run_info(self, config, meta: DatasetMeta) -> None:
    """config.json and model_info.json: what scoring needs besides the weights (no dataset
    is read then). `meta` must already carry the model's own tags (DatasetMeta.with_tags)."""
    if self.writer:
      self.write_config(config)
      files.write_json(self.file(MODEL_INFO), meta.to_json())

  def read_config_record(self) -> dict | None:
    """config.json as plain JSON, or None when the run has none."""
    return files.read_json(self.file(CONFIG)) if self.exists(CONFIG) else None

  def set_aside(self) -> str:
    """Renames the whole folder to <path>.replaced-<n> (the first free n; kept, not deleted)
    so that a new run can start in `path`; returns the new path."""
    n = 1
    while os.path.lexists(f'{self.path}.replaced-{n}'):
      n += 1
    os.rename(self.path, f'{self.path}.replaced-{n}')
    return f'{self.path}.replaced-{n}'

  def config_changes(self, config, *, ignore: Iterable[str] = ()) -> list[str]:
    """'key: saved -> new' for each setting of config.json that `config` changes (none
    without a config.json). A key under a prefix in `ignore` ('checkpoint.' or 'num_epochs')
    does not count; a key the saved config lacks (added to the configs since) counts only
    when config.json has it."""
    saved = self.read_config_record()
    return [] if saved is None else changed_settings(saved, config_record(config),
                                                     ignore=ignore)

  def read_config(self):
    """config.json as an ml_collections.ConfigDict (JSON lists back to tuples)."""
    import ml_collections  # pylint: disable=g-import-not-at-top
    record = self.read_config_record()
    if record is None:
      raise self._missing(CONFIG)
    return ml_collections.ConfigDict(_tuples(record))

  def read_dataset_meta(self) -> DatasetMeta:
    if not self.exists(MODEL_INFO):
      raise self._missing(MODEL_INFO)
    return DatasetMeta.from_json(files.read_json(self.file(MODEL_INFO)))

  def read_run_info(self):
    """(config, DatasetMeta) written by write_run_info."""
    return self.read_config(), self.read_dataset_meta()

  def _missing(self, name: str) -> RunDirError:
    return RunDirError(
        f'{self.path} has no {name}: it was not written by aesthetic_jax training (or by a '
        'version from before it existed). Rerunning the same training command writes it and '
        'resumes from the checkpoint.')

  # -- outputs of training -------------------------------------------------------------------

  def write_omega(self, record: dict[str, Any]) -> None:
    if self.writer:
      files.write_json(self.file(OMEGA), record)

  def read_omega(self) -> dict | None:
    """omega.json of an MTRL run ({'subtasks', 'omega', 'correlation', 'step'}), else None."""
    return files.read_json(self.file(OMEGA)) if self.exists(OMEGA) else None

  def write_predictions(self, predictions: dict[str, np.ndarray]) -> None:
    if self.writer:
      with files.atomic_writer(self.file(PREDICTIONS), binary=True) as f:
        np.savez(f, **predictions)

  def read_predictions(self) -> dict[str, np.ndarray]:
    """'p_high' (N,), 'label' (N,), 'mean_score' (N,), 'image_id' (N,), and with a
    semantic head 'semantic_probs' (N, M); 'tags' (N, M) when the data has tags."""
    if not self.exists(PREDICTIONS):
      raise RunDirError(f'{self.path} has no {PREDICTIONS} (has the run finished an epoch?).')
    with np.load(self.file(PREDICTIONS), allow_pickle=False) as data:
      return {k: data[k] for k in data.files}

  def write_result(self, record: dict[str, Any]) -> None:
    if self.writer:
      files.write_json(self.file(RESULT), record)

  def read_result(self) -> dict | None:
    if not self.exists(RESULT):
      return None
    try:
      return files.read_json(self.file(RESULT))
    except ValueError:  # a result.json torn by an old, non-atomic writer: run it again
      return None

  # -- checkpoints -----------------------------------------------------------------------------

  def checkpoint_steps(self) -> list[int]:
    """Steps of the finished checkpoints, oldest first."""
    return checkpoints.finished_steps(self.checkpoints_dir)

  def read_checkpoint(self, keys=('params', 'model_state'), *, step: int | None = None
                      ) -> tuple[int, dict[str, Any]]:
    """(step, {key: numpy tree}) of the newest readable, verified checkpoint (or `step`'s)."""
    steps = None
    if step is not None:
      if step not in self.checkpoint_steps():
        raise RunDirError(f'No checkpoint of step {step} in {self.checkpoints_dir} (have '
                          f'{self.checkpoint_steps()}).')
      steps = [step]
    return checkpoints.read_latest_fields(self.checkpoints_dir, keys, steps=steps)


def config_record(config) -> dict:
  """A config as plain JSON (what config.json holds)."""
  import json  # pylint: disable=g-import-not-at-top
  return json.loads(config.to_json_best_effort())


def flatten(record: Mapping, prefix: str = '') -> dict[str, Any]:
  """A nested config record as {'optimizer.learning_rate': 0.01, ...}."""
  out = {}
  for key, value in record.items():
    if isinstance(value, Mapping):
      out.update(flatten(value, f'{prefix}{key}.'))
    else:
      out[f'{prefix}{key}'] = value
  return out


def changed_settings(saved: Mapping, new: Mapping, *, ignore: Iterable[str] = ()) -> list[str]:
  """'key: saved -> new' for each key of the `saved` config record whose value `new`
  changes; keys only in `new` (added to the configs since) keep the old behaviour and do
  not count, nor do keys equal to or under an `ignore` prefix."""
  old_flat, new_flat = flatten(saved), flatten(new)
  ignore = tuple(ignore)
  return [f'{k}: {v!r} -> {new_flat.get(k, v)!r}' for k, v in old_flat.items()
          if new_flat.get(k, v) != v
          and not any(k == p or (p.endswith('.') and k.startswith(p)) for p in ignore)]


def _tuples(value):
  """JSON lists back to the tuples configs use (e.g. conv_features)."""
  if isinstance(value, dict):
    return {k: _tuples(v) for k, v in value.items()}
  if isinstance(value, list):
    return tuple(_tuples(v) for v in value)
  return value


def locate(path: str) -> tuple[RunDir, int | None]:
  """(run, step) for a workdir, its checkpoints/ folder, or one checkpoints/<step> folder
  (step None: the newest). Raises RunDirError saying what was expected."""
  path = os.path.abspath(os.path.expanduser(os.fspath(path)))
  parent = os.path.dirname(path)
  if (os.path.basename(path).isdigit() and os.path.basename(parent) == CHECKPOINTS
      and os.path.isdir(os.path.join(path, checkpoints.STATE))):
    run, step = RunDir(os.path.dirname(parent)), int(os.path.basename(path))
  elif os.path.basename(path) == CHECKPOINTS and os.path.isdir(path):
    run, step = RunDir(parent), None
  elif os.path.isdir(os.path.join(path, CHECKPOINTS)):
    run, step = RunDir(path), None
  else:
    raise RunDirError(f'No checkpoint at {path}: expected a workdir of aesthetic_jax.main, its '
                      'checkpoints/ folder, or one checkpoints/<step> folder.')
  if not run.checkpoint_steps():
    raise RunDirError(f'{run.checkpoints_dir} holds no finished checkpoint yet.')
  return run, step

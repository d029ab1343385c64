"""The runs that figures are drawn from: a run directory (aesthetic_jax.run_dir) and the name
a figure shows for it. Everything is read through RunDir; no dataset is opened here."""

import dataclasses
import os

import numpy as np

from aesthetic_jax.run_dir import RunDir, RunDirError


@dataclasses.dataclass(frozen=True)
class Run:
  """A finished (or running) training run and the name figures show for it."""
  dir: RunDir
  name: str

  @property
  def path(self) -> str:
    return self.dir.path


def open_run(path: str, name: str | None = None) -> Run:
  if not os.path.isdir(path):
    raise FileNotFoundError(f'No run folder {path!r}.')
  run = RunDir(path, writer=False)
  return Run(run, name or run.name)


def read_metrics(run: Run) -> list[dict]:
  """The records of metrics.jsonl: {'kind': 'train'|'eval'|'validation', 'step', 'epoch', ...}."""
  records = run.dir.metrics.read()
  if not records:
    raise RunDirError(f'{run.name}: no metrics records in {run.path} (has the run finished an '
                      'epoch?).')
  return records


def read_predictions(run: Run) -> dict[str, np.ndarray]:
  return run.dir.read_predictions()


def read_omega(run: Run) -> dict | None:
  return run.dir.read_omega()


def dataset_of(run: Run, dataset: str | None = None, data_dir: str | None = None):
  """(dataset name, data_dir) of the run: the arguments win over the run's config.json."""
  data = (run.dir.read_config_record() or {}).get('data', {})
  name, folder = dataset or data.get('name'), data_dir or data.get('data_dir')
  if not name or not folder:
    raise ValueError(f'{run.name}: no config.json in {run.path}; name the dataset and its '
                     'data_dir (--dataset, --data_dir).')
  return name, folder


def tag_names(runs, num_tags: int) -> list[str]:
  """The M tag names in the order of the 'tags' columns, from the model_info.json of the
  first of `runs` whose model has M tags (an STCNN has none), else 'tag 1'..'tag M'."""
  for run in runs:
    try:
      names = list(run.dir.read_dataset_meta().tag_names)
    except (FileNotFoundError, ValueError, KeyError):
      continue
    if len(names) == num_tags:
      return names
  return [f'tag {i + 1}' for i in range(num_tags)]


def latest_params(run: Run) -> tuple[int, dict]:
  """(step, params as a nested dict of numpy arrays) of the newest readable checkpoint."""
  step, fields = run.dir.read_checkpoint(('params',))
  return step, fields['params']


def conv1_kernel(params: dict) -> tuple[str, np.ndarray]:
  """(path, kernel (kh, kw, 3, C)) of the first convolution on the RGB input.

  The RAPID body's is params['shared']['conv1']['conv']['kernel']; for other bodies the
  first 4-D kernel with 3 input channels whose path names conv1, else the first such kernel.
  """
  import flax.traverse_util  # pylint: disable=g-import-not-at-top
  flat = flax.traverse_util.flatten_dict(params, sep='/')
  candidates = [(k, v) for k, v in flat.items()
                if k.endswith('kernel') and np.ndim(v) == 4 and np.shape(v)[2] == 3]
  if not candidates:
    raise ValueError('No convolution on the RGB input in these parameters.')
  for key, value in candidates:
    if 'conv1' in key.split('/'):
      return key, np.asarray(value)
  return candidates[0][0], np.asarray(candidates[0][1])

"""Reading a run's workdir: metrics.jsonl, test_predictions.npz, omega.json, config.json and
the parameters of its latest checkpoint (layout written by aesthetic_jax.train)."""

import dataclasses
import json
import os

import numpy as np


@dataclasses.dataclass(frozen=True)
class Run:
  """A finished (or running) training run: its workdir and the name figures show for it."""
  path: str
  name: str


def open_run(path: str, name: str | None = None) -> Run:
  if not os.path.isdir(path):
    raise FileNotFoundError(f'No run folder {path!r}.')
  return Run(path=path, name=name or os.path.basename(os.path.normpath(path)))


def _need(run: Run, filename: str) -> str:
  path = os.path.join(run.path, filename)
  if not os.path.exists(path):
    raise FileNotFoundError(f'{run.name}: no {filename} in {run.path} (has the run finished an '
                            'epoch?).')
  return path


def read_metrics(run: Run) -> list[dict]:
  """The records of metrics.jsonl: {'kind': 'train'|'eval'|'validation', 'step', 'epoch', ...}."""
  with open(_need(run, 'metrics.jsonl')) as f:
    return [json.loads(line) for line in f if line.strip()]


def read_predictions(run: Run) -> dict[str, np.ndarray]:
  """test_predictions.npz: 'p_high' (N,), 'label' (N,), 'mean_score' (N,), 'image_id' (N,),
  and with a semantic head 'semantic_probs' (N, M); 'tags' (N, M) when the data has tags."""
  with np.load(_need(run, 'test_predictions.npz')) as data:
    return {k: data[k] for k in data.files}


def read_omega(run: Run) -> dict | None:
  """omega.json ({'subtasks', 'omega', 'correlation'}) of an MTRL run, else None."""
  path = os.path.join(run.path, 'omega.json')
  if not os.path.exists(path):
    return None
  with open(path) as f:
    return json.load(f)


def read_config(run: Run) -> dict | None:
  """config.json (written by aesthetic_jax.experiments for each row), else None."""
  path = os.path.join(run.path, 'config.json')
  if not os.path.exists(path):
    return None
  with open(path) as f:
    return json.load(f)


def dataset_of(run: Run, dataset: str | None = None, data_dir: str | None = None):
  """(dataset name, data_dir) of the run: the arguments win over the run's config.json."""
  config = read_config(run) or {}
  data = config.get('data', {})
  name, folder = dataset or data.get('name'), data_dir or data.get('data_dir')
  if not name or not folder:
    raise ValueError(f'{run.name}: no config.json in {run.path}; name the dataset and its '
                     'data_dir (--dataset, --data_dir).')
  return name, folder


def tag_names(run: Run, num_tags: int, *, dataset: str | None = None,
              data_dir: str | None = None) -> list[str]:
  """The M tag names in the order of the 'tags' columns.

  From omega.json when the run has one (its rows are low, high, then the tags), else from
  the dataset's metadata, else 'tag 1'..'tag M' (the figures then say so).
  """
  omega = read_omega(run)
  if omega and len(omega['subtasks']) == num_tags + 2:
    return list(omega['subtasks'][2:])
  try:
    from aesthetic_jax import datasets
    name, folder = dataset_of(run, dataset, data_dir)
    _, meta = datasets.open_dataset(name, folder)
    if meta.num_tags == num_tags:
      return list(meta.tag_names)
  except (ValueError, FileNotFoundError):
    pass
  return [f'tag {i + 1}' for i in range(num_tags)]


def checkpoint_steps(run: Run) -> list[int]:
  """The steps of the run's finished checkpoints, oldest first."""
  directory = os.path.join(run.path, 'checkpoints')
  if not os.path.isdir(directory):
    return []
  return sorted(int(d) for d in os.listdir(directory) if d.isdigit())


def restore_state(run: Run, keys=('params',), step: int | None = None) -> tuple[int, dict]:
  """(step, {key: value as numpy}) of the fields `keys` of the TrainState saved at `step`
  (default: the newest checkpoint).

  Only those fields are read, onto this process's first device, whatever device count the
  run used (a target with shardings avoids orbax's topology check; see stack-notes.md).
  """
  import jax
  import orbax.checkpoint as ocp
  steps = checkpoint_steps(run)
  if not steps:
    raise FileNotFoundError(f'{run.name}: no checkpoint in {run.path}/checkpoints.')
  step = steps[-1] if step is None else step
  path = os.path.join(os.path.abspath(run.path), 'checkpoints', str(step), 'state')
  tree = ocp.StandardCheckpointer().metadata(path).item_metadata.tree
  device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
  target = jax.tree.map(lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=device),
                        {k: tree[k] for k in keys})
  restored = ocp.PyTreeCheckpointer().restore(path, args=ocp.args.PyTreeRestore(
      item=target, partial_restore=True,
      restore_args=jax.tree.map(lambda _: ocp.ArrayRestoreArgs(sharding=device), target)))
  return step, jax.tree.map(np.asarray, dict(restored))


def latest_params(run: Run) -> tuple[int, dict]:
  """(step, params as a nested dict of numpy arrays) of the run's newest checkpoint."""
  step, restored = restore_state(run, ('params',))
  return step, restored['params']


def conv1_kernel(params: dict) -> tuple[str, np.ndarray]:
  """(path, kernel (kh, kw, 3, C)) of the first convolution on the RGB input.

  The RAPID body's is params['shared']['conv1']['conv']['kernel']; for other bodies the
  first 4-D kernel with 3 input channels whose path names conv1, else the first such kernel.
  """
  import flax.traverse_util
  flat = flax.traverse_util.flatten_dict(params, sep='/')
  candidates = [(k, v) for k, v in flat.items()
                if k.endswith('kernel') and np.ndim(v) == 4 and np.shape(v)[2] == 3]
  if not candidates:
    raise ValueError('No convolution on the RGB input in these parameters.')
  for key, value in candidates:
    if 'conv1' in key.split('/'):
      return key, np.asarray(value)
  return candidates[0][0], np.asarray(candidates[0][1])

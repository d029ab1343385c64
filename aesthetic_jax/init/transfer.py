"""`model.init_from`: a fresh model's arrays replaced by those of an imported backbone or of
another run.

init_from names either a folder written by `python -m aesthetic_jax.weights import` (its
arrays go into the `model.body` backbone), or a workdir trained by aesthetic_jax (e.g. on
AVA), whose latest verified checkpoint initialises every parameter of the same name and
shape: how the Photo.net transfer of the paper's Table V starts from an AVA model (a head
the new model lacks, such as the semantic one, is dropped).
"""

import os
from typing import Any, Mapping

import flax.traverse_util
import numpy as np

from aesthetic_jax.init.torchvision import BACKBONE_FILE, WeightMismatchError, load_backbone
from aesthetic_jax.model import backbones
from aesthetic_jax.run_dir import RunDir


def _is_head(path: tuple[str, ...]) -> bool:
  return any(str(p).endswith('_head') for p in path)


def _module_names(paths, depth: int = 3) -> list[str]:
  """Distinct leading path components of `paths` ('shared/semantic_head'), sorted."""
  return sorted({'/'.join(p[:min(depth, len(p) - 1)]) for p in paths})


def merge(target: Mapping[tuple, Any], source: Mapping[tuple, Any], *,
          source_name: str) -> tuple[dict[tuple, Any], dict[str, list]]:
  """Takes each target array that the source has with the same path and shape.

  target/source: flat {(collection, *path): array}. A head with another shape (another
  number of tags) stays freshly initialised; any other shape difference raises.
  Returns (merged flat tree, {'loaded', 'fresh', 'unused'} lists of paths).
  """
  merged, info = {}, {'loaded': [], 'fresh': [], 'unused': []}
  for key, value in target.items():
    if key in source and tuple(np.shape(source[key])) == tuple(value.shape):
      merged[key] = np.asarray(source[key], value.dtype)
      info['loaded'].append(key)
      continue
    if key in source and not _is_head(key):
      raise WeightMismatchError(
          f'init_from {source_name}: {"/".join(key)} has shape {np.shape(source[key])} there '
          f'but {tuple(value.shape)} in this model; are the model settings the same?')
    merged[key] = value
    info['fresh'].append(key)
  info['unused'] = [k for k in source if k not in merged or k in info['fresh']]
  if not info['loaded']:
    raise WeightMismatchError(f'init_from {source_name}: no array matches this model.')
  return merged, info


def _backbone_source(path: str, target: Mapping[tuple, Any], body: str):
  """Flat {(collection, *model path): array} of an imported backbone, placed at `body`."""
  variables, report = load_backbone(path)
  if report.get('arch') not in (None, body):
    raise WeightMismatchError(f'init_from {path}: these are {report["arch"]} weights but '
                              f'model.body is {body!r}.')
  prefix = next((k[1:k.index(body) + 1] for k in target if body in k), None)
  if prefix is None:
    raise WeightMismatchError(f'init_from {path}: the model has no {body!r} body to load.')
  flat = flax.traverse_util.flatten_dict(variables)
  return {(k[0],) + prefix + k[1:]: v for k, v in flat.items()}


def _run_of(path: str) -> RunDir | None:
  """The run whose checkpoints `path` names (a workdir or its checkpoints/ folder), or None."""
  for candidate in (path, os.path.dirname(os.path.abspath(path))):
    run = RunDir(candidate, writer=False)
    if run.checkpoint_steps():
      return run
  return None


def initialise(params, model_state, *, init_from: str, body: str, log=print):
  """params and model_state ({'batch_stats': ...} or {}) with the arrays of `init_from`.

  init_from: a folder written by `import` (loaded into the `body` backbone), or a workdir
  with checkpoints (every array of the same path and shape; e.g. AVA -> Photo.net).
  Logs what was loaded, what stays freshly initialised and what the source had unused.
  """
  if not init_from:
    return params, model_state
  path = os.path.expanduser(init_from)
  if not os.path.exists(path):
    hint = (f'import ImageNet weights there with `python -m aesthetic_jax.weights import '
            f'--arch={body} --src=FILE --out={init_from}`, or ' if body in backbones.BODIES
            else '')
    raise FileNotFoundError(f"model.init_from={init_from!r} does not exist: {hint}set "
                            "--config.model.init_from='' to start from random weights.")
  target = flax.traverse_util.flatten_dict({'params': params, **model_state})
  if os.path.exists(os.path.join(path, BACKBONE_FILE)) or path.endswith('.npz'):
    source = _backbone_source(path, target, body)
    what = f'imported {body} backbone'
  else:
    run = _run_of(path)
    if run is None:
      raise FileNotFoundError(f'init_from {path}: neither an imported backbone ({BACKBONE_FILE}) '
                              'nor a workdir with checkpoints.')
    step, variables = run.read_checkpoint(('params', 'model_state'))
    source = flax.traverse_util.flatten_dict(
        {'params': variables.get('params', {}), **variables.get('model_state', {})})
    what = f'checkpoint at step {step}'
  merged, info = merge(target, source, source_name=path)
  values = sum(int(np.size(merged[k])) for k in info['loaded'])
  log(f'init_from {path} ({what}): loaded {len(info["loaded"])} arrays ({values:,} values).')
  log(f'  freshly initialised: {", ".join(_module_names(info["fresh"])) or "nothing"}')
  log(f'  not used from the source: {", ".join(_module_names(info["unused"])) or "nothing"}')
  tree = flax.traverse_util.unflatten_dict(merged)
  return tree.pop('params'), tree

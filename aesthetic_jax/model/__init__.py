"""Model construction from a config, and the MTRL task matrix W of a params tree."""

import flax.traverse_util
import jax.numpy as jnp

from aesthetic_jax.config_error import ConfigError
from aesthetic_jax.core import omega as omega_lib
from aesthetic_jax.model import backbones, networks
from aesthetic_jax.model.topology import ARCHITECTURES, CONV, FC, topology

# Columns of W, in order: 'aesthetic' (C = 2: low, high), then 'semantic' (M tags), then
# 'distribution' (K score bins) when model.distribution_head is on. Each bin's column is one
# more subtask of Omega, like each aesthetic class; they come last so that the paper's C + M
# subtasks keep their rows in Omega and in Fig. 9.
TASK_MATRIX_HEADS = ('aesthetic', 'semantic', 'distribution')
# Networks whose whole body (conv1-fc6) an ImageNet backbone can replace (method.md sec. 4).
BACKBONE_ARCHITECTURES = ('stcnn', 'mtcnn1')


def head_sizes(num_tags: int, num_bins: int = 0) -> dict[str, int]:
  """Outputs per head; a head of size 0 is left out ('distribution': K vote bins, or 0)."""
  return {'aesthetic': 2, 'semantic': num_tags, 'aesthetic_aux': 2, 'distribution': num_bins}


def build_model(model_config, *, num_tags: int, num_bins: int = 0) -> networks.MultiTaskNet:
  """The network that `model_config` names, with a semantic head of `num_tags` outputs.

  num_bins: the dataset's number of score bins (score_max - score_min + 1); the model has a
  score-distribution head of that size only when model_config.distribution_head is set.
  """
  distribution_bins = 0
  if model_config.get('distribution_head', False):
    if num_bins < 2:
      raise ConfigError(f'model.distribution_head needs the number of score bins (got '
                       f'num_bins={num_bins}).')
    distribution_bins = num_bins
  dtype = jnp.dtype(model_config.dtype)
  body = model_config.body
  if body in backbones.BODIES:
    # An ImageNet backbone is one layer that replaces conv1-fc6 of STCNN / MTCNN #1.
    if model_config.architecture not in BACKBONE_ARCHITECTURES:
      raise ConfigError(f'model.body={body!r} replaces conv1-fc6 of {BACKBONE_ARCHITECTURES} '
                       f'only, not of {model_config.architecture!r}.')
    make_layer = backbones.layer_factory(model_config, dtype)
    layer_names = (body,)
  elif body == 'rapid':
    make_layer = networks.rapid_layer_factory(model_config, dtype)
    layer_names = CONV[:len(model_config.conv_features)] + FC[:len(model_config.fc_features)]
  else:
    raise ConfigError(f'Unknown model.body {body!r}; available: rapid, '
                     f'{", ".join(backbones.BODIES)}.')
  return networks.MultiTaskNet(
      topology=topology(model_config.architecture, layer_names,
                        conv2_branch_hidden=model_config.get('conv2_branch_fc_layers', 1),
                        distribution_head=bool(distribution_bins)), make_layer=make_layer,
      head_sizes=head_sizes(num_tags, distribution_bins), pixel_mean=tuple(model_config.pixel_mean),
      pixel_std=tuple(model_config.pixel_std), dtype=dtype)


def head_kernels(params) -> dict[str, jnp.ndarray]:
  """Kernels (d, size) of every head in a params tree, found by their '<task>_head' names."""
  flat = flax.traverse_util.flatten_dict(params)
  kernels = {}
  for path, value in flat.items():
    if path[-1] == 'kernel' and path[-2].endswith('_head'):
      kernels[path[-2][:-len('_head')]] = value
  return kernels


def task_matrix(params) -> jnp.ndarray:
  """W = [W_a, W_s(, W_d)] (d, C + M (+ K)): the heads' kernels side by side in
  TASK_MATRIX_HEADS order, biases excluded (eq. 11).

  All heads in W must sit on features of the same size d (fc6 in every network here).
  """
  kernels = head_kernels(params)
  return jnp.concatenate([kernels[h] for h in TASK_MATRIX_HEADS if h in kernels], axis=1)


def score_names(score_min: int, score_max: int) -> list[str]:
  """Names of the score-distribution head's bins: 'score 1' .. 'score 10' on AVA."""
  return [f'score {s}' for s in range(score_min, score_max + 1)]


def task_matrix_names(params, *, tag_names, score_min: int = 1) -> list[str]:
  """Names of W's columns (Omega's rows) in task_matrix(params) order: 'low aesthetic',
  'high aesthetic', the tags (when the model has a semantic head), then the score bins."""
  kernels = head_kernels(params)
  tags = list(tag_names) if 'semantic' in kernels else []
  bins = kernels['distribution'].shape[1] if 'distribution' in kernels else 0
  return omega_lib.subtask_names(tags, extra_names=score_names(score_min, score_min + bins - 1))

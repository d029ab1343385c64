"""Model construction from a config, and the MTRL task matrix W of a params tree."""

import flax.traverse_util
import jax.numpy as jnp

from aesthetic_jax.models import networks
from aesthetic_jax.models.topology import ARCHITECTURES, CONV, FC, topology

# Columns of W, in order: 'aesthetic' (C = 2: low, high), then 'semantic' (M tags).
TASK_MATRIX_HEADS = ('aesthetic', 'semantic')


def head_sizes(num_tags: int) -> dict[str, int]:
  return {'aesthetic': 2, 'semantic': num_tags, 'aesthetic_aux': 2}


def build_model(model_config, *, num_tags: int) -> networks.MultiTaskNet:
  """The network that `model_config` names, with a semantic head of `num_tags` outputs."""
  dtype = jnp.dtype(model_config.dtype)
  body = model_config.body
  if body != 'rapid':
    raise ValueError(f'Unknown model.body {body!r}; available: rapid.')
  make_layer = networks.rapid_layer_factory(model_config, dtype)
  layer_names = CONV[:len(model_config.conv_features)] + FC[:len(model_config.fc_features)]
  return networks.MultiTaskNet(
      topology=topology(model_config.architecture, layer_names), make_layer=make_layer,
      head_sizes=head_sizes(num_tags), pixel_mean=tuple(model_config.pixel_mean),
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
  """W = [W_a, W_s] (d, C + M): the heads' kernels side by side, biases excluded (eq. 11).

  All heads in W must sit on features of the same size d (fc6 in every network here).
  """
  kernels = head_kernels(params)
  return jnp.concatenate([kernels[h] for h in TASK_MATRIX_HEADS if h in kernels], axis=1)

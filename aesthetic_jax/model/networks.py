"""The paper's networks (STCNN, MTCNN #1/#2/#3, Enhanced MTCNN) as one composable module."""

from typing import Any, Callable, Mapping

import flax.linen as nn
import jax.numpy as jnp

from aesthetic_jax.model import layers as layers_lib
from aesthetic_jax.model import topology as topology_lib
from aesthetic_jax.model.topology import Branch

# Builds the layer called `name` (e.g. 'conv1', 'fc5'): (name) -> unbound linen module.
LayerFactory = Callable[[str], nn.Module]


class BranchNet(nn.Module):
  """Runs one branch of the tree (its layers, then heads, then child branches).

  Output: dict head name -> logits (B, head size), filled in for this branch and below.
  """
  branch: Branch
  make_layer: LayerFactory
  head_sizes: Mapping[str, int]
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, *, train: bool, example_ids=None) -> dict[str, jnp.ndarray]:
    for name in self.branch.layers:
      x = self.make_layer(name)(x, train=train, example_ids=example_ids)
    outputs = {}
    features = x.reshape((x.shape[0], -1))
    for head in self.branch.heads:
      if self.head_sizes.get(head):
        # Heads compute in float32 so logits and the MTRL task matrix keep full precision.
        outputs[head] = nn.Dense(self.head_sizes[head], name=f'{head}_head')(
            features.astype(jnp.float32))
    for child in self.branch.children:
      outputs.update(BranchNet(child, self.make_layer, self.head_sizes, self.dtype,
                               name=child.name)(x, train=train, example_ids=example_ids))
    return outputs


class MultiTaskNet(nn.Module):
  """images uint8/float (B, H, W, 3) in [0, 255] -> dict head name -> logits (B, size).

  Heads: 'aesthetic' (B, 2), 'semantic' (B, M), 'aesthetic_aux' (B, 2) for Enhanced MTCNN.
  A head whose size is 0 (e.g. semantic on Photo.net) is left out.
  """
  topology: Branch
  make_layer: LayerFactory
  head_sizes: Mapping[str, int]
  pixel_mean: tuple[float, float, float]
  pixel_std: tuple[float, float, float]
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, images, *, train: bool = False, example_ids=None):
    """example_ids: int (B,) the images' indices in the global batch, which key their
    dropout masks (layers.ExampleDropout); default 0..B-1."""
    x = (jnp.asarray(images, jnp.float32) - jnp.asarray(self.pixel_mean)) / jnp.asarray(
        self.pixel_std)
    return BranchNet(self.topology, self.make_layer, self.head_sizes, self.dtype,
                     name=self.topology.name)(x.astype(self.dtype), train=train,
                                              example_ids=example_ids)


def rapid_layer_factory(model_config, dtype) -> LayerFactory:
  """conv1-conv4, fc5-fc6 and the conv2 branch's branch_fc<i> with the sizes in
  `model_config` (method.md section 4)."""
  conv = {f'conv{i + 1}': i for i in range(len(model_config.conv_features))}
  fc = {f'fc{i + 5}': model_config.fc_features[i] for i in range(len(model_config.fc_features))}
  branch_width = model_config.get('conv2_branch_fc_width', 0) or model_config.fc_features[-1]
  fc.update({name: branch_width for name in topology_lib.conv2_branch_layers(
      model_config.get('conv2_branch_fc_layers', 1))})

  def make_layer(name: str) -> nn.Module:
    if name in conv:
      i = conv[name]
      return layers_lib.ConvLayer(
          features=model_config.conv_features[i], kernel_size=model_config.conv_kernels[i],
          stride=model_config.conv_strides[i], pool_and_norm=i < 2, dtype=dtype,
          impl=model_config.get('pool_lrn_impl', 'auto'), name=name)
    if name in fc:
      return layers_lib.DenseLayer(features=fc[name],
                                   dropout_rate=model_config.dropout_rate, dtype=dtype,
                                   name=name)
    raise ValueError(f'No layer {name!r} in the RAPID body (have {sorted(conv) + sorted(fc)}).')

  return make_layer

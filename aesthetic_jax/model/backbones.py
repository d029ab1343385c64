"""ImageNet backbones in their torchvision forms: AlexNet, VGG-16, ResNet-18 and ResNet-50.

Kao, He and Huang (IEEE TIP 2017, section 4 and Table III) replace layers 1-6 of MTCNN #1 by
an ImageNet-pretrained network and put the task heads on its penultimate features. Each body
here returns those features: fc7 after its ReLU for AlexNet (Krizhevsky et al. 2012, the
one-column form of torchvision) and VGG-16 (Simonyan and Zisserman 2015, configuration D),
the globally average-pooled last stage for ResNet (He et al. 2016; torchvision's "v1.5",
stride on the 3x3 conv of a bottleneck).

Module names are torchvision's state-dict names with '.' written as '_' (`features_0` is
`features.0`, `layer1_0/downsample_1` is `layer1.0.downsample.1`), so a pretrained state
dict maps one to one (aesthetic_jax.weights). Layout is NHWC; before the classifier of
AlexNet/VGG the activations are flattened in torch's (C, H, W) order so that fc6's weight
is the plain transpose of torchvision's.

Batch norm (ResNets) follows torch: epsilon 1e-5 and running averages updated with
momentum 0.1 (flax momentum 0.9). With `train=True` it normalises by the batch statistics,
averaged over the devices of `batch_norm_axis` when that axis is bound (synchronised batch
norm: the statistics are those of the global batch, the same for any device count), and
updates `batch_stats`; with `train=False` it uses the running averages. One difference from
torch: the running variance is updated with the biased batch variance (flax), a factor
(n - 1) / n on n values per channel.
"""

import functools
from typing import Any, Callable, Sequence

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

from aesthetic_jax.model import cpu_pool_lrn, layers

BODIES = ('alexnet', 'vgg16', 'resnet18', 'resnet50')

# Features index, output width, kernel, stride, padding of torchvision's AlexNet convs;
# a 3x3/2 max-pool follows features 0, 3 and 10.
_ALEXNET_CONVS = ((0, 64, 11, 4, 2), (3, 192, 5, 1, 2), (6, 384, 3, 1, 1), (8, 256, 3, 1, 1),
                  (10, 256, 3, 1, 1))
_ALEXNET_POOLS = (0, 3, 10)
# VGG-16 (configuration D): (width, convs) per stage, each stage ending in a 2x2/2 max-pool.
_VGG16_STAGES = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))
RESNET_STAGE_SIZES = {'resnet18': (2, 2, 2, 2), 'resnet50': (3, 4, 6, 3)}
_FC_WIDTH = 4096

# torchvision initialises convs with kaiming_normal_(mode='fan_out', nonlinearity='relu').
_conv_init = nn.initializers.variance_scaling(2.0, 'fan_out', 'normal')


def feature_size(body: str, width_divisor: int = 1) -> int:
  """Length d of the features a body gives its heads (4096 for AlexNet/VGG, 512, 2048)."""
  if body in ('alexnet', 'vgg16'):
    return _FC_WIDTH // width_divisor
  if body == 'resnet18':
    return 512 // width_divisor
  if body == 'resnet50':
    return 2048 // width_divisor
  raise ValueError(f'Unknown backbone {body!r}; choose one of {BODIES}.')


def _pool_matrix(size_in: int, size_out: int) -> np.ndarray:
  """(size_out, size_in) averaging weights of torch's adaptive average pooling.

  Output bin i averages inputs floor(i * n / m) .. ceil((i + 1) * n / m) - 1.
  """
  matrix = np.zeros((size_out, size_in), np.float32)
  for i in range(size_out):
    start = (i * size_in) // size_out
    end = -((-(i + 1) * size_in) // size_out)
    matrix[i, start:end] = 1.0 / (end - start)
  return matrix


def adaptive_avg_pool(x, output_size: tuple[int, int]):
  """torch.nn.AdaptiveAvgPool2d on NHWC: (B, H, W, C) -> (B, h, w, C)."""
  if x.shape[1:3] == tuple(output_size):
    return x
  rows = jnp.asarray(_pool_matrix(x.shape[1], output_size[0]), x.dtype)
  cols = jnp.asarray(_pool_matrix(x.shape[2], output_size[1]), x.dtype)
  return jnp.einsum('bhwc,ih,jw->bijc', x, rows, cols)


def _flatten_chw(x):
  """(B, H, W, C) -> (B, C * H * W) in torch's channel-major order."""
  return jnp.transpose(x, (0, 3, 1, 2)).reshape((x.shape[0], -1))


def _conv(features, kernel, stride, padding, name, *, use_bias=True, dtype=jnp.float32):
  """torch.nn.Conv2d(kernel, stride, padding) in NHWC."""
  return nn.Conv(features, (kernel, kernel), strides=stride,
                 padding=((padding, padding), (padding, padding)), use_bias=use_bias,
                 kernel_init=_conv_init, dtype=dtype, name=name)


class AlexNet(nn.Module):
  """torchvision's AlexNet up to fc7: (B, H, W, 3) normalised -> fc7 features (B, 4096).

  features_0/3/6/8/10: conv1-conv5; classifier_1, classifier_4: fc6, fc7 (dropout before
  each, as torchvision). fc8 (classifier_6) is left out: the task heads replace it.
  """
  width_divisor: int = 1
  dropout_rate: float = 0.5
  dtype: Any = jnp.float32
  pool_lrn_impl: str = 'auto'  # model.pool_lrn_impl: max-pooling of model/cpu_pool_lrn.py on CPU

  @nn.compact
  def __call__(self, x, *, train: bool, example_ids=None):
    ids = layers.example_indices(example_ids, x.shape[0])
    for index, width, kernel, stride, padding in _ALEXNET_CONVS:
      x = nn.relu(_conv(width // self.width_divisor, kernel, stride, padding,
                        f'features_{index}', dtype=self.dtype)(x))
      if index in _ALEXNET_POOLS:
        x = cpu_pool_lrn.pool(x, (3, 3), (2, 2), impl=self.pool_lrn_impl)
    x = _flatten_chw(adaptive_avg_pool(x, (6, 6)))
    for name in ('classifier_1', 'classifier_4'):
      x = layers.ExampleDropout(self.dropout_rate)(x, deterministic=not train, example_ids=ids)
      x = nn.relu(nn.Dense(_FC_WIDTH // self.width_divisor, dtype=self.dtype, name=name)(x))
    return x


class VGG16(nn.Module):
  """torchvision's vgg16 (no batch norm) up to fc7: (B, H, W, 3) -> fc7 features (B, 4096).

  features_0 .. features_28: the 13 3x3 convs; classifier_0, classifier_3: fc6, fc7, each
  followed by ReLU and dropout (as torchvision). fc8 (classifier_6) is left out.
  """
  width_divisor: int = 1
  dropout_rate: float = 0.5
  dtype: Any = jnp.float32
  pool_lrn_impl: str = 'auto'  # model.pool_lrn_impl: max-pooling of model/cpu_pool_lrn.py on CPU

  @nn.compact
  def __call__(self, x, *, train: bool, example_ids=None):
    ids = layers.example_indices(example_ids, x.shape[0])
    index = 0  # torchvision's position in `features`: conv and ReLU, then a pool per stage
    for width, convs in _VGG16_STAGES:
      for _ in range(convs):
        x = nn.relu(_conv(width // self.width_divisor, 3, 1, 1, f'features_{index}',
                          dtype=self.dtype)(x))
        index += 2
      x = cpu_pool_lrn.pool(x, (2, 2), (2, 2), impl=self.pool_lrn_impl)
      index += 1
    x = _flatten_chw(adaptive_avg_pool(x, (7, 7)))
    for name in ('classifier_0', 'classifier_3'):
      x = nn.relu(nn.Dense(_FC_WIDTH // self.width_divisor, dtype=self.dtype, name=name)(x))
      x = layers.ExampleDropout(self.dropout_rate)(x, deterministic=not train, example_ids=ids)
    return x


class BasicBlock(nn.Module):
  """torchvision.models.resnet.BasicBlock: two 3x3 convs and the (projected) shortcut."""
  planes: int
  stride: int
  downsample: bool
  norm: Callable[..., nn.Module]
  dtype: Any = jnp.float32
  expansion = 1

  @nn.compact
  def __call__(self, x):
    out = _conv(self.planes, 3, self.stride, 1, 'conv1', use_bias=False, dtype=self.dtype)(x)
    out = nn.relu(self.norm(name='bn1')(out))
    out = _conv(self.planes, 3, 1, 1, 'conv2', use_bias=False, dtype=self.dtype)(out)
    out = self.norm(name='bn2')(out)
    return nn.relu(out + _shortcut(self, x))


class Bottleneck(nn.Module):
  """torchvision.models.resnet.Bottleneck: 1x1, 3x3 (with the stride), 1x1 (x4 width)."""
  planes: int
  stride: int
  downsample: bool
  norm: Callable[..., nn.Module]
  dtype: Any = jnp.float32
  expansion = 4

  @nn.compact
  def __call__(self, x):
    out = _conv(self.planes, 1, 1, 0, 'conv1', use_bias=False, dtype=self.dtype)(x)
    out = nn.relu(self.norm(name='bn1')(out))
    out = _conv(self.planes, 3, self.stride, 1, 'conv2', use_bias=False, dtype=self.dtype)(out)
    out = nn.relu(self.norm(name='bn2')(out))
    out = _conv(self.planes * 4, 1, 1, 0, 'conv3', use_bias=False, dtype=self.dtype)(out)
    out = self.norm(name='bn3')(out)
    return nn.relu(out + _shortcut(self, x))


def _shortcut(block, x):
  """The identity, or torchvision's `downsample` (1x1 strided conv and batch norm)."""
  if not block.downsample:
    return x
  x = _conv(block.planes * block.expansion, 1, block.stride, 0, 'downsample_0', use_bias=False,
            dtype=block.dtype)(x)
  return block.norm(name='downsample_1')(x)


class ResNet(nn.Module):
  """torchvision's ResNet up to the global average pool: (B, H, W, 3) -> (B, d).

  conv1, bn1, 3x3/2 max-pool, then stages layer1..layer4 of `stage_sizes` blocks (block j of
  stage i is `layer{i+1}_{j}`); d = 512 (BasicBlock) or 2048 (Bottleneck) / width_divisor.
  """
  block: type
  stage_sizes: Sequence[int]
  width_divisor: int = 1
  batch_norm_axis: str | None = None
  dtype: Any = jnp.float32
  pool_lrn_impl: str = 'auto'  # model.pool_lrn_impl: max-pooling of model/cpu_pool_lrn.py on CPU

  @nn.compact
  def __call__(self, x, *, train: bool, example_ids=None):
    del example_ids  # no dropout in a ResNet
    norm = functools.partial(nn.BatchNorm, use_running_average=not train, momentum=0.9,
                             epsilon=1e-5, axis_name=self.batch_norm_axis or None,
                             dtype=self.dtype)
    width = 64 // self.width_divisor
    x = _conv(width, 7, 2, 3, 'conv1', use_bias=False, dtype=self.dtype)(x)
    x = nn.relu(norm(name='bn1')(x))
    x = cpu_pool_lrn.pool(x, (3, 3), (2, 2), impl=self.pool_lrn_impl, padding=((1, 1), (1, 1)))
    in_width = width
    for i, blocks in enumerate(self.stage_sizes):
      planes = width * 2 ** i
      for j in range(blocks):
        stride = 2 if i > 0 and j == 0 else 1
        downsample = stride != 1 or in_width != planes * self.block.expansion
        x = self.block(planes, stride, downsample, norm, self.dtype,
                       name=f'layer{i + 1}_{j}')(x)
        in_width = planes * self.block.expansion
    return jnp.mean(x, axis=(1, 2))


def build_backbone(body: str, *, width_divisor: int = 1, stage_sizes: Sequence[int] = (),
                   dropout_rate: float = 0.5, batch_norm_axis: str | None = None,
                   dtype: Any = jnp.float32, pool_lrn_impl: str = 'auto',
                   name: str | None = None) -> nn.Module:
  """The backbone `body` (one of BODIES); `width_divisor` > 1 narrows every layer (tests).

  stage_sizes: ResNet blocks per stage, () for the standard depth.
  batch_norm_axis: mapped axis over which batch statistics are averaged in training.
  pool_lrn_impl: model.pool_lrn_impl ('auto': model/cpu_pool_lrn.py's max-pooling on a CPU backend).
  """
  if width_divisor < 1:
    raise ValueError(f'width_divisor must be >= 1, got {width_divisor}.')
  if body == 'alexnet':
    return AlexNet(width_divisor, dropout_rate, dtype, pool_lrn_impl, name=name)
  if body == 'vgg16':
    return VGG16(width_divisor, dropout_rate, dtype, pool_lrn_impl, name=name)
  if body in RESNET_STAGE_SIZES:
    block = BasicBlock if body == 'resnet18' else Bottleneck
    return ResNet(block, tuple(stage_sizes) or RESNET_STAGE_SIZES[body], width_divisor,
                  batch_norm_axis, dtype, pool_lrn_impl, name=name)
  raise ValueError(f'Unknown backbone {body!r}; choose one of {BODIES}.')


def backbone_kwargs(model_config) -> dict[str, Any]:
  """build_backbone's settings from a config's `model` section."""
  return dict(width_divisor=int(model_config.get('width_divisor', 1)),
              stage_sizes=tuple(model_config.get('stage_sizes', ())),
              dropout_rate=float(model_config.dropout_rate),
              batch_norm_axis=model_config.get('batch_norm_axis', '') or None,
              pool_lrn_impl=model_config.get('pool_lrn_impl', 'auto'))


def layer_factory(model_config, dtype):
  """A networks.LayerFactory whose one layer, named `model.body`, is the whole backbone."""
  body = model_config.body

  def make_layer(name: str) -> nn.Module:
    if name != body:
      raise ValueError(f'The {body} body is one layer named {body!r}, not {name!r}.')
    return build_backbone(body, dtype=dtype, name=name, **backbone_kwargs(model_config))

  return make_layer

"""Makes the reference fixtures of tests/test_backbones.py and tests/test_weights.py with PyTorch.

Run once, in an environment that has torch and torchvision (never a dependency of
aesthetic_jax; random weights only, nothing is downloaded):

  python3 -m venv /tmp/torchenv
  /tmp/torchenv/bin/pip install torch==2.13.0 torchvision numpy safetensors
  /tmp/torchenv/bin/python scripts/make_backbone_fixtures.py --out=tests/fixtures/backbones

The networks are torchvision's own classes and forward code (alexnet, VGG with make_layers,
ResNet's _make_layer, BasicBlock, Bottleneck), narrowed by dividing every width by a
divisor so the files stay small; the layer names, layer order, padding, pooling and
flattening are those of the full-size networks, which the test checks by name and shape
against torchvision_state_dicts.json (written here from the full-size models). Written:

  <arch>.safetensors       the narrow model's state dict (random weights and BN statistics)
  <arch>_io.npz            input (2, 3, 64, 64) float32 NCHW and the penultimate features in
                           eval mode; ResNets also the train-mode features and two BN layers'
                           running statistics before and after that train-mode forward
  adaptive_pool.npz        torch.nn.AdaptiveAvgPool2d on a few input/output sizes
  torchvision_state_dicts.json   every tensor name and shape of the four full-size models
  fixtures.json            how the narrow models were made, and the versions

With --full_size_out=DIR it also writes full-size fixtures (hundreds of MB, not for the
repo) that tests/test_backbones.py checks when AESTHETIC_JAX_FULL_FIXTURES=DIR is set.
"""

import argparse
import json
import os
import sys
import types

import numpy as np
import torch
from safetensors.torch import save_file
from torch import nn

# torchvision wheels built against another torch fail to register their C++ ops on import;
# the model definitions do not need them.
try:
  import torchvision
except RuntimeError:
  sys.modules['torchvision._meta_registrations'] = types.ModuleType('_meta_registrations')
  for name in [m for m in sys.modules if m.startswith('torchvision')]:
    if name != 'torchvision._meta_registrations':
      del sys.modules[name]
  import torchvision
from torchvision.models import resnet as tv_resnet
from torchvision.models import vgg as tv_vgg

ARCHS = ('alexnet', 'vgg16', 'resnet18', 'resnet50')
# Width divisors of the narrow fixtures (the Flax side uses model.width_divisor alike).
DIVISORS = {'alexnet': 16, 'vgg16': 32, 'resnet18': 16, 'resnet50': 16}
NUM_CLASSES = 10  # the narrow classifier: present in the file, unused by aesthetic_jax
INPUT_SHAPE = (2, 3, 64, 64)
SEED = 0


def narrow_alexnet(divisor: int, num_classes: int) -> nn.Module:
  """torchvision's AlexNet with every conv / linear width divided by `divisor`."""
  model = torchvision.models.alexnet(num_classes=num_classes)
  in_ch = 3
  for i, layer in enumerate(model.features):
    if isinstance(layer, nn.Conv2d):
      out_ch = layer.out_channels // divisor
      model.features[i] = nn.Conv2d(in_ch, out_ch, layer.kernel_size, layer.stride,
                                    layer.padding)
      in_ch = out_ch
  width = 4096 // divisor
  model.classifier[1] = nn.Linear(in_ch * 6 * 6, width)
  model.classifier[4] = nn.Linear(width, width)
  model.classifier[6] = nn.Linear(width, num_classes)
  return model


def narrow_vgg16(divisor: int, num_classes: int) -> nn.Module:
  """torchvision's VGG (configuration 'D', no batch norm) with widths / `divisor`."""
  cfg = [v if v == 'M' else v // divisor for v in tv_vgg.cfgs['D']]
  model = tv_vgg.VGG(tv_vgg.make_layers(cfg, batch_norm=False), num_classes=num_classes)
  width = 4096 // divisor
  model.classifier[0] = nn.Linear(cfg[-2] * 7 * 7, width)
  model.classifier[3] = nn.Linear(width, width)
  model.classifier[6] = nn.Linear(width, num_classes)
  return model


class NarrowResNet(tv_resnet.ResNet):
  """torchvision's ResNet (its blocks, _make_layer and forward) with base width 64/divisor."""

  def __init__(self, block, layers, divisor: int, num_classes: int):
    nn.Module.__init__(self)
    self._norm_layer = nn.BatchNorm2d
    self.inplanes, self.dilation, self.groups, self.base_width = 64 // divisor, 1, 1, 64
    self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
    self.bn1 = nn.BatchNorm2d(self.inplanes)
    self.relu = nn.ReLU(inplace=True)
    self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
    widths = [64 // divisor * 2 ** i for i in range(4)]
    self.layer1 = self._make_layer(block, widths[0], layers[0])
    self.layer2 = self._make_layer(block, widths[1], layers[1], stride=2)
    self.layer3 = self._make_layer(block, widths[2], layers[2], stride=2)
    self.layer4 = self._make_layer(block, widths[3], layers[3], stride=2)
    self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
    self.fc = nn.Linear(widths[3] * block.expansion, num_classes)
    for m in self.modules():
      if isinstance(m, nn.Conv2d):
        nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')


def build(arch: str, divisor: int, num_classes: int) -> nn.Module:
  if divisor == 1:
    return getattr(torchvision.models, arch)(num_classes=num_classes)
  if arch == 'alexnet':
    return narrow_alexnet(divisor, num_classes)
  if arch == 'vgg16':
    return narrow_vgg16(divisor, num_classes)
  block, layers = ((tv_resnet.BasicBlock, [2, 2, 2, 2]) if arch == 'resnet18' else
                   (tv_resnet.Bottleneck, [3, 4, 6, 3]))
  return NarrowResNet(block, layers, divisor, num_classes)


def randomise(model: nn.Module, generator: torch.Generator) -> None:
  """Weights that keep activations near unit scale (so a 1e-4 tolerance means something),
  random biases, and non-trivial BN affine parameters and running statistics."""
  residual_ends = {id(b.bn3 if hasattr(b, 'bn3') else b.bn2) for b in model.modules()
                   if isinstance(b, (tv_resnet.BasicBlock, tv_resnet.Bottleneck))}
  for m in model.modules():
    if isinstance(m, (nn.Conv2d, nn.Linear)) and not residual_ends:  # ResNets keep theirs
      fan_in = m.weight[0].numel()
      with torch.no_grad():
        m.weight.copy_(torch.randn(m.weight.shape, generator=generator) * (2 / fan_in) ** 0.5)
        if m.bias is not None:
          m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=generator))
    if isinstance(m, nn.BatchNorm2d):
      c = m.num_features
      with torch.no_grad():
        # A small last BN per residual branch keeps the sum over 16 blocks near unit scale.
        low = 0.1 if id(m) in residual_ends else 0.5
        m.weight.copy_(low + low * 2 * torch.rand(c, generator=generator))
        m.bias.copy_(0.1 * torch.randn(c, generator=generator))
        m.running_mean.copy_(0.1 * torch.randn(c, generator=generator))
        m.running_var.copy_(0.5 + torch.rand(c, generator=generator))


def penultimate(model: nn.Module, arch: str, x: torch.Tensor) -> torch.Tensor:
  """The features aesthetic_jax's heads sit on, through torchvision's own modules."""
  if arch in ('alexnet', 'vgg16'):
    x = torch.flatten(model.avgpool(model.features(x)), 1)
    return model.classifier[:6](x)  # up to fc7's ReLU (and, for VGG, its dropout)
  x = model.maxpool(model.relu(model.bn1(model.conv1(x))))
  x = model.layer4(model.layer3(model.layer2(model.layer1(x))))
  return torch.flatten(model.avgpool(x), 1)


def _numpy(t: torch.Tensor) -> np.ndarray:
  return t.detach().cpu().numpy().copy()  # a copy: BN updates its buffers in place


def make_fixture(arch: str, divisor: int, num_classes: int, out_dir: str,
                 input_shape=INPUT_SHAPE) -> dict:
  torch.manual_seed(SEED)
  generator = torch.Generator().manual_seed(SEED)
  model = build(arch, divisor, num_classes)
  randomise(model, generator)
  x = torch.randn(*input_shape, generator=generator)
  model.eval()
  with torch.no_grad():
    io = {'input': _numpy(x), 'features_eval': _numpy(penultimate(model, arch, x))}
  state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
  if arch.startswith('resnet'):
    last = f'layer4.{len(model.layer4) - 1}.bn{3 if arch == "resnet50" else 2}'
    tracked = {'bn1': model.bn1, 'last_bn': model.get_submodule(last)}
    for key, bn in tracked.items():
      io[f'{key}_running_mean_before'] = _numpy(bn.running_mean)
      io[f'{key}_running_var_before'] = _numpy(bn.running_var)
    model.train()
    with torch.no_grad():
      io['features_train'] = _numpy(penultimate(model, arch, x))
    for key, bn in tracked.items():
      io[f'{key}_running_mean_after'] = _numpy(bn.running_mean)
      io[f'{key}_running_var_after'] = _numpy(bn.running_var)
    io['last_bn_name'] = np.asarray(last)
  save_file(state, os.path.join(out_dir, f'{arch}.safetensors'))
  np.savez(os.path.join(out_dir, f'{arch}_io.npz'), **io)
  scale = float(np.abs(io['features_eval']).max())
  print(f'{arch}: /{divisor}, {sum(v.numel() for v in state.values())} values, '
        f'features {io["features_eval"].shape}, max |feature| {scale:.3g}')
  return {'width_divisor': divisor, 'num_classes': num_classes,
          'input_shape': list(input_shape), 'seed': SEED}


def adaptive_pool_cases(out_dir: str) -> None:
  generator = torch.Generator().manual_seed(SEED)
  cases = {}
  for (h, w), (oh, ow) in (((13, 13), (6, 6)), ((10, 7), (6, 7)), ((3, 2), (7, 7)),
                           ((9, 14), (4, 5))):
    x = torch.randn(2, 3, h, w, generator=generator)
    key = f'{h}x{w}_to_{oh}x{ow}'
    cases[f'{key}_input'] = _numpy(x)
    cases[f'{key}_output'] = _numpy(nn.AdaptiveAvgPool2d((oh, ow))(x))
  np.savez(os.path.join(out_dir, 'adaptive_pool.npz'), **cases)


def state_dict_manifest(out_dir: str) -> None:
  """Every tensor name and shape of torchvision's full-size models (1000 ImageNet classes)."""
  manifest = {}
  for arch in ARCHS:
    with torch.device('meta'):
      model = getattr(torchvision.models, arch)()
    manifest[arch] = [[k, list(v.shape)] for k, v in model.state_dict().items()]
  with open(os.path.join(out_dir, 'torchvision_state_dicts.json'), 'w') as f:
    json.dump(manifest, f, indent=0)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--out', default='tests/fixtures/backbones')
  parser.add_argument('--full_size_out', default='',
                      help='also write full-size fixtures here (large; not for the repo)')
  args = parser.parse_args()
  os.makedirs(args.out, exist_ok=True)
  torch.set_num_threads(2)
  specs = {arch: make_fixture(arch, DIVISORS[arch], NUM_CLASSES, args.out) for arch in ARCHS}
  adaptive_pool_cases(args.out)
  state_dict_manifest(args.out)
  with open(os.path.join(args.out, 'fixtures.json'), 'w') as f:
    json.dump({'made_by': 'scripts/make_backbone_fixtures.py', 'torch': torch.__version__,
               'torchvision': torchvision.__version__, 'archs': specs}, f, indent=1)
  if args.full_size_out:
    os.makedirs(args.full_size_out, exist_ok=True)
    for arch in ARCHS:
      make_fixture(arch, 1, 1000, args.full_size_out, input_shape=(2, 3, 224, 224))


if __name__ == '__main__':
  main()

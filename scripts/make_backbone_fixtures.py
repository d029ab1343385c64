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

import numpy as np
import torch
from safetensors.torch import save_file
from torch import nn

# The narrow torchvision networks are the bench's PyTorch reference's (a torch-only module
# of this repository, importable without JAX).
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from aesthetic_jax.bench import torch_reference  # pylint: disable=wrong-import-position

torchvision = torch_reference.import_torchvision()
from torchvision.models import resnet as tv_resnet  # pylint: disable=wrong-import-position

ARCHS = ('alexnet', 'vgg16', 'resnet18', 'resnet50')
# Width divisors of the narrow fixtures (the Flax side uses model.width_divisor alike).
DIVISORS = {'alexnet': 16, 'vgg16': 32, 'resnet18': 16, 'resnet50': 16}
NUM_CLASSES = 10  # the narrow classifier: present in the file, unused by aesthetic_jax
INPUT_SHAPE = (2, 3, 64, 64)
SEED = 0


def build(arch: str, divisor: int, num_classes: int) -> nn.Module:
  return torch_reference.torchvision_network(torchvision, arch, divisor,
                                             num_classes=num_classes)


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

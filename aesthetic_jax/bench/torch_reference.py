"""PyTorch reference of MTCNN #1 / STCNN (the same layers, loss and optimizer as aesthetic_jax).

Only for speed comparisons: PyTorch is never a dependency of aesthetic_jax, and this file
imports nothing of it. The bench (`python -m aesthetic_jax.bench --torch_python=...`) starts
it as a subprocess in the interpreter that has torch, then alternates timings with JAX
through a line protocol:

  stdin:  one JSON object per line: {"cmd": "train" | "eval", "steps": n} or {"cmd": "quit"}
  stdout: one JSON object per line: {"seconds_per_step": s}, and once after warm-up the
          "ready" line: {"ready": true, "torch": ..., "torchvision": ..., "body": ...,
          "num_params": ..., "flops_per_step": ..., "first_loss": ..., ...}

Run alone for a quick figure:
  python aesthetic_jax/bench/torch_reference.py --standalone --batch_size=32 --steps=10
  python aesthetic_jax/bench/torch_reference.py --standalone --spec='{"body": "resnet50"}'

Bodies (spec['body']), the layers 1-6 that the task heads sit on:
  rapid     method.md section 4, after RAPID (Lu et al., ACM MM 2014): conv1 64@11x11/2, ReLU,
            max-pool 3x3/2, LRN; conv2 64@5x5, ReLU, max-pool, LRN; conv3, conv4 64@3x3, ReLU;
            fc5 1000, fc6 256 (each ReLU, then dropout); features: fc6 (256).
  alexnet   torchvision.models.alexnet; features: the classifier up to fc7's ReLU
            (classifier[:6]: dropout, fc6, ReLU, dropout, fc7, ReLU), 4096.
  vgg16     torchvision.models.vgg16 (configuration D, no batch norm); features: classifier[:6]
            (fc6, ReLU, dropout, fc7, ReLU, dropout), 4096.
  resnet18, resnet50   torchvision.models.resnet18 / resnet50 (Bottleneck "v1.5"); features:
            after avgpool and flatten (fc replaced by the identity), 512 / 2048. Batch norm in
            train mode during the train step (batch statistics), running averages in eval.
Every body is torchvision's own class and forward code with random weights (weights=None,
nothing is downloaded). spec['width_divisor'] > 1 narrows every width exactly as the JAX
bodies do (width // divisor; torchvision's classes have fixed widths, so the narrow forms
rebuild the layers with torchvision's own building blocks, as scripts/make_backbone_fixtures.py);
spec['stage_sizes'] (4 block counts) sets a ResNet's depth, [] the standard one.

Heads: aesthetic (2) and semantic (M, left out when M = 0: STCNN) on those features, in
float32 like the JAX heads, initialised like flax.linen.Dense (LeCun normal, zero bias).
Loss: softmax cross-entropy + lambda * sum of the M binary cross-entropies (Kao, He and
Huang, IEEE TIP 2017, eq. 7), means over the batch. Optimizer: SGD with momentum, weight
decay on >1-D parameters only, the heads at learning_rate and the body at
body_lr_multiplier times that (as train/state.py's make_optimizer, at a constant rate).
Input: uint8 (B, 3, H, W) in channels_last memory, normalised on the device.
dtype 'bfloat16': torch.autocast over the body (float32 parameters), as the JAX compute dtype.
"""

import argparse
import json
import math
import os
import sys
import time
import types

import torch
from torch import nn
import torch.nn.functional as F

BODIES = ('rapid', 'alexnet', 'vgg16', 'resnet18', 'resnet50')
RESNET_STAGE_SIZES = {'resnet18': (2, 2, 2, 2), 'resnet50': (3, 4, 6, 3)}
_FC_WIDTH = 4096  # fc6 / fc7 of AlexNet and VGG-16


def import_torchvision():
  """torchvision, also where its wheel was built against another torch build (e.g. PyPI's
  CUDA torchvision beside a CPU torch): its C++ ops then fail to register on import, and the
  model classes, which do not need them, still load without the meta registrations."""
  try:
    import torchvision
  except RuntimeError:
    sys.modules['torchvision._meta_registrations'] = types.ModuleType('_meta_registrations')
    for name in [m for m in sys.modules if m.startswith('torchvision')]:
      if name != 'torchvision._meta_registrations':
        del sys.modules[name]
    import torchvision
  return torchvision


class RapidBody(nn.Module):
  """conv1-conv4, fc5-fc6 of MTCNN #1 (normalised float (B, 3, H, W) -> fc6 (B, d))."""

  def __init__(self, spec):
    super().__init__()
    convs, in_ch = [], 3
    for feat, kernel, stride in zip(spec['conv_features'], spec['conv_kernels'],
                                    spec['conv_strides']):
      # Same padding rule as the JAX layers: 'SAME' for stride 1, 'VALID' otherwise.
      convs.append(nn.Conv2d(in_ch, feat, kernel, stride, padding=kernel // 2 if stride == 1
                             else 0))
      in_ch = feat
    self.convs = nn.ModuleList(convs)
    self.lrn = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)
    side = spec['crop_size']
    for i, (kernel, stride) in enumerate(zip(spec['conv_kernels'], spec['conv_strides'])):
      side = side if stride == 1 else (side - kernel) // stride + 1
      if i < 2:
        side = (side - 3) // 2 + 1
    fcs, width = [], in_ch * side * side
    for feat in spec['fc_features']:
      fcs.append(nn.Linear(width, feat))
      width = feat
    self.fcs = nn.ModuleList(fcs)
    self.dropout = nn.Dropout(spec['dropout_rate'])
    self.out_features = width

  def forward(self, x):
    for i, conv in enumerate(self.convs):
      x = F.relu(conv(x))
      if i < 2:
        x = self.lrn(F.max_pool2d(x, 3, 2))
    # Flatten in NHWC order like the JAX model (the order does not change the cost).
    x = x.permute(0, 2, 3, 1).flatten(1)
    for fc in self.fcs:
      x = self.dropout(F.relu(fc(x)))
    return x


def torchvision_network(tv, arch, divisor=1, *, num_classes=1000, dropout=0.5,
                        stage_sizes=()):
  """torchvision's `arch` (alexnet, vgg16, resnet18, resnet50) with its own classes, forward
  and init, every conv / linear width // divisor and an ImageNet-style classifier of
  num_classes outputs (0: none for a ResNet). Also used by scripts/make_backbone_fixtures.py,
  whose fixtures depend on the order in which this creates layers."""
  from torchvision.models import resnet as tv_resnet
  if arch in ('alexnet', 'vgg16'):
    if divisor == 1:
      return getattr(tv.models, arch)(weights=None, num_classes=num_classes, dropout=dropout)
    return (_narrow_alexnet if arch == 'alexnet' else _narrow_vgg16)(tv, divisor, num_classes,
                                                                     dropout)
  block = tv_resnet.BasicBlock if arch == 'resnet18' else tv_resnet.Bottleneck
  layers = list(stage_sizes) or list(RESNET_STAGE_SIZES[arch])
  if divisor == 1:
    model = tv_resnet.ResNet(block, layers, num_classes=max(num_classes, 1))
  else:
    model = _narrow_resnet(tv_resnet.ResNet, block, layers, divisor, num_classes)
  if not num_classes:
    model.fc = nn.Identity()
  return model


def _narrow_alexnet(tv, divisor, num_classes, dropout):
  """torchvision's AlexNet with every conv / linear width // divisor."""
  model = tv.models.alexnet(weights=None, num_classes=num_classes, dropout=dropout)
  in_ch = 3
  for i, layer in enumerate(model.features):
    if isinstance(layer, nn.Conv2d):
      out_ch = layer.out_channels // divisor
      model.features[i] = nn.Conv2d(in_ch, out_ch, layer.kernel_size, layer.stride,
                                    layer.padding)
      in_ch = out_ch
  width = _FC_WIDTH // divisor
  model.classifier[1] = nn.Linear(in_ch * 6 * 6, width)  # PyTorch's default init, as AlexNet
  model.classifier[4] = nn.Linear(width, width)
  model.classifier[6] = nn.Linear(width, num_classes)
  return model


def _narrow_vgg16(tv, divisor, num_classes, dropout):
  """torchvision's VGG (configuration 'D', no batch norm) with widths // divisor."""
  del tv  # VGG's pieces come from its module
  from torchvision.models import vgg as tv_vgg
  cfg = [v if v == 'M' else v // divisor for v in tv_vgg.cfgs['D']]
  model = tv_vgg.VGG(tv_vgg.make_layers(cfg, batch_norm=False), num_classes=num_classes,
                     dropout=dropout)
  width = _FC_WIDTH // divisor
  model.classifier[0] = nn.Linear(cfg[-2] * 7 * 7, width)
  model.classifier[3] = nn.Linear(width, width)
  model.classifier[6] = nn.Linear(width, num_classes)
  for layer in (model.classifier[0], model.classifier[3], model.classifier[6]):
    nn.init.normal_(layer.weight, 0, 0.01)  # VGG's own linear init
    nn.init.zeros_(layer.bias)
  return model


def _narrow_resnet(resnet_class, block, layers, divisor, num_classes):
  """An instance of a subclass of torchvision's ResNet whose widths are (64 // divisor) * 2**i:
  ResNet.__init__ fixes the base width at 64, so this sets up what it would, narrower."""

  class NarrowResNet(resnet_class):

    def __init__(self):
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
      self.fc = (nn.Linear(widths[3] * block.expansion, num_classes) if num_classes
                 else nn.Identity())
      for m in self.modules():  # ResNet's own init (BatchNorm2d's default is its 1 and 0)
        if isinstance(m, nn.Conv2d):
          nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')

  return NarrowResNet()


def build_body(spec):
  """(body module: normalised float (B, 3, H, W) -> features (B, d), d)."""
  body = spec['body']
  if body == 'rapid':
    module = RapidBody(spec)
    return module, module.out_features
  if body not in BODIES:
    raise ValueError(f'Unknown body {body!r}; choose one of {BODIES}.')
  divisor = int(spec.get('width_divisor', 1))
  if divisor < 1 or 64 // divisor < 1:
    raise ValueError(f'width_divisor must be in 1..64, got {divisor}.')
  stage_sizes = list(spec.get('stage_sizes') or [])
  if stage_sizes and (not body.startswith('resnet') or len(stage_sizes) != 4
                      or min(stage_sizes) < 1):
    raise ValueError(f'stage_sizes={stage_sizes}: 4 block counts >= 1, for a ResNet only.')
  tv = import_torchvision()
  dropout = float(spec['dropout_rate'])
  if body in ('alexnet', 'vgg16'):
    module = torchvision_network(tv, body, divisor, dropout=dropout)
    # Up to fc7's ReLU (AlexNet: ... Linear, ReLU; VGG: ... Linear, ReLU, Dropout): the JAX
    # bodies' order; fc8 (classifier[6]) is replaced by the task heads.
    module.classifier = module.classifier[:6]
    return module, _FC_WIDTH // divisor
  module = torchvision_network(tv, body, divisor, num_classes=0, stage_sizes=stage_sizes)
  expansion = 1 if body == 'resnet18' else 4
  return module, (64 // divisor) * 8 * expansion


def _flax_dense_init(layer):
  """flax.linen.Dense's default: LeCun normal (truncated at 2 std, std 1/sqrt(fan_in) after
  truncation) kernel, zero bias."""
  std = math.sqrt(1.0 / layer.in_features) / 0.87962566103423978
  nn.init.trunc_normal_(layer.weight, std=std, a=-2 * std, b=2 * std)
  nn.init.zeros_(layer.bias)


class Network(nn.Module):
  """uint8 images (B, 3, H, W) in channels_last memory -> (aesthetic logits, semantic logits
  or None). The heads compute in float32 outside autocast (as the JAX heads)."""

  def __init__(self, spec):
    super().__init__()
    self.body, width = build_body(spec)
    self.aesthetic = nn.Linear(width, 2)
    self.semantic = nn.Linear(width, spec['num_tags']) if spec['num_tags'] else None
    for head in (self.aesthetic, self.semantic):
      if head is not None:
        _flax_dense_init(head)
    self.register_buffer('mean', torch.tensor(spec['pixel_mean']).view(1, 3, 1, 1))
    self.register_buffer('std', torch.tensor(spec['pixel_std']).view(1, 3, 1, 1))

  def forward(self, images):
    x = (images.float() - self.mean) / self.std
    features = self.body(x)
    with torch.autocast(features.device.type, enabled=False):
      features = features.float()
      return (self.aesthetic(features),
              self.semantic(features) if self.semantic is not None else None)


HEADS = ('aesthetic.', 'semantic.')


def make_optimizer(model, spec):
  """SGD with momentum; weight decay on >1-D parameters only; the body's learning rate is
  body_lr_multiplier times the heads'."""
  groups = []
  lr = spec['learning_rate']
  body_lr = lr * spec.get('body_lr_multiplier', 1.0)
  for is_head, group_lr in ((False, body_lr), (True, lr)):
    params = [p for name, p in model.named_parameters() if name.startswith(HEADS) == is_head]
    for decay in (True, False):
      chosen = [p for p in params if (p.ndim > 1) == decay]
      if chosen:
        groups.append({'params': chosen, 'lr': group_lr,
                       'weight_decay': spec['weight_decay'] if decay else 0.0})
  return torch.optim.SGD(groups, lr=lr, momentum=spec['momentum'],
                         nesterov=bool(spec.get('nesterov', False)))


def make_batch(batch_size, spec, seed):
  g = torch.Generator().manual_seed(seed)
  size = spec['crop_size']
  images = torch.randint(0, 256, (batch_size, 3, size, size), generator=g, dtype=torch.uint8)
  images = images.contiguous(memory_format=torch.channels_last)
  labels = torch.randint(0, 2, (batch_size,), generator=g)
  tags = (torch.rand(batch_size, spec['num_tags'], generator=g) < 0.1).float()
  return images, labels, tags


def count_parameters(model):
  return sum(p.numel() for p in model.parameters())


class Runner:
  """Holds the model, optimizer and fixed batches; times train and eval steps.

  spec['device']: 'cpu' or 'cuda'; spec['dtype']: 'float32', or 'bfloat16' (autocast, as the
  JAX model's compute dtype with float32 parameters).
  """

  def __init__(self, spec):
    torch.manual_seed(0)
    self.spec = spec
    self.device = torch.device(spec['device'])
    if self.device.type == 'cuda':
      torch.backends.cudnn.benchmark = True
    self.model = Network(spec).to(self.device, memory_format=torch.channels_last)
    self.opt = make_optimizer(self.model, spec)
    self.train_batch = [t.to(self.device) for t in make_batch(spec['batch_size'], spec, 0)]
    self.eval_images = make_batch(spec['eval_batch_size'], spec, 1)[0].to(self.device)
    self.semantic_weight = spec['semantic_weight']
    self.autocast = torch.autocast(self.device.type, dtype=torch.bfloat16,
                                   enabled=spec['dtype'] == 'bfloat16')

  def set_train_batch(self, images_nhwc, labels, tags):
    """Trains on these arrays instead (uint8 (B, H, W, 3), int (B,), bool/float (B, M)),
    e.g. the JAX side's batch for a loss comparison."""
    images = torch.as_tensor(images_nhwc).permute(0, 3, 1, 2)  # NCHW view of NHWC memory
    self.train_batch = [images.contiguous(memory_format=torch.channels_last).to(self.device),
                        torch.as_tensor(labels).long().to(self.device),
                        torch.as_tensor(tags).float().to(self.device)]

  def loss(self, aesthetic, semantic, labels, tags):
    loss = F.cross_entropy(aesthetic.float(), labels)
    if semantic is not None:
      loss = loss + self.semantic_weight * F.binary_cross_entropy_with_logits(
          semantic.float(), tags, reduction='none').sum(1).mean()
    return loss

  def train_step(self):
    images, labels, tags = self.train_batch
    self.model.train()
    with self.autocast:
      aesthetic, semantic = self.model(images)
    loss = self.loss(aesthetic, semantic, labels, tags)
    self.opt.zero_grad(set_to_none=True)
    loss.backward()
    self.opt.step()
    return loss.detach()

  @torch.inference_mode()
  def eval_step(self):
    self.model.eval()
    with self.autocast:
      aesthetic, semantic = self.model(self.eval_images)
    p_high = torch.softmax(aesthetic.float(), -1)[:, 1]
    return p_high, torch.sigmoid(semantic.float()) if semantic is not None else None

  def count_train_flops(self):
    """FLOPs of one train step (forward and backward; torch.utils.flop_counter counts matrix
    products and convolutions only, not element-wise ops), or None where it cannot."""
    try:
      from torch.utils.flop_counter import FlopCounterMode
      counter = FlopCounterMode(display=False)
      with counter:
        self.train_step()
      return int(counter.get_total_flops())
    except Exception as e:  # an older torch, or an op it cannot count: no figure
      print(f'torch_reference: no FLOP count ({type(e).__name__}: {e})', file=sys.stderr)
      return None

  def time(self, cmd, steps):
    fn = self.train_step if cmd == 'train' else self.eval_step
    self._synchronize()
    start = time.perf_counter()
    for _ in range(steps):
      fn()
    self._synchronize()
    return (time.perf_counter() - start) / steps

  def _synchronize(self):
    if self.device.type == 'cuda':
      torch.cuda.synchronize()


def default_spec():
  return {'body': 'rapid', 'width_divisor': 1, 'stage_sizes': [],
          'conv_features': [64, 64, 64, 64], 'conv_kernels': [11, 5, 3, 3],
          'conv_strides': [2, 1, 1, 1], 'fc_features': [1000, 256], 'dropout_rate': 0.5,
          'crop_size': 227, 'num_tags': 29, 'batch_size': 32, 'eval_batch_size': 128,
          'pixel_mean': [123.675, 116.28, 103.53], 'pixel_std': [58.395, 57.12, 57.375],
          'learning_rate': 0.01, 'body_lr_multiplier': 1.0, 'momentum': 0.9,
          'nesterov': False, 'weight_decay': 5e-4, 'semantic_weight': 1 / 29,
          'warmup_steps': 3, 'count_flops': True, 'device': 'cpu', 'dtype': 'float32'}


def torchvision_version():
  try:
    return import_torchvision().__version__
  except Exception:  # the RAPID body does not need torchvision
    return None


def ready_info(runner):
  """Warms up (the first step's loss, then the FLOP count, then the rest) and returns the
  'ready' line's fields."""
  first_loss = float(runner.train_step())
  flops = runner.count_train_flops() if runner.spec.get('count_flops', True) else None
  for _ in range(max(runner.spec['warmup_steps'] - 2, 0)):
    runner.train_step()
  runner.eval_step()
  runner._synchronize()
  return {'ready': True, 'torch': torch.__version__, 'torchvision': torchvision_version(),
          'threads': torch.get_num_threads(), 'device': runner.spec['device'],
          'body': runner.spec['body'], 'num_params': count_parameters(runner.model),
          'flops_per_step': flops, 'flops_counted': 'matmul and conv (fwd + bwd)',
          'first_loss': first_loss}


def serve(runner):
  print(json.dumps(ready_info(runner)), flush=True)
  for line in sys.stdin:
    request = json.loads(line)
    if request['cmd'] == 'quit':
      break
    print(json.dumps({'seconds_per_step': runner.time(request['cmd'], request['steps'])}),
          flush=True)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--spec', default='{}', help='JSON overrides of default_spec().')
  parser.add_argument('--standalone', action='store_true')
  parser.add_argument('--batch_size', type=int, default=None)
  parser.add_argument('--steps', type=int, default=10)
  parser.add_argument('--threads', type=int, default=0, help='0: torch default.')
  args = parser.parse_args()
  spec = default_spec() | json.loads(args.spec)
  if args.batch_size:
    spec['batch_size'] = args.batch_size
  if args.threads:
    torch.set_num_threads(args.threads)
  runner = Runner(spec)
  if not args.standalone:
    serve(runner)
    return
  info = ready_info(runner)
  print(json.dumps(info), flush=True)
  for _ in range(3):
    seconds = runner.time('train', args.steps)
    gflops = f', {info["flops_per_step"] / seconds / 1e9:.1f} GFLOP/s' if info[
        'flops_per_step'] else ''
    print(f'torch {torch.__version__} {spec["body"]} train: {spec["batch_size"] / seconds:.1f} '
          f'img/s ({seconds * 1e3:.0f} ms/step{gflops}, {torch.get_num_threads()} threads, '
          f"LD_PRELOAD={os.environ.get('LD_PRELOAD', '')!r})", flush=True)


if __name__ == '__main__':
  main()

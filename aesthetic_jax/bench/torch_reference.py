"""PyTorch reference of MTCNN #1 (the same layers, loss and optimizer as aesthetic_jax).

Only for speed comparisons: PyTorch is never a dependency of aesthetic_jax. The bench
(`python -m aesthetic_jax.bench --torch_python=...`) starts this file as a subprocess in the
interpreter that has torch, then alternates timings with JAX through a line protocol:

  stdin:  one JSON object per line: {"cmd": "train" | "eval", "steps": n} or {"cmd": "quit"}
  stdout: one JSON object per line: {"seconds_per_step": s} ("ready" once after warm-up)

Run alone for a quick figure:
  python aesthetic_jax/bench/torch_reference.py --standalone --batch_size=32 --steps=10

Layers (method.md section 4, after RAPID, Lu et al. ACM MM 2014): conv1 64@11x11/2, ReLU,
max-pool 3x3/2, LRN; conv2 64@5x5, ReLU, max-pool, LRN; conv3, conv4 64@3x3, ReLU; fc5 1000,
fc6 256 (ReLU, dropout); heads: aesthetic softmax (2), semantic sigmoids (M). Loss: softmax
cross-entropy + lambda * sum of the M binary cross-entropies (Kao, He and Huang, IEEE TIP
2017, eq. 7); SGD with momentum, weight decay on kernels only (as the JAX optimizer).
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F


class MTCNN1(nn.Module):
  """uint8 images (B, 3, H, W) in channels_last memory -> (aesthetic logits, semantic logits)."""

  def __init__(self, spec):
    super().__init__()
    convs, in_ch = [], 3
    for i, (feat, kernel, stride) in enumerate(zip(spec['conv_features'], spec['conv_kernels'],
                                                   spec['conv_strides'])):
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
    self.aesthetic = nn.Linear(width, 2)
    self.semantic = nn.Linear(width, spec['num_tags'])
    self.register_buffer('mean', torch.tensor(spec['pixel_mean']).view(1, 3, 1, 1))
    self.register_buffer('std', torch.tensor(spec['pixel_std']).view(1, 3, 1, 1))

  def forward(self, images):
    x = (images.float() - self.mean) / self.std
    for i, conv in enumerate(self.convs):
      x = F.relu(conv(x))
      if i < 2:
        x = self.lrn(F.max_pool2d(x, 3, 2))
    # Flatten in NHWC order like the JAX model (the order does not change the cost).
    x = x.permute(0, 2, 3, 1).flatten(1)
    for fc in self.fcs:
      x = self.dropout(F.relu(fc(x)))
    return self.aesthetic(x), self.semantic(x)


def make_optimizer(model, spec):
  decay = [p for p in model.parameters() if p.ndim > 1]
  free = [p for p in model.parameters() if p.ndim <= 1]
  return torch.optim.SGD([{'params': decay, 'weight_decay': spec['weight_decay']},
                          {'params': free, 'weight_decay': 0.0}],
                         lr=spec['learning_rate'], momentum=spec['momentum'])


def make_batch(batch_size, spec, seed):
  g = torch.Generator().manual_seed(seed)
  size = spec['crop_size']
  images = torch.randint(0, 256, (batch_size, 3, size, size), generator=g, dtype=torch.uint8)
  images = images.contiguous(memory_format=torch.channels_last)
  labels = torch.randint(0, 2, (batch_size,), generator=g)
  tags = (torch.rand(batch_size, spec['num_tags'], generator=g) < 0.1).float()
  return images, labels, tags


class Runner:
  """Holds the model, optimizer and fixed batches; times train and eval steps.

  spec['device']: 'cpu' or 'cuda'; spec['dtype']: 'float32', or 'bfloat16' (autocast, as the
  JAX model's compute dtype with float32 parameters).
  """

  def __init__(self, spec):
    torch.manual_seed(0)
    self.spec = spec
    self.device = torch.device(spec['device'])
    self.model = MTCNN1(spec).to(self.device, memory_format=torch.channels_last)
    self.opt = make_optimizer(self.model, spec)
    self.train_batch = [t.to(self.device) for t in make_batch(spec['batch_size'], spec, 0)]
    self.eval_images = make_batch(spec['eval_batch_size'], spec, 1)[0].to(self.device)
    self.semantic_weight = spec['semantic_weight']
    self.autocast = torch.autocast(self.device.type, dtype=torch.bfloat16,
                                   enabled=spec['dtype'] == 'bfloat16')

  def train_step(self):
    images, labels, tags = self.train_batch
    self.model.train()
    with self.autocast:
      aesthetic, semantic = self.model(images)
    aesthetic, semantic = aesthetic.float(), semantic.float()
    loss = F.cross_entropy(aesthetic, labels) + self.semantic_weight * (
        F.binary_cross_entropy_with_logits(semantic, tags, reduction='none').sum(1).mean())
    self.opt.zero_grad(set_to_none=True)
    loss.backward()
    self.opt.step()
    return loss.detach()

  @torch.inference_mode()
  def eval_step(self):
    self.model.eval()
    with self.autocast:
      aesthetic, semantic = self.model(self.eval_images)
    return torch.softmax(aesthetic.float(), -1)[:, 1], torch.sigmoid(semantic.float())

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
  return {'conv_features': [64, 64, 64, 64], 'conv_kernels': [11, 5, 3, 3],
          'conv_strides': [2, 1, 1, 1], 'fc_features': [1000, 256], 'dropout_rate': 0.5,
          'crop_size': 227, 'num_tags': 29, 'batch_size': 32, 'eval_batch_size': 128,
          'pixel_mean': [123.675, 116.28, 103.53], 'pixel_std': [58.395, 57.12, 57.375],
          'learning_rate': 0.01, 'momentum': 0.9, 'weight_decay': 5e-4,
          'semantic_weight': 1 / 29, 'warmup_steps': 3, 'device': 'cpu', 'dtype': 'float32'}


def serve(runner):
  for _ in range(runner.spec['warmup_steps']):
    runner.train_step()
  runner.eval_step()
  print(json.dumps({'ready': True, 'torch': torch.__version__,
                    'threads': torch.get_num_threads()}), flush=True)
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
  for _ in range(spec['warmup_steps']):
    runner.train_step()
  for _ in range(3):
    seconds = runner.time('train', args.steps)
    print(f'torch {torch.__version__} train: {spec["batch_size"] / seconds:.1f} img/s '
          f'({seconds * 1e3:.0f} ms/step, {torch.get_num_threads()} threads, '
          f"LD_PRELOAD={os.environ.get('LD_PRELOAD', '')!r})", flush=True)


if __name__ == '__main__':
  main()

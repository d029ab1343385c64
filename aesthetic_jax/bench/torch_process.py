"""The PyTorch reference (torch_reference.py) in a subprocess, timed round by round with JAX.

torch_reference.py imports nothing of aesthetic_jax, so any interpreter that has torch (and
torchvision, for the ImageNet bodies) can run it by path (PyTorch is never a dependency
here); it ships inside the package, so an installed aesthetic_jax finds it too.
"""

import json
import os
import subprocess
import sys

import jax

from aesthetic_jax.train import steps

TORCH_REFERENCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'torch_reference.py')
# The bodies torch_reference.py builds (torch_reference.BODIES; that file needs torch).
BODIES = ('rapid', 'alexnet', 'vgg16', 'resnet18', 'resnet50')
_RESNETS = ('resnet18', 'resnet50')


def unsupported_reason(config) -> str:
  """Why torch_reference.py has no network for `config`, or '' when it has one."""
  model = config.model
  if model.architecture not in ('mtcnn1', 'stcnn'):
    return f'architecture {model.architecture!r} (the reference has MTCNN #1 / STCNN only)'
  if model.get('distribution_head', False):
    return 'the score-distribution head (the reference has the aesthetic and semantic heads)'
  if config.get('mtrl') is not None and config.mtrl.get('enabled', False):
    return 'MTRL (the reference has no trace penalty)'
  if model.body not in BODIES:
    return f'body {model.body!r} (the reference has {", ".join(BODIES)})'
  if model.body != 'rapid':
    divisor = int(model.get('width_divisor', 1))
    if not 1 <= divisor <= 64:
      return f'width_divisor {divisor} (1..64)'
    stage_sizes = tuple(model.get('stage_sizes', ()))
    if stage_sizes and (model.body not in _RESNETS or len(stage_sizes) != 4
                        or min(stage_sizes) < 1):
      return f'stage_sizes {stage_sizes} (the reference: () or 4 block counts >= 1, ResNets)'
  return ''


def supports(config) -> bool:
  """Whether torch_reference.py has this network: MTCNN #1 or STCNN (aesthetic head, and
  semantic head when there are tags) on any body (the RAPID conv1-fc6 of any sizes, or
  torchvision's AlexNet, VGG-16, ResNet-18 / ResNet-50 with any width_divisor in 1..64 and,
  for ResNets, stage_sizes of 4 stages); not MTRL, not the score-distribution head, not
  MTCNN #2 / #3 / Enhanced MTCNN. unsupported_reason(config) says why not."""
  return not unsupported_reason(config)


def spec_from_config(config, num_tags: int) -> dict:
  """torch_reference.py's spec (its default_spec() keys) for `config`."""
  model, opt = config.model, config.optimizer
  return {'body': model.body, 'width_divisor': int(model.get('width_divisor', 1)),
          'stage_sizes': list(model.get('stage_sizes', ())),
          'conv_features': list(model.conv_features),
          'conv_kernels': list(model.conv_kernels),
          'conv_strides': list(model.conv_strides),
          'fc_features': list(model.fc_features),
          'dropout_rate': float(model.dropout_rate), 'crop_size': config.input.crop_size,
          'num_tags': num_tags, 'batch_size': config.batch_size,
          'eval_batch_size': config.eval_batch_size,
          'pixel_mean': list(model.pixel_mean), 'pixel_std': list(model.pixel_std),
          'learning_rate': opt.learning_rate,
          'body_lr_multiplier': float(opt.get('body_lr_multiplier', 1.0)),
          'momentum': opt.momentum, 'nesterov': bool(opt.get('nesterov', False)),
          'weight_decay': opt.weight_decay,
          'semantic_weight': steps.semantic_weight(config.loss, num_tags) if num_tags else 0.0,
          'device': 'cuda' if jax.default_backend() == 'gpu' else 'cpu',
          'dtype': model.dtype}


class TorchReference:
  """torch_reference.py (beside this file) in a subprocess of another interpreter.

  info: its 'ready' line (torch and torchvision versions, parameter count, FLOPs of one
  train step as torch counts them (matmul and conv only), the first step's loss).
  """

  def __init__(self, python, config, num_tags):
    self.spec = spec_from_config(config, num_tags)
    self.proc = subprocess.Popen([python, TORCH_REFERENCE, '--spec', json.dumps(self.spec)],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    self.info = json.loads(self._read_line())

  def _read_line(self):
    line = self.proc.stdout.readline()
    if not line:
      code = self.proc.wait(timeout=60)
      raise RuntimeError(f'torch_reference.py exited (status {code}) before answering; its '
                         'error is above.')
    return line

  def gflops_per_s(self, seconds_per_step):
    """PyTorch's achieved GFLOP/s of a train step that took `seconds_per_step`, by torch's
    count (matmul and conv only: XLA's cost analysis also counts element-wise ops), or None."""
    flops = self.info.get('flops_per_step')
    return flops / seconds_per_step / 1e9 if flops and seconds_per_step > 0 else None

  def seconds_per_step(self, cmd, steps):
    self.proc.stdin.write(json.dumps({'cmd': cmd, 'steps': steps}) + '\n')
    self.proc.stdin.flush()
    return json.loads(self._read_line())['seconds_per_step']

  def close(self):
    self.proc.stdin.write(json.dumps({'cmd': 'quit'}) + '\n')
    self.proc.stdin.close()
    self.proc.wait(timeout=60)


def find_torch_python(flag_value):
  """The interpreter to run the reference with, or '' (with the reason logged)."""
  candidates = [flag_value] if flag_value else [sys.executable]
  for python in candidates:
    try:
      probe = subprocess.run([python, '-c', 'import torch'], capture_output=True)
    except OSError:
      continue
    if probe.returncode == 0:
      return python
  print(f'No PyTorch comparison: {candidates[0]} cannot import torch (give an interpreter '
        'that can with --torch_python).', file=sys.stderr)
  return ''

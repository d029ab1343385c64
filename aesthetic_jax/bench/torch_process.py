"""The PyTorch reference (torch_reference.py) in a subprocess, timed round by round with JAX.

torch_reference.py imports nothing of aesthetic_jax, so any interpreter that has torch can
run it by path (PyTorch is never a dependency here); it ships inside the package, so an
installed aesthetic_jax finds it too.
"""

import json
import os
import subprocess
import sys

import jax

TORCH_REFERENCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'torch_reference.py')


def supports(config) -> bool:
  """Whether torch_reference.py has this network (MTCNN #1 / STCNN on the RAPID body)."""
  return (config.model.architecture in ('mtcnn1', 'stcnn') and config.model.body == 'rapid'
          and not config.model.get('distribution_head', False))


class TorchReference:
  """torch_reference.py (beside this file) in a subprocess of another interpreter."""

  def __init__(self, python, config, num_tags):
    spec = {'conv_features': list(config.model.conv_features),
            'conv_kernels': list(config.model.conv_kernels),
            'conv_strides': list(config.model.conv_strides),
            'fc_features': list(config.model.fc_features),
            'dropout_rate': config.model.dropout_rate, 'crop_size': config.input.crop_size,
            'num_tags': num_tags, 'batch_size': config.batch_size,
            'eval_batch_size': config.eval_batch_size,
            'pixel_mean': list(config.model.pixel_mean),
            'pixel_std': list(config.model.pixel_std),
            'learning_rate': config.optimizer.learning_rate,
            'momentum': config.optimizer.momentum,
            'weight_decay': config.optimizer.weight_decay,
            'semantic_weight': 1.0 / max(num_tags, 1),
            'device': 'cuda' if jax.default_backend() == 'gpu' else 'cpu',
            'dtype': config.model.dtype}
    self.proc = subprocess.Popen([python, TORCH_REFERENCE, '--spec', json.dumps(spec)],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    self.info = json.loads(self.proc.stdout.readline())

  def seconds_per_step(self, cmd, steps):
    self.proc.stdin.write(json.dumps({'cmd': cmd, 'steps': steps}) + '\n')
    self.proc.stdin.flush()
    return json.loads(self.proc.stdout.readline())['seconds_per_step']

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

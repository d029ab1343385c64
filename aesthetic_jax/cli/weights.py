"""torchvision ImageNet weights -> the Flax backbones (init/torchvision.py); no network.

  python -m aesthetic_jax.weights import --arch=resnet50 --src=resnet50.safetensors --out=DIR

Then train with --config.model.init_from=DIR. `src` is a .safetensors or .npz state dict
(or .pth/.pt when PyTorch happens to be installed) of exactly the network --arch names. A
refusal (a file unreadable, malformed, with NaN, or of another network) is one line on
stderr, `error: FILE: ...`, exit status 1, and nothing written to --out.
"""

import os
import sys

from absl import app, flags

from aesthetic_jax.cli import flags as cli_flags
from aesthetic_jax.init import torchvision
from aesthetic_jax.model import backbones

FLAGS = flags.FLAGS
cli_flags.out_dir('import: the folder for backbone.npz and import_report.json.')
flags.DEFINE_enum('arch', None, backbones.BODIES, 'import: the torchvision architecture.')
flags.DEFINE_string('src', None, 'import: .safetensors, .npz, or .pth (needs torch).')
flags.DEFINE_integer('width_divisor', 1,
                     'import: config model.width_divisor of the model these weights are for.')
flags.DEFINE_list('stage_sizes', [],
                  'import: config model.stage_sizes (ResNet blocks per stage), e.g. 2,2,2,2.')


def main(argv) -> int:
  if argv[1:] != ['import'] or not (FLAGS.arch and FLAGS.src and FLAGS.out):
    raise app.UsageError('usage: python -m aesthetic_jax.weights import --arch=ARCH --src=FILE '
                         '--out=DIR')
  try:
    stage_sizes = tuple(int(s) for s in FLAGS.stage_sizes)
    if FLAGS.width_divisor < 1 or any(s < 1 for s in stage_sizes):
      raise ValueError
  except ValueError:
    return _refuse(f'--width_divisor={FLAGS.width_divisor} --stage_sizes='
                   f'{",".join(FLAGS.stage_sizes)}: need a width divisor >= 1 and positive '
                   'ResNet blocks per stage, e.g. --stage_sizes=2,2,2,2.')
  try:
    report = torchvision.import_torchvision(
        FLAGS.arch, FLAGS.src, FLAGS.out, width_divisor=FLAGS.width_divisor,
        stage_sizes=stage_sizes)
  except torchvision.WeightFileError as error:  # a refusal; anything else is a bug: traceback
    return _refuse(str(error))
  print(report.summary())
  print(f'Wrote {os.path.join(FLAGS.out, torchvision.BACKBONE_FILE)}; train with '
        f'--config.model.init_from={FLAGS.out}')
  return 0


def _refuse(message: str) -> int:
  print('error: ' + ' '.join(message.split()), file=sys.stderr)  # always one line
  return 1

"""torchvision ImageNet weights -> the Flax backbones (init/torchvision.py); no network.

  python -m aesthetic_jax.weights import --arch=resnet50 --src=resnet50.safetensors --out=DIR

Then train with --config.model.init_from=DIR. `src` is a .safetensors or .npz state dict
(or .pth/.pt when PyTorch happens to be installed).
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
    report = torchvision.import_torchvision(
        FLAGS.arch, FLAGS.src, FLAGS.out, width_divisor=FLAGS.width_divisor,
        stage_sizes=tuple(int(s) for s in FLAGS.stage_sizes))
  except (torchvision.WeightMismatchError, FileNotFoundError, ImportError, ValueError) as error:
    print(f'Import failed: {error}', file=sys.stderr)
    return 1
  print(report.summary())
  print(f'Wrote {os.path.join(FLAGS.out, torchvision.BACKBONE_FILE)}; train with '
        f'--config.model.init_from={FLAGS.out}')
  return 0

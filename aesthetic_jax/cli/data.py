"""Builds the TFDS datasets aesthetic_jax trains on, and shows what a build skipped.

  python -m aesthetic_jax.data build ava/paper --manual_dir=DIR --data_dir=DIR
  python -m aesthetic_jax.data build photonet --manual_dir=DIR --data_dir=DIR
  python -m aesthetic_jax.data build synthetic --data_dir=DIR
  python -m aesthetic_jax.data report ava/paper --data_dir=DIR

NAME is a dataset with an optional builder config: ava/paper, ava/official, ava/paper_256,
ava/official_256, ava/paper_raw256, ava/official_raw256; photonet/paper, photonet/paper_256,
photonet/paper_raw256; synthetic (its first config when none is given). *_256 store the
images pre-warped to 256x256 as JPEG q95; *_raw256 as raw uint8 pixels (nothing to decode
in training, 192 KB an image). Training reads the result with `--config.data.name=NAME --config.data.data_dir=DIR`.
"""

import sys

from absl import app, flags

from aesthetic_jax.cli import flags as cli_flags
from aesthetic_jax.data import build as build_lib

FLAGS = flags.FLAGS
cli_flags.data_dir()
cli_flags.workers()
cli_flags.progress()
cli_flags.manual_dir()
flags.DEFINE_bool('overwrite', False, 'build: rebuild even if a build exists; the old build is '
                  'replaced only once the new one is complete.')

COMMANDS = ('build', 'report')


def main(argv) -> int:
  if len(argv) != 3 or argv[1] not in COMMANDS:
    raise app.UsageError('usage: python -m aesthetic_jax.data {build,report} NAME '
                         '[--data_dir=DIR] [--manual_dir=DIR]')
  command, name = argv[1], argv[2]
  data_dir = FLAGS.data_dir or '~/tensorflow_datasets'
  if command == 'build':
    return build_lib.build(name, data_dir=data_dir, manual_dir=FLAGS.manual_dir,
                           workers=FLAGS.workers, overwrite=FLAGS.overwrite,
                           progress=not FLAGS.no_progress)
  return build_lib.report(name, data_dir=data_dir)



"""A trained model's inference as one self-contained .npz file (infer/export.py).

  python -m aesthetic_jax.export --workdir=DIR --output=model.npz [--platforms=cpu,cuda,tpu]
"""

import os

from absl import app, flags, logging

from aesthetic_jax.cli import flags as cli_flags
from aesthetic_jax.infer import export
from aesthetic_jax.infer.scorer import Scorer

FLAGS = flags.FLAGS
cli_flags.workdir('A training workdir: its newest readable checkpoint is exported.')
cli_flags.checkpoint()
cli_flags.output('The .npz file to write.')
flags.DEFINE_list('platforms', list(export.DEFAULT_PLATFORMS),
                  'jax.export platforms (cpu, cuda, rocm, tpu).')


def main(argv) -> int:
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  if bool(FLAGS.workdir) == bool(FLAGS.checkpoint) or not FLAGS.output:
    raise app.UsageError('give --output and exactly one of --workdir or --checkpoint')
  logging.set_verbosity(logging.WARNING)
  scorer = Scorer.from_checkpoint(FLAGS.workdir or FLAGS.checkpoint, step=FLAGS.step)
  info = export.export_scorer(scorer, FLAGS.output, platforms=FLAGS.platforms)
  size = os.path.getsize(FLAGS.output) / 2**20
  print(f'Wrote {FLAGS.output} ({size:.1f} MiB) from {scorer.source}: outputs '
        f'{", ".join(info["outputs"])} for {", ".join(info["platforms"])}.')
  return 0

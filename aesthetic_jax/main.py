"""Entry point: python -m aesthetic_jax.main --config=configs/mtrl.py --workdir=DIR.

The only module that defines absl flags. A rerun of the same command resumes from the latest
checkpoint in --workdir.
"""

from absl import app, flags, logging
from ml_collections import config_flags

from aesthetic_jax import train

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file(
    'config', None, 'Experiment config file, e.g. configs/mtrl.py or configs/mtrl.py:demo.',
    lock_config=True)
flags.DEFINE_string('workdir', None, 'Folder for checkpoints, metrics and analyses.')
flags.mark_flags_as_required(['config', 'workdir'])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  # Orbax and TFDS log every file operation at INFO; our own progress goes to stdout.
  logging.set_verbosity(logging.WARNING)
  final = train.train_and_evaluate(FLAGS.config, FLAGS.workdir)
  print(f'Final test accuracy {final["accuracy"]:.4f} ({final["num_images"]} images); '
        f'outputs in {FLAGS.workdir}', flush=True)


if __name__ == '__main__':
  app.run(main)

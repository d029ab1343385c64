"""Entry point: python -m aesthetic_jax.main --config=configs/mtrl.py --workdir=DIR.

The only library module that defines absl flags. A rerun of the same command resumes from the
latest checkpoint in --workdir. On several hosts, every process runs this same command (see
README, "Many hosts"); JAX's distributed runtime is started when the environment says so.
"""

import os
import sys

import jax
from absl import app, flags, logging
from ml_collections import config_flags

from aesthetic_jax import train

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file(
    'config', None, 'Experiment config file, e.g. configs/mtrl.py or configs/mtrl.py:demo.',
    lock_config=True)
flags.DEFINE_string('workdir', None, 'Folder for checkpoints, metrics and analyses.')
flags.DEFINE_string('coordinator_address', None,
                    'host:port of process 0, for multi-process runs outside TPU/SLURM/MPI.')
flags.DEFINE_integer('num_processes', None, 'Number of processes in a multi-process run.')
flags.DEFINE_integer('process_id', None, 'This process\'s index in a multi-process run.')
flags.mark_flags_as_required(['config', 'workdir'])

# Environments in which jax.distributed.initialize() finds its settings by itself.
_AUTO_DETECTED = ('TPU_WORKER_HOSTNAMES', 'SLURM_JOB_ID', 'OMPI_COMM_WORLD_SIZE',
                  'JAX_COORDINATOR_ADDRESS')


def maybe_initialize_distributed() -> None:
  """Starts JAX's distributed runtime when flags or the environment describe several processes."""
  if FLAGS.coordinator_address or FLAGS.num_processes:
    jax.distributed.initialize(coordinator_address=FLAGS.coordinator_address,
                               num_processes=FLAGS.num_processes, process_id=FLAGS.process_id)
  elif any(os.environ.get(name) for name in _AUTO_DETECTED):
    jax.distributed.initialize()


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  # Orbax and TFDS log every file operation at INFO; our own progress goes to stdout.
  logging.set_verbosity(logging.WARNING)
  maybe_initialize_distributed()
  try:
    final = train.train_and_evaluate(FLAGS.config, FLAGS.workdir)
  except train.Preempted as stop:
    print(stop, flush=True)
    sys.exit(0)
  if jax.process_index() == 0:
    print(f'Final test accuracy {final["accuracy"]:.4f} ({final["num_images"]} images); '
          f'outputs in {FLAGS.workdir}', flush=True)


if __name__ == '__main__':
  app.run(main)

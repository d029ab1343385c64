"""python -m aesthetic_jax.main --config=configs/mtrl.py --workdir=DIR: train and evaluate.

A rerun of the same command resumes from the latest verified checkpoint in --workdir. On
several hosts, every process runs this same command (README, "Many hosts"); JAX's
distributed runtime is started when the flags or the environment say so. Exit status: 0 when
training finished or was stopped by SIGTERM after saving; 1 on an error (a NaN loss names
its step).
"""

import os
import sys

import jax
from absl import flags, logging

from aesthetic_jax.cli import flags as cli_flags
from aesthetic_jax.config_error import ConfigError
from aesthetic_jax.data import registry
from aesthetic_jax.train import loop, preemption

FLAGS = flags.FLAGS
cli_flags.config()
cli_flags.workdir('Folder for checkpoints, metrics and analyses; a rerun resumes there.')
flags.DEFINE_string('coordinator_address', None,
                    'host:port of process 0, for multi-process runs outside TPU/SLURM/MPI.')
flags.DEFINE_integer('num_processes', None, 'Number of processes in a multi-process run.')
flags.DEFINE_integer('process_id', None, 'This process\'s index in a multi-process run.')

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


def main(argv) -> int:
  if len(argv) > 1:
    raise flags.Error(f'Unexpected arguments: {argv[1:]}')
  if FLAGS.config is None or not FLAGS.workdir:
    print('error: give --config=FILE[:VARIANT] and --workdir=DIR', file=sys.stderr)
    return 2
  # Orbax and TFDS log every file operation at INFO; our own progress goes to stdout.
  logging.set_verbosity(logging.WARNING)
  maybe_initialize_distributed()
  try:
    final = loop.train_and_evaluate(FLAGS.config, FLAGS.workdir)
  except preemption.Preempted as stop:
    print(stop, flush=True)
    return 0
  except loop.NonFiniteLossError as error:
    print(f'error: {error}', file=sys.stderr, flush=True)
    return 1
  except (registry.DatasetNotBuiltError, ConfigError) as error:  # say what to change
    print(f'error: {error}', file=sys.stderr, flush=True)
    return 2
  if jax.process_index() == 0:
    print(f'Final test accuracy {final["accuracy"]:.4f} ({final["num_images"]} images); '
          f'outputs in {FLAGS.workdir}', flush=True)
  return 0

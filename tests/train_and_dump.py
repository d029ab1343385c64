"""Trains exactly like `python -m aesthetic_jax.main` (its flags, its code) and then writes
this process's copy of the final parameters, for the multi-process and preemption tests:

  python tests/train_and_dump.py --config=tests/tiny_config.py --workdir=W \\
      --config.data.data_dir=D --params_out=P.npz [--coordinator_address=... ...]

(With several processes each holds the same replicated parameters; every one writes its own.)
"""

from aesthetic_jax import xla_cpu

xla_cpu.configure()

# pylint: disable=g-import-not-at-top,wrong-import-position
import flax.traverse_util
import numpy as np
from absl import app, flags, logging

from aesthetic_jax.cli import entry
from aesthetic_jax.cli import train as train_cli
from aesthetic_jax.train import loop, preemption

FLAGS = flags.FLAGS
flags.DEFINE_string('params_out', None, 'Where to write the final parameters (.npz).')


def main(argv) -> int:
  del argv
  logging.set_verbosity(logging.WARNING)  # as aesthetic_jax.main
  train_cli.maybe_initialize_distributed()
  try:
    state, _ = loop.train(FLAGS.config, FLAGS.workdir)
  except preemption.Preempted as stop:
    print(stop, flush=True)
    return 0
  flat = flax.traverse_util.flatten_dict(state.params, sep='/')
  np.savez(FLAGS.params_out, **{k: np.asarray(v.addressable_data(0)) for k, v in flat.items()})
  return 0


if __name__ == '__main__':
  preemption.remember_early_sigterm()
  app.run(main, flags_parser=entry.parse_flags)

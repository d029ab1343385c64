"""A tiny training config on 'synthetic/tiny', and a script that trains it in a subprocess.

  python tests/tiny.py --workdir=W --data_dir=D [--num_epochs=N] [--every_steps=K]
      [--params_out=F.npz] [--coordinator=127.0.0.1:PORT --num_processes=2 --process_id=I]

Used by the resume, preemption and multi-host tests. Set XLA_FLAGS in the environment to
choose the number of fake CPU devices of the subprocess.
"""

import argparse
import sys


def tiny_config(data_dir, **overrides):
  """MTRLCNN #1 with 8-channel convs on 32x32 crops of synthetic/tiny (64 train images)."""
  from configs import mtrl
  config = mtrl.get_config('demo')
  config.data.name = 'synthetic/tiny'
  config.data.data_dir = data_dir
  config.input.resize_size = 36
  config.input.crop_size = 32
  config.model.conv_features = (8, 8, 8, 8)
  config.model.fc_features = (16, 12)
  config.batch_size = 32  # 2 steps per epoch
  config.eval_batch_size = 16
  config.num_epochs = 1
  config.optimizer.schedule = 'constant'
  config.optimizer.warmup_epochs = 0.0
  config.log_every_steps = 1
  for key, value in overrides.items():
    section, _, name = key.rpartition('.')
    (config[section] if section else config)[name] = value
  return config


def main(argv):
  parser = argparse.ArgumentParser()
  parser.add_argument('--workdir', required=True)
  parser.add_argument('--data_dir', required=True)
  parser.add_argument('--num_epochs', type=int, default=3)
  parser.add_argument('--batch_size', type=int, default=8)
  parser.add_argument('--every_steps', type=int, default=0)
  parser.add_argument('--params_out', default='')
  parser.add_argument('--coordinator', default='')
  parser.add_argument('--num_processes', type=int, default=1)
  parser.add_argument('--process_id', type=int, default=0)
  args = parser.parse_args(argv)

  import jax
  if args.coordinator:
    jax.distributed.initialize(coordinator_address=args.coordinator,
                               num_processes=args.num_processes, process_id=args.process_id)
  import numpy as np
  import flax.traverse_util
  from aesthetic_jax import train
  config = tiny_config(args.data_dir, num_epochs=args.num_epochs, batch_size=args.batch_size,
                       **{'checkpoint.every_steps': args.every_steps,
                          'checkpoint.preemption_sync_steps': 1})
  try:
    state, _ = train.train(config, args.workdir)
  except train.Preempted as stop:
    print(stop, flush=True)
    return 0
  if args.params_out:
    # Replicated arrays: this process's own copy (every process writes what it holds).
    flat = flax.traverse_util.flatten_dict(state.params, sep='/')
    np.savez(args.params_out, **{k: np.asarray(v.addressable_data(0)) for k, v in flat.items()})
  return 0


if __name__ == '__main__':
  sys.exit(main(sys.argv[1:]))

"""Do bfloat16 and float32 training give the same loss curves, within seed noise?

  python benchmarks/bf16_curves.py --workdir=workdir/bf16_curves [--config=configs/mtcnn.py:demo]
      [--seeds=3] [--data_dir=data] [--set=KEY=VALUE ...]

Trains the config with `model.dtype` = float32 and bfloat16 (body compute; parameters,
optimizer and losses stay float32) for each seed, through `python -m aesthetic_jax.main`
(a finished run is reused), then prints per epoch: the train loss (`total_mean`, the mean over
the epoch's steps) of each dtype as mean [min, max] over seeds, the mean paired difference
bfloat16 - float32 (same seed: same initialisation, data order, crops and dropout) and, as
the noise it is judged against, the standard deviation over seeds of the float32 loss; then
the final test accuracy of each. Last line: one JSON object.
"""

import json
import os
import subprocess
import sys

import numpy as np
from absl import app, flags

from aesthetic_jax import run_dir as run_dir_lib

FLAGS = flags.FLAGS
flags.DEFINE_string('workdir', None, 'Folder for the runs.', required=True)
flags.DEFINE_string('config', 'configs/mtcnn.py:demo', 'The config to train.')
flags.DEFINE_integer('seeds', 3, 'Seeds 0 .. N-1 per dtype.')
flags.DEFINE_string('data_dir', 'data', 'config.data.data_dir.')
flags.DEFINE_multi_string('set', [], 'More config overrides, KEY=VALUE.')

DTYPES = ('float32', 'bfloat16')


def _train(dtype: str, seed: int) -> str:
  """Trains (or resumes, or finds finished) one run; returns its workdir."""
  workdir = os.path.join(FLAGS.workdir, dtype, f'seed{seed}')
  command = [sys.executable, '-m', 'aesthetic_jax.main', f'--config={FLAGS.config}',
             f'--workdir={workdir}', f'--config.model.dtype={dtype}',
             f'--config.seed={seed}', f'--config.data.data_dir={FLAGS.data_dir}'
             ] + [f'--config.{kv}' for kv in FLAGS.set]
  print(' '.join(command), flush=True)
  subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
  return workdir


def _curves(workdir: str) -> tuple[np.ndarray, float]:
  """(train total loss per epoch (E,), final test accuracy)."""
  records = run_dir_lib.RunDir(workdir, writer=False).metrics.read()
  train = sorted((r for r in records if r['kind'] == 'train'), key=lambda r: r['step'])
  evals = sorted((r for r in records if r['kind'] == 'eval'), key=lambda r: r['step'])
  return np.array([r['total_mean'] for r in train]), float(evals[-1]['accuracy'])


def main(argv):
  del argv
  runs = {d: [_curves(_train(d, s)) for s in range(FLAGS.seeds)] for d in DTYPES}
  loss = {d: np.stack([c for c, _ in runs[d]]) for d in DTYPES}  # (S, E)
  accuracy = {d: np.array([a for _, a in runs[d]]) for d in DTYPES}
  paired = loss['bfloat16'] - loss['float32']
  seed_std = loss['float32'].std(axis=0, ddof=1) if FLAGS.seeds > 1 else np.full(
      paired.shape[1], np.nan)
  print(f'{"epoch":>5} {"float32 loss":>26} {"bfloat16 loss":>26} {"bf16 - fp32":>12} '
        f'{"fp32 seed std":>13}')
  for e in range(paired.shape[1]):
    cells = [f'{loss[d][:, e].mean():.4f} [{loss[d][:, e].min():.4f}, '
             f'{loss[d][:, e].max():.4f}]' for d in DTYPES]
    print(f'{e + 1:>5} {cells[0]:>26} {cells[1]:>26} {paired[:, e].mean():>+12.4f} '
          f'{seed_std[e]:>13.4f}')
  for d in DTYPES:
    print(f'{d}: test accuracy {accuracy[d].mean():.4f} (seeds: '
          f'{", ".join(f"{a:.4f}" for a in accuracy[d])})')
  within = bool(np.all(np.abs(paired.mean(axis=0)) <= 2 * seed_std))
  print(f'|mean paired difference| <= 2 x float32 seed std at every epoch: {within}')
  print(json.dumps({
      'config': FLAGS.config, 'seeds': FLAGS.seeds,
      'train_loss': {d: loss[d].tolist() for d in DTYPES},
      'mean_paired_difference': paired.mean(axis=0).tolist(),
      'float32_seed_std': seed_std.tolist(),
      'test_accuracy': {d: accuracy[d].tolist() for d in DTYPES},
      'within_two_seed_std': within}))


if __name__ == '__main__':
  app.run(main)

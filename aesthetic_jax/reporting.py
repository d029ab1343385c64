"""Metrics to stdout and to `<workdir>/metrics.jsonl`, and a training progress line."""

import json
import math
import os
import sys
import time

import jax
import numpy as np


def _jsonable(value):
  if isinstance(value, (np.generic, np.ndarray)):
    value = value.tolist()
  if isinstance(value, float) and not math.isfinite(value):
    return None
  if isinstance(value, list):
    return [_jsonable(v) for v in value]
  return value


class MetricWriter:
  """Appends one JSON object per record to metrics.jsonl; only process 0 writes."""

  def __init__(self, workdir: str):
    self.path = os.path.join(workdir, 'metrics.jsonl')
    self.enabled = jax.process_index() == 0

  def truncate_after(self, step: int) -> None:
    """Drops records past `step` (written after the checkpoint a resumed run restarts from)."""
    if not (self.enabled and os.path.exists(self.path)):
      return
    with open(self.path) as f:
      kept = [l for l in f if l.strip() and json.loads(l)['step'] <= step]
    with open(self.path + '.tmp', 'w') as f:
      f.writelines(kept)
    os.replace(self.path + '.tmp', self.path)

  def write(self, kind: str, step: int, values: dict) -> None:
    if not self.enabled:
      return
    record = {'kind': kind, 'step': int(step), **{k: _jsonable(v) for k, v in values.items()}}
    with open(self.path, 'a') as f:
      f.write(json.dumps(record) + '\n')
    shown = ', '.join(f'{k} {v:.4f}' for k, v in record.items()
                      if isinstance(v, float) and k != 'step')
    print(f'[{kind}] step {step}: {shown}', flush=True)


class Progress:
  """A progress line every `every` steps: epoch, step, loss, accuracy, images/s."""

  def __init__(self, total_steps: int, steps_per_epoch: int, batch_size: int, every: int):
    self.total, self.per_epoch, self.batch, self.every = (total_steps, steps_per_epoch,
                                                          batch_size, max(1, every))
    self.enabled = jax.process_index() == 0
    self._t, self._step = time.perf_counter(), None

  def update(self, step: int, metrics: dict) -> None:
    if not self.enabled or step % self.every:
      return
    now = time.perf_counter()
    rate = '' if self._step is None else (
        f', {(step - self._step) * self.batch / (now - self._t):.1f} img/s')
    self._t, self._step = now, step
    epoch = step // self.per_epoch + (step % self.per_epoch > 0)
    print(f'  epoch {epoch} step {step}/{self.total}: loss {metrics["total"]:.4f}, '
          f'accuracy {metrics["accuracy"]:.3f}{rate}', file=sys.stdout, flush=True)

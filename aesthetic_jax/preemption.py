"""SIGTERM as a request to checkpoint and stop at the next step boundary (preemption)."""

import signal

import jax
import numpy as np
from jax.experimental import multihost_utils


class PreemptionWatcher:
  """Records SIGTERM; `should_stop(step)` says when every process should save and exit.

  With several processes the flag is agreed on (a tiny all-gather) every `sync_every` steps,
  so all of them stop at the same step even if only one was signalled.
  """

  def __init__(self, sync_every: int = 1):
    self.sync_every = max(1, sync_every)
    self._signalled = False
    self._previous = signal.signal(signal.SIGTERM, self._on_sigterm)

  def _on_sigterm(self, signum, frame):
    del signum, frame
    self._signalled = True

  def should_stop(self, step: int) -> bool:
    if jax.process_count() == 1:
      return self._signalled
    if step % self.sync_every:
      return False
    flags = multihost_utils.process_allgather(np.asarray(self._signalled))
    return bool(np.any(flags))

  def close(self) -> None:
    signal.signal(signal.SIGTERM, self._previous)

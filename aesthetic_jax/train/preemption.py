"""SIGTERM as a request to checkpoint and stop at the next step boundary (preemption).

No JAX at import: the training entry point installs `remember_early_sigterm` before JAX and
the data pipeline load, so a SIGTERM during start-up is kept and acted on like any other.
"""

import signal

_EARLY = {'signalled': False}


class Preempted(Exception):
  """Raised after SIGTERM once everything is saved; the same command resumes the run."""


def remember_early_sigterm() -> None:
  """Records a SIGTERM that arrives before the PreemptionWatcher exists."""
  signal.signal(signal.SIGTERM, lambda signum, frame: _EARLY.update(signalled=True))


class PreemptionWatcher:
  """Records SIGTERM; `should_stop(step)` says when every process should save and exit.

  With several processes the flag is agreed on (a tiny all-gather) every `sync_every` steps,
  so all of them stop at the same step even if only one was signalled.
  """

  def __init__(self, sync_every: int = 1):
    self.sync_every = max(1, sync_every)
    self.signalled = _EARLY['signalled']
    self._previous = signal.signal(signal.SIGTERM, self._on_sigterm)

  def _on_sigterm(self, signum, frame):
    del signum, frame
    self.signalled = True

  def should_stop(self, step: int) -> bool:
    import jax  # pylint: disable=g-import-not-at-top
    if jax.process_count() == 1:
      return self.signalled
    if step % self.sync_every:
      return False
    return self.agreed_stop()

  def agreed_stop(self) -> bool:
    """Whether any process was signalled (always agreed, whatever the step)."""
    from aesthetic_jax.train import multihost  # pylint: disable=g-import-not-at-top
    return multihost.any_true(self.signalled)

  def close(self) -> None:
    signal.signal(signal.SIGTERM, self._previous)

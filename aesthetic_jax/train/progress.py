"""What training prints: a progress line every few steps, and each metrics record."""

import time


def print_record(record: dict) -> None:
  """One line per metrics record: '[eval] step 558: accuracy 0.6750, ...' (floats only)."""
  shown = ', '.join(f'{k} {v:.4f}' for k, v in record.items()
                    if isinstance(v, float) and k != 'step')
  print(f'[{record["kind"]}] step {record["step"]}: {shown}', flush=True)


class Progress:
  """A progress line every `every` steps: epoch, step, loss, accuracy, images/s."""

  def __init__(self, total_steps: int, steps_per_epoch: int, batch_size: int, every: int, *,
               enabled: bool = True):
    self.total, self.per_epoch, self.batch, self.every = (total_steps, steps_per_epoch,
                                                          batch_size, max(1, every))
    self.enabled = enabled
    self._t, self._step = time.perf_counter(), None

  def due(self, step: int) -> bool:
    return step % self.every == 0

  def update(self, step: int, metrics: dict[str, float]) -> None:
    if not self.enabled or not self.due(step):
      return
    now = time.perf_counter()
    rate = '' if self._step is None else (
        f', {(step - self._step) * self.batch / (now - self._t):.1f} img/s')
    self._t, self._step = now, step
    epoch = step // self.per_epoch + (step % self.per_epoch > 0)
    print(f'  epoch {epoch} step {step}/{self.total}: loss {metrics["total"]:.4f}, '
          f'accuracy {metrics["accuracy"]:.3f}{rate}', flush=True)

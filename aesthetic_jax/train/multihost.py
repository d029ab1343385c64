"""The few collectives the loop needs between processes (no-ops in a one-process run)."""

import jax
import numpy as np
from jax.experimental import multihost_utils


def barrier(name: str) -> None:
  """Every process waits here until all have arrived."""
  if jax.process_count() > 1:
    multihost_utils.sync_global_devices(name)


def all_true(flag: bool) -> bool:
  """True iff `flag` is true on every process."""
  if jax.process_count() == 1:
    return bool(flag)
  return bool(np.all(multihost_utils.process_allgather(np.asarray(flag))))


def any_true(flag: bool) -> bool:
  """True iff `flag` is true on some process."""
  if jax.process_count() == 1:
    return bool(flag)
  return bool(np.any(multihost_utils.process_allgather(np.asarray(flag))))

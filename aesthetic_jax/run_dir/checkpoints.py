"""Checkpoints of a run (`<workdir>/checkpoints/<step>/`), verified before they are trusted.

A checkpoint holds three orbax items: 'state' (the whole TrainState), 'data' (the grain
iterator's position) and 'checksums' (SHA-256 of every saved array and of the iterator
state, computed from the values in memory when they were saved). Every read checks the
checksums of what it read; a checkpoint that cannot be read or does not match is set aside
(moved, with its files, to `<workdir>/checkpoints_set_aside/`) with a one-line warning, and
the next older one is tried. Checkpoints written before checksums existed are read unchecked.

Training uses `Checkpointer`; scoring, weight transfer and analyses read parameters through
`read_fields`, with the same fallback.
"""

import contextlib
import hashlib
import json
import logging
import os
import shutil
from typing import Any, Callable, Iterable, Sequence

import numpy as np

STATE, DATA, CHECKSUMS = 'state', 'data', 'checksums'
SET_ASIDE_DIR = 'checkpoints_set_aside'


class CheckpointError(OSError):
  """No readable, verified checkpoint."""


class ChecksumMismatchError(ValueError):
  """What was read differs from what was saved (the files changed after the save)."""


# ---------------------------------------------------------------------------------------------
# Checksums.

def _path_name(path) -> str:
  parts = []
  for entry in path:
    for attr in ('name', 'key', 'idx'):
      if hasattr(entry, attr):
        parts.append(str(getattr(entry, attr)))
        break
  return '/'.join(parts)


def array_checksums(tree) -> dict[str, str]:
  """{'params/shared/conv1/conv/kernel': sha256 hex, ...} of every array leaf of `tree`,
  over its dtype, shape and bytes (a host copy is made of device arrays)."""
  import jax  # pylint: disable=g-import-not-at-top
  out = {}
  for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
    if hasattr(leaf, 'addressable_data'):  # a replicated global jax.Array: this process's copy
      leaf = leaf.addressable_data(0)
    array = np.ascontiguousarray(np.asarray(leaf))
    digest = hashlib.sha256(f'{array.dtype.str}{array.shape}'.encode())
    digest.update(array.view(np.uint8).reshape(-1).data if array.size else b'')
    out[_path_name(path)] = digest.hexdigest()
  return out


def iterator_checksum(data_iterator) -> str:
  state = data_iterator.get_state()
  if isinstance(state, bytes):
    return hashlib.sha256(state).hexdigest()
  return hashlib.sha256(json.dumps(state, sort_keys=True, default=str).encode()).hexdigest()


def verify(tree, expected: dict[str, str], *, prefix: str = '') -> None:
  """Raises ChecksumMismatchError naming the first array whose checksum differs.

  `tree` may be a part of the saved tree: its paths are looked up as prefix + path.
  """
  for name, value in array_checksums(tree).items():
    key = '/'.join(part for part in (prefix.rstrip('/'), name) if part)
    if key not in expected:
      raise ChecksumMismatchError(f'{key} has no saved checksum')
    if expected[key] != value:
      raise ChecksumMismatchError(f'{key} differs from what was saved')


# ---------------------------------------------------------------------------------------------
# Listing and setting aside.

def finished_steps(directory: str) -> list[int]:
  """Steps of the finished checkpoints in `directory`, oldest first (orbax writes a step
  under a temporary name and renames it to the bare number when it is complete)."""
  if not os.path.isdir(directory):
    return []
  return sorted(int(d) for d in os.listdir(directory)
                if d.isdigit() and os.path.isdir(os.path.join(directory, d, STATE)))


def set_aside(directory: str, step: int, reason: str) -> str:
  """Moves checkpoint `step` out of `directory` (kept, not deleted); logs one line."""
  target_root = os.path.join(os.path.dirname(os.path.abspath(directory)), SET_ASIDE_DIR)
  os.makedirs(target_root, exist_ok=True)
  target = os.path.join(target_root, str(step))
  suffix = 1
  while os.path.exists(target):
    target, suffix = os.path.join(target_root, f'{step}.{suffix}'), suffix + 1
  shutil.move(os.path.join(directory, str(step)), target)
  logging.warning('Checkpoint at step %d is unusable (%s); moved to %s, trying an older one.',
                  step, reason, target)
  return target


def short_reason(error: BaseException, limit: int = 160) -> str:
  """One line: the error's type and the first line of its message, cut at `limit`."""
  first = (str(error).strip().splitlines() or [''])[0]
  if len(first) > limit:
    first = first[:limit] + '...'
  return f'{type(error).__name__}: {first}' if first else type(error).__name__


@contextlib.contextmanager
def _quiet_orbax():
  """Orbax and TensorStore log each failed read at length; our one-line warning says it."""
  from absl import logging as absl_logging  # pylint: disable=g-import-not-at-top
  verbosity = absl_logging.get_verbosity()
  absl_logging.set_verbosity(absl_logging.FATAL)
  try:
    yield
  finally:
    absl_logging.set_verbosity(verbosity)


# ---------------------------------------------------------------------------------------------
# Training: save and restore everything.

def abstract_like(tree):
  """ShapeDtypeStructs (with shardings) of `tree`: the target StandardRestore needs."""
  import jax  # pylint: disable=g-import-not-at-top
  return jax.tree.map(
      lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=getattr(x, 'sharding', None)),
      tree)


class Checkpointer:
  """One orbax CheckpointManager over `directory`, with items state, data and checksums.

  is_leader: this process moves unusable checkpoints aside (process 0 of a multi-process
  run); every process takes part in saving and restoring. barrier: a callable that all
  processes reach before going on (a no-op for one process).
  """

  def __init__(self, directory: str, *, max_to_keep: int = 3, is_leader: bool = True,
               barrier: Callable[[str], None] = lambda name: None,
               agree: Callable[[bool], bool] = lambda ok: ok):
    self.directory = os.path.abspath(directory)
    self._max_to_keep, self._is_leader = max_to_keep, is_leader
    self._barrier, self._agree = barrier, agree
    self.manager = self._open()

  def _open(self):
    import orbax.checkpoint as ocp  # pylint: disable=g-import-not-at-top
    return ocp.CheckpointManager(self.directory, options=ocp.CheckpointManagerOptions(
        max_to_keep=self._max_to_keep, enable_async_checkpointing=False, create=True))

  def save(self, step: int, state, data_iterator) -> None:
    """Saves `state`, the iterator position and their checksums as checkpoint `step`."""
    import grain  # pylint: disable=g-import-not-at-top
    import orbax.checkpoint as ocp  # pylint: disable=g-import-not-at-top
    checksums = {'arrays': array_checksums(state),
                 'iterator': iterator_checksum(data_iterator)}
    self.manager.save(step, args=ocp.args.Composite(**{
        STATE: ocp.args.StandardSave(state),
        DATA: grain.checkpoint.CheckpointSave(data_iterator),
        CHECKSUMS: ocp.args.JsonSave(checksums)}), force=True)
    self.manager.wait_until_finished()

  def steps(self) -> list[int]:
    self.manager.reload()
    return list(self.manager.all_steps())

  def restore_latest(self, state, data_iterator):
    """The newest checkpoint that reads and verifies, restored into (state, data_iterator).

    Unusable ones are set aside (see the module docstring). Returns the restored state, or
    None when no checkpoint is left.
    """
    for step in sorted(self.steps(), reverse=True):
      try:
        restored = self._restore_verified(step, state, data_iterator)
        error = None
      except Exception as e:  # pylint: disable=broad-except  (any failure: try an older one)
        restored, error = None, e
      if self._agree(error is None):
        return restored
      self._set_aside(step, short_reason(error) if error else 'unreadable on another process')
    return None

  def _restore_verified(self, step: int, state, data_iterator):
    import grain  # pylint: disable=g-import-not-at-top
    import orbax.checkpoint as ocp  # pylint: disable=g-import-not-at-top
    items = {STATE: ocp.args.StandardRestore(abstract_like(state)),
             DATA: grain.checkpoint.CheckpointRestore(data_iterator)}
    has_checksums = os.path.isdir(os.path.join(self.directory, str(step), CHECKSUMS))
    if has_checksums:
      items[CHECKSUMS] = ocp.args.JsonRestore()
    with _quiet_orbax():
      restored = self.manager.restore(step, args=ocp.args.Composite(**items))
    if has_checksums:
      verify(restored[STATE], restored[CHECKSUMS]['arrays'])
      if iterator_checksum(data_iterator) != restored[CHECKSUMS]['iterator']:
        raise ChecksumMismatchError('the input iterator state differs from what was saved')
    return restored[STATE]

  def _set_aside(self, step: int, reason: str) -> None:
    self.manager.close()
    if self._is_leader:
      set_aside(self.directory, step, reason)
    self._barrier(f'checkpoint_set_aside_{step}')
    self.manager = self._open()

  def close(self) -> None:
    self.manager.close()


# ---------------------------------------------------------------------------------------------
# Reading parameters (scoring, weight transfer, analyses): numpy, any device count.

def read_fields(step_dir: str, keys: Sequence[str] = ('params', 'model_state')) -> dict:
  """{key: nested dict of numpy arrays} of the TrainState fields `keys` saved in one step
  folder, checked against the saved checksums. Fields the state lacks are left out.

  Raises whatever orbax raises for an unreadable checkpoint, or ChecksumMismatchError.
  """
  import jax  # pylint: disable=g-import-not-at-top
  import orbax.checkpoint as ocp  # pylint: disable=g-import-not-at-top
  state_dir = os.path.join(os.path.abspath(step_dir), STATE)  # orbax wants absolute paths
  checkpointer = ocp.PyTreeCheckpointer()
  with _quiet_orbax():
    metadata = checkpointer.metadata(state_dir)
    tree = metadata.item_metadata.tree if hasattr(metadata, 'item_metadata') else metadata
    wanted = {k: tree[k] for k in keys if tree.get(k)}
    restore_args = jax.tree.map(lambda _: ocp.RestoreArgs(restore_type=np.ndarray), wanted)
    restored = checkpointer.restore(state_dir, args=ocp.args.PyTreeRestore(
        item=wanted, restore_args=restore_args, partial_restore=True))
  checksum_dir = os.path.join(os.path.abspath(step_dir), CHECKSUMS)
  if os.path.isdir(checksum_dir):
    from etils import epath  # pylint: disable=g-import-not-at-top  (orbax's path type)
    saved = ocp.JsonCheckpointHandler().restore(epath.Path(checksum_dir))
    for key in restored:
      verify(restored[key], saved['arrays'], prefix=key)
  return dict(restored)


def read_latest_fields(directory: str, keys: Sequence[str] = ('params', 'model_state'), *,
                       steps: Iterable[int] | None = None, move_unusable: bool = False,
                       ) -> tuple[int, dict[str, Any]]:
  """(step, read_fields(...)) of the newest checkpoint in `directory` (or among `steps`)
  that reads and verifies; unusable ones are skipped with a one-line warning each (and set
  aside when `move_unusable`). Raises CheckpointError listing why each one failed."""
  candidates = sorted(finished_steps(directory) if steps is None else steps, reverse=True)
  if not candidates:
    raise CheckpointError(f'{directory} holds no finished checkpoint.')
  failures = []
  for step in candidates:
    try:
      return step, read_fields(os.path.join(directory, str(step)), keys)
    except Exception as error:  # pylint: disable=broad-except  (try an older one)
      reason = short_reason(error)
      failures.append(f'step {step}: {reason}')
      if move_unusable:
        set_aside(directory, step, reason)
      else:
        logging.warning('Checkpoint at step %d in %s is unusable (%s); trying an older one.',
                        step, directory, reason)
  raise CheckpointError(f'No readable checkpoint in {directory}: ' + '; '.join(failures))


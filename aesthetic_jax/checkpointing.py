"""Orbax checkpoints of the train state together with the grain iterator position."""

import logging

import grain
import jax
import orbax.checkpoint as ocp


def abstract_like(tree):
  """ShapeDtypeStructs (with shardings) of `tree`: the target StandardRestore needs."""
  return jax.tree.map(
      lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=getattr(x, 'sharding', None)),
      tree)


class Checkpointer:
  """One orbax CheckpointManager in `<workdir>/checkpoints`: items 'state' and 'data'."""

  def __init__(self, directory: str, *, max_to_keep: int = 3):
    self.manager = ocp.CheckpointManager(
        directory, options=ocp.CheckpointManagerOptions(
            max_to_keep=max_to_keep, enable_async_checkpointing=False, create=True))

  def save(self, step: int, state, data_iterator) -> None:
    self.manager.save(step, args=ocp.args.Composite(
        state=ocp.args.StandardSave(state),
        data=grain.checkpoint.CheckpointSave(data_iterator)), force=True)
    self.manager.wait_until_finished()

  def latest_step(self) -> int | None:
    return self.manager.latest_step()

  def restore_latest(self, state, data_iterator):
    """Restores the newest readable checkpoint into (state, data_iterator).

    A checkpoint that fails to restore (partial or corrupt) is skipped with a warning and the
    one before it is tried. Returns the restored state, or None when there is none.
    """
    for step in sorted(self.manager.all_steps(), reverse=True):
      try:
        restored = self.manager.restore(step, args=ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract_like(state)),
            data=grain.checkpoint.CheckpointRestore(data_iterator)))
      except Exception as error:  # pylint: disable=broad-except
        logging.warning('Checkpoint at step %d is unreadable (%s: %s); trying an older one.',
                        step, type(error).__name__, error)
        continue
      return restored['state']
    return None

  def close(self) -> None:
    self.manager.close()

"""Checkpoints are verified before they are trusted, and no record is lost to a kill:
a truncated or garbled newest checkpoint is set aside and the run finishes from the previous
one, bit-identical to an uninterrupted run; scoring falls back the same way."""

import json
import logging
import os

import flax.traverse_util
import numpy as np
import pytest

from aesthetic_jax import Scorer
from aesthetic_jax.run_dir import RunDir
from aesthetic_jax.run_dir import checkpoints
from aesthetic_jax.train import loop

pytestmark = pytest.mark.slow


def _params(state):
  flat = flax.traverse_util.flatten_dict(state.params, sep='/')
  return {k: np.asarray(v) for k, v in flat.items()}


def _damage(step_dir: str, how: str) -> None:
  """Truncates, or garbles in place (what a bad disk or copy does), every array data file of
  the checkpoint's TrainState (orbax's OCDBT 'd/' files, which its own checks reject), or
  alters an array so that orbax reads it without complaint (only our checksums notice)."""
  if how == 'altered':
    import orbax.checkpoint as ocp  # pylint: disable=g-import-not-at-top
    state_dir = os.path.abspath(os.path.join(step_dir, 'state'))
    tree = ocp.PyTreeCheckpointer().restore(state_dir)
    kernel = tree['params']['shared']['aesthetic_head']['kernel']
    tree['params']['shared']['aesthetic_head']['kernel'] = np.asarray(kernel) + 1.0
    ocp.PyTreeCheckpointer().save(state_dir, tree, force=True)
    return
  for root, _, names in os.walk(os.path.join(step_dir, 'state')):
    if os.path.basename(root) != 'd':
      continue
    for name in names:
      path = os.path.join(root, name)
      data = bytearray(open(path, 'rb').read())
      if how == 'truncate':
        data = data[:len(data) // 2]
      else:
        for i in range(len(data) // 4, len(data) // 4 + 16):
          data[i] ^= 0x5A
      with open(path, 'wb') as f:
        f.write(data)


def _records(workdir):
  with open(os.path.join(workdir, 'metrics.jsonl')) as f:
    return [(r['kind'], r['step']) for r in map(json.loads, f)]


@pytest.fixture(scope='module')
def clean_run(tiny_data_dir, tmp_path_factory):
  """Final parameters of an uninterrupted 3-epoch run (checkpoints at steps 2, 4, 6)."""
  import tiny_config  # pylint: disable=g-import-not-at-top
  config = tiny_config.get_config(data_dir=tiny_data_dir, num_epochs=3)
  state, _ = loop.train(config, str(tmp_path_factory.mktemp('clean') / 'run'))
  return config, _params(state)


@pytest.mark.parametrize('how', ['truncate', 'garble', 'altered'])
def test_damaged_newest_checkpoint_is_set_aside_and_the_run_finishes(clean_run, tmp_path, how,
                                                                     caplog):
  config, clean = clean_run
  workdir = str(tmp_path / 'run')
  loop.train(config, workdir)
  newest = os.path.join(workdir, 'checkpoints', '6')
  _damage(newest, how)
  caplog.clear()
  with caplog.at_level(logging.WARNING):
    state, _ = loop.train(config, workdir)
  # One warning line, naming the step and where the checkpoint went.
  warnings = [r.getMessage() for r in caplog.records if 'unusable' in r.getMessage()]
  assert len(warnings) == 1 and '\n' not in warnings[0], warnings
  assert 'step 6' in warnings[0] and 'checkpoints_set_aside' in warnings[0]
  if how == 'altered':
    assert 'params/shared/aesthetic_head/kernel differs from what was saved' in warnings[0]
  assert os.listdir(os.path.join(workdir, 'checkpoints_set_aside')) == ['6']
  assert RunDir(workdir).checkpoint_steps() == [2, 4, 6]  # step 6 saved again, no clash
  got = _params(state)
  for k in clean:
    np.testing.assert_array_equal(got[k], clean[k], err_msg=k)
  # Each epoch's records once: step 6's were dropped with the checkpoint and written again.
  assert _records(workdir) == [(kind, s) for s in (2, 4, 6) for kind in ('train', 'eval')]
  # And the run is whole again: a third run restores step 6 and trains nothing.
  caplog.clear()
  loop.train(config, workdir)
  assert not [r for r in caplog.records if 'unusable' in r.getMessage()]


def test_a_kill_between_records_and_checkpoint_loses_no_record(clean_run, tmp_path,
                                                               monkeypatch):
  """Records are written before the checkpoint that covers them: a kill in between (here:
  while writing epoch 3's test predictions) makes the rerun train epoch 3 again from step 4
  and write its records once."""
  config, clean = clean_run
  workdir = str(tmp_path / 'run')
  calls = {'n': 0}
  original = RunDir.write_predictions

  def killed_at_epoch_3(self, predictions):
    calls['n'] += 1
    if calls['n'] == 3:
      raise KeyboardInterrupt  # as a SIGKILL would stop it: no checkpoint of step 6
    original(self, predictions)

  monkeypatch.setattr(RunDir, 'write_predictions', killed_at_epoch_3)
  with pytest.raises(KeyboardInterrupt):
    loop.train(config, workdir)
  assert RunDir(workdir).checkpoint_steps() == [2, 4]
  assert ('eval', 6) in _records(workdir)  # written before the kill
  monkeypatch.setattr(RunDir, 'write_predictions', original)
  state, final = loop.train(config, workdir)
  assert _records(workdir) == [(kind, s) for s in (2, 4, 6) for kind in ('train', 'eval')]
  assert final['num_images'] == 32
  for k, v in _params(state).items():
    np.testing.assert_array_equal(v, clean[k], err_msg=k)


def test_scoring_skips_a_garbled_checkpoint(clean_run, tmp_path, caplog):
  config, _ = clean_run
  workdir = str(tmp_path / 'run')
  loop.train(config, workdir)
  _damage(os.path.join(workdir, 'checkpoints', '6'), 'altered')
  with caplog.at_level(logging.WARNING):
    scorer = Scorer.from_workdir(workdir)
  assert scorer.step == 4
  assert any('step 6' in r.getMessage() and 'unusable' in r.getMessage()
             for r in caplog.records)
  # Asked for that step, it refuses instead of scoring with altered weights.
  with pytest.raises(checkpoints.CheckpointError, match='step 6'):
    Scorer.from_workdir(workdir, step=6)


def test_checksums_name_the_altered_array():
  tree = {'params': {'dense': {'kernel': np.arange(6.0).reshape(2, 3)}}, 'step': np.int32(3)}
  saved = checkpoints.array_checksums(tree)
  assert set(saved) == {'params/dense/kernel', 'step'}
  checkpoints.verify(tree, saved)
  tree['params']['dense']['kernel'][1, 2] = 7.0
  with pytest.raises(checkpoints.ChecksumMismatchError, match='params/dense/kernel'):
    checkpoints.verify(tree, saved)
  with pytest.raises(checkpoints.ChecksumMismatchError, match='params/dense/kernel'):
    checkpoints.verify(tree['params'], saved, prefix='params')

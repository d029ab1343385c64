"""train_and_evaluate end to end on the tiny synthetic dataset: train, resume, guards."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from aesthetic_jax import train
from tiny import tiny_config


@pytest.fixture(scope='module')
def data_dir(tiny_data_dir):
  return tiny_data_dir


def _records(workdir):
  with open(os.path.join(workdir, 'metrics.jsonl')) as f:
    return [json.loads(line) for line in f]


def test_two_steps_then_resume(data_dir, tmp_path):
  workdir = str(tmp_path / 'run')
  first = train.train_and_evaluate(tiny_config(data_dir), workdir)
  assert 0.0 <= first['accuracy'] <= 1.0 and first['num_images'] == 32
  assert [(r['kind'], r['step']) for r in _records(workdir)] == [('train', 2), ('eval', 2)]
  omega = json.load(open(os.path.join(workdir, 'omega.json')))
  assert omega['subtasks'][:3] == ['low aesthetic', 'high aesthetic', 'sky']
  corr = np.asarray(omega['correlation'])
  assert corr.shape == (10, 10) and np.allclose(np.diag(corr), 1.0)
  # The same command with more epochs continues from step 2 instead of starting again.
  train.train_and_evaluate(tiny_config(data_dir, num_epochs=2), workdir)
  assert [(r['kind'], r['step']) for r in _records(workdir)] == [
      ('train', 2), ('eval', 2), ('train', 4), ('eval', 4)]
  assert sorted(os.listdir(os.path.join(workdir, 'checkpoints'))) == ['2', '4']


def test_init_from_applies_to_a_fresh_run_only(data_dir, tmp_path, capsys):
  """A run started from another run's weights resumes from its own checkpoint, even after
  the source is gone (the source is read on the host, once, for a fresh run)."""
  source, workdir = str(tmp_path / 'source'), str(tmp_path / 'run')
  train.train_and_evaluate(tiny_config(data_dir), source)
  transfer = tiny_config(data_dir, **{'model.init_from': source})
  train.train_and_evaluate(transfer, workdir)
  assert 'checkpoint at step 2' in capsys.readouterr().out
  os.rename(source, source + '.moved')
  train.train_and_evaluate(tiny_config(data_dir, num_epochs=2, **{'model.init_from': source}),
                           workdir)
  out = capsys.readouterr().out
  assert 'Resumed from the checkpoint at step 2' in out and f'init_from {source}' not in out
  assert [(r['kind'], r['step']) for r in _records(workdir)][-1] == ('eval', 4)
  # A fresh run with a missing source still says what to put there.
  with pytest.raises(FileNotFoundError, match='does not exist'):
    train.train_and_evaluate(transfer, str(tmp_path / 'fresh'))


def test_nan_loss_stops_with_the_step(data_dir, tmp_path):
  config = tiny_config(data_dir, **{'optimizer.learning_rate': 1e30, 'num_epochs': 3})
  with pytest.raises(train.NonFiniteLossError, match=r'at step \d+'):
    train.train_and_evaluate(config, str(tmp_path / 'nan'))


def test_stcnn_without_tags_trains(data_dir, tmp_path):
  config = tiny_config(data_dir, **{'model.architecture': 'stcnn', 'mtrl.enabled': False})
  result = train.train_and_evaluate(config, str(tmp_path / 'st'))
  assert 'semantic_map' not in result or result['semantic_map'] is None


def test_batch_that_does_not_divide_over_devices_is_refused(data_dir, tmp_path):
  with pytest.raises(ValueError, match='does not divide over 8 devices'):
    train.train_and_evaluate(tiny_config(data_dir, batch_size=12), str(tmp_path / 'b'))


def test_unknown_config_key_is_refused(tmp_path):
  result = subprocess.run(
      [sys.executable, '-m', 'aesthetic_jax.main', '--config=configs/mtrl.py:demo',
       f'--workdir={tmp_path}', '--config.optimizer.learnig_rate=0.1'],
      capture_output=True, text=True, cwd=os.path.dirname(os.path.dirname(__file__)),
      timeout=120)
  assert result.returncode != 0
  assert 'learnig_rate' in result.stderr

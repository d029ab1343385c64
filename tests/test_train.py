"""train_and_evaluate end to end on the tiny synthetic dataset: train, resume, guards."""

import json
import os

import numpy as np
import pytest
from absl import flags

from aesthetic_jax.cli import entry
from aesthetic_jax.train import loop as train


def _records(workdir):
  with open(os.path.join(workdir, 'metrics.jsonl')) as f:
    return [json.loads(line) for line in f]


def test_two_steps_then_resume(tiny_config, tmp_path):
  workdir = str(tmp_path / 'run')
  first = train.train_and_evaluate(tiny_config(), workdir)
  assert 0.0 <= first['accuracy'] <= 1.0 and first['num_images'] == 32
  records = _records(workdir)
  assert [(r['kind'], r['step']) for r in records] == [('train', 2), ('eval', 2)]
  # The epoch's train record averages its steps, and says how many, the learning rate and
  # the semantic gate in effect.
  train_record = records[0]
  assert train_record['num_steps_averaged'] == 2 and train_record['epoch'] == 1
  assert train_record['learning_rate'] == pytest.approx(0.02)
  assert train_record['semantic_gate'] == 1.0
  assert {'total_mean', 'accuracy_mean', 'aesthetic_mean', 'semantic_mean'} <= set(train_record)
  omega = json.load(open(os.path.join(workdir, 'omega.json')))
  assert omega['subtasks'][:3] == ['low aesthetic', 'high aesthetic', 'sky']
  corr = np.asarray(omega['correlation'])
  assert corr.shape == (10, 10) and np.allclose(np.diag(corr), 1.0)
  # The same command with more epochs continues from step 2 instead of starting again.
  train.train_and_evaluate(tiny_config(num_epochs=2), workdir)
  assert [(r['kind'], r['step']) for r in _records(workdir)] == [
      ('train', 2), ('eval', 2), ('train', 4), ('eval', 4)]
  assert sorted(os.listdir(os.path.join(workdir, 'checkpoints'))) == ['2', '4']
  # Other settings in that workdir are refused before anything is read or written, naming
  # what changed; settings a resume may change (num_epochs, logging, ...) are not counted.
  other = tiny_config(num_epochs=3, log_every_steps=7, **{'optimizer.learning_rate': 0.5})
  with pytest.raises(train.RunMismatchError,
                     match=r'other settings \(optimizer.learning_rate: 0.02 -> 0.5\)'):
    train.train_and_evaluate(other, workdir)
  assert sorted(os.listdir(os.path.join(workdir, 'checkpoints'))) == ['2', '4']
  with open(os.path.join(workdir, 'config.json')) as f:
    assert json.load(f)['optimizer']['learning_rate'] == 0.02


def test_a_config_value_a_run_cannot_use_is_a_config_error(tiny_config, tmp_path):
  """ConfigError (a ValueError): the training command prints it in one line, exit 2."""
  from aesthetic_jax.config_error import ConfigError
  with pytest.raises(ConfigError, match="optimizer.schedule='foo'; use 'constant'"):
    train.train_and_evaluate(tiny_config(**{'optimizer.schedule': 'foo'}), str(tmp_path))
  with pytest.raises(ConfigError, match='batch_size=3 does not divide over 8 devices'):
    train.train_and_evaluate(tiny_config(batch_size=3), str(tmp_path / 'b'))


def test_missing_dataset_is_one_message_with_the_folder_and_the_build_command(tmp_path,
                                                                              capsys):
  from aesthetic_jax.cli import train as train_cli
  data_dir = tmp_path / 'nothing here'
  status = entry.call(train_cli.main, ['--config=configs/mtcnn.py', f'--workdir={tmp_path / "w"}',
                                       f'--config.data.data_dir={data_dir}'])
  err = capsys.readouterr().err
  assert status == 2 and 'Traceback' not in err
  assert err.startswith(f"error: Dataset 'ava/paper' is not built: nothing at {data_dir}")
  assert 'python -m aesthetic_jax.data build ava/paper' in err


@pytest.mark.slow
def test_init_from_applies_to_a_fresh_run_only(tiny_config, tmp_path, capsys):
  """A run started from another run's weights resumes from its own checkpoint, even after
  the source is gone (the source is read on the host, once, for a fresh run)."""
  source, workdir = str(tmp_path / 'source'), str(tmp_path / 'run')
  train.train_and_evaluate(tiny_config(), source)
  transfer = tiny_config(**{'model.init_from': source})
  train.train_and_evaluate(transfer, workdir)
  assert 'checkpoint at step 2' in capsys.readouterr().out
  os.rename(source, source + '.moved')
  train.train_and_evaluate(tiny_config(num_epochs=2, **{'model.init_from': source}), workdir)
  out = capsys.readouterr().out
  assert 'Resumed from the checkpoint at step 2' in out and f'init_from {source}' not in out
  assert [(r['kind'], r['step']) for r in _records(workdir)][-1] == ('eval', 4)
  # A fresh run with a missing source still says what to put there.
  with pytest.raises(FileNotFoundError, match='does not exist'):
    train.train_and_evaluate(transfer, str(tmp_path / 'fresh'))


def test_nan_loss_stops_with_the_step(tiny_config, tmp_path):
  config = tiny_config(**{'optimizer.learning_rate': 1e30, 'num_epochs': 3})
  with pytest.raises(train.NonFiniteLossError, match=r'at step \d+'):
    train.train_and_evaluate(config, str(tmp_path / 'nan'))


def test_stcnn_without_tags_trains(tiny_config, tmp_path):
  config = tiny_config(**{'model.architecture': 'stcnn', 'mtrl.enabled': False})
  result = train.train_and_evaluate(config, str(tmp_path / 'st'))
  assert 'semantic_map' not in result or result['semantic_map'] is None


def test_batch_that_does_not_divide_over_devices_is_refused(tiny_config, tmp_path):
  with pytest.raises(ValueError, match='does not divide over 8 devices'):
    train.train_and_evaluate(tiny_config(batch_size=12), str(tmp_path / 'b'))


@pytest.mark.parametrize('command', ['train', 'bench', 'predict'])
def test_every_config_command_refuses_an_unknown_key_by_name(command, tmp_path, monkeypatch,
                                                             capsys):
  """The command line's own parsing (entry.parse_flags): one line naming the key, exit 2."""
  __import__(f'aesthetic_jax.cli.{command}')
  argv = ['prog', '--config=configs/mtrl.py:demo', f'--workdir={tmp_path}',
          '--config.optimizer.learnig_rate=0.1']
  monkeypatch.setattr('sys.argv', argv)  # where config_flags reads its overrides
  flags.FLAGS.unparse_flags()
  with pytest.raises(SystemExit) as exit_info:
    entry.parse_flags(argv)
  assert exit_info.value.code == 2
  error = capsys.readouterr().err.strip()
  assert error == ("error: --config.optimizer.learnig_rate=0.1: the config has no key "
                   "'learnig_rate'; did you mean 'learning_rate'?")


def test_config_overrides_reach_the_command():
  from aesthetic_jax.cli import predict  # pylint: disable=g-import-not-at-top  (defines --config)
  seen = {}
  entry.call(lambda argv: seen.update(config=flags.FLAGS.config, argv=argv),
             ['--config=configs/mtrl.py:demo', '--config.input.crop_size=48', 'a.jpg'])
  assert seen['config'].input.crop_size == 48 and seen['argv'][1:] == ['a.jpg']
  del predict


def test_tensorboard_reads_the_run(tiny_config, tmp_path):
  """TensorBoard's own reader loads the event files of a run, a resumed one included: loss
  terms every log_every_steps, epoch metrics, the learning rate, the semantic gate, Omega's
  correlation image; after a resume, no step appears twice."""
  accumulator = pytest.importorskip(
      'tensorboard.backend.event_processing.event_accumulator')
  workdir = str(tmp_path / 'run')
  train.train_and_evaluate(tiny_config(num_epochs=1), workdir)
  train.train_and_evaluate(tiny_config(num_epochs=2), workdir)  # resumes at step 2
  events = accumulator.EventAccumulator(os.path.join(workdir, 'tensorboard'),
                                        size_guidance={accumulator.SCALARS: 0})
  events.Reload()
  tags = events.Tags()
  assert {'train/total', 'train/aesthetic', 'train/semantic', 'train/mtrl_penalty',
          'train/learning_rate', 'train/total_mean', 'train/semantic_gate', 'eval/accuracy',
          'eval/roc_auc', 'eval/semantic_map'} <= set(tags['scalars'])
  assert tags['images'] == ['mtrl/omega_correlation']
  assert [e.step for e in events.Scalars('train/total')] == [1, 2, 3, 4]
  assert [e.step for e in events.Scalars('eval/accuracy')] == [2, 4]
  with open(os.path.join(workdir, 'metrics.jsonl')) as f:
    evals = [r['accuracy'] for r in map(json.loads, f) if r['kind'] == 'eval']
  assert [e.value for e in events.Scalars('eval/accuracy')] == pytest.approx(evals)
  image = events.Images('mtrl/omega_correlation')[-1]
  assert (image.width, image.height) == (10 * 8, 10 * 8)  # 2 + 8 subtasks, 8 pixels each


@pytest.mark.parametrize('command,flag', [
    ('train', 'coordinator_address'), ('predict', 'follow_links'), ('export', 'platforms'),
    ('weights', 'arch'), ('data', 'manual_dir'), ('experiments', 'seeds'),
    ('analyze', 'max_images'), ('bench', 'torch_python')])
def test_every_command_documents_itself_and_its_flags(command, flag):
  """What `python -m aesthetic_jax.<command> --help` shows: the command's docstring and the
  flags it defines or uses (entry._help_shows registers them for the main module)."""
  from aesthetic_jax.cli import flags as cli_flags  # pylint: disable=g-import-not-at-top
  module = __import__(f'aesthetic_jax.cli.{command}', fromlist=['main'])
  assert module.__doc__.strip() and callable(module.main)
  own = {f.name for f in flags.FLAGS.get_flags_for_module(module.__name__)}
  assert flag in own | set(cli_flags.USED_BY[module.__name__])

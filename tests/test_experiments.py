"""The table configs (one per row of the paper's Tables I-IV and the respective CNNs) and the
experiment runner that trains them and writes our figures next to the paper's."""

import csv
import importlib
import json
import os

import numpy as np
import pytest

import tiny_config
from aesthetic_jax.cli import entry
from aesthetic_jax.cli import experiments as experiments_cli
from aesthetic_jax.core import metrics
from aesthetic_jax.experiments import results, runner, statistics, tables
from aesthetic_jax.run_dir import RunDir
from aesthetic_jax.train import steps
from configs import rows as rows_lib

SYNTHETIC_TAGS = ('sky', 'water', 'portrait', 'floral', 'architecture', 'night', 'macro',
                  'black_and_white')
# Shrinks any row to the tiny synthetic set; 16 images per batch (4 steps per epoch).
TINY = {**tiny_config.OVERRIDES, 'batch_size': 16, 'data.validation_size': 16}


def _module(table):
  return importlib.import_module(f'configs.{table}')


def _configs(table, variant=None):
  """{row name: config} of every row of `table`."""
  return {row.name: rows_lib.row_config(row, variant) for row in _module(table).ROWS}


@pytest.mark.parametrize('table', tables.available())
def test_docstring_has_every_row_command_and_paper_figure(table):
  module = _module(table)
  doc = module.__doc__
  for row in module.ROWS:
    command = (f'python -m aesthetic_jax.main --config=configs/{table}.py:{row.name} '
               f'--workdir=workdir/{table}/{row.name}/seed0')
    assert command in doc, command
    line = next(l for l in doc.splitlines() if l.strip().startswith(row.name + ' '))
    if 'accuracy' in row.paper:
      assert f"{row.paper['accuracy']:.2f} %" in line, line
    if 'semantic_map' in row.paper:
      assert f"{row.paper['semantic_map']:.2f} %" in line, line
  assert f'python -m aesthetic_jax.experiments {table}:demo' in doc


def test_table1_rows_are_the_papers_strategies():
  for variant, num_tags in ((None, 29), ('demo', 8)):
    configs = _configs('table1', variant)
    assert len(configs) == 10
    lam = {name: steps.semantic_weight(c.loss, num_tags) for name, c in configs.items()}
    for delta in (0, 1):
      assert configs[f'lambda0_delta{delta}'].model.architecture == 'stcnn'
      assert lam[f'lambda1m_delta{delta}'] == pytest.approx(1 / num_tags)
      assert lam[f'lambda2m_delta{delta}'] == pytest.approx(2 / num_tags)
      assert lam[f'lambda1_delta{delta}'] == lam[f'lambda1es_delta{delta}'] == 1.0
      assert all(c.data.delta == delta for n, c in configs.items() if n.endswith(str(delta)))
    stopped = {n for n, c in configs.items() if c.loss.semantic_early_stop}
    assert stopped == {'lambda1es_delta0', 'lambda1es_delta1'}
    # Every row holds out the same validation images (the early-stop signal).
    sizes = {c.data.validation_size for c in configs.values()}
    assert len(sizes) == 1 and sizes.pop() > 0
    assert {c.data.name for c in configs.values()} == {
        'synthetic' if variant else 'ava/paper'}


def test_table1_paper_figures():
  paper = {r.name: r.paper['accuracy'] for r in _module('table1').ROWS}
  assert paper == {'lambda0_delta0': 72.19, 'lambda1m_delta0': 76.15, 'lambda2m_delta0': 75.76,
                   'lambda1_delta0': 73.54, 'lambda1es_delta0': 73.43,
                   'lambda0_delta1': 75.13, 'lambda1m_delta1': 75.90, 'lambda2m_delta1': 75.82,
                   'lambda1_delta1': 73.12, 'lambda1es_delta1': 74.28}


def test_table2_rows_are_the_papers_networks():
  configs = _configs('table2')
  assert {n: c.model.architecture for n, c in configs.items() if n.endswith('0')} == {
      'mtcnn1_delta0': 'mtcnn1', 'mtcnn2_delta0': 'mtcnn2', 'mtcnn3_delta0': 'mtcnn3',
      'enhanced_delta0': 'enhanced'}
  for name, config in configs.items():
    lam = steps.semantic_weight(config.loss, 29)
    assert lam == pytest.approx((2 if name.startswith('enhanced') else 1) / 29)
    assert not config.mtrl.enabled and not config.loss.semantic_early_stop
  assert configs['enhanced_delta0'].loss.aux_weight == 1.0
  paper = {r.name: r.paper['accuracy'] for r in _module('table2').ROWS}
  assert paper['enhanced_delta0'] == 76.58 and paper['mtcnn3_delta1'] == 75.37


def test_table3_and_table4_rows():
  rows3 = {r.name: r for r in _module('table3').ROWS}
  assert {n: r.paper['accuracy'] for n, r in rows3.items()} == {
      'alexnet_mtcnn': 76.70, 'alexnet_mtrl': 77.35, 'vgg16_mtcnn': 77.73,
      'vgg16_mtrl': 78.46, 'resnet_mtcnn': 78.56, 'resnet_mtrl': 79.08}
  assert rows3['resnet_mtrl'].paper['semantic_map'] == 67.44
  assert all(r.overrides['mtrl.enabled'] == n.endswith('mtrl') for n, r in rows3.items())
  for name, config in _configs('table3').items():
    assert config.mtrl.enabled == name.endswith('mtrl')
    assert config.model.architecture == 'mtcnn1'
  configs4 = _configs('table4', 'demo')
  assert configs4['mtrl1'].mtrl.enabled and not configs4['mtcnn1'].mtrl.enabled


def test_respective_rows_filter_one_tag():
  ava, demo = _configs('respective'), _configs('respective', 'demo')
  assert {n: c.data.train_tag for n, c in ava.items()} == {
      'landscape': 'Landscape', 'nature': 'Nature', 'still_life': 'Still Life',
      'black_and_white': 'Black and White'}
  assert all(c.model.architecture == 'stcnn' for c in ava.values())
  assert {c.data.train_tag for c in demo.values()} <= set(SYNTHETIC_TAGS)


def test_unknown_row_and_key_are_refused():
  table1 = _module('table1')
  with pytest.raises(ValueError, match='lambda1m_delta0'):
    table1.get_config('lambda3_delta0')
  with pytest.raises(ValueError, match='Name a row'):
    table1.get_config(None)
  config = table1.get_config('lambda1m_delta0:demo')
  with pytest.raises(KeyError, match='optimizer.learnig_rate'):
    rows_lib.apply_overrides(config, {'optimizer.learnig_rate': 0.1})


def test_tables_and_their_baselines():
  assert tables.available() == ('table1', 'table2', 'table3', 'table4', 'table5', 'respective')
  table1, table2 = _module('table1'), _module('table2')
  assert tables.baseline_of(table1, 'lambda2m_delta1') == 'lambda0_delta1'
  assert tables.baseline_of(table1, 'lambda0_delta0') is None
  assert tables.baseline_of(table2, 'enhanced_delta0') == 'mtcnn1_delta0'
  assert tables.baseline_of(_module('table3'), 'vgg16_mtrl') == 'vgg16_mtcnn'
  assert tables.baseline_of(_module('respective'), 'nature') is None
  with pytest.raises(ValueError, match='table1'):
    tables.module('table9')


def test_seeds_get_their_own_runs_and_transfer_rows_their_source_seed():
  row = rows_lib.find_row(_module('table5').ROWS, 'photonet_mtcnn1_ft')
  _, runs = runner.row_configs('table5', row, demo=True, extra={}, seeds=[0, 1], workdir='w')
  assert [(c.seed, r.path) for c, r in runs] == [(0, 'w/photonet_mtcnn1_ft/seed0'),
                                                 (1, 'w/photonet_mtcnn1_ft/seed1')]
  assert [c.model.init_from for c, _ in runs] == ['w/ava_mtcnn1/seed0', 'w/ava_mtcnn1/seed1']
  assert runs[1][1].command == (
      'python -m aesthetic_jax.main --config=configs/table5.py:photonet_mtcnn1_ft:demo '
      '--workdir=w/photonet_mtcnn1_ft/seed1 --config.seed=1 '
      '--config.model.init_from=w/ava_mtcnn1/seed1')


def test_override_parsing():
  assert dict(map(experiments_cli.parse_override, ['batch_size=8', 'data.train_tag=sky',
                                                   'model.fc_features=(4, 2)'])) == {
      'batch_size': 8, 'data.train_tag': 'sky', 'model.fc_features': (4, 2)}


def test_finished_run_is_reused_only_while_its_settings_hold(tmp_path):
  config = _module('table1').get_config('lambda1m_delta0:demo')
  saved = json.loads(config.to_json_best_effort())
  del saved['loss']['aux_weight']  # a key the configs gained after the run
  RunDir(str(tmp_path)).write_result({'config': saved, 'metrics': {'accuracy': 0.7},
                                      'wall_time_s': 1.0})
  run = RunDir(str(tmp_path))
  assert runner._previous_result(run, config)['metrics'] == {'accuracy': 0.7}
  config.optimizer.learning_rate = 0.5
  assert runner._previous_result(run, config) is None
  (tmp_path / 'result.json').write_text('{"config": {"tor')  # torn by an old writer
  assert runner._previous_result(run, config) is None


@pytest.mark.slow
def test_two_seed_table_statistics_recomputed_from_the_runs(tiny_data_dir, tmp_path,
                                                            monkeypatch):
  """Table I's STCNN and MTCNN #1 rows on the tiny set with 2 seeds: results.csv's means,
  spreads, intervals and paired tests agree with the runs' own test_predictions.npz."""
  workdir = tmp_path / 'table1'
  argv = ['table1:demo', f'--workdir={workdir}', f'--data_dir={tiny_data_dir}', '--seeds=2',
          '--rows=lambda0_delta0,lambda1m_delta0'] + [
              f'--set={k}={v}' for k, v in TINY.items() if k != 'data.data_dir']
  assert entry.call(experiments_cli.main, argv) == 0
  with open(workdir / 'results.csv') as f:
    entries = {e['row']: e for e in csv.DictReader(f)}
  assert [entries[r]['paper_accuracy_pct'] for r in ('lambda0_delta0', 'lambda1m_delta0')] == [
      '72.19', '76.15']
  preds = {row: [RunDir(str(workdir / row / f'seed{s}')).read_predictions() for s in (0, 1)]
           for row in entries}
  for row, e in entries.items():
    assert (e['num_seeds'], e['seeds']) == ('2', '0 1')
    accuracies = [metrics.binary_accuracy(p['p_high'], p['label']) for p in preds[row]]
    assert float(e['accuracy_mean']) == pytest.approx(np.mean(accuracies))
    assert float(e['accuracy_std']) == pytest.approx(np.std(accuracies, ddof=1))
    low, high = float(e['accuracy_ci_low']), float(e['accuracy_ci_high'])
    assert low <= np.mean(accuracies) <= high and 0 <= low < high <= 1
    recomputed = statistics.summarize_row(preds[row])
    assert float(e['roc_auc_ci_high']) == pytest.approx(recomputed['roc_auc_ci_high'])
  multi = entries['lambda1m_delta0']
  assert multi['baseline'] == 'lambda0_delta0' and entries['lambda0_delta0']['baseline'] == ''
  compared = statistics.compare_rows(preds['lambda1m_delta0'], preds['lambda0_delta0'])
  assert float(multi['accuracy_delta_vs_baseline']) == pytest.approx(compared['accuracy_delta'])
  assert float(multi['accuracy_p_value']) == pytest.approx(compared['accuracy_p_value'])
  assert 0 < float(multi['accuracy_p_value']) <= 1
  assert entries['lambda0_delta0']['semantic_map_mean'] == ''
  text = (workdir / 'results.md').read_text()
  assert 'How the statistics are computed' in text and '`lambda1m_delta0` | 0 |' in text
  for name in ('training_curves.png', 'per_tag_accuracy.png',
               'conv1_filters_lambda0_delta0_vs_lambda1m_delta0.png',
               'right_lambda1m_delta0_wrong_lambda0_delta0.png'):
    assert os.path.getsize(workdir / 'figures' / name) > 10_000
    assert f'figures/{name}' in text
  # Again: every run is reused, none is trained, and the table is the same.
  monkeypatch.setattr('aesthetic_jax.train.loop.train_and_evaluate',
                      lambda *a, **k: pytest.fail('trained a finished run again'))
  before = (workdir / 'results.csv').read_text()
  assert entry.call(experiments_cli.main, argv + ['--no_figures']) == 0
  assert (workdir / 'results.csv').read_text() == before
  # A changed setting trains afresh: the finished run (checkpoints included) is moved aside,
  # kept, and not resumed under the new settings.
  monkeypatch.undo()
  changed = [a for a in argv if not a.startswith(('--rows', '--seeds'))] + [
      '--rows=lambda0_delta0', '--seeds=1', '--set=optimizer.momentum=0.5', '--no_figures']
  assert entry.call(experiments_cli.main, changed) == 0
  old_run, new_run = (RunDir(str(workdir / 'lambda0_delta0' / name))
                      for name in ('seed0.replaced-1', 'seed0'))
  assert old_run.checkpoint_steps() == new_run.checkpoint_steps() != []
  assert old_run.read_config().optimizer.momentum == 0.9
  assert new_run.read_config().optimizer.momentum == 0.5
  assert new_run.read_result()['note'] == 'the previous run moved to seed0.replaced-1'

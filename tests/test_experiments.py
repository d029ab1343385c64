"""The table configs (one per row of the paper's Tables I-IV and the respective CNNs) and the
experiment runner that trains them and writes our figures next to the paper's."""

import csv
import importlib
import json
import os
import types

import pytest

from aesthetic_jax import experiments, steps
from configs import rows as rows_lib

SYNTHETIC_TAGS = ('sky', 'water', 'portrait', 'floral', 'architecture', 'night', 'macro',
                  'black_and_white')
# Shrinks any row to the tiny synthetic set (64 training, 32 test images) and small nets.
TINY = {'data.name': 'synthetic/tiny', 'input.resize_size': 36, 'input.crop_size': 32,
        'model.conv_features': (8, 8, 8, 8), 'model.fc_features': (16, 12), 'batch_size': 16,
        'eval_batch_size': 16, 'optimizer.schedule': 'constant', 'optimizer.warmup_epochs': 0.0,
        'log_every_steps': 1, 'data.validation_size': 16}


def _module(table):
  return importlib.import_module(f'configs.{table}')


def _configs(table, variant=None):
  """{row name: config} of the rows whose base config exists in this checkout."""
  out = {}
  for row in _module(table).ROWS:
    try:
      out[row.name] = rows_lib.row_config(row, variant)
    except rows_lib.RowNotAvailableError:
      assert table == 'table3', f'{table}:{row.name} must always be available'
  return out


@pytest.mark.parametrize('table', experiments.TABLES)
def test_docstring_has_every_row_command_and_paper_figure(table):
  module = _module(table)
  doc = module.__doc__
  for row in module.ROWS:
    command = (f'python -m aesthetic_jax.main --config=configs/{table}.py:{row.name} '
               f'--workdir=workdir/{table}/{row.name}')
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
  for name, config in _configs('table3').items():  # those whose backbone config exists
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


def test_parse_args_and_overrides():
  args = experiments.parse_args(['table1:demo', '--workdir=w', '--set=batch_size=8',
                                 '--set', "data.train_tag=sky"])
  assert (args.table, args.demo) == ('table1', True)
  assert experiments.parse_args(['table2', '--demo', '--workdir=w']).demo
  assert not experiments.parse_args(['table2', '--workdir=w']).demo
  assert dict(map(experiments.parse_override, args.set)) == {'batch_size': 8,
                                                             'data.train_tag': 'sky'}
  with pytest.raises(SystemExit):
    experiments.parse_args(['table1:full', '--workdir=w'])


def _fake_table(rows):
  return types.SimpleNamespace(TITLE='Fake table', ROWS=tuple(rows), COMPARE=())


def test_missing_base_config_is_reported_not_available(tmp_path, monkeypatch):
  row = rows_lib.Row(name='nothing_ft', label='MTCNN #1, Nothing FT', base='no_such_ft',
                     paper={'accuracy': 70.0})
  monkeypatch.setattr(experiments, 'table_module', lambda table: _fake_table([row]))
  assert experiments.main(['table3', f'--workdir={tmp_path}']) == 0
  text = (tmp_path / 'results.md').read_text()
  assert 'not available: configs/no_such_ft.py does not exist' in text
  with open(tmp_path / 'results.csv') as f:
    (entry,) = list(csv.DictReader(f))
  assert entry['status'] == 'not available' and entry['paper_accuracy_pct'] == '70.0'
  assert entry['accuracy_pct'] == '' and not os.path.exists(tmp_path / 'nothing_ft')


def test_markdown_and_csv_put_ours_next_to_the_papers(tmp_path):
  result = experiments.RowResult(
      row='lambda1m_delta0', label='MTCNN #1, lambda = 1/M, delta = 0', status='ok',
      config_name='configs/table1.py:lambda1m_delta0:demo', overrides={'data.delta': 0.0},
      paper={'accuracy': 76.15, 'semantic_map': 64.89},
      command='python -m aesthetic_jax.main --config=configs/table1.py:lambda1m_delta0:demo',
      metrics={'accuracy': 0.8125, 'semantic_map': 0.5, 'balanced_accuracy': 0.75,
               'roc_auc': 0.9, 'srcc': 0.61234, 'plcc': None, 'num_images': 32},
      settings={'dataset': 'synthetic', 'delta': 0.0, 'train_tag': '', 'epochs': 6, 'seed': 0},
      wall_time_s=95.0)
  text = experiments.markdown('Table I', True, [result], command='CMD', total_wall_s=200.0,
                              environment='ENV')
  row_line = next(l for l in text.splitlines() if l.startswith('| `lambda1m_delta0` | MTCNN'))
  assert ('| 81.25 | 76.15 | 50.00 | 64.89 | 75.00 | 0.900 | 0.612 | — | 95 s | ok |'
          in row_line)
  assert ("Wall time 3.3 min for this command, 95 s summed over the rows' runs (earlier runs "
          'included); ENV.') in text and '`CMD`' in text
  assert '(demo: synthetic data)' in text.splitlines()[0]
  entries = experiments.csv_rows('table1', True, [result])
  experiments.write_csv(str(tmp_path / 'r.csv'), entries)
  with open(tmp_path / 'r.csv') as f:
    (entry,) = list(csv.DictReader(f))
  assert (entry['accuracy_pct'], entry['paper_accuracy_pct']) == ('81.25', '76.15')
  assert (entry['epochs'], entry['seed'], entry['wall_time_s']) == ('6', '0', '95.0')
  assert entry['plcc'] == '' and entry['overrides'] == 'data.delta=0.0'


def test_finished_row_is_reused_only_while_its_settings_hold(tmp_path):
  config = _module('table1').get_config('lambda1m_delta0:demo')
  saved = json.loads(config.to_json_best_effort())
  del saved['loss']['aux_weight']  # a key the configs gained after the run
  with open(tmp_path / 'result.json', 'w') as f:
    json.dump({'config': saved, 'metrics': {'accuracy': 0.7}, 'wall_time_s': 1.0}, f)
  assert experiments._load_previous(str(tmp_path), config)['metrics'] == {'accuracy': 0.7}
  config.optimizer.learning_rate = 0.5
  assert experiments._load_previous(str(tmp_path), config) is None


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
  from aesthetic_jax import datasets
  path = str(tmp_path_factory.mktemp('tfds'))
  datasets.ensure_built('synthetic/tiny', path)
  return path


def test_table1_demo_rows_end_to_end(data_dir, tmp_path, monkeypatch):
  workdir = str(tmp_path / 'table1')
  kwargs = dict(workdir=workdir, demo=True, data_dir=data_dir, epochs=1,
                rows=['lambda0_delta0', 'lambda1m_delta0'], overrides=TINY)
  results = experiments.run_table('table1', **kwargs)
  assert [(r.row, r.status) for r in results] == [('lambda0_delta0', 'ok'),
                                                  ('lambda1m_delta0', 'ok')]
  with open(os.path.join(workdir, 'results.csv')) as f:
    entries = list(csv.DictReader(f))
  assert [e['paper_accuracy_pct'] for e in entries] == ['72.19', '76.15']
  for entry in entries:
    assert 0.0 <= float(entry['accuracy_pct']) <= 100.0
    assert entry['num_test_images'] == '32' and entry['dataset'] == 'synthetic/tiny'
    assert entry['config'].endswith(':demo') and float(entry['wall_time_s']) > 0
  assert entries[0]['semantic_map_pct'] == '' and entries[1]['semantic_map_pct'] != ''
  text = open(os.path.join(workdir, 'results.md')).read()
  for name in ('training_curves.png', 'per_tag_accuracy.png',
               'conv1_filters_lambda0_delta0_vs_lambda1m_delta0.png',
               'right_lambda1m_delta0_wrong_lambda0_delta0.png'):
    assert os.path.getsize(os.path.join(workdir, 'figures', name)) > 10_000
    assert f'figures/{name}' in text
  assert 'failed' not in text
  # Run again: the finished rows are reused, not trained again.
  monkeypatch.setattr('aesthetic_jax.train.train_and_evaluate',
                      lambda *a, **k: pytest.fail('trained a finished row again'))
  again = experiments.run_table('table1', **kwargs, figures=False)
  assert [r.status for r in again] == [experiments.CACHED] * 2
  assert [r.metrics['accuracy'] for r in again] == [r.metrics['accuracy'] for r in results]

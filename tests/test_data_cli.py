"""`python -m aesthetic_jax.data`: build, rebuild refusal, report, and manual-dir errors.

The registered `ava/paper` config is shrunk to the fixture's size (min_tag_images, num_test,
num_tags) so the build goes through exactly the path users take, and is then opened the way
training opens it (aesthetic_jax.data.registry).
"""

import sys

import pytest

import builder_fixtures as fx
from aesthetic_jax.cli import data as data_cli
from aesthetic_jax.cli import entry
from aesthetic_jax.data import registry as datasets
from data_builders.ava import ava


@pytest.fixture
def tiny_paper_config(monkeypatch):
  config = ava.Ava.builder_configs['paper']
  monkeypatch.setattr(config, 'min_tag_images', fx.AVA_MIN_TAG_IMAGES)
  monkeypatch.setattr(config, 'num_test', fx.AVA_NUM_TEST)
  monkeypatch.setattr(config, 'num_tags', len(fx.AVA_KEPT_TAGS))
  return config


def test_build_then_open_then_report(tmp_path, tiny_paper_config, capsys):
  manual = fx.make_ava_manual_dir(tmp_path / 'manual')
  data_dir = tmp_path / 'tfds'
  argv = ['build', 'ava/paper', f'--manual_dir={manual}', f'--data_dir={data_dir}',
          '--workers=1', '--no_progress']
  assert entry.call(data_cli.main, argv) == 0
  out = capsys.readouterr().out
  assert 'ava/paper 1.0.0: test 5, train 6 records in' in out
  assert 'records/s' in out and 'skip_report.json' in out
  assert 'missing_file [train: 1]: 1009' in out  # the summary lists what was skipped
  assert f'--config.data.name=ava/paper --config.data.data_dir={data_dir}' in out
  assert 'tensorflow' not in sys.modules  # built without TensorFlow

  sources, meta = datasets.open_dataset('ava/paper', str(data_dir))
  assert (len(sources['train']), len(sources['test'])) == (6, 5)
  assert meta.tag_names == ('Abstract', 'Landscape', 'Nature') and meta.num_bins == 10
  assert isinstance(sources['test'][0]['image'], bytes)

  assert entry.call(data_cli.main, argv) == 0
  assert 'Already built' in capsys.readouterr().out
  assert entry.call(data_cli.main, ['report', 'ava/paper', f'--data_dir={data_dir}']) == 0
  assert 'truncated [train: 1]: 1006' in capsys.readouterr().out


def test_manual_dir_errors(tmp_path, capsys):
  base = ['build', 'ava/paper', f'--data_dir={tmp_path / "tfds"}']
  assert entry.call(data_cli.main, base) == 2
  assert 'no manual dir given' in capsys.readouterr().err
  assert entry.call(data_cli.main, base + [f'--manual_dir={tmp_path / "nowhere"}']) == 2
  assert f'{tmp_path / "nowhere"} does not exist' in capsys.readouterr().err
  (tmp_path / 'm' / 'images').mkdir(parents=True)
  assert entry.call(data_cli.main, base + [f'--manual_dir={tmp_path / "m"}']) == 2
  err = capsys.readouterr().err
  assert f'{tmp_path / "m" / "AVA.txt"}' in err and f'{tmp_path / "m" / "tags.txt"}' in err
  assert entry.call(data_cli.main, ['report', 'ava/official', f'--data_dir={tmp_path}']) == 2
  assert 'python -m aesthetic_jax.data build ava/official' in capsys.readouterr().err

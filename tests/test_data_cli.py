"""`python -m aesthetic_jax.data`: build, rebuild refusal, --overwrite (a failed rebuild keeps
the old build), report, manual-dir errors, splits without a usable photo, and quiet output.

The registered `ava/paper` config is shrunk to the fixture's size (min_tag_images, num_test,
num_tags) so the build goes through exactly the path users take, and is then opened the way
training opens it (aesthetic_jax.data.registry).
"""

import logging
import os
import shutil
import sys

import pytest

import builder_fixtures as fx
from aesthetic_jax.cli import data as data_cli
from aesthetic_jax.cli import entry
from aesthetic_jax.data import build as build_lib
from aesthetic_jax.data import registry as datasets
from data_builders.ava import ava
from data_builders.common import images
from data_builders.common import skip_report as report_lib


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
  assert 'ava/paper 1.1.0: test 5, train 6 records\n' in out
  assert 'Checked 15 images (11 usable) in ' in out and 'images/s); wrote 11 records.' in out
  assert 'skip_report.json' in out
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


# ------------------------------------------------------------------------------- --overwrite

# The tiny paper split's test ids (splits.paper_split of fx.AVA_SELECTED, 5, seed 0).
TEST_IDS = (1001, 1003, 1004, 1016, 1017)


def _argv(manual, data_dir, *more):
  return ['build', 'ava/paper', f'--manual_dir={manual}', f'--data_dir={data_dir}',
          '--workers=1', '--no_progress', *more]


def _snapshot(folder):
  return {p.relative_to(folder): p.read_bytes() for p in folder.rglob('*') if p.is_file()}


def _leftovers(data_dir):
  """Staging or TFDS incomplete folders anywhere under data_dir."""
  return [os.path.join(d, n) for d, dirs, _ in os.walk(data_dir) for n in dirs
          if n.startswith((build_lib.STAGING_PREFIX, 'incomplete.'))]


@pytest.fixture
def built(tmp_path, tiny_paper_config, capsys):
  """(manual dir, data_dir, version folder) of a finished tiny ava/paper build."""
  manual = fx.make_ava_manual_dir(tmp_path / 'manual')
  data_dir = tmp_path / 'tfds'
  assert entry.call(data_cli.main, _argv(manual, data_dir)) == 0
  capsys.readouterr()
  return manual, data_dir, data_dir / 'ava' / 'paper' / '1.1.0'


def _sizes(data_dir):
  sources, _ = datasets.open_dataset('ava/paper', str(data_dir))
  return {split: len(source) for split, source in sources.items()}


def test_overwrite_replaces_the_build(built, capsys):
  manual, data_dir, version_dir = built
  assert _sizes(data_dir) == {'train': 6, 'test': 5}
  (manual / 'images' / '1020.jpg').unlink()  # a train photo
  assert entry.call(data_cli.main, _argv(manual, data_dir, '--overwrite')) == 0
  assert 'ava/paper 1.1.0: test 5, train 5 records' in capsys.readouterr().out
  assert _sizes(data_dir) == {'train': 5, 'test': 5}
  assert not _leftovers(data_dir)
  assert sorted(os.listdir(version_dir.parent)) == ['1.1.0']


def _assert_old_build_kept(data_dir, version_dir, before):
  assert _snapshot(version_dir) == before  # byte for byte
  assert _sizes(data_dir) == {'train': 6, 'test': 5}
  assert not _leftovers(data_dir)


def test_failed_overwrite_keeps_the_old_build(built, capsys):
  manual, data_dir, version_dir = built
  before = _snapshot(version_dir)
  shutil.rmtree(manual / 'images')
  (manual / 'images').mkdir()
  assert entry.call(data_cli.main, _argv(manual, data_dir, '--overwrite')) == 2
  err = capsys.readouterr().err
  assert f'Nothing was replaced: the previous build at {version_dir} is untouched.' in err
  _assert_old_build_kept(data_dir, version_dir, before)
  failed = version_dir.parent / 'failed-1.1.0' / 'skip_report.json'
  assert failed.exists()
  # `report` shows the build in use, and points at the failed one.
  assert entry.call(data_cli.main, ['report', 'ava/paper', f'--data_dir={data_dir}']) == 0
  out = capsys.readouterr().out
  assert 'test 5, train 6 records' in out and 'A later rebuild failed' in out
  assert str(failed) in out
  # The next good build removes the failed build's report.
  fx.write_images(manual / 'images', {i: row[4] for i, row in fx.AVA_ROWS.items()})
  assert entry.call(data_cli.main, _argv(manual, data_dir, '--overwrite')) == 0
  assert not failed.parent.exists()


def test_overwrite_failing_mid_build_keeps_the_old_build(built, monkeypatch, capsys):
  manual, data_dir, version_dir = built
  before = _snapshot(version_dir)
  calls = []
  prepare = images._prepare_task

  def fail_on_the_third(task, image_size, **kwargs):
    calls.append(task)
    if len(calls) == 3:
      raise OSError(28, 'No space left on device')
    return prepare(task, image_size, **kwargs)

  monkeypatch.setattr(images, '_prepare_task', fail_on_the_third)
  assert entry.call(data_cli.main, _argv(manual, data_dir, '--overwrite')) == 1
  err = capsys.readouterr().err
  assert 'error: building ava/paper failed: [Errno 28] No space left on device' in err
  assert 'the previous build' in err and 'is untouched' in err
  assert len(calls) == 3
  _assert_old_build_kept(data_dir, version_dir, before)


def test_overwrite_failing_to_move_into_place_restores_the_old_build(built, monkeypatch,
                                                                     capsys):
  manual, data_dir, version_dir = built
  before = _snapshot(version_dir)
  rename = os.rename

  def failing_rename(src, dst):
    # Only the new build's move into place (not the move back of the old one).
    if (os.fspath(dst) == str(version_dir) and build_lib.STAGING_PREFIX in os.fspath(src)
        and os.path.basename(os.fspath(src)) == '1.1.0'):
      raise OSError(18, 'Invalid cross-device link')
    return rename(src, dst)

  monkeypatch.setattr(os, 'rename', failing_rename)
  assert entry.call(data_cli.main, _argv(manual, data_dir, '--overwrite')) == 1
  assert 'Invalid cross-device link' in capsys.readouterr().err
  _assert_old_build_kept(data_dir, version_dir, before)


# ----------------------------------------------------------------- splits without a usable photo

def _nest_images(manual):
  os.rename(manual / 'images', manual / 'photos')
  (manual / 'images').mkdir()
  os.rename(manual / 'photos', manual / 'images' / 'images')


def _empty_images(manual):
  shutil.rmtree(manual / 'images')
  (manual / 'images').mkdir()


def _no_test_photo(manual):
  for image_id in TEST_IDS:
    (manual / 'images' / f'{image_id}.jpg').unlink(missing_ok=True)


def _broken_test_photos(manual):
  for image_id in TEST_IDS:
    (manual / 'images' / f'{image_id}.jpg').write_bytes(b'<html>404</html>')


@pytest.mark.parametrize('damage, expected', [
    (_no_test_photo, ['no photo for the test split: none of its 5 ids has a file in {images}',
                      '(first missing: {images}/1001.jpg, {images}/1003.jpg, {images}/1004.jpg)',
                      'train: 9 of 10 found.',
                      'Add photos of test ids (each missing one is listed under missing_file']),
    (_nest_images, ['no photo at all: none of the 15 planned ids (train 10, test 5) has a file',
                    '{images} holds a folder images/ with the photos: move them up one level '
                    '(e.g. mv {images} {images}_outer && mv {images}_outer/images {images}).']),
    (_empty_images, ['no photo at all', '{images} is empty: put the photos there, named '
                     '<id>.jpg.']),
    (_broken_test_photos, ['no usable photo for the test split: all 5 were skipped '
                           '(undecodable 5; e.g. {images}/1001.jpg',
                           'Replace them with readable JPEGs']),
], ids=['no_test_photo', 'images_in_images', 'empty_images', 'broken_test_photos'])
def test_a_split_without_a_usable_photo_is_a_message(tmp_path, tiny_paper_config, capsys,
                                                     damage, expected):
  manual = fx.make_ava_manual_dir(tmp_path / 'manual')
  damage(manual)
  data_dir = tmp_path / 'tfds'
  assert entry.call(data_cli.main, _argv(manual, data_dir)) == 2
  captured = capsys.readouterr()
  err = captured.err
  assert err.startswith('error: ava/paper: ')
  for text in expected:
    assert text.format(images=manual / 'images') in err
  report = data_dir / 'ava' / 'paper' / 'failed-1.1.0' / 'skip_report.json'
  assert f'Skip report of this build (every skipped id, by reason): {report}' in err
  assert report.exists() and err.rstrip().endswith('Nothing was built.')
  assert 'Traceback' not in captured.out + err
  assert not (data_dir / 'ava' / 'paper' / '1.1.0').exists() and not _leftovers(data_dir)
  # The report names the photos it did not find or could not use.
  skipped = report_lib.BuildReport.read(report.parent)
  reason = 'undecodable' if damage is _broken_test_photos else 'missing_file'
  assert set(TEST_IDS) <= set(skipped.ids(reason))
  assert entry.call(data_cli.main, ['report', 'ava/paper', f'--data_dir={data_dir}']) == 2
  assert f'The last build failed; its skip report: {report}' in capsys.readouterr().err


# ------------------------------------------------------------------------------------ output

TFDS_OUTPUT = ('%|', 'Generating splits', 'Shuffling', 'Downloading and preparing',
               'Variant folder', 'downloaded and prepared', 'Generating train examples')


def test_no_progress_prints_only_our_lines(tmp_path, tiny_paper_config, capfd, caplog):
  caplog.set_level(logging.INFO)
  manual = fx.make_ava_manual_dir(tmp_path / 'manual')
  data_dir = tmp_path / 'tfds'
  assert entry.call(data_cli.main, _argv(manual, data_dir)) == 0
  assert entry.call(data_cli.main, _argv(manual, data_dir, '--overwrite')) == 0
  out, err = capfd.readouterr()
  logged = '\n'.join(r.getMessage() for r in caplog.records)
  for text in TFDS_OUTPUT:
    assert text not in out and text not in err and text not in logged, text
  assert out.count('ava/paper 1.1.0: test 5, train 6 records') == 2 and not err
  # With bars: only the builder's own (images per split), none of TFDS's.
  argv = [a for a in _argv(manual, data_dir, '--overwrite') if a != '--no_progress']
  assert entry.call(data_cli.main, argv) == 0
  out, err = capfd.readouterr()
  assert 'ava/paper train' in err and '%|' in err
  for text in TFDS_OUTPUT[1:]:
    assert text not in out and text not in err, text

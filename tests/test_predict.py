"""python -m aesthetic_jax.predict: folders with bad files, CSV/JSON read back, atomic output,
the demo on a really trained model, the benchmark."""

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from absl import app

from aesthetic_jax import Scorer
from aesthetic_jax.cli import entry
from aesthetic_jax.cli import predict
from aesthetic_jax.infer import demo
from scoring_fixtures import TAGS, save_workdir, small_config, trained_workdir, write_images


@pytest.fixture(scope='module')
def workdir(tmp_path_factory):
  path = str(tmp_path_factory.mktemp('predict') / 'run')
  save_workdir(path, small_config())
  return path


@pytest.fixture(scope='module')
def folder(tmp_path_factory):
  """9 good images (JPEG, PNG, greyscale, RGBA; two nested folders) and 4 bad files."""
  root = tmp_path_factory.mktemp('photos')
  write_images(str(root), 5)
  write_images(str(root / 'nested'), 2, fmt='PNG', seed=1)
  deeper = root / 'nested' / 'deeper'
  deeper.mkdir()
  Image.new('L', (30, 50), 90).save(deeper / 'grey.png')
  Image.new('RGBA', (64, 48), (10, 200, 30, 128)).save(deeper / 'alpha.png')
  good = (root / 'img_000.jpg').read_bytes()
  (root / 'corrupt.jpg').write_bytes(good[:len(good) // 2])  # truncated JPEG
  (root / 'notes.txt').write_text('not a photo\n')
  (root / 'empty.jpg').write_bytes(b'')
  (root / 'nested' / 'fake.png').write_bytes(b'\x89PNG\r\n\x1a\n garbage')
  (root / '.hidden.jpg').write_bytes(good)  # hidden files get a row saying so
  return str(root)


BAD = {'corrupt.jpg': 'corrupt', 'notes.txt': 'not an image', 'empty.jpg': 'not an image',
       'fake.png': '', '.hidden.jpg': 'hidden file'}


def _run(args):
  assert entry.call(predict.main, args) == 0


def test_folder_to_csv(workdir, folder, tmp_path):
  out = str(tmp_path / 'scores.csv')
  missing = str(tmp_path / 'missing.jpg')
  _run([f'--workdir={workdir}', folder, missing, f'--output={out}', '--batch_size=8',
        '--no_progress'])
  with open(out, newline='') as f:
    rows = list(csv.DictReader(f))
  names = [os.path.relpath(r['path'], folder) for r in rows]
  assert names[-1] == os.path.relpath(missing, folder)
  # Arguments in order; a folder's own files (sorted) before its subfolders' (recursively).
  assert names[:-1] == ['.hidden.jpg', 'corrupt.jpg', 'empty.jpg'] + [f'img_{i:03d}.jpg' for i in range(5)] + [
      'notes.txt', 'nested/fake.png', 'nested/img_000.png', 'nested/img_001.png',
      'nested/deeper/alpha.png', 'nested/deeper/grey.png']
  by_name = dict(zip(names, rows))
  for name, reason in BAD.items():
    row = next(r for n, r in by_name.items() if n.endswith(name))
    assert row['error'] and reason in row['error'] and row['p_high'] == ''
  assert by_name[os.path.relpath(missing, folder)]['error'] == 'no such file or folder'
  good = [(n, r) for n, r in by_name.items() if not r['error']]
  assert len(good) == 9
  assert list(rows[0]) == ['path', 'p_high', 'predicted_class', 'mean_score', 'tag_1',
                           'p_tag_1', 'tag_2', 'p_tag_2', 'tag_3', 'p_tag_3', 'error']
  # The same numbers as the Python API on the same files.
  scores = Scorer.from_workdir(workdir).score([r['path'] for _, r in good])
  np.testing.assert_allclose([float(r['p_high']) for _, r in good], scores.p_high, atol=2e-6)
  np.testing.assert_allclose([float(r['mean_score']) for _, r in good], scores.mean_score,
                             atol=2e-6)
  for (_, row), tags in zip(good, scores.top_tags(3)):
    assert row['predicted_class'] in ('low', 'high')
    assert [row[f'tag_{k}'] for k in (1, 2, 3)] == [t for t, _ in tags]
    probs = [float(row[f'p_tag_{k}']) for k in (1, 2, 3)]
    assert probs == sorted(probs, reverse=True)
    assert {row[f'tag_{k}'] for k in (1, 2, 3)} <= set(TAGS)


def test_folder_to_json(workdir, folder, tmp_path):
  out = str(tmp_path / 'scores.json')
  _run([f'--checkpoint={os.path.join(workdir, "checkpoints", "3")}', folder,
        f'--output={out}', '--top_tags=2', '--no_progress'])
  with open(out) as f:
    table = json.load(f)
  assert table['model']['step'] == 3 and table['model']['tag_names'] == list(TAGS)
  assert table['model']['score_range'] == [1, 10]
  images = table['images']
  assert len(images) == 14
  errors = [r for r in images if r['error']]
  assert len(errors) == 5 and all('p_high' not in r for r in errors)
  for record in (r for r in images if not r['error']):
    assert 0 <= record['p_high'] <= 1 and record['predicted_class'] in ('low', 'high')
    assert len(record['top_tags']) == 2 and set(record['top_tags'][0]) == {'tag', 'probability'}
    assert len(record['score_distribution']) == 10
    assert record['mean_score'] == pytest.approx(
        np.dot(record['score_distribution'], np.arange(1, 11)), rel=1e-5)


def test_interrupted_run_leaves_no_file(workdir, folder, tmp_path, monkeypatch):
  out = tmp_path / 'scores.csv'
  out.write_text('the previous complete table\n')

  def interrupted(self, rows):
    raise KeyboardInterrupt
  monkeypatch.setattr(csv.DictWriter, 'writerows', interrupted)
  with pytest.raises(KeyboardInterrupt):
    entry.call(predict.main, [f'--workdir={workdir}', folder, f'--output={out}',
                              '--no_progress'])
  assert out.read_text() == 'the previous complete table\n'
  assert os.listdir(tmp_path) == ['scores.csv']  # no temporary file left behind


def test_refuses_unknown_output_format(workdir, folder):
  with pytest.raises(app.UsageError, match='--output must end in .csv or .json'):
    entry.call(predict.main, [f'--workdir={workdir}', folder, '--output=scores.xlsx'])


def test_prints_a_table_without_output(workdir, folder, capsys):
  _run([f'--workdir={workdir}', os.path.join(folder, 'img_000.jpg'),
        os.path.join(folder, 'notes.txt'), '--no_progress'])
  out, err = capsys.readouterr()
  lines = out.splitlines()
  assert lines[0].split()[:3] == ['path', 'P(high)', 'class']
  assert 'ERROR: not an image' in lines[2]
  assert 'Scored 1 image(s), 1 error(s)' in err


def test_demo_scores_the_test_split_as_training_evaluated_it(tiny_data_dir, tmp_path_factory,
                                                             capsys):
  workdir = trained_workdir(tmp_path_factory, tiny_data_dir)
  capsys.readouterr()  # what training printed
  _run([f'--workdir={workdir}', '--demo_from_test_split=5', '--no_progress',
        f'--output={os.path.join(workdir, "demo.csv")}'])
  out = capsys.readouterr().out
  assert len(out.splitlines()) == 6 and 'rated mean' in out.splitlines()[0]
  with open(os.path.join(workdir, 'demo.csv'), newline='') as f:
    rows = list(csv.DictReader(f))
  assert len(rows) == 5 and not any(r['error'] for r in rows)
  # The exported files score exactly as the training run's own evaluation scored them.
  preds = np.load(os.path.join(workdir, 'test_predictions.npz'))
  index = {int(i): k for k, i in enumerate(preds['image_id'])}
  for row in rows:
    k = index[int(os.path.basename(row['path'])[len('test_'):-len('.jpg')])]
    assert float(row['p_high']) == pytest.approx(float(preds['p_high'][k]), abs=2e-6)
    assert float(row['mean_score']) == pytest.approx(float(preds['predicted_mean_score'][k]),
                                                     abs=1e-5)


def test_benchmark(workdir):
  scorer = Scorer.from_workdir(workdir)
  result = demo.benchmark(scorer, count=12, size=(120, 90), workers=2)
  assert result['images'] == 12 and result['image_size'] == '120x90 JPEG'
  assert result['batch_size'] == 16 and result['workers'] == 2
  # Decoding alone is part of scoring (which also runs the model), so it is not slower.
  assert result['decode_only_images_per_s'] > 0.5 * result['images_per_s'] > 0


# ---------------------------------------------------------------------------------------------
# Hostile input (issue: scoring never loses finished work, never hangs, has a memory bound).

def _png_header(width: int, height: int) -> bytes:
  """A PNG that claims width x height RGB pixels and holds none (a few dozen bytes)."""
  import struct  # pylint: disable=g-import-not-at-top
  import zlib  # pylint: disable=g-import-not-at-top

  def chunk(kind, data):
    return (struct.pack('>I', len(data)) + kind + data
            + struct.pack('>I', zlib.crc32(kind + data) & 0xFFFFFFFF))
  return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', width, height, 8, 2, 0,
                                                             0, 0)) + chunk(b'IEND', b''))


def test_odd_file_names_and_kinds_each_get_one_row(workdir, tmp_path):
  """A name that is not UTF-8, a FIFO, a link to /dev/zero, a link leaving the folder, a
  hidden file: every one gets its row, nothing hangs, and CSV and JSON are written."""
  folder = tmp_path / 'odd'
  write_images(str(folder), 1)
  good = (folder / 'img_000.jpg').read_bytes()
  with open(os.path.join(os.fsencode(folder), b'caf\xe9.jpg'), 'wb') as f:
    f.write(good)
  os.mkfifo(folder / 'fifo.jpg')
  os.symlink('/dev/zero', folder / 'zero.jpg')
  (tmp_path / 'outside.jpg').write_bytes(good)
  os.symlink(tmp_path / 'outside.jpg', folder / 'outside_link.jpg')
  (folder / '.hidden.jpg').write_bytes(good)
  for out in ('scores.csv', 'scores.json'):
    _run([f'--workdir={workdir}', str(folder), f'--output={tmp_path / out}', '--no_progress'])
  with open(tmp_path / 'scores.csv', newline='', encoding='utf-8') as f:
    rows = {os.path.basename(r['path']): r for r in csv.DictReader(f)}
  assert set(rows) == {'.hidden.jpg', 'caf\\xe9.jpg', 'fifo.jpg', 'img_000.jpg',
                       'outside_link.jpg', 'zero.jpg'}
  assert rows['caf\\xe9.jpg']['error'] == '' and rows['caf\\xe9.jpg']['p_high']
  assert rows['caf\\xe9.jpg']['p_high'] == rows['img_000.jpg']['p_high']  # the same bytes
  assert rows['fifo.jpg']['error'] == 'not a regular file: fifo'
  assert rows['zero.jpg']['error'] == rows['outside_link.jpg']['error'] == (
      'link leaves the folder (use --follow_links)')
  assert rows['.hidden.jpg']['error'] == 'hidden file (skipped)'
  with open(tmp_path / 'scores.json', encoding='utf-8') as f:
    images = json.load(f)['images']
  assert len(images) == 6 and any(r['path'].endswith('caf\\xe9.jpg') for r in images)
  # Followed, the link out is scored and the one to /dev/zero refused without being read.
  _run([f'--workdir={workdir}', str(folder), f'--output={tmp_path / "followed.csv"}',
        '--follow_links', '--no_progress'])
  with open(tmp_path / 'followed.csv', newline='') as f:
    rows = {os.path.basename(r['path']): r for r in csv.DictReader(f)}
  assert rows['outside_link.jpg']['p_high'] == rows['img_000.jpg']['p_high']
  assert rows['zero.jpg']['error'] == 'not a regular file: character device'


def _peak_rss_mb_of_scoring(workdir, folder, output) -> int:
  """Peak resident memory (MB) of a fresh process that scores `folder` on 8 threads."""
  code = (
      'import resource\n'
      'from aesthetic_jax.cli import entry, predict\n'
      f'entry.call(predict.main, ["--workdir={workdir}", "{folder}", "--workers=8",\n'
      f'                          "--output={output}", "--no_progress"])\n'
      'print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)\n')
  result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          timeout=180, cwd=os.path.dirname(os.path.dirname(__file__)))
  assert result.returncode == 0, result.stderr[-2000:]
  return int(result.stdout.split()[-1])


def test_huge_images_are_refused_within_a_memory_bound(workdir, tmp_path):
  """Eight PNGs claiming 13000 x 13000 pixels, scored on 8 threads in a fresh process:
  refused from their headers; the process's peak memory is that of scoring one ordinary
  image (decoded, one would take 500 MB, eight 4 GB)."""
  normal, huge = tmp_path / 'normal', tmp_path / 'huge'
  write_images(str(normal), 1)
  write_images(str(huge), 1)
  for i in range(8):
    (huge / f'huge_{i}.png').write_bytes(_png_header(13000, 13000))
  baseline = _peak_rss_mb_of_scoring(workdir, normal, tmp_path / 'normal.csv')
  peak = _peak_rss_mb_of_scoring(workdir, huge, tmp_path / 'huge.csv')
  assert peak - baseline < 200, (peak, baseline)
  with open(tmp_path / 'huge.csv', newline='') as f:
    rows = list(csv.DictReader(f))
  assert [r['error'] for r in rows[:8]] == ['too large: 13000 x 13000 pixels > 67108864'] * 8
  assert rows[8]['p_high'] and not rows[8]['error']


def test_images_are_scored_as_a_viewer_shows_them(workdir, tmp_path):
  """A 16-bit grayscale PNG scores as its 8-bit version; a photo stored sideways with an
  EXIF orientation scores as the upright photo."""
  scorer = Scorer.from_workdir(workdir)
  rng = np.random.default_rng(0)
  grey8 = np.kron(rng.integers(0, 256, (12, 16)), np.ones((8, 8))).astype(np.uint8)
  Image.fromarray(grey8).save(tmp_path / 'grey8.png')
  Image.fromarray(grey8.astype(np.uint16) * 257).save(tmp_path / 'grey16.png')
  upright = np.kron(rng.integers(0, 256, (6, 8, 3)), np.ones((16, 16, 1))).astype(np.uint8)
  Image.fromarray(upright).save(tmp_path / 'upright.png')
  exif = Image.Exif()
  exif[0x0112] = 6  # stored rotated 90 degrees anticlockwise: the viewer turns it clockwise
  Image.fromarray(np.rot90(upright)).save(tmp_path / 'sideways.png', exif=exif.tobytes())
  scores = scorer.score([str(tmp_path / n) for n in ('grey8.png', 'grey16.png', 'upright.png',
                                                       'sideways.png')])
  np.testing.assert_array_equal(scorer.load_image(str(tmp_path / 'grey16.png')),
                                scorer.load_image(str(tmp_path / 'grey8.png')))
  np.testing.assert_array_equal(scorer.load_image(str(tmp_path / 'sideways.png')),
                                scorer.load_image(str(tmp_path / 'upright.png')))
  assert scores.p_high[0] == scores.p_high[1] and scores.p_high[2] == scores.p_high[3]


def test_outputs_get_ordinary_permissions(workdir, folder, tmp_path):
  previous = os.umask(0o022)
  try:
    out = tmp_path / 'scores.csv'
    _run([f'--workdir={workdir}', os.path.join(folder, 'img_000.jpg'), f'--output={out}',
          '--no_progress'])
    assert oct(out.stat().st_mode & 0o777) == oct(0o644)
    out.chmod(0o664)
    os.umask(0o002)
    _run([f'--workdir={workdir}', os.path.join(folder, 'img_000.jpg'), f'--output={out}',
          '--no_progress'])
    assert oct(out.stat().st_mode & 0o777) == oct(0o664)  # an overwrite keeps 0664 under 002
  finally:
    os.umask(previous)

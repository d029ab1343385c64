"""AVA (Murray et al., CVPR 2012) as a TFDS dataset, with the splits of Kao et al. (TIP 2017).

Build (no TensorFlow needed; array_record files):

  python -m aesthetic_jax.data build ava/paper --manual_dir=DIR --data_dir=DIR

Configs: `paper` (the paper's tag selection and random split, method.md section 1),
`official` (test = aesthetics_image_lists/generic_test.jpgl), `paper_256` /
`official_256`, the same records with images pre-warped to 256x256 (JPEG quality 95), and
`paper_raw256` / `official_raw256`, pre-warped to 256x256 and stored as raw uint8 pixels
(196,608 bytes per image before array_record's zstd; nothing to decode when training, and
bit-identical to what training computes from the original file).
Records follow data_builders.common, plus `tag_ids` (int32 (2,), raw, 0 = none) and
`challenge_id` (int32). Labels are not stored: the delta rule is applied when reading.
Every skipped or converted input is listed in `skip_report.json` in the built folder.
"""

import dataclasses
import os

import numpy as np
import tensorflow_datasets as tfds

from data_builders.common import builder, images, manual_dir, records, splits
from data_builders.ava import metadata
from data_builders.common import skip_report as report_lib

NUM_PAPER_TAGS = 29  # M on AVA (Kao et al., TIP 2017), what the rule gives on AVA.txt

_DESCRIPTION_OF = {
    metadata.AVA_TXT: 'the ratings file of the AVA release',
    metadata.TAGS_TXT: 'semantic tag id -> name',
    metadata.IMAGES_DIR + '/': 'the photos, named <image_id>.jpg',
}

MANUAL_DOWNLOAD_INSTRUCTIONS = """\
AVA's images cannot be redistributed: get your own copy of the AVA release (Murray et al.,
CVPR 2012) and its photos, and arrange them in one folder (the --manual_dir):

  AVA.txt                      ratings, tags and challenge of every image
  tags.txt                     semantic tag id -> name
  challenges.txt               challenge id -> name (optional: used to check AVA.txt)
  images/<image_id>.jpg        the photos (dpchallenge.com/image.php?IMAGE_ID=<image_id>)
  aesthetics_image_lists/generic_test.jpgl   only for the `official` configs

The public copies of AVA.txt are git blob c6b2adb67101397ff9e9ffac773dc43e2e33aed9
(`git hash-object AVA.txt` prints it). Missing or broken photos are skipped and listed in
skip_report.json; they do not stop the build unless a split gets no photo at all.
"""


@dataclasses.dataclass(eq=False)
class AvaConfig(tfds.core.BuilderConfig):
  """How to split and store AVA.

  split_rule: 'paper' (tags on more than min_tag_images images; num_test random test images
    of those carrying a kept tag, drawn with split_seed) or 'official' (generic_test.jpgl).
  image_size: pre-warp every image to image_size x image_size; 0 keeps the originals.
  raw: store the pre-warped images as uint8 (image_size, image_size, 3) pixels (needs
    image_size) instead of JPEG quality 95.
  num_tags: the number of tags the rule must keep (the records' `tags` length; a feature's
    shape is fixed before AVA.txt is read). The build stops if the rule keeps another number.
  """
  split_rule: str = 'paper'
  image_size: int = 0
  min_tag_images: int = metadata.MIN_TAG_IMAGES
  num_test: int = metadata.NUM_TEST
  split_seed: int = metadata.SPLIT_SEED
  num_tags: int = NUM_PAPER_TAGS
  raw: bool = False


def _configs():
  paper = ('The paper\'s split (Kao et al., TIP 2017): tags on more than 3000 images, images '
           'with a kept tag, a seed-0 random 20,000 test.')
  official = 'AVA\'s own split: test = generic_test.jpgl, train = every other image.'
  warped = ' Images pre-warped to 256x256 (JPEG quality 95).'
  raw = (' Images pre-warped to 256x256, stored as raw uint8 pixels (no decode when '
         'training; exactly the pixels training computes from the originals).')
  return [
      AvaConfig(name='paper', description=paper),
      AvaConfig(name='official', split_rule='official', description=official),
      AvaConfig(name='paper_256', image_size=256, description=paper + warped),
      AvaConfig(name='official_256', split_rule='official', image_size=256,
                description=official + warped),
      AvaConfig(name='paper_raw256', image_size=256, raw=True, description=paper + raw),
      AvaConfig(name='official_raw256', split_rule='official', image_size=256, raw=True,
                description=official + raw),
  ]


class Ava(builder.SkipReportMixin, tfds.core.GeneratorBasedBuilder):
  """AVA: 255k dpchallenge.com photos with 10-bin vote histograms and semantic tags."""

  VERSION = tfds.core.Version('1.1.0')
  RELEASE_NOTES = {
      '1.0.0': 'Initial release: paper/official splits, original or 256x256 pre-warped '
               'images, skip report.',
      '1.1.0': 'Images stored as a viewer shows them (aesthetic_jax.data.image_io): EXIF '
               'orientation applied (reason exif_rotated), 16-bit images scaled instead of '
               'clipped to white, transparency on white. A split with no usable photo stops '
               'the build with a message. Later, without a version change (the records of '
               'the existing configs are unchanged): configs paper_raw256 and '
               'official_raw256, images pre-warped to 256x256 and stored as raw uint8 '
               'pixels (feature image: Tensor uint8 (256, 256, 3), plus image_shape).',
  }
  BUILDER_CONFIGS = _configs()
  MANUAL_DOWNLOAD_INSTRUCTIONS = MANUAL_DOWNLOAD_INSTRUCTIONS

  def _info(self) -> tfds.core.DatasetInfo:
    config = self.builder_config
    if config.raw and not config.image_size:
      raise ValueError(f'ava/{config.name}: raw=True needs an image_size (raw pixels have a '
                       'fixed shape).')
    features = records.record_features(
        num_bins=metadata.NUM_BINS, num_tags=config.num_tags,
        raw_image_size=config.image_size if config.raw else 0,
        extra={'tag_ids': tfds.features.Tensor(shape=(2,), dtype=np.int32),
               'challenge_id': np.int32})
    return self.dataset_info_from_configs(
        features=features, homepage='https://www.dpchallenge.com',
        metadata=tfds.core.MetadataDict())

  def check_manual_dir(self, path) -> str:
    """The absolute `path` if it holds what this config reads; else ManualDirError."""
    expected = dict(_DESCRIPTION_OF)
    if self.builder_config.split_rule == 'official':
      expected[metadata.OFFICIAL_TEST_LIST] = 'the official test list'
    return manual_dir.require(path, expected, dataset=f'ava/{self.builder_config.name}',
                              instructions=MANUAL_DOWNLOAD_INSTRUCTIONS)

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    config = self.builder_config
    root = self.check_manual_dir(dl_manager.manual_dir)
    report = report_lib.BuildReport(f'ava/{config.name}')
    self.last_report = report  # a failed build's report is written too (aesthetic_jax.data)
    table, num_lines, tag_names = metadata.read_manual_dir(root, report)
    selection = metadata.select(table, tag_names, config.min_tag_images)
    if len(selection.tag_ids) != config.num_tags:
      raise manual_dir.ManualDataError(
          f'ava/{config.name}: the tag rule (tags on more than {config.min_tag_images} '
          f'images) kept {len(selection.tag_ids)} tags, but config {config.name!r} declares '
          f'num_tags={config.num_tags}.\nCheck that {root}/AVA.txt is the public release '
          '(the dataset README gives its git hash).')
    if config.split_rule == 'paper':
      train_ids, test_ids = splits.paper_split(
          table.image_id[selection.row_mask], config.num_test, config.split_seed)
    else:
      test_list = metadata.read_id_list(os.path.join(root, metadata.OFFICIAL_TEST_LIST))
      train_ids, test_ids = metadata.official_split(table.image_id, test_list, report)
    report.counts.update(ava_txt_lines=num_lines, valid_rows=len(table),
                         with_kept_tag=int(selection.row_mask.sum()),
                         planned_train=len(train_ids), planned_test=len(test_ids))
    self.info.metadata.update(records.dataset_metadata(
        tag_names=selection.tag_names, tag_ids=selection.tag_ids,
        score_min=metadata.SCORE_MIN, score_max=metadata.SCORE_MAX,
        label_threshold=metadata.LABEL_THRESHOLD, split_rule=config.split_rule,
        image_size=config.image_size, min_tag_images=config.min_tag_images,
        num_test=config.num_test, split_seed=config.split_seed,
        tag_counts={str(t): n for t, n in selection.tag_counts.items()}))
    rows = _RowLookup(table, selection.tag_ids)
    image_dir = os.path.join(root, metadata.IMAGES_DIR)
    images.check_image_files(image_dir, {'train': train_ids, 'test': test_ids}, report,
                             dataset=report.dataset)
    return {split: self._generate_examples(rows, ids, image_dir, split)
            for split, ids in (('train', train_ids), ('test', test_ids))}

  def _generate_examples(self, rows: '_RowLookup', image_ids: np.ndarray, image_dir: str,
                         split: str):
    tasks = [(int(i), os.path.join(image_dir, f'{i}.jpg')) for i in image_ids]
    label = f'ava/{self.builder_config.name} {split}' if self._progress else None
    yield from images.generate_examples(
        tasks, rows.example, split=split, image_size=self.builder_config.image_size or None,
        pool=self.pool, report=self.last_report, progress=label,
        raw_pixels=self.builder_config.raw)


class _RowLookup:
  """image id -> the record's non-image fields."""

  def __init__(self, table: metadata.AvaTable, kept_tags: list[int]):
    self._table = table
    self._row = {int(i): n for n, i in enumerate(table.image_id)}
    self._tags = metadata.multi_hot(table.tag_ids, kept_tags)
    self._mean = table.mean_score
    self._num_votes = table.num_votes

  def example(self, image_id: int) -> dict:
    n = self._row[image_id]
    return {
        'image_id': image_id,
        'votes': self._table.votes[n],
        'mean_score': self._mean[n],
        'num_votes': self._num_votes[n],
        'tags': self._tags[n],
        'tag_ids': self._table.tag_ids[n],
        'challenge_id': self._table.challenge_id[n],
    }

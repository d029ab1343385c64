"""Photo.net (Datta et al., ECCV 2006) as a TFDS dataset, split as in Kao et al. (TIP 2017).

Build (no TensorFlow needed; array_record files):

  python -m aesthetic_jax.data build photonet --manual_dir=DIR --data_dir=DIR

Configs: `paper` (default; originals) and `paper_256` (images pre-warped to 256x256, JPEG
quality 95). A fixed-seed random 3,000 of the photos whose file exists are test, the rest
train. Records follow data_builders.common with 7 vote bins and no tags (the semantic head
is absent or masked when training on Photo.net). mean_score is the file's stated mean.
Every skipped, converted or defective input is listed in `skip_report.json`.
"""

import dataclasses
import os

import numpy as np
import tensorflow_datasets as tfds

from data_builders.common import builder, images, manual_dir, records, splits
from data_builders.common import skip_report as report_lib
from data_builders.photonet import metadata

MANUAL_DOWNLOAD_INSTRUCTIONS = """\
Photo.net's photos cannot be redistributed: gather your own copy and arrange one folder (the
--manual_dir) as:

  photonet_dataset.txt         Datta et al.'s ratings file (20,278 lines, 12 columns)
  images/<photo_id>.jpg        the photos that are still available (~17k)

Photos without a file are left out before the split (and listed in skip_report.json);
broken ones are skipped and listed too.
"""


@dataclasses.dataclass(eq=False)
class PhotonetConfig(tfds.core.BuilderConfig):
  """image_size: pre-warp to image_size x image_size (0 keeps the originals).

  num_test random photos (drawn with split_seed among those with a file) are test.
  """
  image_size: int = 0
  num_test: int = metadata.NUM_TEST
  split_seed: int = metadata.SPLIT_SEED
  raw: bool = False  # store the pre-warped images as raw uint8 pixels (as AVA's *_raw256)


class Photonet(builder.SkipReportMixin, tfds.core.GeneratorBasedBuilder):
  """Photo.net: ~20k photos rated 1..7 by at least 10 users; aesthetic labels only."""

  VERSION = tfds.core.Version('1.1.0')
  RELEASE_NOTES = {
      '1.0.0': 'Initial release: the paper\'s random 3,000 test split, original or 256x256 '
               'pre-warped images, skip report.',
      '1.1.0': 'Images stored as a viewer shows them (aesthetic_jax.data.image_io): EXIF '
               'orientation applied (reason exif_rotated), 16-bit images scaled instead of '
               'clipped to white, transparency on white. Too few photos for the split, or a '
               'split with no usable photo, stops the build with a message. New config '
               'paper_raw256 (the existing ones are unchanged): images pre-warped to 256x256 '
               'and stored as raw uint8 pixels.',
  }
  BUILDER_CONFIGS = [
      PhotonetConfig(name='paper', description='A seed-0 random 3,000 test, the rest train.'),
      PhotonetConfig(name='paper_256', image_size=256,
                     description='As `paper`, images pre-warped to 256x256 (JPEG q95).'),
      PhotonetConfig(name='paper_raw256', image_size=256, raw=True,
                     description='As `paper`, images pre-warped to 256x256, stored as raw '
                                 'uint8 pixels.'),
  ]
  MANUAL_DOWNLOAD_INSTRUCTIONS = MANUAL_DOWNLOAD_INSTRUCTIONS

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        features=records.record_features(
            num_bins=metadata.NUM_BINS, num_tags=0,
            raw_image_size=self.builder_config.image_size if self.builder_config.raw else 0),
        homepage='https://www.photo.net', metadata=tfds.core.MetadataDict())

  def check_manual_dir(self, path) -> str:
    """The absolute `path` if it holds what the build reads; else ManualDirError."""
    return manual_dir.require(
        path, {metadata.DATASET_TXT: "Datta et al.'s ratings file",
               metadata.IMAGES_DIR + '/': 'the photos, named <photo_id>.jpg'},
        dataset=f'photonet/{self.builder_config.name}',
        instructions=MANUAL_DOWNLOAD_INSTRUCTIONS)

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    config = self.builder_config
    root = self.check_manual_dir(dl_manager.manual_dir)
    report = report_lib.BuildReport(f'photonet/{config.name}')
    self.last_report = report  # a failed build's report is written too (aesthetic_jax.data)
    table, num_lines = metadata.read_dataset_txt(root, report)
    has_file = metadata.available(root, table.image_id)
    for photo_id in table.image_id[~has_file]:
      report.add(images.MISSING, report_lib.SKIPPED, int(photo_id))
    _check_enough_photos(root, int(has_file.sum()), len(table), config.num_test,
                         report.dataset)
    train_ids, test_ids = splits.paper_split(table.image_id[has_file], config.num_test,
                                                   config.split_seed)
    report.counts.update(dataset_txt_lines=num_lines, valid_rows=len(table),
                         with_file=int(has_file.sum()), planned_train=len(train_ids),
                         planned_test=len(test_ids))
    self.info.metadata.update(records.dataset_metadata(
        tag_names=[], tag_ids=[], score_min=metadata.SCORE_MIN, score_max=metadata.SCORE_MAX,
        label_threshold=metadata.LABEL_THRESHOLD, image_size=config.image_size,
        num_test=config.num_test, split_seed=config.split_seed,
        mean_score_source='stated mean (column 4)'))
    row = {int(i): n for n, i in enumerate(table.image_id)}

    def example(photo_id: int) -> dict:
      n = row[photo_id]
      return {'image_id': photo_id, 'votes': table.votes[n], 'mean_score': table.mean_score[n],
              'num_votes': table.num_votes[n]}

    return {split: self._generate_examples(root, ids, example, split)
            for split, ids in (('train', train_ids), ('test', test_ids))}

  def _generate_examples(self, root: str, photo_ids: np.ndarray, example, split: str):
    tasks = [(int(i), metadata.image_path(root, i)) for i in photo_ids]
    label = f'photonet/{self.builder_config.name} {split}' if self._progress else None
    yield from images.generate_examples(
        tasks, example, split=split, image_size=self.builder_config.image_size or None,
        pool=self.pool, report=self.last_report, progress=label,
        raw_pixels=self.builder_config.raw)


def _check_enough_photos(root: str, num_with_file: int, num_rows: int, num_test: int,
                         dataset: str) -> None:
  """Stops the build (NoUsableImagesError) before the split if it would leave train empty."""
  if num_with_file > num_test:
    return
  image_dir = os.path.join(root, metadata.IMAGES_DIR)
  hint = images.image_dir_hint(image_dir) or (
      f'Add photos to {image_dir}, named <photo_id>.jpg (each missing one is listed under '
      f'{images.MISSING} in the skip report).')
  raise images.NoUsableImagesError(
      f'{dataset}: too few photos for the split: {num_with_file:,} of the {num_rows:,} photos '
      f'of {metadata.DATASET_TXT} have a file in {image_dir}, and the test split alone takes '
      f'{num_test:,}.\n{hint}')

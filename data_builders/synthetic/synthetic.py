"""SyntheticAesthetics: an AVA-shaped synthetic dataset generated from a seed, with no files.

The embedded default dataset of aesthetic_jax (a demo and test bed, NOT AVA). It builds
itself on first use:

  from aesthetic_jax.data import registry
  registry.ensure_built('synthetic', data_dir)        # config 'small' (default)
  registry.ensure_built('synthetic/tiny', data_dir)   # 64 train / 32 test, for tests

Records follow data_builders.common: 10 vote bins (scores 1..10) and M = 8 tags. Every
record is a pure function of (config seed, split, index); see README.md for the rules.
"""

import dataclasses
import io

import numpy as np
import tensorflow_datasets as tfds
from PIL import Image

from data_builders.common import records
from data_builders.synthetic import quality, render

DESCRIPTION = (
    'SYNTHETIC data, not AVA: procedurally drawn pictures with AVA-shaped records (10-bin '
    'vote histograms over scores 1..10, mean scores, 0-2 of 8 semantic tags), generated '
    'from a seed as a demo and test bed for aesthetic_jax. Tags are visible in the pixels; '
    'each picture\'s true quality is a tag-dependent function of its blur, exposure, noise, '
    'composition and saturation, so semantics help judge aesthetics (Kao, He and Huang, IEEE '
    'TIP 2017). Results on it say nothing about real photographs.')

CITATION = """\
@article{kao2017deep,
  title={Deep Aesthetic Quality Assessment With Semantic Information},
  author={Kao, Yueying and He, Ran and Huang, Kaiqi},
  journal={IEEE Transactions on Image Processing},
  volume={26},
  number={3},
  pages={1482--1495},
  year={2017}
}"""

SPLITS = ('train', 'test')
JPEG_QUALITY = 92
# image_id = split offset + index, so ids are unique across splits.
_ID_OFFSET = {'train': 1, 'test': 1_000_001}


@dataclasses.dataclass(eq=False)
class SyntheticConfig(tfds.core.BuilderConfig):
  """num_train/num_test photos of image_size x image_size, all derived from `seed`."""
  num_train: int = 3000
  num_test: int = 800
  image_size: int = 96
  seed: int = 0

  def num_examples(self, split: str) -> int:
    return {'train': self.num_train, 'test': self.num_test}[split]


def example_rngs(seed: int, split: str, index: int):
  """Independent generators for the annotation and the pixels of one photo.

  Keyed by (seed, split, index) rather than drawn in sequence, so any photo can be made
  (or its labels computed without rendering) on its own, in any order.
  """
  key = [int(seed), SPLITS.index(split), int(index)]
  return np.random.default_rng(key + [0]), np.random.default_rng(key + [1])


def annotate(config: SyntheticConfig, split: str, index: int) -> quality.Annotation:
  """Tags, factors, latent quality and votes of photo `index` of `split` (no rendering)."""
  return quality.sample_annotation(example_rngs(config.seed, split, index)[0])


def encode_jpeg(image: np.ndarray) -> bytes:
  buffer = io.BytesIO()
  Image.fromarray(image, 'RGB').save(buffer, format='JPEG', quality=JPEG_QUALITY)
  return buffer.getvalue()


def make_example(config: SyntheticConfig, split: str, index: int) -> tuple[str, dict]:
  """(key, record) of photo `index` of `split`, as the builder writes it."""
  annotation_rng, render_rng = example_rngs(config.seed, split, index)
  annotation = quality.sample_annotation(annotation_rng)
  image = render.render_example(render_rng, annotation.tags, annotation.factors,
                                config.image_size)
  record = {
      'image': encode_jpeg(image),
      'image_id': _ID_OFFSET[split] + index,
      'votes': annotation.votes,
      'mean_score': np.float32(annotation.mean_score),
      'num_votes': np.int32(annotation.votes.sum()),
      'tags': quality.tag_vector(annotation.tags),
  }
  return f'{split}_{index:07d}', record


class SyntheticAesthetics(tfds.core.GeneratorBasedBuilder):
  """Synthetic AVA-shaped photos whose aesthetic quality depends on their semantics."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {
      '1.0.0': 'Initial release: 8 visible tags, tag-dependent quality of blur, exposure, '
               'noise, composition and saturation; configs small and tiny.',
  }
  BUILDER_CONFIGS = [
      SyntheticConfig(name='small', num_train=3000, num_test=800, image_size=96, seed=0,
                      description='3000 train / 800 test photos, 96x96 (the demo).'),
      SyntheticConfig(name='tiny', num_train=64, num_test=32, image_size=48, seed=0,
                      description='64 train / 32 test photos, 48x48 (for tests).'),
  ]
  DEFAULT_BUILDER_CONFIG_NAME = 'small'

  def _info(self) -> tfds.core.DatasetInfo:
    config = self.builder_config
    return tfds.core.DatasetInfo(
        builder=self,
        description=DESCRIPTION,
        features=records.record_features(num_bins=quality.NUM_BINS, num_tags=quality.NUM_TAGS),
        citation=CITATION,
        metadata=records.dataset_metadata(
            tag_names=quality.TAG_NAMES, tag_ids=quality.TAG_IDS,
            score_min=quality.SCORE_MIN, score_max=quality.SCORE_MAX,
            label_threshold=quality.LABEL_THRESHOLD, description=DESCRIPTION,
            synthetic=True, image_size=config.image_size, seed=config.seed))

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    del dl_manager  # nothing to download: everything comes from the config seed
    return {split: self._generate_examples(split) for split in SPLITS}

  def _generate_examples(self, split: str):
    config = self.builder_config
    for index in range(config.num_examples(split)):
      yield make_example(config, split, index)

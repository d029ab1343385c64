"""The record contract shared by every aesthetic_jax dataset builder.

Each record is one photo:

  image        uint8 (H, W, 3) RGB, stored as JPEG; in a raw-pixel config (`raw_image_size`
               S > 0) uint8 (S, S, 3), the pixels stored as they are (S*S*3 bytes, no codec)
  image_shape  int32 (3,) = (S, S, 3)                    [only in raw-pixel configs]
  image_id     int64, the dataset's own id (AVA image id, Photo.net photo id, ...)
  votes        int32 (num_bins,), votes[s - score_min] = number of votes for score s
  mean_score   float32, the mean rating (the label source; see aesthetic_jax.core.labels)
  num_votes    int32
  tags         bool (M,), multi-hot over the dataset's kept semantic tags   [only if M > 0]

Raw-pixel records are told apart by `image_shape`: a reader that skips decoding (as
aesthetic_jax.data.registry does, `tfds.decode.SkipDecoding()` on 'image') gets the pixels
as S*S*3 bytes and reshapes them (aesthetic_jax.data.pipeline.RecordTransform); one that
decodes gets the uint8 array. Neither needs TensorFlow (tfds.features.Tensor with
encoding='bytes' is np.frombuffer on read). array_record compresses every record (zstd:3).

Builders may add more fields (AVA adds `tag_ids` and `challenge_id`). Dataset-level facts go
in `info.metadata` (see `dataset_metadata`), so a reader needs nothing but the built folder.
"""

from typing import Sequence

import numpy as np
import tensorflow_datasets as tfds


RAW_SHAPE_KEY = 'image_shape'


def raw_image_feature(size: int) -> tfds.features.Tensor:
  """uint8 (size, size, 3) pixels stored as raw bytes (no int64 upcast, no codec)."""
  return tfds.features.Tensor(shape=(size, size, 3), dtype=np.uint8, encoding='bytes')


def record_features(*, num_bins: int, num_tags: int, extra=None,
                    raw_image_size: int = 0) -> tfds.features.FeaturesDict:
  """The FeaturesDict of the contract above; `extra` adds builder-specific fields.

  raw_image_size: S > 0 stores 'image' as raw uint8 (S, S, 3) pixels (plus 'image_shape');
    0 (default) as JPEG.
  """
  features = {
      'image': (raw_image_feature(raw_image_size) if raw_image_size else
                tfds.features.Image(shape=(None, None, 3), encoding_format='jpeg')),
      'image_id': np.int64,
      'votes': tfds.features.Tensor(shape=(num_bins,), dtype=np.int32),
      'mean_score': np.float32,
      'num_votes': np.int32,
  }
  if raw_image_size:
    features[RAW_SHAPE_KEY] = tfds.features.Tensor(shape=(3,), dtype=np.int32)
  if num_tags:
    features['tags'] = tfds.features.Tensor(shape=(num_tags,), dtype=np.bool_)
  features.update(extra or {})
  return tfds.features.FeaturesDict(features)


def dataset_metadata(*, tag_names: Sequence[str], tag_ids: Sequence[int], score_min: int,
                     score_max: int, label_threshold: float, **extra) -> tfds.core.MetadataDict:
  """Metadata every builder stores; readers get it back from `builder.info.metadata`.

  tag_names/tag_ids: the kept semantic tags in record order ([] when the dataset has none).
  score_min/score_max: the rating scale (AVA 1..10, Photo.net 1..7).
  label_threshold: mean scores above threshold + delta are `high` (method.md section 1).
  """
  return tfds.core.MetadataDict(
      tag_names=list(tag_names), tag_ids=[int(t) for t in tag_ids], score_min=int(score_min),
      score_max=int(score_max), label_threshold=float(label_threshold), **extra)

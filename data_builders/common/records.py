"""The record contract shared by every aesthetic_jax dataset builder.

Each record is one photo:

  image        uint8 (H, W, 3) RGB, stored as JPEG
  image_id     int64, the dataset's own id (AVA image id, Photo.net photo id, ...)
  votes        int32 (num_bins,), votes[s - score_min] = number of votes for score s
  mean_score   float32, the mean rating (the label source; see aesthetic_jax.core.labels)
  num_votes    int32
  tags         bool (M,), multi-hot over the dataset's kept semantic tags   [only if M > 0]

Builders may add more fields (AVA adds `tag_ids` and `challenge_id`). Dataset-level facts go
in `info.metadata` (see `dataset_metadata`), so a reader needs nothing but the built folder.
"""

from typing import Sequence

import numpy as np
import tensorflow_datasets as tfds


def record_features(*, num_bins: int, num_tags: int, extra=None) -> tfds.features.FeaturesDict:
  """The FeaturesDict of the contract above; `extra` adds builder-specific fields."""
  features = {
      'image': tfds.features.Image(shape=(None, None, 3), encoding_format='jpeg'),
      'image_id': np.int64,
      'votes': tfds.features.Tensor(shape=(num_bins,), dtype=np.int32),
      'mean_score': np.float32,
      'num_votes': np.int32,
  }
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

"""What a dataset is, in the facts training, scoring and analysis need (no records).

One record serves everywhere: the data layer reads it from a built dataset's metadata
(data_builders.common.records.dataset_metadata), the run directory stores it as
model_info.json for scoring (with the model's own tags), and analyses read it back.
"""

import dataclasses
from typing import Any, Mapping


@dataclasses.dataclass(frozen=True)
class DatasetMeta:
  """name: e.g. 'ava/paper'. tag_names: the M semantic tags in record (and head) order.
  score_min/score_max: the rating scale (AVA 1..10, Photo.net 1..7); a score-distribution
  head has one bin per score. label_threshold: mean > threshold + delta is `high`.
  split_sizes: records per split of the built dataset ({} where unknown)."""
  name: str
  tag_names: tuple[str, ...]
  score_min: int
  score_max: int
  label_threshold: float
  split_sizes: Mapping[str, int] = dataclasses.field(default_factory=dict)

  @property
  def num_tags(self) -> int:
    return len(self.tag_names)

  @property
  def num_bins(self) -> int:
    return self.score_max - self.score_min + 1

  def with_tags(self, num_tags: int) -> 'DatasetMeta':
    """The same facts for a model whose semantic head has `num_tags` outputs (0: none)."""
    return dataclasses.replace(self, tag_names=tuple(self.tag_names)[:num_tags])

  def to_json(self) -> dict[str, Any]:
    return {'dataset': self.name, 'tag_names': list(self.tag_names),
            'score_min': int(self.score_min), 'score_max': int(self.score_max),
            'label_threshold': float(self.label_threshold),
            'split_sizes': {k: int(v) for k, v in self.split_sizes.items()}}

  @classmethod
  def from_json(cls, record: Mapping[str, Any]) -> 'DatasetMeta':
    return cls(name=record['dataset'], tag_names=tuple(record['tag_names']),
               score_min=int(record['score_min']), score_max=int(record['score_max']),
               label_threshold=float(record['label_threshold']),
               split_sizes=dict(record.get('split_sizes', {})))

"""The random train/test split of Kao, He and Huang (IEEE TIP 2017), shared by AVA and Photo.net,
and the label counts under the delta rule that the stats commands report."""

import numpy as np

from aesthetic_jax.core import labels


def paper_split(image_ids: np.ndarray, num_test: int,
                seed: int) -> tuple[np.ndarray, np.ndarray]:
  """(train ids, test ids), both sorted: a fixed-seed random `num_test` of `image_ids` are test.

  The ids are sorted first, so the split depends only on the set of ids and the seed.
  """
  ids = np.unique(np.asarray(image_ids, np.int64))
  if num_test >= len(ids):
    raise ValueError(f'num_test={num_test} leaves no training images: only {len(ids)} images '
                     'are selected.')
  order = np.random.default_rng(seed).permutation(len(ids))
  return np.sort(ids[order[num_test:]]), np.sort(ids[order[:num_test]])


def label_counts(mean_score: np.ndarray, delta: float, threshold: float = 5.0
                 ) -> dict[str, int]:
  """{'low': n, 'high': n, 'dropped': n} under the delta rule (aesthetic_jax.core.labels)."""
  y = labels.aesthetic_label(mean_score, delta=delta, threshold=threshold)
  return {'low': int((y == 0).sum()), 'high': int((y == 1).sum()),
          'dropped': int((y == labels.DROPPED).sum())}

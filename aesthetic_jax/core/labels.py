"""The aesthetic label rule with margin delta (method.md section 1)."""

import numpy as np

DROPPED = -1


def aesthetic_label(mean_score, *, delta: float, threshold: float = 5.0) -> np.ndarray:
  """Binary aesthetic labels from mean scores.

  high (1) if mean > threshold + delta, low (0) if mean < threshold - delta, else DROPPED.
  With delta = 0 nothing is dropped: a mean of exactly `threshold` is low (as in TANet).

  Args:
    mean_score: float array (N,) or scalar.
  Returns:
    int8 array of the same shape, values in {DROPPED, 0, 1}.
  """
  mean = np.asarray(mean_score, np.float64)
  labels = np.full(mean.shape, DROPPED, np.int8)
  labels[mean > threshold + delta] = 1
  if delta == 0:
    labels[mean <= threshold] = 0
  else:
    labels[mean < threshold - delta] = 0
  return labels

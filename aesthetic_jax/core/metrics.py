"""Evaluation metrics (method.md, section 5), host-side numpy on gathered predictions.

Binary aesthetic accuracy, per-tag accuracy and semantic mAP as in Kao, He and Huang
(IEEE TIP 2017); balanced accuracy, ROC-AUC and SRCC/PLCC against the mean score beyond the
paper. Inputs are numpy arrays (or anything np.asarray takes); results are python floats
(NaN where a metric is undefined, with no runtime warnings) or numpy arrays.
"""

import math

import numpy as np


def _vector(x, name: str) -> np.ndarray:
  x = np.asarray(x)
  if x.ndim != 1:
    raise ValueError(f'{name} must be 1-D, got shape {x.shape}.')
  return x


def _same_length(*arrays) -> None:
  if len({len(a) for a in arrays}) > 1:
    raise ValueError(f'Arrays of different lengths: {[len(a) for a in arrays]}.')


def _correct(p_high, labels) -> np.ndarray:
  """(N,) bool: predicted high (p_high > 0.5) iff the label is 1 (high)."""
  p_high, labels = _vector(p_high, 'p_high'), _vector(labels, 'labels')
  _same_length(p_high, labels)
  return (p_high > 0.5) == (labels == 1)


def binary_accuracy(p_high, labels) -> float:
  """Share of images whose predicted class (high iff p_high > 0.5) is the label.

  p_high: (N,) P(high); labels: (N,) int, 1 = high, 0 = low. NaN when N = 0.
  """
  correct = _correct(p_high, labels)
  return float(correct.mean()) if correct.size else math.nan


def balanced_accuracy(p_high, labels) -> float:
  """Mean over the classes present in labels of the recall of that class.

  p_high: (N,) P(high); labels: (N,) int, 1 = high, 0 = low. NaN when N = 0.
  """
  correct = _correct(p_high, labels)
  high = np.asarray(labels) == 1
  recalls = [correct[cls].mean() for cls in (high, ~high) if cls.any()]
  return float(np.mean(recalls)) if recalls else math.nan


def per_tag_accuracy(p_high, labels, tags) -> np.ndarray:
  """(M,) accuracy over the images carrying tag m; NaN for a tag no image carries.

  p_high: (N,) P(high); labels: (N,) int; tags: (N, M) bool (multi-hot).
  """
  correct = _correct(p_high, labels)
  tags = np.asarray(tags).astype(bool)
  if tags.ndim != 2 or len(tags) != len(correct):
    raise ValueError(f'tags must be (N={len(correct)}, M), got shape {tags.shape}.')
  counts = tags.sum(0)
  hits = (tags & correct[:, None]).sum(0)
  return np.where(counts > 0, hits / np.maximum(counts, 1), np.nan)


def average_precision(scores, positives) -> float:
  """Non-interpolated average precision: sum over recall steps of (R_k - R_{k-1}) P_k.

  Precision and recall are taken at each distinct score threshold, as scikit-learn's
  average_precision_score does, so tied scores enter together. Without ties this is the
  mean over positives of the precision at their rank.

  scores: (N,) float, higher = more likely positive; positives: (N,) bool.
  NaN when there is no positive.
  """
  scores, positives = _vector(scores, 'scores'), _vector(positives, 'positives').astype(bool)
  _same_length(scores, positives)
  if not positives.any():
    return math.nan
  order = np.argsort(-scores, kind='stable')
  scores, positives = scores[order], positives[order]
  # The last index of each run of equal scores is one threshold.
  last = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]
  true_pos = np.cumsum(positives)[last]
  precision = true_pos / (last + 1)
  recall = true_pos / true_pos[-1]
  return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def mean_average_precision(scores, tags) -> float:
  """Mean over the tags with at least one positive of their average precision.

  scores: (N, M) float (e.g. sigmoid outputs of the semantic head); tags: (N, M) bool.
  NaN when no tag has a positive.
  """
  scores, tags = np.asarray(scores), np.asarray(tags).astype(bool)
  if scores.shape != tags.shape or scores.ndim != 2:
    raise ValueError(f'scores {scores.shape} and tags {tags.shape} must both be (N, M).')
  aps = [average_precision(scores[:, m], tags[:, m])
         for m in range(tags.shape[1]) if tags[:, m].any()]
  return float(np.mean(aps)) if aps else math.nan


def _average_ranks(x: np.ndarray) -> np.ndarray:
  """1-based ranks (N,), tied values sharing the mean of the ranks they span."""
  order = np.argsort(x, kind='stable')
  sorted_x = x[order]
  starts = np.flatnonzero(np.r_[True, sorted_x[1:] != sorted_x[:-1]])
  ends = np.r_[starts[1:], len(x)]  # exclusive
  group = np.repeat(np.arange(len(starts)), ends - starts)
  ranks = np.empty(len(x), float)
  ranks[order] = ((starts + ends + 1) / 2)[group]
  return ranks


def plcc(x, y) -> float:
  """Pearson linear correlation of x (N,) and y (N,); NaN if N < 2 or either is constant."""
  x, y = _vector(x, 'x').astype(np.float64), _vector(y, 'y').astype(np.float64)
  _same_length(x, y)
  if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
    return math.nan
  xc, yc = x - x.mean(), y - y.mean()
  r = np.sum(xc * yc) / math.sqrt(np.sum(xc * xc) * np.sum(yc * yc))
  return float(np.clip(r, -1.0, 1.0))


def srcc(x, y) -> float:
  """Spearman rank correlation of x (N,) and y (N,): Pearson of their average ranks.

  NaN if N < 2 or either is constant.
  """
  x, y = _vector(x, 'x'), _vector(y, 'y')
  _same_length(x, y)
  return plcc(_average_ranks(x), _average_ranks(y))


def roc_auc(scores, labels) -> float:
  """Area under the ROC curve, P(score of a positive > score of a negative), ties 1/2.

  Computed as the Mann-Whitney U statistic over average ranks. scores: (N,) float;
  labels: (N,) int or bool, positive iff == 1. NaN if either class is absent.
  """
  scores, labels = _vector(scores, 'scores'), _vector(labels, 'labels')
  _same_length(scores, labels)
  positive = labels == 1
  num_pos, num_neg = int(positive.sum()), int((~positive).sum())
  if not num_pos or not num_neg:
    return math.nan
  rank_sum = _average_ranks(scores)[positive].sum()
  return float((rank_sum - num_pos * (num_pos + 1) / 2) / (num_pos * num_neg))


def evaluate(*, p_high, labels, mean_score, semantic_scores=None, tags=None) -> dict:
  """All evaluation metrics of a test set.

  Args:
    p_high: (N,) predicted P(high).
    labels: (N,) int aesthetic labels, 1 = high, 0 = low.
    mean_score: (N,) the images' mean ratings (SRCC/PLCC are taken against P(high)).
    semantic_scores: (N, M) semantic head probabilities, or None.
    tags: (N, M) bool ground-truth tags, or None.

  Returns:
    {'accuracy', 'balanced_accuracy', 'roc_auc', 'srcc', 'plcc'}: python floats (NaN when
    undefined); with tags also 'per_tag_accuracy', a list of M floats with None for a tag
    no image carries (so json.dumps needs no NaN there); with tags and semantic_scores also
    'semantic_map'.
  """
  values = {
      'accuracy': binary_accuracy(p_high, labels),
      'balanced_accuracy': balanced_accuracy(p_high, labels),
      'roc_auc': roc_auc(p_high, labels),
      'srcc': srcc(p_high, mean_score),
      'plcc': plcc(p_high, mean_score),
  }
  if tags is not None:
    values['per_tag_accuracy'] = [None if math.isnan(a) else float(a)
                                  for a in per_tag_accuracy(p_high, labels, tags)]
    if semantic_scores is not None:
      values['semantic_map'] = mean_average_precision(semantic_scores, tags)
  return values

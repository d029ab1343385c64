"""Seed and test-set uncertainty of a table row, and paired tests between two rows.

A row is trained with S seeds; every run is evaluated on the same N test images, giving
per-image arrays aligned by image: 'p_high' (N,), 'label' (N,) and 'mean_score' (N,), and
optionally 'semantic_probs' (N, M) and 'tags' (N, M). The metrics (METRICS) are those of
aesthetic_jax.core.metrics: accuracy, balanced accuracy, ROC-AUC (of p_high against the
label), SRCC (of p_high against the mean score) and semantic mAP (NaN without tags).

Definitions (B = num_bootstrap replicates). A metric on resampled images is the metric of
the arrays indexed by the drawn indices (an image drawn k times counts k times). The draws
come from numpy Generators on two streams spawned from SeedSequence(seed), one for images
and one for seeds, so summarize_row and compare_rows with the same seed, N and B use the
same image resamples.

* mean, std: the mean and the sample standard deviation (ddof = 1; NaN for one seed) over
  the S seeds of each run's metric on the full test set.
* Confidence interval (summarize_row): a percentile bootstrap over test images and seeds.
  Each replicate draws N test-image indices with replacement (the same indices for every
  seed, since the images are shared) and S seed indices with replacement, evaluates the
  metric of each drawn seed's run on the drawn images and averages over the drawn seeds.
  The interval is the ((1 - c) / 2, (1 + c) / 2) percentiles (numpy's linear interpolation)
  of the B replicate values, c = confidence (0.95). With one seed it is the ordinary
  percentile bootstrap over images.
* delta (compare_rows): mean over row A's seeds minus mean over row B's seeds of the metric
  on the full test set (with equal seed counts this is the mean of the per-seed paired
  differences, seed i of A against seed i of B).
* p_value: a two-sided paired bootstrap test over test images. Each replicate draws N
  test-image indices with replacement, applies the same indices to every run of both rows
  and computes the replicate delta d*_b (seed-averaged A minus seed-averaged B; the seeds
  are not resampled). p = (1 + #{b : |d*_b - d| >= |d|}) / (1 + B), d the observed delta:
  the share of null-centred replicate deltas at least as extreme as the observed one.
* accuracy_mcnemar_p: the exact McNemar test: an image counts as correct for a row when a
  strict majority of the row's seeds classify it correctly (p_high > 0.5 iff label 1);
  with b images correct for A only and c for B only, p is the two-sided binomial test
  scipy.stats.binomtest(b, b + c, 0.5).pvalue (1 when b + c = 0).

A metric undefined on the full test set (e.g. semantic mAP without tags, ROC-AUC with one
class) gives NaN everywhere, without runtime warnings; bootstrap replicates where a metric
is undefined (a class or every tag positive resampled away) are left out of the percentiles
and p-values.
"""

import math
from typing import Callable, Sequence

import numpy as np
import scipy.sparse
import scipy.stats

from aesthetic_jax.core import metrics

METRICS = ('accuracy', 'balanced_accuracy', 'roc_auc', 'srcc', 'semantic_map')

Run = dict[str, np.ndarray]

# Replicates evaluated together: about this many (replicate, image) weights in one array.
_CHUNK_ELEMENTS = 1 << 21
# Slack for rounding when comparing a bootstrap delta with the observed one.
_TIE_TOLERANCE = 1e-12


def _has_semantic(preds: Run) -> bool:
  return preds.get('semantic_probs') is not None and preds.get('tags') is not None


def metric_values(preds: Run) -> dict[str, float]:
  """METRICS of one run on its full test set.

  Args:
    preds: 'p_high' (N,) P(high), 'label' (N,) int 1 = high / 0 = low, 'mean_score' (N,),
      optionally 'semantic_probs' (N, M) and 'tags' (N, M) bool.

  Returns:
    {metric: python float}, NaN where undefined (semantic_map without both semantic arrays).
  """
  p_high, label = preds['p_high'], preds['label']
  return {
      'accuracy': metrics.binary_accuracy(p_high, label),
      'balanced_accuracy': metrics.balanced_accuracy(p_high, label),
      'roc_auc': metrics.roc_auc(p_high, label),
      'srcc': metrics.srcc(p_high, preds['mean_score']),
      'semantic_map': (metrics.mean_average_precision(preds['semantic_probs'], preds['tags'])
                       if _has_semantic(preds) else math.nan),
  }


# ---------------------------------------------------------------------------------------
# The metrics on many bootstrap resamples at once. A resample of the N images is given by
# its multiplicities w (N,) (how often each image was drawn), so a chunk of C replicates is a
# weight matrix W (C, N); each function below equals the metric of the resampled arrays
# (tests/test_statistics.py checks this against aesthetic_jax.core.metrics).
# ---------------------------------------------------------------------------------------


def _divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
  """num / den elementwise, NaN where den == 0, without warnings."""
  out = np.full(np.broadcast(num, den).shape, np.nan)
  return np.divide(num, den, out=out, where=den != 0)


def _ties(values: np.ndarray, descending: bool = False):
  """Sort order (N,) of values and the start (G,) of each run of equal sorted values."""
  order = np.argsort(-values if descending else values, kind='stable')
  sorted_values = values[order]
  starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
  return order, starts


def _group_sums(sorted_weights: np.ndarray, starts: np.ndarray) -> np.ndarray:
  """(C, G) sums of sorted_weights (C, K) over the groups starting at starts (G,)."""
  if len(starts) == sorted_weights.shape[1]:  # no ties
    return sorted_weights
  return np.add.reduceat(sorted_weights, starts, axis=1)


def _prefix_sums(weights_t: np.ndarray, positions: np.ndarray, cuts: np.ndarray) -> np.ndarray:
  """(C, K) weight of the images whose position is below each cut.

  weights_t: (N, C), the weights transposed and C-contiguous (as scipy.sparse wants them);
  positions: (N,) each image's place in some order; cuts: (K,) increasing. One sparse
  product (each image adds to the segment between two cuts holding it) and a cumsum over
  the K segments, instead of a cumsum over all N images.
  """
  segment = np.searchsorted(cuts, positions, side='right')  # in 0..K; K: beyond the last
  members = scipy.sparse.csr_matrix(
      (np.ones(len(positions)), (segment, np.arange(len(positions)))),
      shape=(len(cuts) + 1, len(positions)))
  return np.cumsum(members @ weights_t, axis=0)[:-1].T


def _weighted_accuracy(correct: np.ndarray, weights: np.ndarray) -> np.ndarray:
  """(C,) accuracy; correct: (N,) bool; weights: (C, N)."""
  return _divide(weights @ correct.astype(np.float64), weights.sum(1))


def _weighted_balanced_accuracy(correct, high, weights) -> np.ndarray:
  """(C,) mean recall over the classes present; correct, high: (N,) bool; weights: (C, N)."""
  recall_sum = np.zeros(len(weights))
  classes_present = np.zeros(len(weights))
  for members in (high, ~high):
    count = weights @ members.astype(np.float64)
    hits = weights @ (correct & members).astype(np.float64)
    present = count > 0
    recall_sum += np.where(present, _divide(hits, count), 0.0)
    classes_present += present
  return _divide(recall_sum, classes_present)


def _weighted_ranks(values, weights):
  """Average 1-based ranks (C, N) of each image in each resample, and (C,) distinct counts.

  values: (N,); weights: (C, N). An image's rank is that of its tie group in the resample
  (the copies of one image are tied with each other and with equal values).
  """
  order, starts = _ties(values)
  group_weight = _group_sums(weights[:, order], starts)
  group_rank = np.cumsum(group_weight, axis=1)
  group_rank -= (group_weight - 1) / 2
  group_of_image = np.empty(len(values), np.intp)
  group_of_image[order] = np.searchsorted(starts, np.arange(len(values)), side='right') - 1
  return group_rank[:, group_of_image], np.count_nonzero(group_weight, axis=1)


def _weighted_roc_auc(ranks, positive, weights) -> np.ndarray:
  """(C,) ROC-AUC as metrics.roc_auc: the Mann-Whitney U of the resampled average ranks.

  ranks: (C, N) from _weighted_ranks of the scores; positive: (N,) bool; weights: (C, N).
  """
  positive = positive.astype(np.float64)
  num_pos = weights @ positive
  num_neg = weights.sum(1) - num_pos
  rank_sum = (weights * ranks) @ positive
  return _divide(rank_sum - num_pos * (num_pos + 1) / 2, num_pos * num_neg)


def _weighted_srcc(x_ranks, y_ranks, weights) -> np.ndarray:
  """(C,) Spearman correlation: weighted Pearson of the ranks from _weighted_ranks.

  Both rank vectors of a resample of T images have mean (T + 1) / 2.
  """
  (rx, distinct_x), (ry, distinct_y) = x_ranks, y_ranks
  total = weights.sum(1)
  centre = total * ((total + 1) / 2) ** 2
  weighted_rx = weights * rx
  cov = np.einsum('ij,ij->i', weighted_rx, ry) - centre
  var_x = np.einsum('ij,ij->i', weighted_rx, rx) - centre
  var_y = np.einsum('ij,ij,ij->i', weights, ry, ry) - centre
  defined = (distinct_x > 1) & (distinct_y > 1)
  scale = np.sqrt(np.where(defined, var_x * var_y, 1.0))
  return np.where(defined, np.clip(cov / scale, -1.0, 1.0), np.nan)


def _weighted_average_precision(scores, positives, weights, weights_t=None) -> np.ndarray:
  """(C,) average precision as metrics.average_precision; NaN without a positive.

  scores: (N,); positives: (N,) bool; weights: (C, N); weights_t: the same transposed and
  C-contiguous (computed when not given). Only the tie groups holding a positive add
  recall: AP = sum over them of P_g * TP_g / seen_g / P, with P_g their positive weight,
  TP_g and seen_g the positive and total weight scored >= theirs, P all positive weight.
  """
  order, starts = _ties(scores, descending=True)
  positive_at = np.flatnonzero(positives[order])  # sorted positions of the positives
  if not positive_at.size:
    return np.full(len(weights), np.nan)
  group_end = np.r_[starts[1:], len(scores)]
  group_of_positive = np.searchsorted(starts, positive_at, side='right') - 1
  first_of_group = np.flatnonzero(np.r_[True, np.diff(group_of_positive) > 0])
  group_pos = _group_sums(weights[:, order[positive_at]], first_of_group)
  true_pos = np.cumsum(group_pos, axis=1)
  sorted_position = np.empty(len(scores), np.intp)
  sorted_position[order] = np.arange(len(scores))
  if weights_t is None:
    weights_t = np.ascontiguousarray(weights.T)
  seen = _prefix_sums(weights_t, sorted_position, group_end[group_of_positive[first_of_group]])
  # An undrawn group adds no recall; its precision (0 / 0 at the top) is unused.
  precision = np.divide(true_pos, seen, out=np.zeros_like(true_pos), where=seen > 0)
  return _divide(np.sum(group_pos * precision, 1), true_pos[:, -1])


def _weighted_map(scores, tags, weights) -> np.ndarray:
  """(C,) mean over tags with a resampled positive of their AP; scores, tags: (N, M)."""
  ap_sum = np.zeros(len(weights))
  defined = np.zeros(len(weights))
  weights_t = np.ascontiguousarray(weights.T)
  for m in range(tags.shape[1]):
    if tags[:, m].any():
      ap = _weighted_average_precision(scores[:, m], tags[:, m], weights, weights_t)
      ap_sum += np.nan_to_num(ap)
      defined += ~np.isnan(ap)
  return _divide(ap_sum, defined)


def _replicate_metrics(preds: Run, weights: np.ndarray, score_ranks) -> dict[str, np.ndarray]:
  """{metric: (C,)} of one run on the C resamples weights (C, N).

  score_ranks: _weighted_ranks(mean_score, weights), shared by the runs of a chunk.
  """
  p_high = np.asarray(preds['p_high'])
  high = np.asarray(preds['label']) == 1
  correct = (p_high > 0.5) == high
  p_ranks = _weighted_ranks(p_high, weights)
  values = {
      'accuracy': _weighted_accuracy(correct, weights),
      'balanced_accuracy': _weighted_balanced_accuracy(correct, high, weights),
      'roc_auc': _weighted_roc_auc(p_ranks[0], high, weights),
      'srcc': _weighted_srcc(p_ranks, score_ranks, weights),
      'semantic_map': np.full(len(weights), np.nan),
  }
  if _has_semantic(preds):
    values['semantic_map'] = _weighted_map(
        np.asarray(preds['semantic_probs']), np.asarray(preds['tags']).astype(bool), weights)
  return values


def _stack_runs(runs: Sequence[Run], weights, score_ranks) -> dict[str, np.ndarray]:
  """{metric: (C, S)}: every run's metric on every resample of the chunk."""
  per_run = [_replicate_metrics(run, weights, score_ranks) for run in runs]
  return {name: np.stack([values[name] for values in per_run], 1) for name in METRICS}


def _bootstrap(runs: Sequence[Run], num_bootstrap: int, image_rng, reduce: Callable):
  """{metric: (B,)} of reduce(chunk_start, {metric: (C, S)}) over chunks of image resamples.

  Replicate b resamples the N images with replacement via image_rng; each chunk of C
  replicates is one weight matrix (C, N) of multiplicities, applied to every run.
  """
  num_images = len(runs[0]['p_high'])
  chunk = max(1, _CHUNK_ELEMENTS // max(num_images, 1))
  mean_score = np.asarray(runs[0]['mean_score'])
  out = {name: [] for name in METRICS}
  for start in range(0, num_bootstrap, chunk):
    size = min(chunk, num_bootstrap - start)
    draws = image_rng.integers(0, num_images, (size, num_images))
    flat = (draws + num_images * np.arange(size)[:, None]).ravel()
    weights = np.bincount(flat, minlength=size * num_images).reshape(size, num_images)
    weights = weights.astype(np.float64)
    chunk_values = reduce(start, _stack_runs(runs, weights, _weighted_ranks(mean_score, weights)))
    for name in METRICS:
      out[name].append(chunk_values[name])
  return {name: np.concatenate(values) for name, values in out.items()}


# ---------------------------------------------------------------------------------------
# Row summaries and comparisons.
# ---------------------------------------------------------------------------------------


def _check_runs(runs: Sequence[Run], name: str = 'runs') -> None:
  """Raises ValueError unless runs is non-empty and all runs share the same test images."""
  if not runs:
    raise ValueError(f'{name} is empty.')
  first = runs[0]
  if not len(first['p_high']):
    raise ValueError(f'{name}: no test images.')
  for run in runs:
    if len(run['p_high']) != len(first['p_high']):
      raise ValueError(f'{name}: runs of {len(run["p_high"])} and {len(first["p_high"])} '
                       'images; runs must share the test images.')
    for key in ('label', 'mean_score', 'image_id'):
      if key in first and key in run and not np.array_equal(run[key], first[key]):
        raise ValueError(f'{name}: {key!r} differs between runs; runs must share the test '
                         'images, in the same order.')


def _rngs(seed: int):
  """Independent generators for image and seed resampling (images match between calls)."""
  image_seq, seed_seq = np.random.SeedSequence(seed).spawn(2)
  return np.random.default_rng(image_seq), np.random.default_rng(seed_seq)


def _std(values: np.ndarray) -> float:
  """Sample std (ddof = 1) of (S,) values; NaN for S = 1 or any NaN."""
  if len(values) < 2:
    return math.nan
  return float(np.sqrt(np.sum((values - values.mean()) ** 2) / (len(values) - 1)))


def _seed_averages(seed_counts: np.ndarray, start: int, values: np.ndarray) -> np.ndarray:
  """(C,) replicate means over resampled seeds; NaN if a drawn seed's metric is NaN.

  seed_counts: (B, S) multiplicities of the seed draws; values: (C, S), replicates start..
  """
  counts = seed_counts[start:start + len(values)]
  drawn_nan = np.any((counts > 0) & np.isnan(values), axis=1)
  total = np.sum(np.where(counts > 0, counts * np.nan_to_num(values), 0.0), axis=1)
  return np.where(drawn_nan, np.nan, total / counts.sum(1))


def _percentiles(values: np.ndarray, confidence: float) -> tuple[float, float]:
  """Percentile interval of the finite (B,) values; NaN if there are none."""
  values = values[np.isfinite(values)]
  if not values.size:
    return math.nan, math.nan
  low, high = np.percentile(values, [50 * (1 - confidence), 50 * (1 + confidence)])
  return float(low), float(high)


def summarize_row(runs: Sequence[Run], *, num_bootstrap: int = 1000, seed: int = 0,
                  confidence: float = 0.95) -> dict[str, float]:
  """Mean, seed std and bootstrap confidence interval of every metric of one table row.

  Args:
    runs: S >= 1 runs' predictions on the same N test images (see metric_values), aligned
      by image.
    num_bootstrap: B, the bootstrap replicates.
    seed: seeds the resampling; the result is deterministic given it.
    confidence: c, the interval's coverage.

  Returns:
    For each metric in METRICS: '<metric>_mean' and '<metric>_std' (over seeds, ddof = 1,
    NaN for one seed) and '<metric>_ci_low', '<metric>_ci_high' (the (1 - c) / 2 and
    (1 + c) / 2 percentiles of the bootstrap over images and seeds, module docstring);
    'num_seeds': S. NaN where a metric is undefined.
  """
  _check_runs(runs)
  if not 0 < confidence < 1 or num_bootstrap < 1:
    raise ValueError(f'Need 0 < confidence < 1 and num_bootstrap >= 1, got {confidence}, '
                     f'{num_bootstrap}.')
  image_rng, seed_rng = _rngs(seed)
  num_seeds = len(runs)
  draws = seed_rng.integers(0, num_seeds, (num_bootstrap, num_seeds))
  seed_counts = np.stack([np.bincount(row, minlength=num_seeds) for row in draws])

  def reduce(start, values):
    return {name: _seed_averages(seed_counts, start, v) for name, v in values.items()}

  replicates = _bootstrap(runs, num_bootstrap, image_rng, reduce)
  point = np.array([[values[name] for name in METRICS] for values in map(metric_values, runs)])
  summary = {}
  for m, name in enumerate(METRICS):
    summary[f'{name}_mean'] = float(point[:, m].mean())
    summary[f'{name}_std'] = _std(point[:, m])
    if math.isnan(summary[f'{name}_mean']):
      summary[f'{name}_ci_low'] = summary[f'{name}_ci_high'] = math.nan
    else:
      summary[f'{name}_ci_low'], summary[f'{name}_ci_high'] = _percentiles(
          replicates[name], confidence)
  summary['num_seeds'] = num_seeds
  return summary


def _majority_correct(runs: Sequence[Run]) -> np.ndarray:
  """(N,) bool: a strict majority of the runs classify the image correctly."""
  correct = [(np.asarray(r['p_high']) > 0.5) == (np.asarray(r['label']) == 1) for r in runs]
  return 2 * np.sum(correct, axis=0) > len(runs)


def mcnemar_p(runs_a: Sequence[Run], runs_b: Sequence[Run]) -> float:
  """Exact McNemar p-value of the majority-vote correctness of row A against row B.

  With b = #images correct for A only and c = #images correct for B only, this is the
  two-sided binomial test scipy.stats.binomtest(b, b + c, 0.5).pvalue; 1 when b + c = 0.
  """
  a, b = _majority_correct(runs_a), _majority_correct(runs_b)
  a_only, b_only = int(np.sum(a & ~b)), int(np.sum(~a & b))
  if a_only + b_only == 0:
    return 1.0
  return float(scipy.stats.binomtest(a_only, a_only + b_only, 0.5).pvalue)


def _bootstrap_p(replicate_deltas: np.ndarray, delta: float) -> float:
  """(1 + #{|d*_b - delta| >= |delta|}) / (1 + B) over the finite (B,) replicate deltas."""
  replicate_deltas = replicate_deltas[np.isfinite(replicate_deltas)]
  if math.isnan(delta) or not replicate_deltas.size:
    return math.nan
  extreme = np.abs(replicate_deltas - delta) >= abs(delta) - _TIE_TOLERANCE
  return float((1 + np.count_nonzero(extreme)) / (1 + replicate_deltas.size))


def compare_rows(runs_a: Sequence[Run], runs_b: Sequence[Run], *, num_bootstrap: int = 1000,
                 seed: int = 0) -> dict[str, float]:
  """Row A against baseline row B on the same test images: deltas and paired tests.

  Args:
    runs_a: S_A >= 1 runs' predictions (see metric_values), N images each.
    runs_b: S_B >= 1 runs' predictions on the same N images in the same order; S_B may
      differ from S_A.
    num_bootstrap: B, the bootstrap replicates of the paired test.
    seed: seeds the resampling (the same image resamples as summarize_row with this seed).

  Returns:
    For each metric in METRICS: '<metric>_delta', the mean over A's seeds minus the mean
    over B's seeds, and '<metric>_p_value', the two-sided paired bootstrap test over test
    images (module docstring). 'accuracy_mcnemar_p': the exact McNemar test (two-sided
    binomial test on the discordant images) of the majority-vote correctness; see
    mcnemar_p. 'num_seeds_a', 'num_seeds_b': S_A, S_B. NaN where a metric is undefined.
  """
  _check_runs(runs_a, 'runs_a')
  _check_runs(runs_b, 'runs_b')
  _check_runs([runs_a[0], runs_b[0]], 'runs_a and runs_b')
  if num_bootstrap < 1:
    raise ValueError(f'num_bootstrap must be >= 1, got {num_bootstrap}.')
  image_rng, _ = _rngs(seed)
  runs = list(runs_a) + list(runs_b)
  num_a = len(runs_a)

  def reduce(start, values):
    del start
    return {name: v[:, :num_a].mean(1) - v[:, num_a:].mean(1) for name, v in values.items()}

  replicate_deltas = _bootstrap(runs, num_bootstrap, image_rng, reduce)
  point = np.array([[values[name] for name in METRICS] for values in map(metric_values, runs)])
  result = {}
  for m, name in enumerate(METRICS):
    delta = float(point[:num_a, m].mean() - point[num_a:, m].mean())
    result[f'{name}_delta'] = delta
    result[f'{name}_p_value'] = _bootstrap_p(replicate_deltas[name], delta)
  result['accuracy_mcnemar_p'] = mcnemar_p(runs_a, runs_b)
  result['num_seeds_a'], result['num_seeds_b'] = num_a, len(runs_b)
  return result

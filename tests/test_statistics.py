"""experiments/statistics.py: seed/bootstrap summaries of a table row and paired row tests."""

import math
import warnings

import numpy as np
import pytest
import scipy.stats

from aesthetic_jax.core import metrics
from aesthetic_jax.experiments import statistics


def _run(correct, label, rng, *, num_tags=0):
  """Predictions whose classification is right exactly where correct (N,) bool is."""
  correct, label = np.asarray(correct, bool), np.asarray(label)
  confidence = rng.uniform(0.55, 1.0, len(label))
  p_high = np.where(correct == (label == 1), confidence, 1 - confidence)
  # The images' ratings and tags are the same in every run (a function of the image).
  image = np.arange(len(label))
  preds = {'p_high': p_high, 'label': label, 'mean_score': 5 + (label - 0.5) + np.sin(image)}
  if num_tags:
    preds['tags'] = (image[:, None] * 7 + np.arange(num_tags) * 3) % 5 == 0  # 20% each
    preds['semantic_probs'] = np.clip(0.3 * preds['tags'] + rng.random(preds['tags'].shape), 0, 1)
  return preds


def _random_run(rng, num_images, *, num_tags=0, accuracy=0.7):
  label = np.arange(num_images) % 3 == 0  # the same images in every run
  return _run(rng.random(num_images) < accuracy, label.astype(int), rng, num_tags=num_tags)


def test_metric_values_match_the_metric_functions():
  rng = np.random.default_rng(0)
  preds = _random_run(rng, 200, num_tags=5)
  values = statistics.metric_values(preds)
  assert list(values) == list(statistics.METRICS)
  p_high, label = preds['p_high'], preds['label']
  assert values == {
      'accuracy': metrics.binary_accuracy(p_high, label),
      'balanced_accuracy': metrics.balanced_accuracy(p_high, label),
      'roc_auc': metrics.roc_auc(p_high, label),
      'srcc': metrics.srcc(p_high, preds['mean_score']),
      'semantic_map': metrics.mean_average_precision(preds['semantic_probs'], preds['tags']),
  }
  del preds['tags']
  assert math.isnan(statistics.metric_values(preds)['semantic_map'])


def test_bootstrap_metrics_equal_the_metrics_of_the_resampled_arrays():
  # Quantised values: ties within and across images; a small set so that a class or a
  # tag's positives can vanish from a resample.
  rng = np.random.default_rng(1)
  for num_images in (200, 6):
    preds = _random_run(rng, num_images, num_tags=4)
    preds['p_high'] = np.round(preds['p_high'], 1)
    preds['mean_score'] = np.round(preds['mean_score'])
    preds['semantic_probs'] = np.round(preds['semantic_probs'], 1)
    preds['tags'][:, 3] = False
    draws = rng.integers(0, num_images, (20, num_images))
    weights = np.stack([np.bincount(d, minlength=num_images) for d in draws]).astype(float)
    weights = np.concatenate([np.ones((1, num_images)), weights])
    draws = np.concatenate([np.arange(num_images)[None], draws])
    got = statistics._replicate_metrics(
        preds, weights, statistics._weighted_ranks(preds['mean_score'], weights))
    for b, indices in enumerate(draws):
      expected = statistics.metric_values({k: v[indices] for k, v in preds.items()})
      for name in statistics.METRICS:
        np.testing.assert_allclose(got[name][b], expected[name], rtol=1e-12, atol=1e-12,
                                   err_msg=f'{name}, N={num_images}, resample {b}')


def test_identical_seeds_and_one_seed():
  rng = np.random.default_rng(2)
  preds = _random_run(rng, 300, num_tags=3)
  values = statistics.metric_values(preds)
  one = statistics.summarize_row([preds], num_bootstrap=200)
  four = statistics.summarize_row([preds] * 4, num_bootstrap=200)
  assert one['num_seeds'] == 1 and four['num_seeds'] == 4
  for name in statistics.METRICS:
    assert four[f'{name}_mean'] == pytest.approx(values[name], abs=1e-12)
    assert four[f'{name}_std'] == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(one[f'{name}_std'])
    assert one[f'{name}_mean'] == values[name]
    assert one[f'{name}_ci_low'] < values[name] < one[f'{name}_ci_high']
    # The seed draws pick identical runs: the same intervals as the image bootstrap alone.
    assert four[f'{name}_ci_low'] == pytest.approx(one[f'{name}_ci_low'], abs=1e-12)
    assert four[f'{name}_ci_high'] == pytest.approx(one[f'{name}_ci_high'], abs=1e-12)


def test_interval_includes_the_seed_spread():
  # Two seeds of accuracy 0.6 and 0.8 on 4,000 images: resampling the seeds puts a quarter
  # of the replicates near 0.6 and a quarter near 0.8, beyond the image-only interval.
  rng = np.random.default_rng(3)
  label = rng.integers(0, 2, 4000)
  runs = [_run(np.arange(4000) % 10 < k, label, rng) for k in (6, 8)]
  summary = statistics.summarize_row(runs, num_bootstrap=400)
  assert summary['accuracy_mean'] == pytest.approx(0.7)
  assert summary['accuracy_std'] == pytest.approx(math.sqrt(0.02))
  assert summary['accuracy_ci_low'] < 0.61 and summary['accuracy_ci_high'] > 0.79


def test_accuracy_interval_matches_the_normal_approximation():
  rng = np.random.default_rng(4)
  num_images, accuracy = 20_000, 0.7
  correct = rng.permutation(np.arange(num_images) < accuracy * num_images)
  preds = _run(correct, rng.integers(0, 2, num_images), rng)
  summary = statistics.summarize_row([preds], num_bootstrap=1000, seed=7)
  half_width = 1.96 * math.sqrt(accuracy * (1 - accuracy) / num_images)  # 0.00635
  # Monte Carlo error of a 2.5% percentile of 1000 replicates: about 0.0003.
  assert summary['accuracy_mean'] == pytest.approx(accuracy)
  assert summary['accuracy_ci_low'] == pytest.approx(accuracy - half_width, abs=0.0012)
  assert summary['accuracy_ci_high'] == pytest.approx(accuracy + half_width, abs=0.0012)
  small = {k: v[:2000] for k, v in preds.items()}
  again = statistics.summarize_row([small], num_bootstrap=100, seed=7)
  np.testing.assert_equal(again, statistics.summarize_row([small], num_bootstrap=100, seed=7))
  other = statistics.summarize_row([small], num_bootstrap=100, seed=8)
  assert (again['accuracy_ci_low'], again['accuracy_ci_high']) != (
      other['accuracy_ci_low'], other['accuracy_ci_high'])


def test_identical_rows_have_no_difference():
  rng = np.random.default_rng(5)
  runs = [_random_run(rng, 300, num_tags=3) for _ in range(3)]
  result = statistics.compare_rows(runs, list(runs), num_bootstrap=200)
  assert (result['num_seeds_a'], result['num_seeds_b']) == (3, 3)
  for name in statistics.METRICS:
    assert result[f'{name}_delta'] == 0.0
    assert result[f'{name}_p_value'] == 1.0
  assert result['accuracy_mcnemar_p'] == 1.0


def test_a_much_better_row_is_significant():
  rng = np.random.default_rng(6)
  label = rng.integers(0, 2, 800)
  runs_a = [_run(rng.random(800) < 0.85, label, rng) for _ in range(3)]
  runs_b = [_run(rng.random(800) < 0.6, label, rng) for _ in range(2)]  # fewer seeds
  result = statistics.compare_rows(runs_a, runs_b, num_bootstrap=500)
  a_mean = np.mean([statistics.metric_values(r)['accuracy'] for r in runs_a])
  b_mean = np.mean([statistics.metric_values(r)['accuracy'] for r in runs_b])
  assert result['accuracy_delta'] == pytest.approx(a_mean - b_mean)
  assert result['accuracy_delta'] > 0.15
  for name in ('accuracy', 'balanced_accuracy', 'roc_auc'):
    assert result[f'{name}_p_value'] < 0.01
  assert result['accuracy_p_value'] == pytest.approx(1 / 501)
  assert result['accuracy_mcnemar_p'] < 1e-6
  assert math.isnan(result['semantic_map_delta']) and math.isnan(result['semantic_map_p_value'])


def test_mcnemar_on_majority_votes():
  rng = np.random.default_rng(7)
  label = rng.integers(0, 2, 40)
  a_votes = np.zeros(40, bool)
  b_votes = np.zeros(40, bool)
  a_votes[:9] = True               # 9 images right for A only (b = 9)
  b_votes[9:11] = True             # 2 images right for B only (c = 2)
  a_votes[11:30] = b_votes[11:30] = True  # 19 right for both, 10 wrong for both

  def seeds(votes):
    # Each seed flips a different third of the images: every seed differs from the vote,
    # a strict majority (2 of 3) still agrees with it.
    return [_run(votes ^ (np.arange(40) % 3 == s), label, rng) for s in range(3)]

  result = statistics.compare_rows(seeds(a_votes), seeds(b_votes), num_bootstrap=50)
  assert result['accuracy_mcnemar_p'] == scipy.stats.binomtest(9, 11, 0.5).pvalue
  assert result['accuracy_mcnemar_p'] == pytest.approx(2 * (1 + 11 + 55) / 2**11)
  # With two seeds, right in one of them is no majority: images 30..39 stay wrong for A.
  tied = [_run(a_votes, label, rng), _run(a_votes | (np.arange(40) >= 30), label, rng)]
  result = statistics.compare_rows(tied, [_run(b_votes, label, rng)] * 2, num_bootstrap=50)
  assert result['accuracy_mcnemar_p'] == scipy.stats.binomtest(9, 11, 0.5).pvalue


def test_paired_test_detects_what_overlapping_intervals_miss():
  # B is right on 70% of 1,000 images; A on the same ones and 15 more. The per-row
  # intervals (about +-0.028) overlap, but all 15 discordant images favour A.
  rng = np.random.default_rng(8)
  label = rng.integers(0, 2, 1000)
  b_correct = rng.permutation(np.arange(1000) < 700)
  a_correct = b_correct.copy()
  a_correct[np.flatnonzero(~b_correct)[:15]] = True
  run_a, run_b = _run(a_correct, label, rng), _run(b_correct, label, rng)
  summary_a = statistics.summarize_row([run_a], num_bootstrap=500)
  summary_b = statistics.summarize_row([run_b], num_bootstrap=500)
  assert summary_a['accuracy_ci_low'] < summary_b['accuracy_ci_high']
  result = statistics.compare_rows([run_a], [run_b], num_bootstrap=500)
  assert result['accuracy_delta'] == pytest.approx(0.015)
  assert result['accuracy_p_value'] < 0.01
  assert result['accuracy_mcnemar_p'] == pytest.approx(2 * 0.5**15)


def test_undefined_metrics_are_nan_without_warnings():
  rng = np.random.default_rng(9)
  mean_score = rng.normal(5, 1, 50)
  runs = [{'p_high': np.full(50, 0.7), 'label': np.ones(50, int),  # one class, constant
           'mean_score': mean_score, 'semantic_probs': rng.random((50, 2)),
           'tags': np.zeros((50, 2), bool)} for _ in range(2)]
  with warnings.catch_warnings():
    warnings.simplefilter('error')
    values = statistics.metric_values(runs[0])
    summaries = [statistics.summarize_row(r, num_bootstrap=30) for r in (runs, runs[:1])]
    result = statistics.compare_rows(runs, runs[:1], num_bootstrap=30)
  assert values['accuracy'] == values['balanced_accuracy'] == 1.0
  for name in ('roc_auc', 'srcc', 'semantic_map'):
    assert math.isnan(values[name])
    for summary in summaries:
      for suffix in ('mean', 'std', 'ci_low', 'ci_high'):
        assert math.isnan(summary[f'{name}_{suffix}']), (name, suffix)
    assert math.isnan(result[f'{name}_delta']) and math.isnan(result[f'{name}_p_value'])
  assert summaries[0]['accuracy_ci_low'] == summaries[0]['accuracy_ci_high'] == 1.0
  assert result['accuracy_delta'] == 0.0 and result['accuracy_p_value'] == 1.0


def test_runs_must_share_the_test_images():
  rng = np.random.default_rng(10)
  run = _random_run(rng, 20)
  other = dict(run, label=1 - run['label'])
  with pytest.raises(ValueError, match='label'):
    statistics.summarize_row([run, other], num_bootstrap=10)
  with pytest.raises(ValueError, match='label'):
    statistics.compare_rows([run], [other], num_bootstrap=10)
  with pytest.raises(ValueError, match='images'):
    statistics.compare_rows([run], [{k: v[:10] for k, v in run.items()}], num_bootstrap=10)

"""metrics.py against small hand-computed examples, with scipy as a cross-check
(method.md, section 5)."""

import json
import math
import warnings

import numpy as np
import pytest
import scipy.stats

from aesthetic_jax.core import metrics


@pytest.fixture(autouse=True)
def _no_warnings():
  with warnings.catch_warnings():
    warnings.simplefilter('error')  # NaN cases must not spam RuntimeWarnings
    yield


def test_binary_accuracy():
  # Predicted high iff p > 0.5: [high, low, low (0.5 is not > 0.5), high] vs [1, 0, 1, 0].
  assert metrics.binary_accuracy(np.array([0.9, 0.2, 0.5, 0.7]), np.array([1, 0, 1, 0])) == 0.5
  assert metrics.binary_accuracy(np.array([0.6, 0.4]), np.array([1, 0])) == 1.0
  assert math.isnan(metrics.binary_accuracy(np.zeros(0), np.zeros(0, int)))


def test_balanced_accuracy():
  # Recall of high: 2/3 (0.1 is missed), recall of low: 1/1.
  value = metrics.balanced_accuracy(np.array([0.9, 0.8, 0.1, 0.2]), np.array([1, 1, 1, 0]))
  assert value == pytest.approx((2 / 3 + 1) / 2)
  # Only one class present: its recall alone.
  assert metrics.balanced_accuracy(np.array([0.9, 0.1]), np.array([1, 1])) == 0.5
  assert math.isnan(metrics.balanced_accuracy(np.zeros(0), np.zeros(0, int)))


def test_per_tag_accuracy():
  p_high = np.array([0.9, 0.9, 0.2, 0.7])
  labels = np.array([1, 0, 0, 1])  # correct: [T, F, T, T]
  tags = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0], [1, 0, 0]], bool)
  acc = metrics.per_tag_accuracy(p_high, labels, tags)
  assert acc.shape == (3,)
  np.testing.assert_allclose(acc[:2], [2 / 3, 1 / 2])
  assert np.isnan(acc[2])


def test_average_precision_hand_examples():
  scores = np.array([0.9, 0.8, 0.7, 0.6])
  # Positives at ranks 1 and 3: (1/1 + 2/3) / 2.
  assert metrics.average_precision(scores, np.array([1, 0, 1, 0], bool)) == pytest.approx(5 / 6)
  assert metrics.average_precision(scores, np.array([1, 1, 0, 0], bool)) == pytest.approx(1.0)
  # Positive last of four: 1/4.
  assert metrics.average_precision(scores, np.array([0, 0, 0, 1], bool)) == pytest.approx(0.25)
  assert math.isnan(metrics.average_precision(scores, np.zeros(4, bool)))


def test_average_precision_ties_step_at_distinct_thresholds():
  # Thresholds 0.9: P=0/1, R=0; 0.5 (two images, one positive): P=1/3, R=1/2;
  # 0.1: P=2/4, R=1. AP = 1/2 * 1/3 + 1/2 * 1/2 = 5/12 whichever way the tie is ordered.
  scores = np.array([0.9, 0.5, 0.5, 0.1])
  assert metrics.average_precision(scores, np.array([0, 1, 0, 1], bool)) == pytest.approx(5 / 12)
  assert metrics.average_precision(scores, np.array([0, 0, 1, 1], bool)) == pytest.approx(5 / 12)
  # Input order does not matter.
  perm = np.array([3, 1, 0, 2])
  assert metrics.average_precision(scores[perm], np.array([0, 1, 0, 1], bool)[perm]) == \
      pytest.approx(5 / 12)


def test_mean_average_precision_skips_tags_without_positives():
  scores = np.array([[0.9, 0.1, 0.3], [0.8, 0.9, 0.2], [0.7, 0.2, 0.1], [0.6, 0.3, 0.5]])
  tags = np.array([[1, 0, 0], [0, 0, 0], [1, 1, 0], [0, 0, 0]], bool)
  # Tag 0: 5/6 (ranks 1 and 3); tag 1: its one positive (0.2) ranks 3rd -> 1/3; tag 2: none.
  assert metrics.mean_average_precision(scores, tags) == pytest.approx((5 / 6 + 1 / 3) / 2)
  assert math.isnan(metrics.mean_average_precision(scores, np.zeros((4, 3), bool)))


def test_srcc_hand_examples():
  # No ties: 1 - 6 * sum(d^2) / (n (n^2 - 1)) = 1 - 6 * 2 / 60 = 0.8.
  assert metrics.srcc(np.array([1., 2., 3., 4.]), np.array([1., 3., 2., 4.])) == \
      pytest.approx(0.8)
  # Ties get average ranks: x ranks [1, 2.5, 2.5, 4] vs [1, 2, 3, 4] -> 4.5 / sqrt(4.5 * 5).
  assert metrics.srcc(np.array([1., 2., 2., 3.]), np.array([1., 2., 3., 4.])) == \
      pytest.approx(3 / math.sqrt(10))
  assert metrics.srcc(np.array([3., 2., 1.]), np.array([1., 2., 3.])) == pytest.approx(-1.0)


def test_average_ranks_with_ties():
  x = np.array([0.5, 0.1, 0.5, 0.9, 0.1, 0.5])
  np.testing.assert_array_equal(metrics._average_ranks(x), [4., 1.5, 4., 6., 1.5, 4.])
  np.testing.assert_array_equal(metrics._average_ranks(x), scipy.stats.rankdata(x))


def test_plcc_hand_example():
  # x - mean = [-1, 0, 1], y - mean = [-7/3, -1/3, 8/3]: 5 / sqrt(2 * 114/9) = 15 / sqrt(228).
  assert metrics.plcc(np.array([1., 2., 3.]), np.array([2., 4., 7.])) == \
      pytest.approx(15 / math.sqrt(228))
  assert metrics.plcc(np.array([1., 2., 3.]), np.array([-2., -4., -6.])) == pytest.approx(-1.0)


def test_correlations_nan_for_constant_or_short_input():
  for fn in (metrics.srcc, metrics.plcc):
    assert math.isnan(fn(np.full(5, 0.1), np.arange(5.)))
    assert math.isnan(fn(np.arange(5.), np.full(5, 3.0)))
    assert math.isnan(fn(np.array([1.]), np.array([2.])))


def test_correlations_match_scipy():
  rng = np.random.default_rng(0)
  x = rng.integers(0, 6, 200).astype(float)  # many ties
  y = x + rng.normal(size=200)
  z = rng.random(200)
  for a, b in ((x, y), (y, z), (x, z)):
    assert metrics.srcc(a, b) == pytest.approx(scipy.stats.spearmanr(a, b).statistic, abs=1e-12)
    assert metrics.plcc(a, b) == pytest.approx(scipy.stats.pearsonr(a, b).statistic, abs=1e-12)


def test_roc_auc_hand_examples():
  # Pairs (pos, neg): 0.35 beats 0.1, loses to 0.4; 0.8 beats both -> 3/4.
  assert metrics.roc_auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])) == 0.75
  # A tie counts 1/2: (0.5 vs 0.5: 1/2) + (0.5 vs 0.2: 1) + 0.9 beats both: 3.5 / 4.
  assert metrics.roc_auc(np.array([0.5, 0.5, 0.2, 0.9]), np.array([1, 0, 0, 1])) == 0.875
  assert metrics.roc_auc(np.array([0.3, 0.3]), np.array([1, 0])) == 0.5
  assert metrics.roc_auc(np.array([0.9, 0.1]), np.array([True, False])) == 1.0


def test_roc_auc_matches_pair_counting():
  rng = np.random.default_rng(1)
  scores = rng.integers(0, 5, 60) / 4
  labels = rng.integers(0, 2, 60)
  pos, neg = scores[labels == 1], scores[labels == 0]
  pairs = (pos[:, None] > neg[None]).sum() + 0.5 * (pos[:, None] == neg[None]).sum()
  assert metrics.roc_auc(scores, labels) == pytest.approx(pairs / (len(pos) * len(neg)))


def test_roc_auc_nan_when_one_class_absent():
  assert math.isnan(metrics.roc_auc(np.array([0.2, 0.8]), np.array([1, 1])))
  assert math.isnan(metrics.roc_auc(np.array([0.2, 0.8]), np.array([0, 0])))


def test_evaluate_keys_values_and_json():
  p_high = np.array([0.9, 0.2, 0.6, 0.4])
  labels = np.array([1, 0, 0, 1])
  mean_score = np.array([6.5, 4.0, 5.5, 4.5])
  tags = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 0]], bool)
  semantic = np.array([[0.9, 0.1, 0.5], [0.8, 0.7, 0.5], [0.1, 0.6, 0.5], [0.2, 0.3, 0.5]])
  out = metrics.evaluate(p_high=p_high, labels=labels, mean_score=mean_score,
                         semantic_scores=semantic, tags=tags)
  assert set(out) == {'accuracy', 'balanced_accuracy', 'roc_auc', 'srcc', 'plcc',
                      'semantic_map', 'per_tag_accuracy'}
  assert out['accuracy'] == 0.5              # correct: [T, T, F, F]
  assert out['balanced_accuracy'] == 0.5     # recalls 1/2 and 1/2
  assert out['roc_auc'] == 0.75              # 0.9 beats both; 0.4 beats 0.2 only
  assert out['srcc'] == pytest.approx(1.0)   # p_high and mean_score rank alike
  assert out['semantic_map'] == 1.0          # each tag's positives rank first
  assert out['per_tag_accuracy'] == [1.0, 0.5, None]
  assert all(type(out[k]) is float for k in out if k != 'per_tag_accuracy')
  assert json.loads(json.dumps(out, allow_nan=False)) == out


def test_evaluate_without_tags_or_semantic_scores():
  kwargs = dict(p_high=np.array([0.9, 0.2]), labels=np.array([1, 0]),
                mean_score=np.array([6.0, 4.0]))
  assert set(metrics.evaluate(**kwargs)) == {'accuracy', 'balanced_accuracy', 'roc_auc', 'srcc',
                                             'plcc'}
  # STCNN on AVA: tags but no semantic head -> per-tag accuracy, no mAP.
  out = metrics.evaluate(**kwargs, tags=np.array([[1], [0]], bool))
  assert out['per_tag_accuracy'] == [1.0] and 'semantic_map' not in out

"""The bench (aesthetic_jax/bench) runs end to end on a tiny config and its figures agree
with each other: speed itself is measured by running the bench, never by a timed test."""

import math

import pytest

from aesthetic_jax.bench import runner as bench
from aesthetic_jax.bench import timing

REPORTED = ('train_step_img_per_s', 'loop_img_per_s', 'input_img_per_s', 'eval_img_per_s',
            'gflops_per_s', 'fraction_of_matmul_peak', 'peak_rss_mb', 'compile_s',
            'loop_over_step', 'input_over_step', 'eval_over_train')


@pytest.mark.slow
def test_bench_reports_every_figure(tiny_config, monkeypatch):
  # Small products for the peak: the test checks the plumbing, not this machine's peak.
  monkeypatch.setattr(timing, 'matmul_peak_gflops', lambda: 10.0)
  config = tiny_config(batch_size=8, eval_batch_size=8)
  results = bench.run(config, num_steps=1, repeats=3, num_tags=0, with_data=True,
                      pause_s=0.0)
  for key in REPORTED:
    assert isinstance(results[key], float) and math.isfinite(results[key]), key
    assert results[key] > 0, key
  assert results['flops_per_step'] > 0
  assert results['fraction_of_matmul_peak'] == results['gflops_per_s'] / 10.0
  assert results['pool_lrn_impl'] == 'cpu'  # 'auto' on a CPU backend
  lo, hi = results['train_step_img_per_s_range']
  assert lo <= results['train_step_img_per_s'] <= hi
  # The figures are those of one measurement: rates, times and FLOPs agree.
  assert results['train_step_img_per_s'] == pytest.approx(8 / (results['train_step_ms'] / 1e3))
  assert results['gflops_per_s'] == pytest.approx(
      results['flops_per_step'] / (results['train_step_ms'] / 1e3) / 1e9)
  assert results['eval_over_train'] == pytest.approx(
      results['eval_img_per_s'] / results['train_step_img_per_s'])
  assert 'torch_train_step_img_per_s' not in results  # no interpreter given

"""Timed rounds: seconds per call, medians and ranges, and the machine's matmul peak."""

import statistics
import time

import jax
import jax.numpy as jnp


def time_calls(fn, n: int) -> float:
  """Seconds per call of fn() over n calls, waiting for the last result."""
  start = time.perf_counter()
  out = None
  for _ in range(n):
    out = fn()
  jax.block_until_ready(out)
  return (time.perf_counter() - start) / n


def rate_stats(seconds_per_step, batch_size: int) -> tuple[float, list[float]]:
  """img/s median and [min, max] from seconds per step of each round."""
  rates = [batch_size / s for s in seconds_per_step]
  return statistics.median(rates), [min(rates), max(rates)]


def median_ratio(numerators, denominators) -> float:
  """The median over rounds of numerator / denominator (round k against round k)."""
  return statistics.median(n / d for n, d in zip(numerators, denominators))


def matmul_peak_gflops(sizes=(2048, 4096), repeats: int = 3, dtype=jnp.float32) -> float:
  """The best matrix-product rate, in GFLOP/s, over square products of `sizes` (each timed
  `repeats` times): the practical ceiling a step's GFLOP/s is compared with."""
  best = 0.0
  for n in sizes:
    a = jnp.ones((n, n), dtype)
    mm = jax.jit(lambda x: x @ x)
    jax.block_until_ready(mm(a))
    seconds = min(time_calls(lambda: mm(a), 2) for _ in range(repeats))
    best = max(best, 2 * n ** 3 / seconds / 1e9)
  return best

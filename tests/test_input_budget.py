"""The cores-per-accelerator budget of the input pipeline, on hand numbers."""

import pytest

from aesthetic_jax.bench import input_budget


def test_cores_needed_by_hand():
  # 0.4 x 1e15 FLOP/s / 4e9 FLOP per image = 1e5 images/s; x 2 ms CPU each = 200 cores.
  assert input_budget.images_per_s(4e9, 1e15, 0.4) == pytest.approx(1e5)
  assert input_budget.cores_needed(4e9, 1e15, 0.4, 2.0) == pytest.approx(200.0)
  # Half the MFU or twice the FLOPs: half the images, half the cores; no CPU: no cores.
  assert input_budget.cores_needed(4e9, 1e15, 0.2, 2.0) == pytest.approx(100.0)
  assert input_budget.cores_needed(8e9, 1e15, 0.4, 2.0) == pytest.approx(100.0)
  assert input_budget.cores_needed(4e9, 1e15, 0.4, 0.0) == 0.0
  # An H200 at 40 % on a 12 GFLOP image with 0.5 ms of CPU: 989e12 * 0.4 / 12e9 * 5e-4.
  assert input_budget.cores_needed(12e9, input_budget.PEAK_BF16_FLOPS['H200'], 0.4,
                                   0.5) == pytest.approx(16.483, abs=1e-3)


def test_cores_needed_refuses_nonsense():
  for args in ((0, 1e15, 0.4, 1.0), (4e9, 0, 0.4, 1.0), (4e9, 1e15, 0.0, 1.0),
               (4e9, 1e15, 1.5, 1.0), (4e9, 1e15, 0.4, -1.0)):
    with pytest.raises(ValueError):
      input_budget.cores_needed(*args)


def test_cores_table_rows():
  rows = input_budget.cores_table({'net': 4e9}, {'jpeg': 2.0, 'raw': 0.5},
                                  peaks={'chip': 1e15}, mfu=0.4)
  assert [(r['format'], r['cores_needed']) for r in rows] == [
      ('jpeg', pytest.approx(200.0)), ('raw', pytest.approx(50.0))]
  assert rows[0]['images_per_s'] == pytest.approx(1e5) and rows[0]['gflops_per_image'] == 4.0
  assert 'chip' in input_budget.format_table(rows)

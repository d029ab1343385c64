"""How many CPU cores the input pipeline needs to keep an accelerator busy.

An accelerator running a network at a fraction `mfu` of its peak trains
  images/s = mfu * peak FLOP/s / (FLOPs per trained image)
and the input pipeline spends `cpu_ms_per_image` of CPU time on each image (decode, warp,
crop, batch; data_builders/ava/bench.py measures it per record format), so it needs
  cores = images/s * cpu_ms_per_image / 1000
cores per accelerator for the accelerator to stay compute-bound (fewer cores: it waits).

FLOPs per trained image: the train step's FLOPs (forward + backward + update, XLA's cost
analysis: `python -m aesthetic_jax.bench --config=... --with_data=false` prints
flops_per_step) over the batch size.
"""

from typing import Mapping

# Dense bf16 peak FLOP/s (no sparsity) of one chip.
PEAK_BF16_FLOPS = {
    'H200': 989e12,  # NVIDIA H200 SXM datasheet: 989 TFLOPS bf16 dense (1,979 with sparsity)
    'TPU v5e': 197e12,  # Google Cloud TPU v5e docs: 197 TFLOPS bf16 per chip
}
DEFAULT_MFU = 0.4


def images_per_s(flops_per_image: float, peak_flops: float, mfu: float = DEFAULT_MFU) -> float:
  """Images per second an accelerator of `peak_flops` trains at model FLOP utilisation mfu."""
  if flops_per_image <= 0 or peak_flops <= 0 or not 0 < mfu <= 1:
    raise ValueError(f'need flops_per_image > 0, peak_flops > 0, 0 < mfu <= 1; got '
                     f'{flops_per_image}, {peak_flops}, {mfu}')
  return mfu * peak_flops / flops_per_image


def cores_needed(flops_per_image: float, peak_flops: float, mfu: float,
                 cpu_ms_per_image: float) -> float:
  """CPU cores per accelerator that keep it compute-bound: (images/s it consumes at `mfu`)
  x (CPU seconds the input pipeline spends per image)."""
  if cpu_ms_per_image < 0:
    raise ValueError(f'cpu_ms_per_image must be >= 0, got {cpu_ms_per_image}')
  return images_per_s(flops_per_image, peak_flops, mfu) * cpu_ms_per_image / 1e3


def cores_table(flops_per_image: Mapping[str, float], cpu_ms_per_image: Mapping[str, float],
                peaks: Mapping[str, float] = PEAK_BF16_FLOPS,
                mfu: float = DEFAULT_MFU) -> list[dict]:
  """One row per (accelerator, network, record format): images/s and cores needed."""
  rows = []
  for accelerator, peak in peaks.items():
    for network, flops in flops_per_image.items():
      rate = images_per_s(flops, peak, mfu)
      for fmt, cpu_ms in cpu_ms_per_image.items():
        rows.append({'accelerator': accelerator, 'network': network, 'format': fmt,
                     'peak_tflops': peak / 1e12, 'mfu': mfu,
                     'gflops_per_image': flops / 1e9, 'images_per_s': rate,
                     'cpu_ms_per_image': cpu_ms,
                     'cores_needed': cores_needed(flops, peak, mfu, cpu_ms)})
  return rows


def format_table(rows: list[dict]) -> str:
  """cores_table's rows as an aligned text table."""
  header = (f'{"accelerator":<10} {"network":<14} {"GFLOP/img":>9} {"img/s":>8} '
            f'{"format":<14} {"CPU ms/img":>10} {"cores":>7}')
  lines = [header, '-' * len(header)]
  for r in rows:
    lines.append(f'{r["accelerator"]:<10} {r["network"]:<14} {r["gflops_per_image"]:>9.2f} '
                 f'{r["images_per_s"]:>8.0f} {r["format"]:<14} {r["cpu_ms_per_image"]:>10.2f} '
                 f'{r["cores_needed"]:>7.1f}')
  return '\n'.join(lines)

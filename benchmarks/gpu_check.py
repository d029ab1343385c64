"""The issue's accelerator check, as one command: training-step speed and MFU on this device.

  python benchmarks/gpu_check.py [--torch_python=PYTHON] [--out=FILE.json] [--quick]

Runs aesthetic_jax.bench (no dataset) for MTCNN #1 and ResNet-50 fine-tuning (configs
mtcnn.py and resnet_ft.py, 227x227 crops), each in float32 and bfloat16 compute, and prints
one line per run: train img/s, achieved TFLOP/s (FLOPs from XLA's cost analysis of the
compiled step) and MFU, the fraction of the device's peak dense rate for that dtype. On
NVIDIA GPUs JAX runs float32 matrix products as TF32 by default, so float32 runs are compared
with the TF32 peak. MTCNN #1 runs beside aesthetic_jax/bench/torch_reference.py (same network, on the
same device) when --torch_python can import torch (with CUDA on a GPU).

Also runs on a CPU (MFU then against the bench's own measured matmul peak); --quick takes
small batches and few steps, to check the script itself.
"""

import argparse
import json
import sys

from aesthetic_jax import xla_cpu

xla_cpu.configure()  # before JAX starts

# pylint: disable=g-import-not-at-top,wrong-import-position
import jax

from aesthetic_jax.bench import runner as bench
from aesthetic_jax.bench import torch_process
from configs import mtcnn, resnet_ft

# Dense peak TFLOP/s by device kind (vendor datasheets, SXM parts): (bf16, tf32).
PEAK_TFLOPS = {
    'H200': (989.4, 494.7),
    'H100': (989.4, 494.7),
    'A100': (312.0, 156.0),
    'L4': (121.0, 60.0),
}
RUNS = (('mtcnn1', mtcnn.get_config, 128, 32), ('resnet50', resnet_ft.get_config, 64, 8))


def device_peak_tflops(dtype: str) -> float | None:
  """The device's peak for `dtype` ('bfloat16' or 'float32' -> TF32), or None if unknown."""
  kind = jax.devices()[0].device_kind
  for name, (bf16, tf32) in PEAK_TFLOPS.items():
    if name in kind:
      return bf16 if dtype == 'bfloat16' else tf32
  return None


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--torch_python', default='')
  parser.add_argument('--out', default='')
  parser.add_argument('--quick', action='store_true')
  args = parser.parse_args()
  torch_python = torch_process.find_torch_python(args.torch_python) if args.torch_python else ''
  device = jax.devices()[0]
  print(f'{len(jax.devices())} x {device.device_kind} ({device.platform}), jax {jax.__version__}',
        flush=True)
  rows = []
  for name, get_config, batch_size, quick_batch_size in RUNS:
    for dtype in ('float32', 'bfloat16'):
      config = get_config()
      config.batch_size = quick_batch_size if args.quick else batch_size
      config.eval_batch_size = config.batch_size
      config.model.dtype = dtype
      config.model.init_from = ''  # random weights: speed does not depend on them
      result = bench.run(config, num_steps=2 if args.quick else 10,
                         repeats=1 if args.quick else 5, num_tags=29, with_data=False,
                         torch_python=torch_python if name == 'mtcnn1' else '', pause_s=0.2)
      peak = device_peak_tflops(dtype)
      tflops = result['gflops_per_s'] / 1e3
      row = {'network': name, 'dtype': dtype, 'batch_size': config.batch_size,
             'train_img_per_s': result['train_step_img_per_s'], 'tflops_per_s': tflops,
             'mfu': tflops / peak if peak else result['fraction_of_matmul_peak'],
             'mfu_against': f'{peak} TFLOP/s datasheet' if peak else (
                 f"measured matmul peak {result['matmul_peak_gflops']:.0f} GFLOP/s"),
             'eval_img_per_s': result['eval_img_per_s'],
             # Both peaks are of the process so far, not of this run alone.
             'peak_rss_mb': result['peak_rss_mb'],
             'device_peak_memory_mb': result.get('device_peak_memory_mb'),
             'torch_train_img_per_s': result.get('torch_train_step_img_per_s'),
             'jax_over_torch_train': result.get('jax_over_torch_train')}
      rows.append(row)
      torch_part = (f", PyTorch {row['torch_train_img_per_s']:.1f} img/s "
                    f"({row['jax_over_torch_train']:.2f}x)" if row['torch_train_img_per_s']
                    else '')
      print(f"{name:9s} {dtype:9s} batch {row['batch_size']:4d}: "
            f"{row['train_img_per_s']:8.1f} img/s, {tflops:7.2f} TFLOP/s, "
            f"MFU {row['mfu']:.3f} (of {row['mfu_against']}){torch_part}", flush=True)
  summary = {'device': device.device_kind, 'platform': device.platform,
             'jax': jax.__version__, 'runs': rows}
  if args.out:
    with open(args.out, 'w') as f:
      json.dump(summary, f, indent=1)
  print(json.dumps(summary))
  return 0


if __name__ == '__main__':
  sys.exit(main())

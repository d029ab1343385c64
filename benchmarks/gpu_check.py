"""The accelerator check, as one command: training speed and MFU on this device, beside PyTorch,
the input pipeline on this machine's cores, and the full loop against the bare step.

  python benchmarks/gpu_check.py [--torch_python=PYTHON] [--out=FILE.json] [--quick]

1. MTCNN #1 and ResNet-50 FT (configs mtcnn.py and resnet_ft.py, 227x227 crops, random
   weights), each in float32 and bfloat16 compute: train img/s, achieved TFLOP/s (XLA's cost
   analysis of the compiled step) and MFU, the fraction of the device's dense peak for that
   dtype (datasheet; on NVIDIA GPUs JAX runs float32 products as TF32 by default, so float32
   is compared with the TF32 peak; on a CPU, the bench's own measured matmul peak), and
   PyTorch's img/s on the same device (aesthetic_jax/bench/torch_reference.py, same network,
   loss and optimizer) when --torch_python can import torch (with CUDA on a GPU).
2. The full training loop (grain pipeline feeding the step, as train.loop) against the bare
   step, MTCNN #1 float32 on the embedded synthetic dataset (built into a temporary folder).
3. The training input pipeline for each record format (original JPEGs, 256x256 JPEGs, raw
   256x256 pixels) on generated 640x427 photos, with all of this machine's cores as reader
   threads, and without and with grain worker processes (data_builders/ava/bench.py), and the
   cores each format needs per accelerator.

--quick takes small batches and few steps and images: to check the script itself (on a CPU,
for instance). Prints one line per measurement and, last, one JSON object.
"""

import json
import os
import subprocess
import sys
import tempfile

from aesthetic_jax import xla_cpu

xla_cpu.configure()  # before JAX starts (a no-op on an accelerator)

# pylint: disable=g-import-not-at-top,wrong-import-position
import jax
from absl import app, flags, logging

from aesthetic_jax.bench import runner as bench
from aesthetic_jax.bench import torch_process
from configs import mtcnn, resnet_ft

FLAGS = flags.FLAGS
flags.DEFINE_string('torch_python', '', 'An interpreter that can import torch (PyTorch beside '
                    'the JAX figures); empty: none.')
flags.DEFINE_string('out', '', 'Also write the JSON object to this file.')
flags.DEFINE_bool('quick', False, 'Small batches, few steps: checks the script.')

# Dense peak TFLOP/s by device kind (vendor datasheets, SXM parts): (bf16, tf32).
PEAK_TFLOPS = {
    'H200': (989.4, 494.7),
    'H100': (989.4, 494.7),
    'A100': (312.0, 156.0),
    'L4': (121.0, 60.0),
}
# network, config, (batch, quick batch)
NETWORKS = (('mtcnn1', mtcnn.get_config, (128, 16)), ('resnet50', resnet_ft.get_config, (64, 4)))


def device_peak_tflops(dtype: str) -> float | None:
  """The device's peak for `dtype` ('bfloat16' or 'float32' -> TF32), or None if unknown."""
  kind = jax.devices()[0].device_kind
  for name, (bf16, tf32) in PEAK_TFLOPS.items():
    if name in kind:
      return bf16 if dtype == 'bfloat16' else tf32
  return None


def network_rows(torch_python: str, quick: bool) -> list[dict]:
  rows = []
  for name, get_config, batches in NETWORKS:
    for dtype in ('float32', 'bfloat16'):
      config = get_config()
      config.batch_size = config.eval_batch_size = batches[quick]
      config.model.dtype = dtype
      config.model.init_from = ''  # random weights: speed does not depend on them
      result = bench.run(config, num_steps=2 if quick else 10, repeats=1 if quick else 5,
                         num_tags=29, with_data=False, torch_python=torch_python,
                         pause_s=0.2)
      peak = device_peak_tflops(dtype)
      tflops = result['gflops_per_s'] / 1e3
      row = {'network': name, 'dtype': dtype, 'batch_size': config.batch_size,
             'train_img_per_s': result['train_step_img_per_s'], 'tflops_per_s': tflops,
             'mfu': tflops / peak if peak else result['fraction_of_matmul_peak'],
             'mfu_against': f'{peak} TFLOP/s datasheet' if peak else (
                 f"measured matmul peak {result['matmul_peak_gflops']:.0f} GFLOP/s"),
             'eval_img_per_s': result['eval_img_per_s'],
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
  return rows


def loop_row(quick: bool) -> dict:
  config = mtcnn.get_config()
  config.data.name = 'synthetic'
  config.data.data_dir = tempfile.mkdtemp(prefix='gpu_check_data_')
  config.batch_size = config.eval_batch_size = 16 if quick else 128
  config.input.num_threads = os.cpu_count() or 1
  result = bench.run(config, num_steps=2 if quick else 10, repeats=1 if quick else 5,
                     num_tags=29, with_data=True, pause_s=0.2)
  row = {key: result[key] for key in ('train_step_img_per_s', 'loop_img_per_s',
                                      'loop_over_step', 'input_img_per_s', 'input_over_step')}
  print(f"loop      float32   batch {config.batch_size:4d}: loop {row['loop_img_per_s']:.1f} "
        f"img/s = {row['loop_over_step']:.2f} of the bare step; input pipeline "
        f"{row['input_img_per_s']:.1f} img/s (synthetic 96x96 JPEGs)", flush=True)
  return row


def input_pipeline(quick: bool) -> dict:
  cores = os.cpu_count() or 1
  command = [sys.executable, '-m', 'data_builders.ava.bench', '--json',
             f'--num_images={200 if quick else 2000}', f'--threads={cores}',
             f'--grain_workers=0,{max(1, cores // 2)}', f'--batches={3 if quick else 15}']
  result = subprocess.run(command, capture_output=True, text=True, check=True,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  record = json.loads(result.stdout.strip().splitlines()[-1])
  for row in record['pipeline']:
    print(f"input     {row['format']:14s} threads {row['threads']:2d} workers "
          f"{row['grain_workers']:2d}: {row['img_per_s']:8.1f} img/s, "
          f"{row['cpu_ms_per_img']:.2f} CPU ms/img", flush=True)
  return record


def main(argv) -> int:
  del argv
  logging.set_verbosity(logging.WARNING)
  torch_python = (torch_process.find_torch_python(FLAGS.torch_python) if FLAGS.torch_python
                  else '')
  device = jax.devices()[0]
  print(f'{len(jax.devices())} x {device.device_kind} ({device.platform}), jax {jax.__version__}'
        f', {os.cpu_count()} CPU cores', flush=True)
  summary = {'device': device.device_kind, 'platform': device.platform, 'jax': jax.__version__,
             'cpu_cores': os.cpu_count(), 'quick': FLAGS.quick,
             'runs': network_rows(torch_python, FLAGS.quick),
             'loop': loop_row(FLAGS.quick), 'input_pipeline': input_pipeline(FLAGS.quick)}
  if FLAGS.out:
    with open(FLAGS.out, 'w') as f:
      json.dump(summary, f, indent=1)
  print(json.dumps(summary))
  return 0


if __name__ == '__main__':
  app.run(main)

"""Speed and memory of a config on this machine, beside PyTorch in the same run.

  python -m aesthetic_jax.bench --config=configs/mtcnn.py [--config.batch_size=64] [--json]
      [--torch_python=/path/to/python-with-torch] [--with_data=false]

Reports, after warm-up, the median and range over --repeats runs of --steps steps each:
the bare jitted train step, the full loop (input pipeline feeding the step), the input
pipeline alone, evaluation; achieved GFLOP/s (FLOPs from the compiled step's cost analysis)
and its fraction of a matmul peak measured here; compile time; peak resident memory. When an
interpreter with PyTorch is found, benchmarks/torch_reference.py (the same network, loss and
optimizer) runs in a subprocess and its train/eval steps alternate with JAX's, round by
round, so that drift in a shared machine's load hits both; the ratios are per round medians.
The load average before and after is printed: figures taken under load say so.
With --json the last line is one JSON object.
"""

import json
import os
import pathlib
import resource
import statistics
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags, logging
from jax.sharding import NamedSharding, PartitionSpec as P
from ml_collections import config_flags

from aesthetic_jax import input_pipeline, models, steps, train_state
from aesthetic_jax.models import cpu_conv

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file('config', None, 'Experiment config file.', lock_config=True)
flags.DEFINE_integer('steps', 5, 'Timed steps per repeat.')
flags.DEFINE_integer('repeats', 5, 'Repeats (median and min/max are reported).')
flags.DEFINE_integer('num_tags', 29, 'Semantic tags when no dataset is read (AVA has 29).')
flags.DEFINE_bool('with_data', True, 'Also time the input pipeline and the full loop.')
flags.DEFINE_string('torch_python', '', 'Python interpreter that can import torch for the '
                    'reference; empty: this interpreter if it can, else no comparison.')
flags.DEFINE_float('pause_s', 0.5, 'Idle seconds before each timed round, so that the other '
                   "side's spinning worker threads have gone to sleep.")
flags.DEFINE_bool('json', False, 'Print one JSON object as the last line.')
flags.mark_flags_as_required(['config'])

TORCH_REFERENCE = pathlib.Path(__file__).resolve().parents[1] / 'benchmarks' / (
    'torch_reference.py')


def _stats(seconds_per_step, batch_size):
  """img/s median and [min, max] from seconds per step of each repeat."""
  rates = [batch_size / s for s in seconds_per_step]
  return statistics.median(rates), [min(rates), max(rates)]


def _time_steps(fn, n):
  """Seconds per call of fn() over n calls, waiting for the last result."""
  start = time.perf_counter()
  out = None
  for _ in range(n):
    out = fn()
  jax.block_until_ready(out)
  return (time.perf_counter() - start) / n


def matmul_peak_gflops(sizes=(2048, 4096), repeats=3):
  """The best float32 matrix-product rate, in GFLOP/s, over square products of `sizes` (each
  timed `repeats` times): the practical ceiling the step's GFLOP/s is compared with."""
  best = 0.0
  for n in sizes:
    a = jnp.ones((n, n), jnp.float32)
    mm = jax.jit(lambda x: x @ x)
    jax.block_until_ready(mm(a))
    seconds = min(_time_steps(lambda: mm(a), 2) for _ in range(repeats))
    best = max(best, 2 * n ** 3 / seconds / 1e9)
  return best


def _random_batch(batch_size, crop, num_tags, rng):
  return {'image': rng.integers(0, 256, (batch_size, crop, crop, 3)).astype(np.uint8),
          'label': rng.integers(0, 2, batch_size).astype(np.int32),
          'tags': rng.random((batch_size, num_tags)) < 0.1,
          'mask': np.ones(batch_size, bool)}


class TorchReference:
  """benchmarks/torch_reference.py in a subprocess; None-like when torch is unavailable."""

  def __init__(self, python, config, num_tags):
    spec = {'conv_features': list(config.model.conv_features),
            'conv_kernels': list(config.model.conv_kernels),
            'conv_strides': list(config.model.conv_strides),
            'fc_features': list(config.model.fc_features),
            'dropout_rate': config.model.dropout_rate, 'crop_size': config.input.crop_size,
            'num_tags': num_tags, 'batch_size': config.batch_size,
            'eval_batch_size': config.eval_batch_size,
            'pixel_mean': list(config.model.pixel_mean),
            'pixel_std': list(config.model.pixel_std),
            'learning_rate': config.optimizer.learning_rate,
            'momentum': config.optimizer.momentum,
            'weight_decay': config.optimizer.weight_decay,
            'semantic_weight': 1.0 / max(num_tags, 1),
            'device': 'cuda' if jax.default_backend() == 'gpu' else 'cpu',
            'dtype': config.model.dtype}
    self.proc = subprocess.Popen([python, str(TORCH_REFERENCE), '--spec', json.dumps(spec)],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    self.info = json.loads(self.proc.stdout.readline())

  def seconds_per_step(self, cmd, steps):
    self.proc.stdin.write(json.dumps({'cmd': cmd, 'steps': steps}) + '\n')
    self.proc.stdin.flush()
    return json.loads(self.proc.stdout.readline())['seconds_per_step']

  def close(self):
    self.proc.stdin.write(json.dumps({'cmd': 'quit'}) + '\n')
    self.proc.stdin.close()
    self.proc.wait(timeout=60)


def find_torch_python(flag_value):
  """The interpreter to run the reference with, or '' (with the reason logged)."""
  candidates = [flag_value] if flag_value else [sys.executable]
  for python in candidates:
    try:
      probe = subprocess.run([python, '-c', 'import torch'], capture_output=True)
    except OSError:
      continue
    if probe.returncode == 0:
      return python
  print(f'No PyTorch comparison: {candidates[0]} cannot import torch (give an interpreter '
        'that can with --torch_python).', file=sys.stderr)
  return ''


def _architecture_supported_by_reference(config):
  return (config.model.architecture in ('mtcnn1', 'stcnn') and config.model.body == 'rapid'
          and not config.model.get('distribution_head', False))


def run(config, *, num_steps, repeats, num_tags, with_data, torch_python='',
        pause_s=0.5) -> dict:
  load_before = os.getloadavg()[0]
  results = {'config_batch_size': config.batch_size, 'devices': jax.device_count(),
             'platform': jax.devices()[0].platform,
             'conv_impl': cpu_conv.resolve_impl(config.model.get('conv_impl', 'auto')),
             'xla_flags': os.environ.get('XLA_FLAGS', ''),
             'dtype': config.model.dtype,
             'allocator': os.path.basename(os.environ.get('LD_PRELOAD', '')) or 'default'}
  data = input_pipeline.load(config) if with_data else None
  if data is not None:
    num_tags = data.meta.num_tags
  num_tags = num_tags if config.model.architecture != 'stcnn' else 0
  crop = config.input.crop_size
  model = models.build_model(config.model, num_tags=num_tags)
  tx = train_state.make_optimizer(config, steps_per_epoch=1000)
  mesh = steps.make_mesh()
  replicated, split = NamedSharding(mesh, P()), NamedSharding(mesh, P(steps.AXIS))
  state = jax.jit(lambda r: train_state.create_train_state(
      config, model, tx, image_shape=(crop, crop, 3), rng=r), out_shardings=replicated)(
          jax.random.PRNGKey(0))
  batch = jax.device_put(_random_batch(config.batch_size, crop, num_tags,
                                       np.random.default_rng(0)), split)
  if not num_tags:
    batch.pop('tags')

  train_step = steps.shard_map_train_step(steps.bind_train_step(model, tx, config, num_tags),
                                          mesh)
  start = time.perf_counter()
  compiled = train_step.lower(state, batch).compile()
  results['compile_s'] = time.perf_counter() - start
  memory = compiled.memory_analysis()
  if memory is not None:  # XLA's buffers for one step (the process's RSS adds the rest)
    results['step_temp_mb'] = memory.temp_size_in_bytes / 2 ** 20
    results['step_arguments_mb'] = memory.argument_size_in_bytes / 2 ** 20
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  flops = float(cost.get('flops', 0.0)) if cost else 0.0
  holder = {'state': state}

  def one_step():
    holder['state'], metrics = compiled(holder['state'], batch)
    return metrics['total']

  eval_step = steps.shard_map_eval_step(steps.bind_eval_step(model), mesh)
  eval_batch = jax.device_put({k: v for k, v in _random_batch(
      config.eval_batch_size, crop, num_tags, np.random.default_rng(1)).items()
      if k in ('image', 'label', 'tags') and (num_tags or k != 'tags')}, split)

  def one_eval():
    return eval_step(holder['state'], eval_batch)['p_high']

  torch_ref = None
  if torch_python and _architecture_supported_by_reference(config):
    torch_ref = TorchReference(torch_python, config, num_tags)
    results['torch'] = torch_ref.info
  elif torch_python:
    print('No PyTorch comparison: the reference is MTCNN #1 / STCNN with the RAPID body.',
          file=sys.stderr)

  # Warm-up, then JAX and PyTorch alternate round by round.
  jax.block_until_ready(one_step())
  jax.block_until_ready(one_eval())
  timings = {'train': [], 'eval': [], 'torch_train': [], 'torch_eval': []}
  for kind, fn in (('train', one_step), ('eval', one_eval)):
    for _ in range(repeats):
      time.sleep(pause_s)
      timings[kind].append(_time_steps(fn, num_steps))
      if torch_ref:
        time.sleep(pause_s)
        timings['torch_' + kind].append(torch_ref.seconds_per_step(kind, num_steps))
  if torch_ref:
    torch_ref.close()

  median, spread = _stats(timings['train'], config.batch_size)
  step_s = statistics.median(timings['train'])
  results.update(train_step_img_per_s=median, train_step_img_per_s_range=spread,
                 train_step_ms=step_s * 1e3, flops_per_step=flops,
                 gflops_per_s=flops / step_s / 1e9)
  results['eval_img_per_s'], results['eval_img_per_s_range'] = _stats(
      timings['eval'], config.eval_batch_size)
  if torch_ref:
    results['torch_train_step_img_per_s'], results['torch_train_step_img_per_s_range'] = (
        _stats(timings['torch_train'], config.batch_size))
    results['torch_eval_img_per_s'], _ = _stats(timings['torch_eval'], config.eval_batch_size)
    # Ratio per round (JAX round k against the PyTorch round right after it), then median.
    results['jax_over_torch_train'] = statistics.median(
        t / j for j, t in zip(timings['train'], timings['torch_train']))
    results['jax_over_torch_eval'] = statistics.median(
        t / j for j, t in zip(timings['eval'], timings['torch_eval']))

  peak = matmul_peak_gflops()
  results.update(matmul_peak_gflops=peak, fraction_of_matmul_peak=results['gflops_per_s'] / peak)

  if data is not None:
    iterator = iter(input_pipeline.train_dataset(config, data.train_source, data.train_indices,
                                                 data.meta))
    first = next(iterator)
    input_s = [_time_steps(lambda: next(iterator)['label'], num_steps) for _ in range(repeats)]
    results['input_img_per_s'], results['input_img_per_s_range'] = _stats(
        input_s, config.batch_size)

    # The loop of train.py: a batch is read and sent while the previous step still runs
    # (dispatch is asynchronous), so input and compute overlap.
    keys = set(first)

    def loop_step():
      b = {k: jax.make_array_from_process_local_data(split, v)
           for k, v in next(iterator).items() if k in keys}
      holder['state'], metrics = train_step(holder['state'], b)
      return metrics['total']

    jax.block_until_ready(loop_step())  # compiles for the pipeline's batch structure
    # Loop and bare-step rounds alternate, so that the ratio compares like with like.
    loop_s, step_s_again = [], []
    for _ in range(repeats):
      time.sleep(pause_s)
      step_s_again.append(_time_steps(one_step, num_steps))
      time.sleep(pause_s)  # the prefetch buffer refills here, not during the next round
      loop_s.append(_time_steps(loop_step, num_steps))
    results['loop_img_per_s'], results['loop_img_per_s_range'] = _stats(
        loop_s, config.batch_size)
    results['loop_over_step'] = statistics.median(
        s / l for s, l in zip(step_s_again, loop_s))
    results['input_over_step'] = results['input_img_per_s'] / results['train_step_img_per_s']
  results['eval_over_train'] = results['eval_img_per_s'] / results['train_step_img_per_s']
  # ru_maxrss is in KiB on Linux.
  results['peak_rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
  device_stats = jax.devices()[0].memory_stats()  # None on CPU
  if device_stats and 'peak_bytes_in_use' in device_stats:
    results['device_peak_memory_mb'] = device_stats['peak_bytes_in_use'] / 2 ** 20
  results['load_average_1min'] = [load_before, os.getloadavg()[0]]
  return results


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  config = FLAGS.config
  torch_python = find_torch_python(FLAGS.torch_python)
  results = run(config, num_steps=FLAGS.steps, repeats=FLAGS.repeats, num_tags=FLAGS.num_tags,
                with_data=FLAGS.with_data, torch_python=torch_python, pause_s=FLAGS.pause_s)
  out = sys.stderr if FLAGS.json else sys.stdout
  for key, value in results.items():
    shown = f'{value:.3f}' if isinstance(value, float) else value
    if isinstance(value, list) and value and isinstance(value[0], float):
      shown = '[' + ', '.join(f'{v:.3f}' for v in value) + ']'
    print(f'{key:>34}: {shown}', file=out)
  cores = os.cpu_count() or 1
  if results["load_average_1min"][0] > 0.5 * cores:
    print(f'Note: taken under load (1-min load average {results["load_average_1min"]} on '
          f'{cores} cores); other processes shared the CPUs.', file=out)
  if FLAGS.json:
    print(json.dumps(results))


if __name__ == '__main__':
  app.run(main)

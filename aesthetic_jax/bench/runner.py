"""The bench: speed and memory of a config on this machine, beside PyTorch in the same run.

After warm-up, the median and range over `repeats` rounds of `steps` steps each: the bare
jitted train step, the full loop (input pipeline feeding the step), the input pipeline alone,
evaluation; achieved GFLOP/s (FLOPs from the compiled step's cost analysis) and its fraction
of a matmul peak measured here; compile time; peak memory. When an interpreter with PyTorch
is given, torch_reference.py runs the same network in a subprocess and its rounds alternate
with JAX's, so that drift in a shared machine's load hits both; ratios are per-round medians.
The set-up is training's own (train.state, train.steps), on random images.
"""

import dataclasses
import os
import resource
import time

import jax
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P

from aesthetic_jax import model as model_lib
from aesthetic_jax.bench import timing, torch_process
from aesthetic_jax.data import pipeline
from aesthetic_jax.model import cpu_pool_lrn
from aesthetic_jax.train import evaluation, steps
from aesthetic_jax.train import state as state_lib


def _random_batch(batch_size, crop, num_tags, rng, *, with_mask=True):
  batch = {'image': rng.integers(0, 256, (batch_size, crop, crop, 3)).astype(np.uint8),
           'label': rng.integers(0, 2, batch_size).astype(np.int32)}
  if num_tags:
    batch['tags'] = rng.random((batch_size, num_tags)) < 0.1
  if with_mask:
    batch['mask'] = np.ones(batch_size, bool)
  return batch


@dataclasses.dataclass
class _Setup:
  """The compiled steps and their inputs (training's own set-up, random weights)."""
  config: object
  num_tags: int
  split: NamedSharding
  state: object
  train_step: object
  compiled_train: object
  eval_step: object
  batch: dict
  eval_batch: dict

  def one_step(self):
    self.state, metrics = self.compiled_train(self.state, self.batch)
    return metrics['total']

  def one_eval(self):
    return self.eval_step(self.state, self.eval_batch)['p_high']


def set_up(config, num_tags: int, results: dict) -> _Setup:
  """Builds and compiles the train and eval steps; records compile time, FLOPs, memory."""
  crop = config.input.crop_size
  model = model_lib.build_model(config.model, num_tags=num_tags)
  tx = state_lib.make_optimizer(config, steps_per_epoch=1000)
  mesh = steps.make_mesh()
  replicated, split = NamedSharding(mesh, P()), NamedSharding(mesh, P(steps.AXIS))
  state = jax.jit(lambda r: state_lib.create_train_state(
      config, model, tx, image_shape=(crop, crop, 3), rng=r), out_shardings=replicated)(
          jax.random.PRNGKey(0))
  batch = jax.device_put(_random_batch(config.batch_size, crop, num_tags,
                                       np.random.default_rng(0)), split)
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
  results['flops_per_step'] = float(cost.get('flops', 0.0)) if cost else 0.0
  eval_step = steps.shard_map_eval_step(steps.bind_eval_step(model), mesh)
  eval_batch = jax.device_put(_random_batch(config.eval_batch_size, crop, num_tags,
                                            np.random.default_rng(1), with_mask=False), split)
  return _Setup(config, num_tags, split, state, train_step, compiled, eval_step, batch,
                eval_batch)


def time_steps(setup: _Setup, *, num_steps: int, repeats: int, pause_s: float,
               torch_ref, results: dict) -> None:
  """Train and eval steps, JAX and PyTorch alternating round by round."""
  config = setup.config
  jax.block_until_ready(setup.one_step())
  jax.block_until_ready(setup.one_eval())
  timings = {'train': [], 'eval': [], 'torch_train': [], 'torch_eval': []}
  for kind, fn in (('train', setup.one_step), ('eval', setup.one_eval)):
    for _ in range(repeats):
      time.sleep(pause_s)
      timings[kind].append(timing.time_calls(fn, num_steps))
      if torch_ref:
        time.sleep(pause_s)
        timings['torch_' + kind].append(torch_ref.seconds_per_step(kind, num_steps))
  step_s = float(np.median(timings['train']))
  results['train_step_img_per_s'], results['train_step_img_per_s_range'] = timing.rate_stats(
      timings['train'], config.batch_size)
  results.update(train_step_ms=step_s * 1e3,
                 gflops_per_s=results['flops_per_step'] / step_s / 1e9)
  results['eval_img_per_s'], results['eval_img_per_s_range'] = timing.rate_stats(
      timings['eval'], config.eval_batch_size)
  if torch_ref:
    results['torch_train_step_img_per_s'], results['torch_train_step_img_per_s_range'] = (
        timing.rate_stats(timings['torch_train'], config.batch_size))
    results['torch_eval_img_per_s'], _ = timing.rate_stats(timings['torch_eval'],
                                                           config.eval_batch_size)
    results['torch_gflops_per_s'] = torch_ref.gflops_per_s(float(np.median(
        timings['torch_train'])))
    # JAX round k against the PyTorch round right after it, then the median.
    results['jax_over_torch_train'] = timing.median_ratio(timings['torch_train'],
                                                          timings['train'])
    results['jax_over_torch_eval'] = timing.median_ratio(timings['torch_eval'], timings['eval'])
  results['eval_over_train'] = results['eval_img_per_s'] / results['train_step_img_per_s']


def time_input_and_loop(setup: _Setup, data, *, num_steps: int, repeats: int, pause_s: float,
                        results: dict) -> None:
  """The input pipeline alone, and the full loop of train.loop (a batch is read and sent
  while the previous step still runs) against the bare step, in alternating rounds."""
  config = setup.config
  iterator = iter(pipeline.train_dataset(config, data.train_source, data.train_indices,
                                         data.meta))
  first = next(iterator)
  input_s = [timing.time_calls(lambda: next(iterator)['label'], num_steps)
             for _ in range(repeats)]
  results['input_img_per_s'], results['input_img_per_s_range'] = timing.rate_stats(
      input_s, config.batch_size)
  keys = set(first)

  def loop_step():
    batch = evaluation.to_global({k: v for k, v in next(iterator).items() if k in keys},
                                 setup.split)
    setup.state, metrics = setup.train_step(setup.state, batch)
    return metrics['total']

  jax.block_until_ready(loop_step())  # compiles for the pipeline's batch structure
  loop_s, step_s = [], []
  for _ in range(repeats):
    time.sleep(pause_s)
    step_s.append(timing.time_calls(setup.one_step, num_steps))
    time.sleep(pause_s)  # the prefetch buffer refills here, not during the next round
    loop_s.append(timing.time_calls(loop_step, num_steps))
  results['loop_img_per_s'], results['loop_img_per_s_range'] = timing.rate_stats(
      loop_s, config.batch_size)
  results['loop_over_step'] = timing.median_ratio(step_s, loop_s)
  results['input_over_step'] = results['input_img_per_s'] / results['train_step_img_per_s']


def run(config, *, num_steps: int, repeats: int, num_tags: int, with_data: bool,
        torch_python: str = '', pause_s: float = 0.5) -> dict:
  """Every figure of the bench for `config`, as a dict (see the module docstring)."""
  results = {'config_batch_size': config.batch_size, 'devices': jax.device_count(),
             'platform': jax.devices()[0].platform,
             'pool_lrn_impl': cpu_pool_lrn.resolve_impl(config.model.get('pool_lrn_impl', 'auto')),
             'xla_flags': os.environ.get('XLA_FLAGS', ''), 'dtype': config.model.dtype,
             'allocator': os.path.basename(os.environ.get('LD_PRELOAD', '')) or 'default',
             'load_average_1min': [os.getloadavg()[0]]}
  data = pipeline.load(config) if with_data else None
  if data is not None:
    num_tags = data.meta.num_tags
  num_tags = num_tags if config.model.architecture != 'stcnn' else 0
  setup = set_up(config, num_tags, results)
  torch_ref = None
  if torch_python and torch_process.supports(config):
    torch_ref = torch_process.TorchReference(torch_python, config, num_tags)
    results['torch'] = torch_ref.info
  elif torch_python:
    results['torch'] = f'no reference: {torch_process.unsupported_reason(config)}'
  try:
    time_steps(setup, num_steps=num_steps, repeats=repeats, pause_s=pause_s,
               torch_ref=torch_ref, results=results)
  finally:
    if torch_ref:
      torch_ref.close()
  peak = timing.matmul_peak_gflops()
  results.update(matmul_peak_gflops=peak, fraction_of_matmul_peak=results['gflops_per_s'] / peak)
  if data is not None:
    time_input_and_loop(setup, data, num_steps=num_steps, repeats=repeats, pause_s=pause_s,
                        results=results)
  # ru_maxrss is in KiB on Linux.
  results['peak_rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
  device_stats = jax.devices()[0].memory_stats()  # None on CPU
  if device_stats and 'peak_bytes_in_use' in device_stats:
    results['device_peak_memory_mb'] = device_stats['peak_bytes_in_use'] / 2 ** 20
  results['load_average_1min'].append(os.getloadavg()[0])
  return results

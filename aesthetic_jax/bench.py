"""Speed and memory of a config on this machine (figures, not a test).

  python -m aesthetic_jax.bench --config=configs/mtcnn.py [--config.batch_size=64] [--json]

Reports, after warm-up, the median and spread over --repeats runs of: the bare jitted train
step, evaluation, the input pipeline alone, and the full loop (pipeline + step); achieved
GFLOP/s (FLOPs from the compiled step's cost analysis) against a matmul peak measured here;
compile time; peak resident memory. With --json the last line is one JSON object.
"""

import json
import resource
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags, logging
from jax.sharding import NamedSharding, PartitionSpec as P
from ml_collections import config_flags

from aesthetic_jax import input_pipeline, models, steps, train_state

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file('config', None, 'Experiment config file.', lock_config=True)
flags.DEFINE_integer('steps', 10, 'Timed steps per repeat.')
flags.DEFINE_integer('repeats', 3, 'Repeats (median and min/max are reported).')
flags.DEFINE_integer('num_tags', 29, 'Semantic tags when no dataset is read (AVA has 29).')
flags.DEFINE_bool('with_data', True, 'Also time the input pipeline and the full loop.')
flags.DEFINE_bool('json', False, 'Print one JSON object as the last line.')
flags.mark_flags_as_required(['config'])


def _timed(fn, n, repeats):
  """Median, min, max seconds per call of fn() over `repeats` runs of n calls (after warm-up)."""
  jax.block_until_ready(fn())
  per_call = []
  for _ in range(repeats):
    start = time.perf_counter()
    out = None
    for _ in range(n):
      out = fn()
    jax.block_until_ready(out)
    per_call.append((time.perf_counter() - start) / n)
  return statistics.median(per_call), min(per_call), max(per_call)


def matmul_peak_gflops(n=2048, repeats=5):
  a = jnp.ones((n, n), jnp.float32)
  mm = jax.jit(lambda x: x @ x)
  median, _, _ = _timed(lambda: mm(a), 3, repeats)
  return 2 * n ** 3 / median / 1e9


def _random_batch(batch_size, crop, num_tags, rng):
  return {'image': rng.integers(0, 256, (batch_size, crop, crop, 3)).astype(np.uint8),
          'label': rng.integers(0, 2, batch_size).astype(np.int32),
          'tags': rng.random((batch_size, num_tags)) < 0.1,
          'mask': np.ones(batch_size, bool)}


def run(config, *, num_steps, repeats, num_tags, with_data) -> dict:
  results = {'config_batch_size': config.batch_size, 'devices': jax.device_count(),
             'platform': jax.devices()[0].platform}
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
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  flops = float(cost.get('flops', 0.0)) if cost else 0.0

  holder = {'state': state}

  def one_step(b=batch):
    holder['state'], metrics = compiled(holder['state'], b)
    return metrics['total']

  median, low, high = _timed(one_step, num_steps, repeats)
  results.update(train_step_img_per_s=config.batch_size / median,
                 train_step_img_per_s_range=[config.batch_size / high, config.batch_size / low],
                 train_step_ms=median * 1e3, flops_per_step=flops,
                 gflops_per_s=flops / median / 1e9)
  peak = matmul_peak_gflops()
  results.update(matmul_peak_gflops=peak, fraction_of_matmul_peak=results['gflops_per_s'] / peak)

  eval_step = steps.shard_map_eval_step(steps.bind_eval_step(model), mesh)
  eval_batch = jax.device_put({k: v for k, v in _random_batch(
      config.eval_batch_size, crop, num_tags, np.random.default_rng(1)).items()
      if k in ('image', 'label', 'tags') and (num_tags or k != 'tags')}, split)
  median, low, high = _timed(lambda: eval_step(holder['state'], eval_batch)['p_high'],
                             num_steps, repeats)
  results['eval_img_per_s'] = config.eval_batch_size / median

  if data is not None:
    iterator = iter(input_pipeline.train_dataset(config, data.train_source, data.train_indices,
                                                 data.meta))
    median, _, _ = _timed(lambda: next(iterator)['label'], num_steps, repeats)
    results['input_img_per_s'] = config.batch_size / median

    def loop_step():
      b = jax.tree.map(lambda x: jax.make_array_from_process_local_data(split, x),
                       next(iterator))
      holder['state'], metrics = compiled(holder['state'], b)
      return metrics['total']

    median, _, _ = _timed(loop_step, num_steps, repeats)
    results['loop_img_per_s'] = config.batch_size / median
  # ru_maxrss is in KiB on Linux.
  results['peak_rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
  return results


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  results = run(FLAGS.config, num_steps=FLAGS.steps, repeats=FLAGS.repeats,
                num_tags=FLAGS.num_tags, with_data=FLAGS.with_data)
  for key, value in results.items():
    shown = f'{value:.3f}' if isinstance(value, float) else value
    print(f'{key:>28}: {shown}', file=sys.stderr if FLAGS.json else sys.stdout)
  if FLAGS.json:
    print(json.dumps(results))


if __name__ == '__main__':
  app.run(main)

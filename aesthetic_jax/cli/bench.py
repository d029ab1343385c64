"""Speed and memory of a config on this machine, beside PyTorch in the same run.

  python -m aesthetic_jax.bench --config=configs/mtcnn.py [--config.batch_size=64] [--json]
      [--torch_python=/path/to/python-with-torch] [--with_data=false]

Reports, after warm-up, the median and range over --repeats rounds of --steps steps each of
the bare jitted train step, the full loop, the input pipeline and evaluation, with GFLOP/s,
compile time and peak memory (aesthetic_jax/bench/runner.py). The load average before and
after is printed: figures taken under load say so. With --json the last line is one JSON
object.
"""

import json
import os
import sys

from absl import app, flags, logging

from aesthetic_jax.bench import runner, torch_process
from aesthetic_jax.cli import flags as cli_flags

FLAGS = flags.FLAGS
cli_flags.config()
flags.DEFINE_integer('steps', 5, 'Timed steps per round.')
flags.DEFINE_integer('repeats', 5, 'Rounds (median and min/max are reported).')
flags.DEFINE_integer('num_tags', 29, 'Semantic tags when no dataset is read (AVA has 29).')
flags.DEFINE_bool('with_data', True, 'Also time the input pipeline and the full loop.')
flags.DEFINE_string('torch_python', '', 'Python interpreter that can import torch for the '
                    'reference; empty: this interpreter if it can, else no comparison.')
flags.DEFINE_float('pause_s', 0.5, 'Idle seconds before each timed round, so that the other '
                   "side's spinning worker threads have gone to sleep.")
cli_flags.json_output()


def main(argv) -> int:
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  if FLAGS.config is None:
    raise app.UsageError('give --config=FILE')
  logging.set_verbosity(logging.WARNING)
  results = runner.run(FLAGS.config, num_steps=FLAGS.steps, repeats=FLAGS.repeats,
                       num_tags=FLAGS.num_tags, with_data=FLAGS.with_data,
                       torch_python=torch_process.find_torch_python(FLAGS.torch_python),
                       pause_s=FLAGS.pause_s)
  out = sys.stderr if FLAGS.json else sys.stdout
  for key, value in results.items():
    shown = f'{value:.3f}' if isinstance(value, float) else value
    if isinstance(value, list) and value and isinstance(value[0], float):
      shown = '[' + ', '.join(f'{v:.3f}' for v in value) + ']'
    print(f'{key:>34}: {shown}', file=out)
  cores = os.cpu_count() or 1
  if results['load_average_1min'][0] > 0.5 * cores:
    print(f'Note: taken under load (1-min load average {results["load_average_1min"]} on '
          f'{cores} cores); other processes shared the CPUs.', file=out)
  if FLAGS.json:
    print(json.dumps(results))
  return 0

"""One command per paper table: trains its rows with N seeds and writes our figures, with
confidence intervals and paired tests, next to the paper's.

  python -m aesthetic_jax.experiments TABLE[:demo] --workdir=DIR [--seeds=N] [--data_dir=DIR]
      [--epochs=N] [--rows=ROW,ROW] [--set=KEY=VALUE ...] [--rerun] [--no_figures]

TABLE is table1 .. table5 or respective (the rows are in configs/<TABLE>.py); `:demo` runs
every row on the embedded synthetic data with small networks. Run s of row R trains in
DIR/R/seed<s>/ (seeds: the config's seed, +1, ...). Written: DIR/results.md and
DIR/results.csv (mean, std and 95% interval of each metric over seeds and test images, the
paired difference from the table's baseline row with its p-value, the paper's figure, every
run's settings, wall time and launch command) and DIR/figures/ (per-tag accuracy, training
curves, Omega correlations, conv1 filters and example images of the first seed's runs). A
finished run is not trained again unless one of its settings changed or --rerun is given;
an interrupted run resumes from its checkpoint. Exit status 1 if a run failed.
"""

import ast
import datetime
import os
import shlex
import sys
import time
import traceback
from typing import Any, Sequence

from absl import app, flags
from absl import logging as absl_logging

from aesthetic_jax.cli import flags as cli_flags
from aesthetic_jax.experiments import results as results_lib
from aesthetic_jax.experiments import runner, tables
from aesthetic_jax.run_dir import files

FLAGS = flags.FLAGS
cli_flags.workdir('Folder for the runs and the results.')
cli_flags.data_dir('TFDS data_dir of the datasets (config data.data_dir) for every row.')
flags.DEFINE_integer('seeds', 1, 'Runs per row, with seeds seed, seed + 1, ...', lower_bound=1)
flags.DEFINE_bool('demo', False, 'Embedded synthetic data and small networks (= TABLE:demo).')
flags.DEFINE_integer('epochs', None, 'Config num_epochs for every row.')
flags.DEFINE_list('rows', [], 'Row names (default: all).')
flags.DEFINE_multi_string('set', [], 'Config override for every row, KEY=VALUE, e.g. '
                          '--set=batch_size=128.')
flags.DEFINE_bool('rerun', False, 'Train finished runs again.')
flags.DEFINE_bool('no_figures', False, 'Skip the figures.')


def parse_override(text: str) -> tuple[str, Any]:
  """'optimizer.learning_rate=0.1' -> ('optimizer.learning_rate', 0.1); strings stay strings."""
  key, sep, value = text.partition('=')
  if not sep or not key:
    raise app.UsageError(f'--set wants KEY=VALUE, got {text!r}.')
  try:
    return key, ast.literal_eval(value)
  except (ValueError, SyntaxError):
    return key, value


def _environment() -> str:
  import jax  # pylint: disable=g-import-not-at-top
  devices = jax.devices()
  when = datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')
  return (f'{len(devices)} {devices[0].platform} device(s) ({devices[0].device_kind}), '
          f'{os.cpu_count()} CPU cores, jax {jax.__version__}, {when}')


def _figures(module, results: Sequence[runner.RowResult], workdir: str) -> str:
  """Draws the table's figures from each row's first finished run (never fails the table);
  returns a Markdown list of them."""
  from aesthetic_jax.analysis import report  # pylint: disable=g-import-not-at-top
  runs = {r.row: next(x.path for x in r.runs if x.ok) for r in results if any(
      x.ok for x in r.runs)}
  if not runs:
    return ''
  try:
    written = report.table_figures(runs, compare=tuple(getattr(module, 'COMPARE', ())),
                                   out_dir=os.path.join(workdir, 'figures'))
  except Exception as error:  # pylint: disable=broad-except
    traceback.print_exc()
    return f'\nFigures failed: {type(error).__name__}: {error}\n'
  lines = ['', '## Figures', '']
  lines += [f'- {caption}: `{os.path.relpath(path, workdir)}`' if path else f'- {caption}'
            for caption, path in written]
  return '\n'.join(lines) + '\n'


def main(argv) -> int:
  if len(argv) != 2:
    raise app.UsageError(f'usage: python -m aesthetic_jax.experiments TABLE[:demo] '
                         f'--workdir=DIR; TABLE is one of {", ".join(tables.available())}')
  if not FLAGS.workdir:
    raise app.UsageError('give --workdir=DIR')
  table, _, variant = argv[1].partition(':')
  if variant not in ('', 'demo'):
    raise app.UsageError(f"unknown variant {variant!r}; the only one is ':demo'")
  # Orbax and TFDS log every file operation at INFO; progress and results go to stdout.
  absl_logging.set_verbosity(absl_logging.WARNING)
  demo = FLAGS.demo or variant == 'demo'
  module = tables.module(table)
  start = time.perf_counter()
  results = runner.run_table(
      table, workdir=FLAGS.workdir, demo=demo, data_dir=FLAGS.data_dir, epochs=FLAGS.epochs,
      rows=FLAGS.rows or None, overrides=dict(parse_override(s) for s in FLAGS.set),
      num_seeds=FLAGS.seeds, rerun=FLAGS.rerun)
  command = 'python -m aesthetic_jax.experiments ' + ' '.join(shlex.quote(a) for a in sys.argv[1:])
  text = results_lib.markdown(module.TITLE, demo, results, command=command,
                              total_wall_s=time.perf_counter() - start,
                              environment=_environment())
  if not FLAGS.no_figures:
    text += _figures(module, results, FLAGS.workdir)
  files.write_text(os.path.join(FLAGS.workdir, 'results.md'), text)
  results_lib.write_csv(os.path.join(FLAGS.workdir, 'results.csv'),
                        results_lib.csv_rows(table, demo, results))
  print(text, flush=True)
  return 1 if any(not x.ok for r in results for x in r.runs) else 0

"""One command per paper table: trains its rows and writes our figures next to the paper's.

  python -m aesthetic_jax.experiments TABLE[:demo] --workdir=DIR [--demo] [--data_dir=DIR]
      [--epochs=N] [--rows=ROW,ROW] [--set=KEY=VALUE ...] [--rerun] [--no_figures]

TABLE is table1 .. table5 or respective (the rows are in configs/<TABLE>.py);
`:demo` (or --demo) runs every row on the embedded synthetic data with small networks.
Each row trains in DIR/<row>/ exactly as its launch command (in the results) would, one row
after the other in this process. Written: DIR/results.md and DIR/results.csv (our figures and
the paper's side by side, and each run's settings and wall time), DIR/figures/ (per-tag
accuracy, training curves, Omega correlations, conv1 filters and example images; see
aesthetic_jax/analysis). A finished row is not trained again unless one of its settings
changed or --rerun is given; an interrupted row resumes from its checkpoint.
"""

import argparse
import ast
import dataclasses
import datetime
import importlib
import json
import math
import os
import re
import shlex
import sys
import time
import traceback
from typing import Any, Mapping, Sequence

OK, CACHED, NOT_AVAILABLE, FAILED = 'ok', 'ok (earlier run)', 'not available', 'failed'


def _import_configs():
  """Makes the repository's configs/ importable when run from another directory."""
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  if root not in sys.path and os.path.isdir(os.path.join(root, 'configs')):
    sys.path.insert(0, root)
  return importlib.import_module('configs.rows')


rows_lib = _import_configs()


def _available_tables() -> tuple[str, ...]:
  """table1, table2, ... (every configs/table<N>.py) and respective."""
  folder = os.path.dirname(os.path.abspath(rows_lib.__file__))
  tables = sorted((f[:-3] for f in os.listdir(folder) if re.fullmatch(r'table\d+\.py', f)),
                  key=lambda name: int(name[5:]))
  return tuple(tables) + ('respective',)


TABLES = _available_tables()


def table_module(table: str):
  if table not in TABLES:
    raise ValueError(f'Unknown table {table!r}; choose one of {list(TABLES)}.')
  return importlib.import_module(f'configs.{table}')


@dataclasses.dataclass
class RowResult:
  """What one row of a table gave: status, our test metrics and the run's settings."""
  row: str
  label: str
  status: str
  config_name: str
  overrides: dict[str, Any]
  paper: dict[str, float]
  command: str = ''
  metrics: dict[str, Any] = dataclasses.field(default_factory=dict)
  settings: dict[str, Any] = dataclasses.field(default_factory=dict)
  wall_time_s: float | None = None
  note: str = ''


def parse_override(text: str) -> tuple[str, Any]:
  """'optimizer.learning_rate=0.1' -> ('optimizer.learning_rate', 0.1); strings stay strings."""
  key, sep, value = text.partition('=')
  if not sep or not key:
    raise ValueError(f'--set wants KEY=VALUE, got {text!r}.')
  try:
    return key, ast.literal_eval(value)
  except (ValueError, SyntaxError):
    return key, value


def _flag_value(value) -> str:
  if isinstance(value, (tuple, list)):
    return shlex.quote(str(tuple(value)))
  return shlex.quote(str(value))


def launch_command(config_name: str, run_dir: str, extra: Mapping[str, Any]) -> str:
  """The aesthetic_jax.main command line that trains this row on its own."""
  parts = ['python -m aesthetic_jax.main', f'--config={config_name}', f'--workdir={run_dir}']
  parts += [f'--config.{k}={_flag_value(v)}' for k, v in extra.items()]
  return ' '.join(parts)


def _settings(config) -> dict[str, Any]:
  return {'dataset': config.data.name, 'delta': float(config.data.delta),
          'train_tag': config.data.train_tag, 'architecture': config.model.architecture,
          'epochs': int(config.num_epochs), 'seed': int(config.seed),
          'batch_size': int(config.batch_size)}


def _jsonable(value):
  if isinstance(value, dict):
    return {k: _jsonable(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return [_jsonable(v) for v in value]
  if hasattr(value, 'tolist'):  # numpy / jax scalars and arrays
    return _jsonable(value.tolist())
  if isinstance(value, float) and not math.isfinite(value):
    return None
  return value


def _config_json(config) -> dict:
  return json.loads(config.to_json_best_effort())


def _flatten(tree: Mapping, prefix: str = '') -> dict[str, Any]:
  out = {}
  for key, value in tree.items():
    if isinstance(value, Mapping):
      out.update(_flatten(value, f'{prefix}{key}.'))
    else:
      out[f'{prefix}{key}'] = value
  return out


def _load_previous(run_dir: str, config) -> dict | None:
  """The saved result of a finished run of this config in `run_dir`, if any.

  Every setting the run was made with must be unchanged; a key added to the configs since
  (absent from the saved config) is taken to keep the old behaviour at its default.
  """
  path = os.path.join(run_dir, 'result.json')
  if not os.path.exists(path):
    return None
  with open(path) as f:
    saved = json.load(f)
  old, new = _flatten(saved.get('config', {})), _flatten(_config_json(config))
  return saved if old and all(new.get(k, v) == v for k, v in old.items()) else None


def early_stop_epoch(run_dir: str, patience: int) -> int | None:
  """The epoch after which the semantic task was stopped, replayed from metrics.jsonl.

  The rule of train.update_early_stop: stop once the validation semantic loss has not gone
  below its best for `patience` epoch ends in a row.
  """
  path = os.path.join(run_dir, 'metrics.jsonl')
  if not os.path.exists(path):
    return None
  best, bad = math.inf, 0
  with open(path) as f:
    records = [json.loads(line) for line in f if line.strip()]
  for record in records:
    if record.get('kind') != 'validation' or record.get('semantic_loss') is None:
      continue
    if record['semantic_loss'] < best:
      best, bad = record['semantic_loss'], 0
    else:
      bad += 1
      if bad >= patience:
        return int(record['epoch'])
  return None


def _checkpoint_steps(run_dir: str) -> list[int]:
  folder = os.path.join(run_dir, 'checkpoints')
  return sorted(int(d) for d in os.listdir(folder) if d.isdigit()) if os.path.isdir(
      folder) else []


def run_row(table: str, row, *, demo: bool, workdir: str, extra: Mapping[str, Any],
            rerun: bool = False) -> RowResult:
  """Trains one row in `workdir/<row>` (or reuses its finished run); never raises for a
  missing base config or a failed run: the result says so instead."""
  from aesthetic_jax import train  # jax and the pipeline load only when a row runs
  variant = 'demo' if demo else None
  config_name = f'configs/{table}.py:{row.name}' + (':demo' if demo else '')
  run_dir = os.path.join(workdir, row.name)
  result = RowResult(row=row.name, label=row.label, status=NOT_AVAILABLE,
                     config_name=config_name, overrides={**row.overrides, **extra},
                     paper=dict(row.paper), command=launch_command(config_name, run_dir, extra))
  if demo:
    result.overrides.update(row.demo_overrides)
  try:
    config = rows_lib.row_config(row, variant)
    rows_lib.apply_overrides(config, extra)
  except rows_lib.RowNotAvailableError as error:
    result.note = str(error)
    return result
  result.settings = _settings(config)
  previous = None if rerun else _load_previous(run_dir, config)
  if previous is not None:
    result.status, result.metrics = CACHED, previous['metrics']
    result.wall_time_s, result.note = previous['wall_time_s'], previous.get('note', '')
    return result
  os.makedirs(run_dir, exist_ok=True)
  resumed_from = _checkpoint_steps(run_dir)
  with open(os.path.join(run_dir, 'config.json'), 'w') as f:
    json.dump(_config_json(config), f, indent=1)
  print(f'=== {table} / {row.name}: {row.label}\n    {result.command}', flush=True)
  start = time.perf_counter()
  try:
    metrics = train.train_and_evaluate(config, run_dir)
  except Exception as error:  # pylint: disable=broad-except
    # One failed row must not cost the others; the table says why it failed.
    traceback.print_exc()
    result.status, result.note = FAILED, f'{type(error).__name__}: {error}'.splitlines()[0]
    result.wall_time_s = time.perf_counter() - start
    return result
  result.wall_time_s = time.perf_counter() - start
  result.status, result.metrics = OK, _jsonable(metrics)
  notes = []
  if resumed_from:
    notes.append(f'resumed from the checkpoint at step {resumed_from[-1]} (wall time of the '
                 'rest only)')
  if config.loss.semantic_early_stop:
    epoch = early_stop_epoch(run_dir, config.loss.semantic_patience_epochs)
    notes.append(f'semantic task stopped after epoch {epoch}' if epoch is not None else
                 'semantic task never early-stopped')
  result.note = '; '.join(notes)
  with open(os.path.join(run_dir, 'result.json'), 'w') as f:
    json.dump({'config': _config_json(config), 'metrics': result.metrics,
               'wall_time_s': result.wall_time_s, 'note': result.note,
               'command': result.command}, f, indent=1)
  return result


# ---------------------------------------------------------------------------------------------
# The results table.

# (metric key, header, scale): our figure is metrics[key] * scale; the paper's is in %.
_PAPER_METRICS = (('accuracy', 'accuracy %', 100.0), ('semantic_map', 'semantic mAP %', 100.0))
_OUR_METRICS = (('balanced_accuracy', 'balanced acc. %', 100.0), ('roc_auc', 'ROC-AUC', 1.0),
                ('srcc', 'SRCC', 1.0), ('plcc', 'PLCC', 1.0))


def _number(value, scale=1.0) -> float | None:
  if value is None or isinstance(value, (list, dict, str)):
    return None
  value = float(value) * scale
  return value if math.isfinite(value) else None


def _fmt(value, digits=2) -> str:
  return '—' if value is None else f'{value:.{digits}f}'


def _duration(seconds) -> str:
  if seconds is None:
    return '—'
  return f'{seconds:.0f} s' if seconds < 120 else f'{seconds / 60:.1f} min'


def _overrides_text(overrides: Mapping[str, Any]) -> str:
  return ', '.join(f'{k}={v}' for k, v in overrides.items()) or '(none)'


def csv_rows(table: str, demo: bool, results: Sequence[RowResult]) -> list[dict[str, Any]]:
  """One flat dict per row: our figures, the paper's, the settings (the CSV's columns)."""
  out = []
  for r in results:
    entry = {'table': table, 'variant': 'demo' if demo else 'full', 'row': r.row,
             'label': r.label, 'status': r.status}
    for key, _, scale in _PAPER_METRICS:
      entry[f'{key}_pct'] = _number(r.metrics.get(key), scale)
      entry[f'paper_{key}_pct'] = r.paper.get(key)
    for key, _, scale in _OUR_METRICS:
      suffix = '_pct' if scale == 100.0 else ''
      entry[f'{key}{suffix}'] = _number(r.metrics.get(key), scale)
    entry['num_test_images'] = r.metrics.get('num_images')
    entry.update({k: r.settings.get(k) for k in ('dataset', 'delta', 'train_tag', 'architecture',
                                                   'epochs', 'seed', 'batch_size')})
    entry.update({'config': r.config_name, 'overrides': _overrides_text(r.overrides),
                  'wall_time_s': None if r.wall_time_s is None else round(r.wall_time_s, 1),
                  'command': r.command, 'note': r.note})
    out.append(entry)
  return out


def write_csv(path: str, entries: Sequence[Mapping[str, Any]]) -> None:
  import csv
  with open(path, 'w', newline='') as f:
    writer = csv.DictWriter(f, fieldnames=list(entries[0]))
    writer.writeheader()
    for entry in entries:
      writer.writerow({k: '' if v is None else v for k, v in entry.items()})


def markdown(title: str, demo: bool, results: Sequence[RowResult], *, command: str,
             total_wall_s: float, environment: str) -> str:
  """The results table: our figures next to the paper's, then every run's settings."""
  lines = [f'# {title}' + (' (demo: synthetic data)' if demo else ''), '']
  lines.append(f'Command: `{command}`  ')
  runs_s = sum(r.wall_time_s or 0.0 for r in results)
  lines.append(f'Wall time {_duration(total_wall_s)} for this command, {_duration(runs_s)} '
               f'summed over the rows\' runs (earlier runs included); {environment}.')
  lines.append('')
  lines.append("Paper: Kao, He and Huang, IEEE TIP 2017, on the AVA test set (delta = 0). Ours: "
               'the test set of the dataset in the settings below (delta = 0).' + (
                   ' On the synthetic data with small networks, compare the ranking of the rows '
                   'at most, not the values.' if demo else ''))
  lines.append('')
  header = ['row', 'setting']
  for _, name, _ in _PAPER_METRICS:
    header += [f'{name} (ours)', f'{name} (paper)']
  header += [name for _, name, _ in _OUR_METRICS] + ['wall time', 'status']
  lines += ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
  for r in results:
    cells = [f'`{r.row}`', r.label]
    for key, _, scale in _PAPER_METRICS:
      cells += [_fmt(_number(r.metrics.get(key), scale)), _fmt(r.paper.get(key))]
    cells += [_fmt(_number(r.metrics.get(key), scale), 2 if scale == 100.0 else 3)
              for key, _, scale in _OUR_METRICS]
    status = r.status + (f': {r.note}' if r.note else '')
    cells += [_duration(r.wall_time_s), status.replace('|', '/')]
    lines.append('| ' + ' | '.join(cells) + ' |')
  lines += ['', '## Settings', '']
  header = ['row', 'config', 'overrides', 'dataset', 'delta', 'epochs', 'seed', 'test images',
            'launch command']
  lines += ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
  for r in results:
    s = r.settings
    dataset = s.get('dataset', '—') + (f" (tag {s['train_tag']})" if s.get('train_tag') else '')
    cells = [f'`{r.row}`', f'`{r.config_name}`', _overrides_text(r.overrides), dataset,
             str(s.get('delta', '—')), str(s.get('epochs', '—')), str(s.get('seed', '—')),
             str(r.metrics.get('num_images', '—')), f'`{r.command}`']
    lines.append('| ' + ' | '.join(c.replace('|', '/') for c in cells) + ' |')
  return '\n'.join(lines) + '\n'


def _environment() -> str:
  import jax
  devices = jax.devices()
  when = datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')
  return (f'{len(devices)} {devices[0].platform} device(s) ({devices[0].device_kind}), '
          f'{os.cpu_count()} CPU cores, jax {jax.__version__}, {when}')


def run_table(table: str, *, workdir: str, demo: bool = False, data_dir: str | None = None,
              epochs: int | None = None, rows: Sequence[str] | None = None,
              overrides: Mapping[str, Any] | None = None, rerun: bool = False,
              figures: bool = True, command: str = '') -> list[RowResult]:
  """Runs the rows of `table` (all, or those named in `rows`) and writes the results."""
  module = table_module(table)
  selected = module.ROWS if not rows else [rows_lib.find_row(module.ROWS, r) for r in rows]
  extra = dict(overrides or {})
  if data_dir:
    extra['data.data_dir'] = data_dir
  if epochs:
    extra['num_epochs'] = int(epochs)
  os.makedirs(workdir, exist_ok=True)
  start = time.perf_counter()
  results = [run_row(table, row, demo=demo, workdir=workdir, extra=extra, rerun=rerun)
             for row in selected]
  total = time.perf_counter() - start
  command = command or f'python -m aesthetic_jax.experiments {table}' + (
      ':demo' if demo else '') + f' --workdir={workdir}'
  text = markdown(module.TITLE, demo, results, command=command, total_wall_s=total,
                  environment=_environment())
  if figures:
    text += _figures(module, results, workdir)
  with open(os.path.join(workdir, 'results.md'), 'w') as f:
    f.write(text)
  write_csv(os.path.join(workdir, 'results.csv'), csv_rows(table, demo, results))
  print(text, flush=True)
  return results


def _figures(module, results: Sequence[RowResult], workdir: str) -> str:
  """Draws the table's figures (never fails the table); returns a Markdown list of them."""
  from aesthetic_jax.analysis import report
  done = [r.row for r in results if r.status in (OK, CACHED)]
  if not done:
    return ''
  try:
    written = report.table_figures(
        workdir, runs=done, compare=tuple(getattr(module, 'COMPARE', ())),
        out_dir=os.path.join(workdir, 'figures'))
  except Exception as error:  # pylint: disable=broad-except
    traceback.print_exc()
    return f'\nFigures failed: {type(error).__name__}: {error}\n'
  lines = ['', '## Figures', '']
  lines += [f'- {caption}: `{os.path.relpath(path, workdir)}`' if path else f'- {caption}'
            for caption, path in written]
  return '\n'.join(lines) + '\n'


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
  parser = argparse.ArgumentParser(
      prog='python -m aesthetic_jax.experiments',
      description="Runs the rows of one of the paper's tables and writes a results table.")
  parser.add_argument('table', help=f'one of {", ".join(TABLES)}, optionally with :demo')
  parser.add_argument('--workdir', required=True, help='folder for the runs and the results')
  parser.add_argument('--demo', action='store_true',
                      help='embedded synthetic data and small networks (same as TABLE:demo)')
  parser.add_argument('--data_dir', help='TFDS data_dir (config data.data_dir)')
  parser.add_argument('--epochs', type=int, help='config num_epochs for every row')
  parser.add_argument('--rows', help='comma-separated row names (default: all)')
  parser.add_argument('--set', action='append', default=[], metavar='KEY=VALUE',
                      help='config override for every row, e.g. --set=batch_size=128')
  parser.add_argument('--rerun', action='store_true', help='train finished rows again')
  parser.add_argument('--no_figures', action='store_true', help='skip the figures')
  args = parser.parse_args(argv)
  args.table, _, variant = args.table.partition(':')
  if variant not in ('', 'demo'):
    parser.error(f"unknown variant {variant!r}; the only one is ':demo'")
  args.demo = args.demo or variant == 'demo'
  return args


def main(argv: Sequence[str] | None = None) -> int:
  argv = sys.argv[1:] if argv is None else list(argv)
  args = parse_args(argv)
  from absl import flags, logging as absl_logging
  # Orbax and TFDS log every file operation at INFO; progress and results go to stdout.
  absl_logging.set_verbosity(absl_logging.WARNING)
  flags.FLAGS.mark_as_parsed()  # grain reads absl flags; this CLI defines none
  results = run_table(
      args.table, workdir=args.workdir, demo=args.demo, data_dir=args.data_dir,
      epochs=args.epochs, rows=args.rows.split(',') if args.rows else None,
      overrides=dict(parse_override(s) for s in args.set), rerun=args.rerun,
      figures=not args.no_figures,
      command='python -m aesthetic_jax.experiments ' + ' '.join(shlex.quote(a) for a in argv))
  return 1 if any(r.status == FAILED for r in results) else 0


if __name__ == '__main__':
  sys.exit(main())

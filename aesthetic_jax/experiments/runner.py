"""Trains the rows of a table, one run per (row, seed), and gathers what they gave.

Run r of row R with seed s trains in <workdir>/<R>/seed<s>/ exactly as its launch command
(`python -m aesthetic_jax.main --config=configs/<table>.py:<R> --workdir=... --config.seed=s`)
would, one run after the other in this process. A finished run whose settings are unchanged
is not trained again (its result.json says what it gave); an interrupted one resumes from its
checkpoint; a failed one does not stop the others.
"""

import dataclasses
import os
import shlex
import time
import traceback
from typing import Any, Mapping, Sequence

import numpy as np

from aesthetic_jax.experiments import statistics, tables
from aesthetic_jax.run_dir import RunDir, changed_settings, config_record, files

OK, CACHED, FAILED = 'ok', 'ok (earlier run)', 'failed'


@dataclasses.dataclass
class SeedRun:
  """One training run of a row: its seed, folder, launch command and outcome."""
  seed: int
  path: str
  command: str
  status: str = FAILED
  metrics: dict[str, Any] = dataclasses.field(default_factory=dict)
  wall_time_s: float | None = None
  note: str = ''

  @property
  def ok(self) -> bool:
    return self.status in (OK, CACHED)


@dataclasses.dataclass
class RowResult:
  """A row over its seeds: the runs, their statistics and the comparison with the baseline."""
  row: str
  label: str
  config_name: str
  overrides: dict[str, Any]
  paper: dict[str, float]
  settings: dict[str, Any] = dataclasses.field(default_factory=dict)
  runs: list[SeedRun] = dataclasses.field(default_factory=list)
  summary: dict[str, float] = dataclasses.field(default_factory=dict)
  baseline: str | None = None
  comparison: dict[str, float] = dataclasses.field(default_factory=dict)
  note: str = ''

  @property
  def status(self) -> str:
    done = sum(r.ok for r in self.runs)
    if self.runs and done == len(self.runs):
      return OK
    return f'{FAILED} ({len(self.runs) - done} of {len(self.runs)} runs)' if self.runs else FAILED

  @property
  def wall_time_s(self) -> float:
    return sum(r.wall_time_s or 0.0 for r in self.runs)


def _flag_value(value) -> str:
  if isinstance(value, (tuple, list)):
    return shlex.quote(str(tuple(value)))
  return shlex.quote(str(value))


def launch_command(config_name: str, run_dir: str, extra: Mapping[str, Any]) -> str:
  """The aesthetic_jax.main command line that trains one run on its own."""
  parts = ['python -m aesthetic_jax.main', f'--config={config_name}', f'--workdir={run_dir}']
  parts += [f'--config.{k}={_flag_value(v)}' for k, v in extra.items()]
  return ' '.join(parts)


def settings_of(config) -> dict[str, Any]:
  return {'dataset': config.data.name, 'delta': float(config.data.delta),
          'train_tag': config.data.train_tag, 'architecture': config.model.architecture,
          'epochs': int(config.num_epochs), 'batch_size': int(config.batch_size)}


def _previous_result(run: RunDir, config) -> dict | None:
  """The saved result of a finished run of this config in `run`, if any.

  Every setting the run was made with must be unchanged; a key added to the configs since
  (absent from the saved config) is taken to keep the old behaviour at its default.
  """
  saved = run.read_result()
  if not saved or not saved.get('config'):
    return None
  return None if changed_settings(saved['config'], config_record(config)) else saved


def _set_aside_other_run(run: RunDir, config, *, rerun: bool) -> str | None:
  """Sets a run in the way aside (RunDir.set_aside: kept, not deleted) so that this one starts
  afresh instead of resuming it: any run with checkpoints under --rerun, else one made with
  other settings. Returns where it went, or None (nothing there, or an interrupted run of
  these settings, which resumes)."""
  if not os.path.isdir(run.path) or not run.checkpoint_steps():
    return None
  if not rerun and not run.config_changes(config):
    return None
  return run.set_aside()


def early_stop_epoch(run: RunDir) -> int | None:
  """The epoch after which the semantic task was stopped, as training logged it: the first
  validation record whose semantic_gate_next is 0."""
  for record in run.metrics.read():
    if record['kind'] == 'validation' and record.get('semantic_gate_next') == 0.0:
      return int(record['epoch'])
  return None


def train_seed(config, run: SeedRun, *, rerun: bool = False) -> SeedRun:
  """Trains (or reuses) one run; never raises for a failed run: `run.status` says so."""
  from aesthetic_jax.train import loop  # jax and the pipeline load only when a run trains
  run_dir = RunDir(run.path)
  previous = None if rerun else _previous_result(run_dir, config)
  if previous is not None:
    run.status, run.metrics = CACHED, previous['metrics']
    run.wall_time_s, run.note = previous['wall_time_s'], previous.get('note', '')
    return run
  print(f'=== {run.command}', flush=True)
  replaced = _set_aside_other_run(run_dir, config, rerun=rerun)
  if replaced:
    why = '--rerun' if rerun else 'its settings changed'
    print(f'Starting afresh ({why}); the previous run is kept in {replaced}.', flush=True)
  run_dir.make()
  resumed_from = run_dir.checkpoint_steps()
  run_dir.write_config(config)
  start = time.perf_counter()
  try:
    metrics = loop.train_and_evaluate(config, run.path)
  except Exception as error:  # pylint: disable=broad-except
    # One failed run must not cost the others; the table says why it failed.
    traceback.print_exc()
    run.note = f'{type(error).__name__}: {error}'.splitlines()[0]
    run.wall_time_s = time.perf_counter() - start
    return run
  run.wall_time_s = time.perf_counter() - start
  run.status, run.metrics = OK, files.jsonable(metrics)
  notes = [f'the previous run moved to {os.path.basename(replaced)}'] if replaced else []
  if resumed_from:
    notes.append(f'resumed from the checkpoint at step {resumed_from[-1]} (wall time of the '
                 'rest only)')
  if config.loss.semantic_early_stop:
    epoch = early_stop_epoch(run_dir)
    notes.append(f'semantic task stopped after epoch {epoch}' if epoch is not None else
                 'semantic task never early-stopped')
  run.note = '; '.join(notes)
  run_dir.write_result({'config': config_record(config), 'metrics': run.metrics,
                        'wall_time_s': run.wall_time_s, 'note': run.note,
                        'command': run.command})
  return run


def row_configs(table: str, row, *, demo: bool, extra: Mapping[str, Any], seeds: Sequence[int],
                workdir: str):
  """[(config, SeedRun)] of `row` for each seed (the config's seed is the base seed)."""
  from configs import rows as rows_lib  # pylint: disable=g-import-not-at-top
  variant = 'demo' if demo else None
  config_name = f'configs/{table}.py:{row.name}' + (':demo' if demo else '')
  out = []
  for seed in seeds:
    path = os.path.join(workdir, row.name, f'seed{seed}')
    overrides = {**extra, 'seed': seed}
    if row.init_from_row:  # start from the source row's run of the same seed
      overrides['model.init_from'] = os.path.join(workdir, row.init_from_row, f'seed{seed}')
    config = rows_lib.row_config(row, variant)
    rows_lib.apply_overrides(config, overrides)
    out.append((config, SeedRun(seed, path, launch_command(config_name, path, overrides))))
  return config_name, out


def run_table(table: str, *, workdir: str, demo: bool = False, data_dir: str | None = None,
              epochs: int | None = None, rows: Sequence[str] | None = None,
              overrides: Mapping[str, Any] | None = None, num_seeds: int = 1,
              rerun: bool = False) -> list[RowResult]:
  """Trains the runs of `table` (all rows, or those named in `rows`) with `num_seeds` seeds
  each (seed, seed + 1, ...; the config's seed first) and gathers their statistics."""
  from configs import rows as rows_lib  # pylint: disable=g-import-not-at-top
  module = tables.module(table)
  selected = module.ROWS if not rows else [rows_lib.find_row(module.ROWS, r) for r in rows]
  extra = dict(overrides or {})
  if data_dir:
    extra['data.data_dir'] = data_dir
  if epochs:
    extra['num_epochs'] = int(epochs)
  results = []
  for row in selected:
    base_seed = rows_lib.row_config(row, 'demo' if demo else None).seed
    seeds = [int(extra.get('seed', base_seed)) + i for i in range(num_seeds)]
    config_name, runs = row_configs(table, row, demo=demo, extra=extra, seeds=seeds,
                                    workdir=workdir)
    result = RowResult(row.name, row.label, config_name, {**row.overrides, **extra,
                                                          **(row.demo_overrides if demo else {})},
                       dict(row.paper), settings=settings_of(runs[0][0]))
    result.runs = [train_seed(config, run, rerun=rerun) for config, run in runs]
    results.append(result)
  add_statistics(module, results)
  return results


def _predictions(result: RowResult) -> list[dict]:
  return [RunDir(r.path, writer=False).read_predictions() for r in result.runs if r.ok]


def same_images(runs: Sequence[dict]) -> bool:
  """Whether every run's predictions are over the same test images in the same order."""
  first = runs[0]['image_id']
  return all(np.array_equal(r['image_id'], first) for r in runs[1:])


def add_statistics(table_module, results: Sequence[RowResult]) -> None:
  """Fills each row's summary (over its seeds) and its comparison with its baseline row."""
  by_name = {r.row: r for r in results}
  predictions = {}
  for result in results:
    try:
      predictions[result.row] = _predictions(result)
    except FileNotFoundError as error:
      predictions[result.row] = []
      result.note = str(error)
    if predictions[result.row]:
      result.summary = statistics.summarize_row(predictions[result.row])
  for result in results:
    baseline = tables.baseline_of(table_module, result.row)
    if baseline not in by_name or not predictions[result.row] or not predictions[baseline]:
      continue
    result.baseline = baseline
    if not same_images(predictions[result.row] + predictions[baseline]):
      result.note = f'not compared with {baseline}: the runs have different test images'
      continue
    result.comparison = statistics.compare_rows(predictions[result.row], predictions[baseline])

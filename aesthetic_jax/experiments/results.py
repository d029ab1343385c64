"""results.md and results.csv of a table: our figures (mean and 95% interval over seeds and
test images), the paired difference from the baseline row with its p-value, and the paper's
figure, then every run's settings and launch command."""

import csv
import math
from typing import Any, Mapping, Sequence

from aesthetic_jax.experiments import statistics
from aesthetic_jax.experiments.runner import RowResult
from aesthetic_jax.run_dir import files

# (metric, header, scale): figures are shown as metric * scale; the paper's are in %.
SHOWN = (('accuracy', 'accuracy %', 100.0), ('semantic_map', 'semantic mAP %', 100.0),
         ('balanced_accuracy', 'balanced acc. %', 100.0), ('roc_auc', 'ROC-AUC', 1.0),
         ('srcc', 'SRCC', 1.0))
PAPER_METRICS = ('accuracy', 'semantic_map')
SIGNIFICANCE = 0.05


def _number(value) -> float | None:
  if value is None or isinstance(value, (list, dict, str)):
    return None
  value = float(value)
  return value if math.isfinite(value) else None


def _fmt(value, digits: int = 2) -> str:
  return '—' if value is None else f'{value:.{digits}f}'


def _duration(seconds) -> str:
  if not seconds:
    return '—'
  return f'{seconds:.0f} s' if seconds < 120 else f'{seconds / 60:.1f} min'


def _overrides_text(overrides: Mapping[str, Any]) -> str:
  return ', '.join(f'{k}={v}' for k, v in overrides.items()) or '(none)'


def csv_rows(table: str, demo: bool, results: Sequence[RowResult]) -> list[dict[str, Any]]:
  """One flat dict per row (the CSV's columns): statistics per metric, the comparison with
  the baseline, the paper's figures, the settings."""
  out = []
  for r in results:
    entry = {'table': table, 'variant': 'demo' if demo else 'full', 'row': r.row,
             'label': r.label, 'status': r.status, 'num_seeds': sum(x.ok for x in r.runs),
             'seeds': ' '.join(str(x.seed) for x in r.runs if x.ok)}
    for metric in statistics.METRICS:
      for stat in ('mean', 'std', 'ci_low', 'ci_high'):
        entry[f'{metric}_{stat}'] = _number(r.summary.get(f'{metric}_{stat}'))
    entry['baseline'] = r.baseline or ''
    for metric in statistics.METRICS:
      entry[f'{metric}_delta_vs_baseline'] = _number(r.comparison.get(f'{metric}_delta'))
      entry[f'{metric}_p_value'] = _number(r.comparison.get(f'{metric}_p_value'))
    entry['accuracy_mcnemar_p'] = _number(r.comparison.get('accuracy_mcnemar_p'))
    for metric in PAPER_METRICS:
      entry[f'paper_{metric}_pct'] = r.paper.get(metric)
    entry['num_test_images'] = next((x.metrics.get('num_images') for x in r.runs if x.ok), None)
    entry.update({k: r.settings.get(k) for k in ('dataset', 'delta', 'train_tag',
                                                 'architecture', 'epochs', 'batch_size')})
    entry.update({'config': r.config_name, 'overrides': _overrides_text(r.overrides),
                  'wall_time_s': round(r.wall_time_s, 1),
                  'commands': ' ; '.join(x.command for x in r.runs),
                  'note': '; '.join(n for n in [r.note] + [x.note for x in r.runs] if n)})
    out.append(entry)
  return out


def write_csv(path: str, entries: Sequence[Mapping[str, Any]]) -> None:
  with files.atomic_writer(path) as f:
    writer = csv.DictWriter(f, fieldnames=list(entries[0]))
    writer.writeheader()
    for entry in entries:
      writer.writerow({k: '' if v is None else v for k, v in entry.items()})


def _interval(summary: dict, metric: str, scale: float, digits: int) -> str:
  mean = _number(summary.get(f'{metric}_mean'))
  if mean is None:
    return '—'
  low, high = (_number(summary.get(f'{metric}_{k}')) for k in ('ci_low', 'ci_high'))
  if low is None or high is None:
    return _fmt(mean * scale, digits)
  return (f'{_fmt(mean * scale, digits)} [{_fmt(low * scale, digits)}, '
          f'{_fmt(high * scale, digits)}]')


def _delta(result: RowResult, metric: str, scale: float) -> str:
  delta = _number(result.comparison.get(f'{metric}_delta'))
  if delta is None:
    return '—'
  p = _number(result.comparison.get(f'{metric}_p_value'))
  mark = '*' if p is not None and p < SIGNIFICANCE else ''
  return f'{delta * scale:+.2f}{mark} (p {_fmt(p, 3)})'


def markdown(title: str, demo: bool, results: Sequence[RowResult], *, command: str,
             total_wall_s: float, environment: str) -> str:
  """The results table, how its statistics are computed, then every run's settings."""
  seeds = sorted({sum(x.ok for x in r.runs) for r in results})
  lines = [f'# {title}' + (' (demo: synthetic data)' if demo else ''), '',
           f'Command: `{command}`  ',
           f'Wall time {_duration(total_wall_s)} for this command, '
           f'{_duration(sum(r.wall_time_s for r in results))} summed over the runs (earlier '
           f'runs included); {environment}.', '',
           'Paper: Kao, He and Huang, IEEE TIP 2017, on the AVA test set (delta = 0). Ours: '
           'the test set of the dataset in the settings below (delta = 0), mean over '
           f'{"/".join(map(str, seeds))} seed(s) [95% interval]. Δ: the paired difference '
           f'from the baseline row in points (accuracy) with its p-value; * marks p < '
           f'{SIGNIFICANCE}.' + (' On the synthetic data with small networks, compare the '
                                 'ordering of the rows at most, not the values.' if demo else ''),
           '']
  header = ['row', 'setting', 'accuracy % (ours)', '(paper)', 'Δ accuracy vs baseline',
            'semantic mAP % (ours)', '(paper)', 'ROC-AUC', 'SRCC', 'seeds', 'wall time',
            'status']
  lines += ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
  for r in results:
    status = r.status + (f': {r.note}' if r.note else '')
    baseline = f' vs `{r.baseline}`' if r.baseline else ''
    cells = [f'`{r.row}`', r.label, _interval(r.summary, 'accuracy', 100.0, 2),
             _fmt(r.paper.get('accuracy')), _delta(r, 'accuracy', 100.0) + baseline,
             _interval(r.summary, 'semantic_map', 100.0, 2), _fmt(r.paper.get('semantic_map')),
             _interval(r.summary, 'roc_auc', 1.0, 3), _interval(r.summary, 'srcc', 1.0, 3),
             str(sum(x.ok for x in r.runs)), _duration(r.wall_time_s), status.replace('|', '/')]
    lines.append('| ' + ' | '.join(cells) + ' |')
  lines += ['', '## How the statistics are computed', '',
            ' '.join(statistics.__doc__.split()), '', '## Runs', '']
  header = ['row', 'seed', 'accuracy %', 'semantic mAP %', 'test images', 'dataset', 'delta',
            'epochs', 'wall time', 'note', 'launch command']
  lines += ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
  for r in results:
    s = r.settings
    dataset = s.get('dataset', '—') + (f" (tag {s['train_tag']})" if s.get('train_tag') else '')
    for x in r.runs:
      accuracy, semantic = (_number(x.metrics.get(k)) for k in ('accuracy', 'semantic_map'))
      cells = [f'`{r.row}`', str(x.seed), _fmt(accuracy and accuracy * 100),
               _fmt(semantic and semantic * 100), str(x.metrics.get('num_images', '—')),
               dataset, str(s.get('delta', '—')), str(s.get('epochs', '—')),
               _duration(x.wall_time_s), (x.status + (f': {x.note}' if x.note else '')),
               f'`{x.command}`']
      lines.append('| ' + ' | '.join(c.replace('|', '/') for c in cells) + ' |')
  return '\n'.join(lines) + '\n'

"""Writing scores: CSV, JSON (atomically), or a text table.

Paths are written as infer.files.display_path shows them: a file name that is not valid
UTF-8 (any bytes the OS allows) appears with its bytes backslash-escaped (caf\\xe9.jpg), so
every table can be written and read back.
"""

import csv
import json
import os
from typing import Any, Sequence

from aesthetic_jax.infer.batch_scoring import Row
from aesthetic_jax.infer.files import display_path
from aesthetic_jax.run_dir import files

FORMATS = ('.csv', '.json')



def _fmt(value: float) -> str:
  return f'{value:.6f}'


def csv_columns(scorer, top_tags: int) -> list[str]:
  columns = ['path', 'p_high', 'predicted_class']
  if scorer.has_mean_score:
    columns.append('mean_score')
  if scorer.tag_names:
    for k in range(1, min(top_tags, len(scorer.tag_names)) + 1):
      columns += [f'tag_{k}', f'p_tag_{k}']
  return columns + ['error']


def csv_row(row: Row) -> dict[str, str]:
  out = {'path': display_path(row.path), 'error': row.error}
  if row.scores:
    out['p_high'] = _fmt(row.scores['p_high'])
    out['predicted_class'] = row.scores['predicted_class']
    if 'mean_score' in row.scores:
      out['mean_score'] = _fmt(row.scores['mean_score'])
    for k, (tag, p) in enumerate(row.scores.get('top_tags', ()), 1):
      out[f'tag_{k}'], out[f'p_tag_{k}'] = tag, _fmt(p)
  return out


def json_record(row: Row) -> dict[str, Any]:
  record = {'path': display_path(row.path), **(row.scores or {}), 'error': row.error or None}
  if 'top_tags' in record:
    record['top_tags'] = [{'tag': t, 'probability': p} for t, p in record['top_tags']]
  return record


def write_output(path: str, rows: Sequence[Row], scorer, *, top_tags: int) -> None:
  """Writes rows as CSV or JSON (by the extension of `path`), atomically."""
  extension = os.path.splitext(path)[1].lower()
  with files.atomic_writer(path) as f:
    if extension == '.csv':
      writer = csv.DictWriter(f, fieldnames=csv_columns(scorer, top_tags), restval='')
      writer.writeheader()
      writer.writerows(csv_row(r) for r in rows)
    elif extension == '.json':
      json.dump({'model': model_summary(scorer), 'images': [json_record(r) for r in rows]},
                f, indent=1)
      f.write('\n')
    else:
      raise ValueError(f'--output must end in {" or ".join(FORMATS)}: {path}')


def model_summary(scorer) -> dict[str, Any]:
  return {'checkpoint': scorer.source, 'step': scorer.step,
          'architecture': scorer.config.model.architecture,
          'dataset': scorer.meta.name, 'tag_names': list(scorer.tag_names),
          'score_range': [scorer.meta.score_min, scorer.meta.score_max]
                         if scorer.has_mean_score else None,
          'input': {'resize_size': scorer.resize_size, 'crop_size': scorer.crop_size}}


def format_table(rows: Sequence[Row], *, top_tags: int, extra: dict[str, dict] | None = None,
                 ) -> str:
  """Rows as an aligned text table (what the command prints without --output)."""
  extra = extra or {}
  extra_names = list(next(iter(extra.values()), {}))
  header = ['path', 'P(high)', 'class', 'mean score'] + extra_names + ['top tags']
  lines = [header]
  for row in rows:
    if row.error:
      lines.append([display_path(row.path), '-', '-', '-'] + ['-'] * len(extra_names) + [f'ERROR: {row.error}'])
      continue
    s = row.scores
    tags = ', '.join(f'{t} {p:.2f}' for t, p in s.get('top_tags', ())[:top_tags])
    lines.append([display_path(row.path), f'{s["p_high"]:.3f}', s['predicted_class'],
                  f'{s["mean_score"]:.2f}' if 'mean_score' in s else '-']
                 + [str(extra.get(row.path, {}).get(k, '')) for k in extra_names] + [tags])
  widths = [max(len(line[c]) for line in lines) for c in range(len(header) - 1)]
  return '\n'.join('  '.join(cell.ljust(w) for cell, w in zip(line, widths)) + '  ' + line[-1]
                   for line in lines)

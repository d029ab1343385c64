"""metrics.jsonl: one JSON object per line, {'kind', 'step', ...}, appended as training goes.

Written by process 0 only. Records of an epoch are appended before the checkpoint that
covers them, so a kill at any moment loses none: a resumed run first drops the records past
the step it restarts from (`truncate_after`) and writes them again. Reading tolerates a line
torn by a kill (it is skipped) and keeps the last record of each (kind, step).
"""

import json
import os

from aesthetic_jax.run_dir import files


class MetricsLog:
  """The records of one run, at `path`."""

  def __init__(self, path: str, *, enabled: bool = True):
    self.path = path
    self.enabled = enabled

  def append(self, kind: str, step: int, values: dict) -> dict:
    """Appends {'kind': kind, 'step': step, **values} (non-finite floats as null)."""
    record = {'kind': kind, 'step': int(step), **files.jsonable(values)}
    if self.enabled:
      with open(self.path, 'a', encoding='utf-8') as f:
        f.write(json.dumps(record, allow_nan=False) + '\n')
        f.flush()
    return record

  def read(self) -> list[dict]:
    """Every record in order; a torn line is skipped, a repeated (kind, step) keeps the last."""
    if not os.path.exists(self.path):
      return []
    records = {}
    with open(self.path, encoding='utf-8') as f:
      for line in f:
        try:
          record = json.loads(line)
        except json.JSONDecodeError:
          continue
        if isinstance(record, dict) and 'kind' in record and 'step' in record:
          records.pop((record['kind'], record['step']), None)
          records[(record['kind'], record['step'])] = record
    return list(records.values())

  def truncate_after(self, step: int) -> None:
    """Drops the records past `step` (and torn lines): those a resumed run writes again."""
    if not (self.enabled and os.path.exists(self.path)):
      return
    kept = [r for r in self.read() if r['step'] <= step]
    files.write_text(self.path, ''.join(json.dumps(r) + '\n' for r in kept))

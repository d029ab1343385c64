"""The paper's tables: modules `configs.table<N>` and `configs.respective` of the installed
`configs` package, each with ROWS (configs.rows.Row), TITLE, COMPARE (a pair of rows for the
figures that compare two runs) and BASELINE (row -> the row it is tested against)."""

import importlib
import pkgutil
import re


def available() -> tuple[str, ...]:
  """table1, table2, ... (every configs/table<N>.py) and respective."""
  import configs  # pylint: disable=g-import-not-at-top
  names = [m.name for m in pkgutil.iter_modules(configs.__path__)]
  tables = sorted((n for n in names if re.fullmatch(r'table\d+', n)), key=lambda n: int(n[5:]))
  return tuple(tables) + (('respective',) if 'respective' in names else ())


def module(table: str):
  if table not in available():
    raise ValueError(f'Unknown table {table!r}; choose one of {list(available())}.')
  return importlib.import_module(f'configs.{table}')


def baseline_of(table_module, row: str) -> str | None:
  """The row `row` is compared with: the table's BASELINE entry; without a BASELINE, the
  table's STCNN row (else its first row). None for the baseline itself or no baseline."""
  mapping = getattr(table_module, 'BASELINE', None)
  if mapping is not None:
    return mapping.get(row)
  names = [r.name for r in table_module.ROWS]
  stcnn = [r.name for r in table_module.ROWS if r.base == 'stcnn']
  baseline = stcnn[0] if stcnn else names[0]
  return None if row == baseline else baseline

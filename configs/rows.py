"""Rows of the paper's tables as configs (used by configs/table1.py .. table4.py, respective.py).

A row is a base config (a module of this folder, e.g. `mtcnn`) plus dotted-key overrides,
with the paper's figure for that line of the table. `configs/table1.py:ROW` is the row's
config on AVA, `configs/table1.py:ROW:demo` the same row on the embedded synthetic data (the
base config's `:demo` variant, then the row's overrides, then its `demo_overrides`).
"""

import dataclasses
import importlib
from typing import Any, Mapping, Sequence

import ml_collections


@dataclasses.dataclass(frozen=True)
class Row:
  """One line of a paper table.

  name: the config variant (`configs/<table>.py:<name>`).
  label: the line as the paper names it.
  base: the config module it starts from (`configs/<base>.py`).
  overrides: dotted config key -> value, applied on top of the base.
  paper: the paper's figures for this line in %, e.g. {'accuracy': 76.15}.
  demo_overrides: applied after `overrides` in the `:demo` variant only.
  init_from_row: the row whose trained model initialises this one (model.init_from): the
    experiment runner points it at that row's run of the same seed.
  """
  name: str
  label: str
  base: str
  overrides: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  paper: Mapping[str, float] = dataclasses.field(default_factory=dict)
  demo_overrides: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  init_from_row: str = ''


def split_arg(arg: str | None) -> tuple[str, str | None]:
  """'lambda1m_delta0:demo' -> ('lambda1m_delta0', 'demo'); 'x' -> ('x', None)."""
  name, _, variant = (arg or '').partition(':')
  return name, variant or None


def find_row(rows: Sequence[Row], name: str) -> Row:
  for row in rows:
    if row.name == name:
      return row
  raise ValueError(f'Unknown row {name!r}; the rows are {[r.name for r in rows]} '
                   "(append ':demo' for the synthetic-data variant).")


def apply_overrides(config: ml_collections.ConfigDict, overrides: Mapping[str, Any]) -> None:
  """Sets dotted keys ('loss.semantic_weight') on `config`; an unknown key raises KeyError."""
  for key, value in overrides.items():
    *sections, leaf = key.split('.')
    node = config
    for section in sections:
      node = node[section]
    if leaf not in node:
      raise KeyError(f'Config has no key {key!r}.')
    node[leaf] = tuple(value) if isinstance(value, list) else value


def base_config(base: str, variant: str | None) -> ml_collections.ConfigDict:
  """`configs/<base>.py`'s get_config(variant)."""
  return importlib.import_module(f'configs.{base}').get_config(variant)


def row_config(row: Row, variant: str | None) -> ml_collections.ConfigDict:
  """The full config of `row` (`variant` None for AVA, 'demo' for the synthetic data)."""
  config = base_config(row.base, variant)
  apply_overrides(config, row.overrides)
  if variant == 'demo':
    apply_overrides(config, row.demo_overrides)
  return config


def get_config(rows: Sequence[Row], arg: str | None) -> ml_collections.ConfigDict:
  """get_config of a table module: `arg` is 'ROW' or 'ROW:demo'."""
  name, variant = split_arg(arg)
  if not name:
    raise ValueError(f'Name a row, e.g. :{rows[0].name} or :{rows[0].name}:demo; the rows are '
                     f'{[r.name for r in rows]}.')
  return row_config(find_row(rows, name), variant)

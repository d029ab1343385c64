"""Checking a user's manual download folder before anything is read from it, and the errors
of a build that the folder's contents cause."""

import os
from typing import Mapping


class ManualDirError(FileNotFoundError):
  """The manual dir is missing, or lacks a file the build needs."""


class ManualDataError(ValueError):
  """The manual dir's files cannot give a build (another release's metadata, no usable photo
  for a split); the message says what to fix."""


def require(manual_dir: os.PathLike | str | None, expected: Mapping[str, str], *,
            dataset: str, instructions: str = '') -> str:
  """Returns `manual_dir` as a str if every `expected` path exists under it.

  Args:
    expected: relative path -> what it is (e.g. {'AVA.txt': 'the ratings file'}); a path
      ending in '/' must be a folder.
  Raises:
    ManualDirError: naming the folder and each missing path, where it was expected.
  """
  if not manual_dir:
    raise ManualDirError(f'{dataset}: no manual dir given (--manual_dir). It must hold:\n'
                         + _listing(expected) + _tail(instructions))
  manual_dir = os.path.abspath(os.path.expanduser(os.fspath(manual_dir)))
  if not os.path.isdir(manual_dir):
    raise ManualDirError(f'{dataset}: the manual dir {manual_dir} does not exist. It must '
                         'hold:\n' + _listing(expected) + _tail(instructions))
  missing = {}
  for rel, what in expected.items():
    path = os.path.join(manual_dir, rel)
    if not (os.path.isdir(path) if rel.endswith('/') else os.path.isfile(path)):
      missing[rel] = what
  if missing:
    lines = '\n'.join(f'  {os.path.join(manual_dir, rel)}  ({what})'
                      for rel, what in missing.items())
    raise ManualDirError(f'{dataset}: the manual dir {manual_dir} lacks:\n{lines}'
                         + _tail(instructions))
  return manual_dir


def _listing(expected: Mapping[str, str]) -> str:
  return '\n'.join(f'  {rel}  ({what})' for rel, what in expected.items())


def _tail(instructions: str) -> str:
  return f'\n{instructions.strip()}' if instructions else ''

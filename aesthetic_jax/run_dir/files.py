"""Atomic file writes: a reader (or a run killed at any moment) never sees half a file.

Each writer puts the data in a temporary file beside the target (same folder, so the rename
is atomic), flushes it to disk, and renames it over the target; on any error or interruption
the temporary file is removed and the old target, if any, is left as it was. New files get
the permissions of an ordinary file under the process's umask (mkstemp's 0600 is not kept).
"""

import contextlib
import json
import math
import os
import tempfile
from typing import IO, Any, Iterator


def _umask() -> int:
  mask = os.umask(0)
  os.umask(mask)
  return mask


@contextlib.contextmanager
def atomic_writer(path: str, *, binary: bool = False) -> Iterator[IO]:
  """A file object for `path`'s new content; renamed over `path` when the block ends."""
  folder = os.path.dirname(os.path.abspath(path))
  os.makedirs(folder, exist_ok=True)
  fd, tmp = tempfile.mkstemp(prefix=f'.{os.path.basename(path)}.', suffix='.partial',
                             dir=folder)
  try:
    os.fchmod(fd, 0o666 & ~_umask())
    with os.fdopen(fd, 'wb' if binary else 'w', **({} if binary else {'newline': '',
                                                                       'encoding': 'utf-8'})) as f:
      yield f
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  except BaseException:
    with contextlib.suppress(FileNotFoundError):
      os.unlink(tmp)
    raise


def write_text(path: str, text: str) -> None:
  with atomic_writer(path) as f:
    f.write(text)


def write_json(path: str, record: Any, *, indent: int | None = 1) -> None:
  """`record` as JSON (NaN and Inf written as null, so any JSON reader takes the file)."""
  with atomic_writer(path) as f:
    json.dump(jsonable(record), f, indent=indent, allow_nan=False)
    f.write('\n')


def read_json(path: str) -> Any:
  with open(path, encoding='utf-8') as f:
    return json.load(f)


def jsonable(value: Any) -> Any:
  """numpy/jax scalars and arrays as lists and numbers, tuples as lists, non-finite -> None."""
  if isinstance(value, dict):
    return {str(k): jsonable(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return [jsonable(v) for v in value]
  if hasattr(value, 'tolist'):  # numpy / jax scalars and arrays
    return jsonable(value.tolist())
  if isinstance(value, float) and not math.isfinite(value):
    return None
  return value

"""Scoring many files: decoding on threads ahead of the devices, one row per file.

Every path gets exactly one Row: its scores, or the reason it was not scored (the row keeps
the error and the others are still scored).
"""

import collections
import concurrent.futures
import dataclasses
import sys
from typing import Any, Iterator, Sequence

import numpy as np

from aesthetic_jax.data import image_io
from aesthetic_jax.infer import files


@dataclasses.dataclass
class Row:
  """One input file: its scores as a Scores.records() dict, or why it was not scored."""
  path: str
  scores: dict[str, Any] | None = None
  error: str = ''


def rows_for(paths: Sequence[str], *, follow_links: bool = False) -> list[Row]:
  """One Row per file found in `paths` (infer.files.find_images); a path that cannot be
  scored (missing, not a regular file, a link leaving its folder, ...) has its error set."""
  return [Row(found.path, error=found.error)
          for found in files.find_images(paths, follow_links=follow_links)]


def describe_error(error: Exception) -> str:
  """A short reason for a file that could not be scored, e.g. 'not a regular file: fifo',
  'too large: 13000 x 13000 pixels > 67108864', 'corrupt: ...'."""
  if isinstance(error, image_io.ImageReadError):
    return str(error)
  if isinstance(error, MemoryError):
    return 'out of memory while decoding'
  if isinstance(error, OSError) and error.strerror:
    return f'unreadable: {error.strerror}'
  return f'{type(error).__name__}: {error}'




def load_all(scorer, rows: Sequence[Row], workers: int) -> Iterator[tuple[int, Any]]:
  """(row index, uint8 image or the exception) in order; decoding runs `workers` threads
  ahead of the consumer, at most a few batches' worth."""
  def load(path):
    try:
      return scorer.load_image(path)
    except Exception as error:  # pylint: disable=broad-except
      return error

  todo = [i for i, row in enumerate(rows) if not row.error]
  window = max(2 * scorer.batch_size, 4 * workers)
  with concurrent.futures.ThreadPoolExecutor(workers) as pool:
    pending = collections.deque()
    for i in todo:
      pending.append((i, pool.submit(load, rows[i].path)))
      if len(pending) >= window:
        j, future = pending.popleft()
        yield j, future.result()
    while pending:
      j, future = pending.popleft()
      yield j, future.result()


def score_rows(scorer, rows: list[Row], *, workers: int, top_tags: int,
               progress: bool | None = None) -> list[Row]:
  """Fills in every row's scores or error (in place; also returned)."""
  from tqdm import tqdm  # pylint: disable=g-import-not-at-top  (installed with TFDS)
  bar = tqdm(total=len(rows), unit='img', desc='scoring', disable=(
      None if progress is None else not progress), file=sys.stderr)
  bar.update(sum(1 for r in rows if r.error))
  batch, indices, in_flight = [], [], None

  def finish(handle, handle_indices):
    for i, record in zip(handle_indices, scorer.collect(handle).records(top_tags)):
      rows[i].scores = record
    bar.update(len(handle_indices))

  def flush():
    nonlocal batch, indices, in_flight
    handle = scorer.dispatch(np.stack(batch))  # the device starts; the previous one is read
    if in_flight:
      finish(*in_flight)
    in_flight, batch, indices = (handle, indices), [], []

  for i, result in load_all(scorer, rows, workers):
    if isinstance(result, Exception):
      rows[i].error = describe_error(result)
      bar.update(1)
      continue
    batch.append(result)
    indices.append(i)
    if len(batch) == scorer.batch_size:
      flush()
  if batch:
    flush()
  if in_flight:
    finish(*in_flight)
  bar.close()
  return rows

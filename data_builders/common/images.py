"""Checking and converting image files for the builders, in a pool of worker processes.

Each file is fully decoded once (a truncated JPEG only fails when its pixels are read).
Outcomes:
  * an RGB JPEG, kept at full size: the file is stored unchanged (no re-encoding loss);
  * a grayscale/CMYK JPEG, or a PNG/GIF/... under a .jpg name: converted to RGB and stored
    as a JPEG (quality 95), the reason recorded;
  * pre-warped configs: every image is warped to size x size exactly as the training
    pipeline warps originals (`aesthetic_jax.data.preprocessing.decode_and_warp`) and re-encoded;
  * missing, empty, truncated or undecodable: skipped, the reason recorded.

The workers are 'spawn'ed: safe when the parent has started threads (JAX, TFDS writers).
"""

import contextlib
import dataclasses
import functools
import io
import multiprocessing
import os
import warnings
from typing import Iterator, Sequence

import tqdm
from PIL import Image

from aesthetic_jax.data import preprocessing
from data_builders.common import skip_report as report_lib

MISSING = 'missing_file'
EMPTY = 'empty_file'
TRUNCATED = 'truncated'
UNDECODABLE = 'undecodable'
SKIP_REASONS = (MISSING, EMPTY, TRUNCATED, UNDECODABLE)

JPEG_QUALITY = 95


@dataclasses.dataclass(frozen=True)
class Prepared:
  """The outcome for one image.

  ok: a record can be written. reason: why it was skipped (not ok) or converted (ok), else
  None. data: the JPEG bytes to store, or None to store the file at `path` unchanged.
  """
  image_id: int
  path: str
  ok: bool
  reason: str | None = None
  data: bytes | None = None
  detail: str = ''


def conversion_reason(image_format: str | None, mode: str) -> str | None:
  """Why an opened image cannot be stored as is (None for an RGB JPEG)."""
  if image_format != 'JPEG':
    return f'{(image_format or "unknown").lower()}_not_jpeg'
  if mode == 'RGB':
    return None
  return {'L': 'grayscale_jpeg', 'CMYK': 'cmyk_jpeg'}.get(mode, f'{mode.lower()}_jpeg')


def _encode_jpeg(image: Image.Image) -> bytes:
  buffer = io.BytesIO()
  image.save(buffer, format='JPEG', quality=JPEG_QUALITY)
  return buffer.getvalue()


def prepare_image(image_id: int, path: str, image_size: int | None = None) -> Prepared:
  """Decodes `path` fully and decides what to store (see the module docstring)."""
  try:
    with open(path, 'rb') as f:
      raw = f.read()
  except FileNotFoundError:
    return Prepared(image_id, path, False, MISSING)
  except OSError as e:  # a directory or an unreadable file under the image's name
    return Prepared(image_id, path, False, UNDECODABLE, detail=str(e))
  if not raw:
    return Prepared(image_id, path, False, EMPTY)
  try:
    with warnings.catch_warnings():
      warnings.simplefilter('ignore')  # PIL's palette/transparency notes on odd GIFs/PNGs
      with Image.open(io.BytesIO(raw)) as image:
        reason = conversion_reason(image.format, image.mode)
        if image_size:
          pixels = preprocessing.decode_and_warp(raw, image_size)
          return Prepared(image_id, path, True, reason, _encode_jpeg(Image.fromarray(pixels)))
        image.load()
        if reason is None:
          return Prepared(image_id, path, True)
        return Prepared(image_id, path, True, reason, _encode_jpeg(image.convert('RGB')))
  except Image.UnidentifiedImageError as e:
    return Prepared(image_id, path, False, UNDECODABLE, detail=str(e))
  except Exception as e:  # pylint: disable=broad-except  (any decoder failure is a skip)
    reason = TRUNCATED if 'truncated' in str(e).lower() else UNDECODABLE
    return Prepared(image_id, path, False, reason, detail=f'{type(e).__name__}: {e}')


def _prepare_task(task: tuple[int, str], image_size: int | None) -> Prepared:
  return prepare_image(task[0], task[1], image_size)


@contextlib.contextmanager
def worker_pool(num_workers: int):
  """A 'spawn' process pool of `num_workers` (None when num_workers <= 1: work inline)."""
  if num_workers <= 1:
    yield None
    return
  with multiprocessing.get_context('spawn').Pool(num_workers) as pool:
    yield pool


def prepare_images(tasks: Sequence[tuple[int, str]], *, image_size: int | None,
                   pool=None, window: int = 2048, chunksize: int = 8) -> Iterator[Prepared]:
  """prepare_image over (image_id, path) tasks, in order, in `pool` (or inline if None).

  Tasks go to the pool a window at a time, so results waiting for the (slower) writer never
  hold more than `window` images in memory.
  """
  fn = functools.partial(_prepare_task, image_size=image_size)
  if pool is None:
    yield from map(fn, tasks)
    return
  for start in range(0, len(tasks), window):
    yield from pool.imap(fn, tasks[start:start + window], chunksize=chunksize)


def default_num_workers() -> int:
  """Every core this process may use."""
  try:
    return len(os.sched_getaffinity(0))
  except AttributeError:  # macOS
    return os.cpu_count() or 1


def generate_examples(tasks: Sequence[tuple[int, str]], make_example, *, split: str,
                      image_size: int | None, pool, report,
                      progress: str | None = None) -> Iterator[tuple[int, dict]]:
  """(key, example) for each task whose image can be stored, in task order.

  make_example(image_id) -> the record's non-image fields; pool: from `worker_pool`.
  Skipped and converted images go into `report` (data_builders.ava.report) under their
  reason and `split`; the number written goes into report.counts['written_' + split].
  progress: the label of a progress bar, or None for no bar.
  """
  outcomes = prepare_images(tasks, image_size=image_size, pool=pool)
  written = 0
  with tqdm.tqdm(outcomes, total=len(tasks), desc=progress, unit='img', mininterval=1.0,
                 disable=progress is None, dynamic_ncols=True) as bar:
    for prepared in bar:
      if not prepared.ok:
        report.add(prepared.reason, report_lib.SKIPPED, prepared.image_id, split)
        continue
      if prepared.reason:
        report.add(prepared.reason, report_lib.CONVERTED, prepared.image_id, split)
      example = make_example(prepared.image_id)
      example['image'] = prepared.data if prepared.data is not None else prepared.path
      written += 1
      yield prepared.image_id, example
  report.counts['written_' + split] = written

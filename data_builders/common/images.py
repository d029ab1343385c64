"""Checking and converting image files for the builders, in a pool of worker processes.

Each file is read with a size bound and fully decoded once, as a viewer shows it
(`aesthetic_jax.data.image_io`: EXIF orientation applied, 16-bit scaled, transparency on
white; a truncated JPEG only fails when its pixels are read). Outcomes:
  * an upright RGB JPEG (no EXIF orientation other than 1), kept at full size: the file is
    stored unchanged (no re-encoding loss);
  * a grayscale/CMYK/... JPEG, a PNG/GIF/... under a .jpg name, or a JPEG with an EXIF
    orientation: decoded upright to RGB and stored as a JPEG (quality 95), the reason
    recorded;
  * pre-warped configs: every image is warped to size x size exactly as the training
    pipeline warps originals (`aesthetic_jax.data.preprocessing.decode_and_warp`) and re-encoded;
  * raw-pixel configs (raw_pixels=True): warped the same way and kept as uint8 (size, size, 3)
    pixels, not encoded (bit-identical to what training computes from the original file);
  * missing, empty, unreadable, too large, truncated or undecodable: skipped, the reason
    recorded.

A split that would get no record at all stops the build with NoUsableImagesError, which
says what was found where (`check_image_files` before the image pass, `generate_examples`
after it).

The workers are 'spawn'ed: safe when the parent has started threads (JAX, TFDS writers).
"""

import contextlib
import dataclasses
import functools
import io
import multiprocessing
import os
import warnings
from typing import Iterator, Mapping, Sequence

import numpy as np
import tqdm
from PIL import Image

from aesthetic_jax.data import image_io
from data_builders.common import manual_dir as manual_dir_lib
from data_builders.common import skip_report as report_lib

MISSING = 'missing_file'
EMPTY = 'empty_file'
UNREADABLE = 'unreadable_file'  # the OS refused: permission denied, I/O error, ...
TOO_LARGE = 'too_large'
TRUNCATED = 'truncated'
UNDECODABLE = 'undecodable'
SKIP_REASONS = (MISSING, EMPTY, UNREADABLE, TOO_LARGE, TRUNCATED, UNDECODABLE)
EXIF_ROTATED = 'exif_rotated'  # an RGB JPEG stored upright (re-encoded)

JPEG_QUALITY = 95
# Far above any photo of AVA or Photo.net (a few MB); bounds what each worker holds.
MAX_FILE_BYTES = 64 * 1024 * 1024


class NoUsableImagesError(manual_dir_lib.ManualDataError):
  """A split would get no record; the message says what was found where and what to fix."""


@dataclasses.dataclass(frozen=True)
class Prepared:
  """The outcome for one image.

  ok: a record can be written. reason: why it was skipped (not ok) or converted (ok), else
  None. data: the JPEG bytes to store, uint8 (size, size, 3) pixels (raw-pixel configs), or
  None to store the file at `path` unchanged.
  """
  image_id: int
  path: str
  ok: bool
  reason: str | None = None
  data: bytes | np.ndarray | None = None
  detail: str = ''


def conversion_reason(image_format: str | None, mode: str, orientation: int = 1) -> str | None:
  """Why an opened image cannot be stored as is (None for an upright RGB JPEG).

  The format or mode wins over the orientation: one reason per image.
  """
  if image_format != 'JPEG':
    return f'{(image_format or "unknown").lower()}_not_jpeg'
  if mode != 'RGB':
    return {'L': 'grayscale_jpeg', 'CMYK': 'cmyk_jpeg'}.get(mode, f'{mode.lower()}_jpeg')
  return None if orientation == 1 else EXIF_ROTATED


def _encode_jpeg(pixels) -> bytes:
  buffer = io.BytesIO()
  Image.fromarray(pixels).save(buffer, format='JPEG', quality=JPEG_QUALITY)
  return buffer.getvalue()


def _reason_of(raw: bytes) -> str | None:
  """conversion_reason of bytes that image_io has decoded (header only)."""
  try:
    with warnings.catch_warnings():
      warnings.simplefilter('ignore')  # Pillow's notes on odd metadata
      with Image.open(io.BytesIO(raw)) as image:
        return conversion_reason(image.format, image.mode, image_io.exif_orientation(image))
  except Exception:  # pylint: disable=broad-except  (decoded once already: re-encode it)
    return 'unknown_not_jpeg'


def _skip_reason(error: image_io.ImageReadError) -> str:
  """The skip reason of an image_io failure."""
  if error.reason == image_io.UNREADABLE:
    return MISSING if isinstance(error.__cause__, FileNotFoundError) else UNREADABLE
  if error.reason in (image_io.TOO_LARGE, image_io.OUT_OF_MEMORY):
    return TOO_LARGE
  if error.reason == image_io.CORRUPT and 'truncated' in error.detail.lower():
    return TRUNCATED
  return UNDECODABLE  # not a regular file, not an image, corrupt, unsupported format


def prepare_image(image_id: int, path: str, image_size: int | None = None, *,
                  raw_pixels: bool = False) -> Prepared:
  """Reads and decodes `path` fully and decides what to store (see the module docstring).

  raw_pixels (needs image_size): store the warped pixels themselves, not a JPEG of them.
  """
  if raw_pixels and not image_size:
    raise ValueError('raw pixels need an image_size (a fixed record shape).')
  try:
    raw = image_io.read_file(path, max_bytes=MAX_FILE_BYTES)
    if not raw:
      return Prepared(image_id, path, False, EMPTY)
    pixels = image_io.decode_rgb(raw, draft_size=image_size)
  except image_io.ImageReadError as e:
    return Prepared(image_id, path, False, _skip_reason(e), detail=str(e))
  reason = _reason_of(raw)
  if image_size:
    warped = image_io.warp(pixels, image_size)
    return Prepared(image_id, path, True, reason,
                    np.ascontiguousarray(warped) if raw_pixels else _encode_jpeg(warped))
  if reason is None:
    return Prepared(image_id, path, True)
  return Prepared(image_id, path, True, reason, _encode_jpeg(pixels))


def _prepare_task(task: tuple[int, str], image_size: int | None,
                  raw_pixels: bool) -> Prepared:
  return prepare_image(task[0], task[1], image_size, raw_pixels=raw_pixels)


@contextlib.contextmanager
def worker_pool(num_workers: int):
  """A 'spawn' process pool of `num_workers` (None when num_workers <= 1: work inline)."""
  if num_workers <= 1:
    yield None
    return
  with multiprocessing.get_context('spawn').Pool(num_workers) as pool:
    yield pool


def prepare_images(tasks: Sequence[tuple[int, str]], *, image_size: int | None,
                   pool=None, window: int = 2048, chunksize: int = 8,
                   raw_pixels: bool = False) -> Iterator[Prepared]:
  """prepare_image over (image_id, path) tasks, in order, in `pool` (or inline if None).

  Tasks go to the pool a window at a time, so results waiting for the (slower) writer never
  hold more than `window` images in memory.
  """
  fn = functools.partial(_prepare_task, image_size=image_size, raw_pixels=raw_pixels)
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
                      progress: str | None = None,
                      raw_pixels: bool = False) -> Iterator[tuple[int, dict]]:
  """(key, example) for each task whose image can be stored, in task order.

  make_example(image_id) -> the record's non-image fields; pool: from `worker_pool`.
  Skipped and converted images go into `report` (data_builders.ava.report) under their
  reason and `split`; the number written goes into report.counts['written_' + split].
  progress: the label of a progress bar, or None for no bar.
  raw_pixels: store uint8 (image_size, image_size, 3) pixels (data_builders.common.records, raw
    configs: the example also gets 'image_shape').

  Raises:
    NoUsableImagesError: after the pass, if no image of the split could be stored.
  """
  outcomes = prepare_images(tasks, image_size=image_size, pool=pool, raw_pixels=raw_pixels)
  written, skipped = 0, []
  with tqdm.tqdm(outcomes, total=len(tasks), desc=progress, unit='img', mininterval=1.0,
                 disable=progress is None, dynamic_ncols=True) as bar:
    for prepared in bar:
      if not prepared.ok:
        report.add(prepared.reason, report_lib.SKIPPED, prepared.image_id, split)
        if len(skipped) < _SHOWN:
          skipped.append(prepared.path)
        continue
      if prepared.reason:
        report.add(prepared.reason, report_lib.CONVERTED, prepared.image_id, split)
      example = make_example(prepared.image_id)
      example['image'] = prepared.data if prepared.data is not None else prepared.path
      if raw_pixels:
        example['image_shape'] = np.asarray(prepared.data.shape, np.int32)
      written += 1
      yield prepared.image_id, example
  report.counts['written_' + split] = written
  if tasks and not written:
    reasons = ', '.join(f'{reason} {issue.by_split[split]:,}'
                        for reason, issue in sorted(report.issues.items())
                        if issue.action == report_lib.SKIPPED and issue.by_split[split])
    raise NoUsableImagesError(
        f'{report.dataset}: no usable photo for the {split} split: all {len(tasks):,} were '
        f'skipped ({reasons}; e.g. {", ".join(skipped)}).\nReplace them with readable JPEGs '
        '(each is listed in the skip report).')


# -------------------------------------------------------------------- before the image pass

_SHOWN = 3  # paths named in a message
_PEEK = 1000  # entries looked at in each subfolder when looking for misplaced photos


def _is_jpeg_name(name: str) -> bool:
  return name.lower().endswith(('.jpg', '.jpeg'))


def _nested_photo_folder(image_dir: str) -> str | None:
  """The name of a subfolder of image_dir that holds .jpg files (photos unpacked one level
  too deep), or None."""
  try:
    subdirs = sorted(e.name for e in os.scandir(image_dir) if e.is_dir())
  except OSError:
    return None
  for name in subdirs[:20]:
    try:
      with os.scandir(os.path.join(image_dir, name)) as entries:
        for _, entry in zip(range(_PEEK), entries):
          if _is_jpeg_name(entry.name):
            return name
    except OSError:
      continue
  return None


def image_dir_hint(image_dir: str, names: set[str] | None = None) -> str | None:
  """What to fix when image_dir holds no photo the build can use: it is empty, or its
  photos are one folder too deep, or named otherwise; None when none of these."""
  if names is None:
    names = set(os.listdir(image_dir))
  nested = _nested_photo_folder(image_dir)
  if nested:
    outer = image_dir.rstrip(os.sep) + '_outer'
    return (f'{image_dir} holds a folder {nested}/ with the photos: move them up one level '
            f'(e.g. mv {image_dir} {outer} && mv {os.path.join(outer, nested)} {image_dir}).')
  if not names:
    return f'{image_dir} is empty: put the photos there, named <id>.jpg.'
  return None


def check_image_files(image_dir: str, planned: Mapping[str, Sequence[int]], report, *,
                      dataset: str) -> None:
  """Stops the build before the image pass if a split has no file at all in image_dir.

  image_dir is listed once (cheap next to decoding every image). planned: split -> ids, each
  expected as image_dir/<id>.jpg. On failure every planned id without a file is added to
  `report` as MISSING (by split), so the report lists them all.

  Raises:
    NoUsableImagesError: naming the split, what was found where, and what to fix.
  """
  names = set(os.listdir(image_dir))
  missing = {split: [int(i) for i in ids if f'{int(i)}.jpg' not in names]
             for split, ids in planned.items()}
  empty = [split for split, ids in planned.items() if len(missing[split]) == len(ids)]
  if not empty:
    return
  for split, ids in missing.items():
    for image_id in ids:
      report.add(MISSING, report_lib.SKIPPED, image_id, split)
  split = empty[0]
  if not len(planned[split]):  # (numpy arrays have no truth value)
    raise NoUsableImagesError(
        f'{dataset}: the {split} split has no ids.\nCheck its id list against the metadata '
        '(the skip report lists the ids it could not match).')
  hint = image_dir_hint(image_dir, names)
  if len(empty) == len(planned):
    ids = [i for s in planned for i in missing[s]]
    sizes = ', '.join(f'{s} {len(v):,}' for s, v in planned.items())
    what = f'no photo at all: none of the {len(ids):,} planned ids ({sizes}) has a file'
    if hint is None:
      examples = ', '.join(sorted(names)[:_SHOWN])
      hint = (f'{image_dir} holds {len(names):,} entries (e.g. {examples}) but no '
              '<id>.jpg of a planned id: name the photos <id>.jpg.')
  else:
    ids = missing[split]
    what = f'no photo for the {split} split: none of its {len(ids):,} ids has a file'
  if hint is None:
    hint = (f'Add photos of {split} ids (each missing one is listed under {MISSING} in the '
            'skip report).')
  shown = ', '.join(os.path.join(image_dir, f'{i}.jpg') for i in ids[:_SHOWN])
  found = '; '.join(f'{s}: {len(v) - len(missing[s]):,} of {len(v):,} found'
                    for s, v in planned.items() if s not in empty)
  raise NoUsableImagesError(
      f'{dataset}: {what} in {image_dir} (first missing: {shown})'
      + (f'; {found}' if found else '') + f'.\n{hint}')

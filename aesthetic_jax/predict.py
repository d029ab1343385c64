"""Scores image files and folders with a trained model and writes a CSV or JSON table.

  python -m aesthetic_jax.predict --workdir=DIR PATHS... --output=scores.csv
  python -m aesthetic_jax.predict --checkpoint=DIR/checkpoints/STEP PATHS... --output=s.json
  python -m aesthetic_jax.predict --workdir=DIR --demo_from_test_split=5
  python -m aesthetic_jax.predict --workdir=DIR --benchmark=512

Folders are searched recursively (hidden files and folders are skipped). Every file found is
tried: one that is not a readable image gets its own row with the reason in `error`, and the
others are still scored. Images get the evaluation preprocessing of the model's own config
(scorer.py). Decoding runs on threads while the devices score the previous batch; batches
are split over all local devices. Columns: path, p_high, predicted_class, mean_score (with
a score-distribution head), tag_1, p_tag_1, ... (the most probable tags), error. JSON also
has each image's score distribution. The output is written to a temporary file renamed into
place at the end, so an interrupted run leaves no half-written table. Without --output the
table is printed.
"""

import argparse
import collections
import contextlib
import csv
import dataclasses
import json
import os
import sys
import tempfile
import time
from typing import Any, Iterator, Sequence

import numpy as np
from PIL import Image

FORMATS = ('.csv', '.json')


@dataclasses.dataclass
class Row:
  """One input file: its scores as a Scores.records() dict, or why it was not scored."""
  path: str
  scores: dict[str, Any] | None = None
  error: str = ''


# ---------------------------------------------------------------------------------------------
# Finding files.

def collect_files(paths: Sequence[str]) -> list[Row]:
  """Rows for the files of `paths` in order (folders recursively, sorted, hidden entries
  skipped); a path that does not exist becomes a row with an error."""
  rows = []
  for path in paths:
    if os.path.isdir(path):
      for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith('.'))
        rows.extend(Row(os.path.join(root, f)) for f in sorted(files) if not f.startswith('.'))
    elif os.path.exists(path):
      rows.append(Row(path))
    else:
      rows.append(Row(path, error='no such file or folder'))
  return rows


def describe_error(error: Exception) -> str:
  """A short reason for a file that could not be scored."""
  if isinstance(error, Image.UnidentifiedImageError):
    return 'not an image (PIL cannot identify the file format)'
  if isinstance(error, Image.DecompressionBombError):
    return f'image too large: {error}'
  if isinstance(error, (OSError, SyntaxError, ValueError)) and not isinstance(
      error, (FileNotFoundError, PermissionError, IsADirectoryError)):
    return f'corrupt or unreadable image: {error}'
  return f'{type(error).__name__}: {error}'


# ---------------------------------------------------------------------------------------------
# Scoring.

def _load_all(scorer, rows: Sequence[Row], workers: int) -> Iterator[tuple[int, Any]]:
  """(row index, uint8 image or the exception) in order; decoding runs `workers` threads
  ahead of the consumer, at most a few batches' worth."""
  import concurrent.futures  # pylint: disable=g-import-not-at-top

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

  for i, result in _load_all(scorer, rows, workers):
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


# ---------------------------------------------------------------------------------------------
# Writing.

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
  out = {'path': row.path, 'error': row.error}
  if row.scores:
    out['p_high'] = _fmt(row.scores['p_high'])
    out['predicted_class'] = row.scores['predicted_class']
    if 'mean_score' in row.scores:
      out['mean_score'] = _fmt(row.scores['mean_score'])
    for k, (tag, p) in enumerate(row.scores.get('top_tags', ()), 1):
      out[f'tag_{k}'], out[f'p_tag_{k}'] = tag, _fmt(p)
  return out


def json_record(row: Row) -> dict[str, Any]:
  record = {'path': row.path, **(row.scores or {}), 'error': row.error or None}
  if 'top_tags' in record:
    record['top_tags'] = [{'tag': t, 'probability': p} for t, p in record['top_tags']]
  return record


@contextlib.contextmanager
def atomic_open(path: str):
  """A text file at a temporary name in `path`'s folder, renamed to `path` on success and
  removed on any error or interruption."""
  folder = os.path.dirname(os.path.abspath(path))
  os.makedirs(folder, exist_ok=True)
  fd, tmp = tempfile.mkstemp(prefix=f'.{os.path.basename(path)}.', suffix='.partial',
                             dir=folder)
  try:
    with os.fdopen(fd, 'w', newline='') as f:
      yield f
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  except BaseException:
    os.unlink(tmp)
    raise


def write_output(path: str, rows: Sequence[Row], scorer, *, top_tags: int) -> None:
  """Writes rows as CSV or JSON (by the extension of `path`), atomically."""
  extension = os.path.splitext(path)[1].lower()
  with atomic_open(path) as f:
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
          'dataset': scorer.info.dataset, 'tag_names': list(scorer.tag_names),
          'score_range': [scorer.info.score_min, scorer.info.score_max]
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
      lines.append([row.path, '-', '-', '-'] + ['-'] * len(extra_names) + [f'ERROR: {row.error}'])
      continue
    s = row.scores
    tags = ', '.join(f'{t} {p:.2f}' for t, p in s.get('top_tags', ())[:top_tags])
    lines.append([row.path, f'{s["p_high"]:.3f}', s['predicted_class'],
                  f'{s["mean_score"]:.2f}' if 'mean_score' in s else '-']
                 + [str(extra.get(row.path, {}).get(k, '')) for k in extra_names] + [tags])
  widths = [max(len(line[c]) for line in lines) for c in range(len(header) - 1)]
  return '\n'.join('  '.join(cell.ljust(w) for cell, w in zip(line, widths)) + '  ' + line[-1]
                   for line in lines)


# ---------------------------------------------------------------------------------------------
# The demo and the benchmark.

def export_test_images(scorer, count: int, folder: str, data_dir: str = '',
                       ) -> dict[str, dict[str, str]]:
  """Writes `count` test-split images of the model's dataset into `folder` as JPEG files.

  Returns {file path: {'rated mean', 'rated class', 'true tags'}} (the dataset's own labels,
  printed beside the predictions).
  """
  from aesthetic_jax import datasets, labels  # pylint: disable=g-import-not-at-top
  config = scorer.config
  sources, meta = datasets.open_dataset(config.data.name, data_dir or config.data.data_dir)
  source = sources[config.data.test_split]
  os.makedirs(folder, exist_ok=True)
  truth = {}
  for i in range(min(count, len(source))):
    record = source[i]
    path = os.path.join(folder, f'test_{int(record["image_id"])}.jpg')
    with open(path, 'wb') as f:
      f.write(record['image'])  # the stored JPEG bytes, exactly what evaluation decodes
    label = labels.aesthetic_label(np.float32(record['mean_score']), delta=0.0,
                                   threshold=meta.label_threshold)
    tags = [name for name, on in zip(meta.tag_names, record.get('tags', ())) if on]
    truth[path] = {'rated mean': f'{float(record["mean_score"]):.2f}',
                   'rated class': ('low', 'high')[int(label)],
                   'true tags': ', '.join(tags) or '-'}
  return truth


def write_benchmark_images(folder: str, count: int, size: tuple[int, int], seed: int = 0,
                           ) -> list[str]:
  """`count` JPEGs (quality 90) of smooth random content, `size` (width, height)."""
  rng = np.random.default_rng(seed)
  os.makedirs(folder, exist_ok=True)
  paths = []
  for i in range(count):
    small = rng.integers(0, 256, (size[1] // 16 + 1, size[0] // 16 + 1, 3), np.uint8)
    image = Image.fromarray(small).resize(size, Image.BICUBIC)
    noise = rng.integers(-12, 13, (size[1], size[0], 3))
    image = Image.fromarray(np.clip(np.asarray(image) + noise, 0, 255).astype(np.uint8))
    paths.append(os.path.join(folder, f'bench_{i:05d}.jpg'))
    image.save(paths[-1], quality=90)
  return paths


def benchmark(scorer, *, count: int, size: tuple[int, int], workers: int) -> dict[str, Any]:
  """images/s of folder scoring (decoding included) and of decoding alone, after a warm-up
  pass that compiles the model."""
  import jax  # pylint: disable=g-import-not-at-top
  with tempfile.TemporaryDirectory() as folder:
    write_benchmark_images(folder, count, size)
    score_rows(scorer, collect_files([folder]), workers=workers, top_tags=3, progress=False)
    start = time.perf_counter()
    rows = score_rows(scorer, collect_files([folder]), workers=workers, top_tags=3,
                      progress=False)
    scoring = time.perf_counter() - start
    assert not any(r.error for r in rows), [r.error for r in rows if r.error][:3]
    start = time.perf_counter()
    for _ in _load_all(scorer, collect_files([folder]), workers):
      pass
    decoding = time.perf_counter() - start
  return {'images': count, 'image_size': f'{size[0]}x{size[1]} JPEG',
          'images_per_s': count / scoring, 'decode_only_images_per_s': count / decoding,
          'batch_size': scorer.batch_size, 'workers': workers,
          'devices': f'{len(scorer.devices)} x {jax.devices()[0].device_kind}',
          'architecture': scorer.config.model.architecture, 'body': scorer.config.model.body,
          'crop_size': scorer.crop_size, 'weights': scorer.source}


# ---------------------------------------------------------------------------------------------
# Command line.

def load_config_file(spec: str):
  """'configs/mtrl.py:demo' -> that file's get_config('demo')."""
  import importlib.util  # pylint: disable=g-import-not-at-top
  path, _, arg = spec.partition(':')
  module_spec = importlib.util.spec_from_file_location('_predict_config', path)
  module = importlib.util.module_from_spec(module_spec)
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(path))))
  module_spec.loader.exec_module(module)
  return module.get_config(arg or None)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
  parser = argparse.ArgumentParser(
      prog='python -m aesthetic_jax.predict', description=__doc__.split('\n\n')[0],
      formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split('\n\n', 1)[1])
  source = parser.add_mutually_exclusive_group(required=True)
  source.add_argument('--workdir', help='a training workdir (its latest checkpoint)')
  source.add_argument('--checkpoint', help='a workdir, its checkpoints/ or checkpoints/<step>')
  source.add_argument('--config', help='FILE[:ARG]: untrained random weights (timing only)')
  parser.add_argument('paths', nargs='*', help='image files and folders')
  parser.add_argument('--output', default='', help='scores.csv or scores.json')
  parser.add_argument('--step', type=int, default=None, help='this checkpoint step')
  parser.add_argument('--batch_size', type=int, default=None,
                      help='images per batch over all devices (default: eval_batch_size)')
  parser.add_argument('--workers', type=int, default=None, help='decoding threads')
  parser.add_argument('--top_tags', type=int, default=3, help='tags reported per image')
  parser.add_argument('--no_progress', action='store_true', help='no progress bar')
  parser.add_argument('--demo_from_test_split', type=int, default=0, metavar='N',
                      help='write N test images of the model\'s dataset to '
                           '<workdir>/demo_images and score them')
  parser.add_argument('--data_dir', default='', help='with --demo_from_test_split: where the '
                      'dataset is (default: the training config\'s data.data_dir)')
  parser.add_argument('--benchmark', type=int, default=0, metavar='N',
                      help='time folder scoring of N generated JPEGs')
  parser.add_argument('--benchmark_size', default='640x480', help='WxH of benchmark images')
  args = parser.parse_args(argv)
  if args.output and os.path.splitext(args.output)[1].lower() not in FORMATS:
    parser.error(f'--output must end in {" or ".join(FORMATS)}, got {args.output!r}')
  if not (args.paths or args.demo_from_test_split or args.benchmark):
    parser.error('give image files or folders to score (or --demo_from_test_split/--benchmark)')
  if args.demo_from_test_split and args.config:
    parser.error('--demo_from_test_split needs a trained model (--workdir or --checkpoint)')
  return args


def make_scorer(args):
  from aesthetic_jax.scorer import Scorer  # pylint: disable=g-import-not-at-top
  if args.config:
    print('Untrained random weights (--config): for timing only, the scores mean nothing.',
          file=sys.stderr)
    return Scorer.from_config(load_config_file(args.config), batch_size=args.batch_size)
  return Scorer.from_checkpoint(args.workdir or args.checkpoint, step=args.step,
                                batch_size=args.batch_size)


def main(argv: Sequence[str] | None = None) -> int:
  args = parse_args(sys.argv[1:] if argv is None else argv)
  from absl import logging  # pylint: disable=g-import-not-at-top
  logging.set_verbosity(logging.WARNING)  # orbax and TFDS log every file at INFO
  from aesthetic_jax import scorer as scorer_lib  # pylint: disable=g-import-not-at-top
  workers = args.workers or scorer_lib.default_workers()
  scorer = make_scorer(args)
  if args.benchmark:
    width, height = (int(v) for v in args.benchmark_size.lower().split('x'))
    result = benchmark(scorer, count=args.benchmark, size=(width, height), workers=workers)
    print(json.dumps(result))
    return 0
  paths, extra = list(args.paths), None
  if args.demo_from_test_split:
    workdir = scorer_lib.locate_checkpoint(args.workdir or args.checkpoint)[0]
    if not os.path.relpath(workdir).startswith('..'):
      workdir = os.path.relpath(workdir)  # shorter paths in the printed table
    folder = os.path.join(workdir, 'demo_images')
    extra = export_test_images(scorer, args.demo_from_test_split, folder, args.data_dir)
    paths += sorted(extra)
  rows = collect_files(paths)
  start = time.perf_counter()
  score_rows(scorer, rows, workers=workers, top_tags=args.top_tags,
             progress=False if args.no_progress else None)
  seconds = time.perf_counter() - start
  scored = sum(1 for r in rows if not r.error)
  if args.output:
    write_output(args.output, rows, scorer, top_tags=args.top_tags)
  if not args.output or args.demo_from_test_split:
    print(format_table(rows, top_tags=args.top_tags, extra=extra))
  print(f'Scored {scored} image(s), {len(rows) - scored} error(s), in {seconds:.1f} s '
        f'({scored / max(seconds, 1e-9):.1f} images/s with decoding, compilation included) '
        f'with {scorer.source}' + (f'; wrote {args.output}' if args.output else ''),
        file=sys.stderr)
  return 0


if __name__ == '__main__':
  sys.exit(main())

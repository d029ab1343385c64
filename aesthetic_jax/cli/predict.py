"""Scores image files and folders with a trained model and writes a CSV or JSON table.

  python -m aesthetic_jax.predict --workdir=DIR PATHS... --output=scores.csv
  python -m aesthetic_jax.predict --checkpoint=DIR/checkpoints/STEP PATHS... --output=s.json
  python -m aesthetic_jax.predict --workdir=DIR --demo_from_test_split=5
  python -m aesthetic_jax.predict --workdir=DIR --benchmark=512
  python -m aesthetic_jax.predict --config=configs/mtrl.py --config.input.crop_size=64 \\
      --benchmark=256          # untrained random weights: timing only

Every path given or found in a folder (recursively, sorted) gets exactly one row: its scores,
or why it was not scored (not an image, corrupt, too large, not a regular file, a link that
leaves the folder, a hidden file, ...). Images get the evaluation preprocessing of the
model's own config (infer/scorer.py), are read as a viewer shows them (EXIF orientation,
16-bit and other modes converted), and decoding runs on threads while the devices score the
previous batch. Columns: path, p_high, predicted_class, mean_score (with a score-distribution
head), tag_1, p_tag_1, ... (the most probable tags), error. The output is written to a
temporary file renamed into place at the end, so an interrupted run leaves no half-written
table. Without --output the table is printed.
"""

import json
import os
import sys
import time

from absl import app, flags, logging

from aesthetic_jax.cli import flags as cli_flags
from aesthetic_jax.data import image_io
from aesthetic_jax.infer import batch_scoring, demo, output
from aesthetic_jax.infer.scorer import Scorer, default_workers
from aesthetic_jax.run_dir import DEMO_IMAGES
from aesthetic_jax.run_dir import locate

FLAGS = flags.FLAGS
cli_flags.workdir('A training workdir: its newest readable checkpoint scores.')
cli_flags.checkpoint()
cli_flags.config('An experiment config: untrained random weights, for timing only.')
cli_flags.output('scores.csv or scores.json (default: print a table).')
cli_flags.workers('Decoding threads (0: one per core, at most 8, and as many as half the '
                  'available memory holds at --max_pixels and --max_file_mb).')
cli_flags.progress()
cli_flags.data_dir('With --demo_from_test_split: where the dataset is (default: the '
                   "training config's data.data_dir).")
cli_flags.batch_size("Images per batch over all devices (default: the config's "
                     'eval_batch_size).')
flags.DEFINE_integer('top_tags', 3, 'Tags reported per image.')
flags.DEFINE_bool('follow_links', False, 'Follow symbolic links that leave a folder given on '
                  'the command line (and walk linked folders); by default they get an error '
                  'row.')
flags.DEFINE_integer('max_pixels', image_io.DEFAULT_MAX_PIXELS,
                     'Refuse images with more pixels than this (after the JPEG reduction '
                     'draft mode makes); bounds the memory one decode takes.')
flags.DEFINE_integer('max_file_mb', image_io.DEFAULT_MAX_BYTES // 2**20,
                     'Refuse files larger than this many MiB.')
flags.DEFINE_integer('demo_from_test_split', 0, "Write N test images of the model's dataset "
                     'to <workdir>/demo_images and score them.')
flags.DEFINE_integer('benchmark', 0, 'Time folder scoring of N generated JPEGs.')
flags.DEFINE_string('benchmark_size', '640x480', 'WxH of the benchmark images.')


def _check_flags(paths) -> None:
  sources = [name for name in ('workdir', 'checkpoint') if FLAGS[name].value]
  sources += ['config'] if FLAGS.config is not None else []
  if len(sources) != 1:
    raise app.UsageError('give exactly one of --workdir, --checkpoint or --config')
  if FLAGS.output and os.path.splitext(FLAGS.output)[1].lower() not in output.FORMATS:
    raise app.UsageError(f'--output must end in {" or ".join(output.FORMATS)}, got '
                         f'{FLAGS.output!r}')
  if not (paths or FLAGS.demo_from_test_split or FLAGS.benchmark):
    raise app.UsageError('give image files or folders to score (or --demo_from_test_split, '
                         '--benchmark)')
  if FLAGS.demo_from_test_split and FLAGS.config is not None:
    raise app.UsageError('--demo_from_test_split needs a trained model (--workdir or '
                         '--checkpoint)')


def make_scorer() -> Scorer:
  if FLAGS.config is not None:
    print('Untrained random weights (--config): for timing only, the scores mean nothing.',
          file=sys.stderr)
    return Scorer.from_config(FLAGS.config, batch_size=FLAGS.batch_size, **_limits())
  return Scorer.from_checkpoint(FLAGS.workdir or FLAGS.checkpoint, step=FLAGS.step,
                                batch_size=FLAGS.batch_size, **_limits())


def _limits() -> dict[str, int]:
  return {'max_pixels': FLAGS.max_pixels, 'max_file_bytes': FLAGS.max_file_mb * 2**20}


def main(argv) -> int:
  paths = list(argv[1:])
  _check_flags(paths)
  logging.set_verbosity(logging.WARNING)  # orbax and TFDS log every file at INFO
  scorer = make_scorer()
  workers = FLAGS.workers or default_workers(**_limits())
  if FLAGS.benchmark:
    width, height = (int(v) for v in FLAGS.benchmark_size.lower().split('x'))
    print(json.dumps(demo.benchmark(scorer, count=FLAGS.benchmark, size=(width, height),
                                    workers=workers)))
    return 0
  extra = None
  if FLAGS.demo_from_test_split:
    run, _ = locate(FLAGS.workdir or FLAGS.checkpoint)
    folder = run.file(DEMO_IMAGES)
    if not os.path.relpath(folder).startswith('..'):
      folder = os.path.relpath(folder)  # shorter paths in the printed table
    extra = demo.export_test_images(scorer, FLAGS.demo_from_test_split, folder,
                                    FLAGS.data_dir or '')
    paths += sorted(extra)
  rows = batch_scoring.rows_for(paths, follow_links=FLAGS.follow_links)
  start = time.perf_counter()
  batch_scoring.score_rows(scorer, rows, workers=workers, top_tags=FLAGS.top_tags,
                           progress=False if FLAGS.no_progress else None)
  seconds = time.perf_counter() - start
  scored = sum(1 for r in rows if not r.error)
  if FLAGS.output:
    output.write_output(FLAGS.output, rows, scorer, top_tags=FLAGS.top_tags)
  if not FLAGS.output or FLAGS.demo_from_test_split:
    print(output.format_table(rows, top_tags=FLAGS.top_tags, extra=extra))
  print(f'Scored {scored} image(s), {len(rows) - scored} error(s), in {seconds:.1f} s '
        f'({scored / max(seconds, 1e-9):.1f} images/s with decoding, compilation included) '
        f'with {scorer.source}' + (f'; wrote {FLAGS.output}' if FLAGS.output else ''),
        file=sys.stderr)
  return 0

"""The paper's analyses of finished runs, as PNG figures and data files.

  python -m aesthetic_jax.analyze FIGURE RUN [RUN ...] [--out=DIR] [--dataset=NAME --data_dir=DIR]

FIGURE:
  correlation  subtask correlation heat map from Omega of each MTRL run (paper Fig. 9)
  per_tag      per-tag test accuracy of the runs side by side (paper Fig. 5)
  filters      conv1 filters of two runs side by side (paper Fig. 7)
  examples     test images the first run gets right and the second wrong (paper Fig. 8)
  curves       training curves of the runs
  all          all of the above (filters and examples for the first two runs)

RUN is a run's workdir (`--workdir` of aesthetic_jax.main), optionally named for the figures
as NAME=PATH. Files go to --out (default: <first run>/analysis). The dataset (for tag names
and the images of `examples`) is read from the run's config.json when the experiments runner
made it; otherwise name it with --dataset and --data_dir.
"""

import os
import sys
from typing import Sequence

from absl import app, flags
from absl import logging as absl_logging

from aesthetic_jax.cli import flags as cli_flags

FLAGS = flags.FLAGS
cli_flags.out_dir('Output folder (default: <first run>/analysis).')
cli_flags.data_dir('TFDS data_dir of the dataset (for the images of `examples`).')
flags.DEFINE_string('dataset', None, "Dataset name, e.g. 'synthetic' or 'ava/paper' (default: "
                    "the run's config.json).")
flags.DEFINE_integer('max_images', 16, 'Images in `examples`.')

FIGURES = ('correlation', 'per_tag', 'filters', 'examples', 'curves', 'all')


def _open(spec: str):
  from aesthetic_jax.analysis import runs
  name, sep, path = spec.partition('=')
  return runs.open_run(path, name) if sep else runs.open_run(spec)


def run(figure: str, specs: Sequence[str], *, out: str | None = None, dataset=None,
        data_dir=None, max_images: int = 16) -> list[tuple[str, str | None]]:
  """Writes `figure` for the runs `specs`; returns [(caption, path)] of the files written."""
  from aesthetic_jax.analysis import report
  opened = [_open(s) for s in specs]
  out = out or os.path.join(opened[0].path, 'analysis')
  pair = len(opened) == 2
  if figure in ('filters', 'examples') and not pair:
    raise ValueError(f'{figure} compares two runs; got {len(opened)}.')
  written = []
  if figure in ('curves', 'all'):
    written += report.curves_figure(opened, out)
  if figure in ('per_tag', 'all'):
    tagged = [r for r in opened if report.has_tags(r)]
    if tagged:
      written += report.per_tag_figure(tagged, out)
    elif figure == 'per_tag':
      raise ValueError('None of the runs has tags in its test predictions.')
  if figure in ('correlation', 'all'):
    found = report.correlation_figures(opened, out)
    if not found and figure == 'correlation':
      raise ValueError('None of the runs has an omega.json (only MTRL runs learn Omega).')
    written += found
  if figure in ('filters', 'all') and len(opened) >= 2:
    written += report.filters_figure(opened[0], opened[1], out)
  if figure in ('examples', 'all') and len(opened) >= 2:
    written += report.examples_figure(opened[0], opened[1], out, dataset=dataset,
                                      data_dir=data_dir, max_images=max_images)
  return written


def main(argv) -> int:
  if len(argv) < 3 or argv[1] not in FIGURES:
    raise app.UsageError(f'usage: python -m aesthetic_jax.analyze {{{",".join(FIGURES)}}} RUN '
                         '[RUN ...]')
  absl_logging.set_verbosity(absl_logging.WARNING)
  try:
    written = run(argv[1], argv[2:], out=FLAGS.out, dataset=FLAGS.dataset,
                  data_dir=FLAGS.data_dir, max_images=FLAGS.max_images)
  except (ValueError, FileNotFoundError) as error:
    print(f'error: {error}', file=sys.stderr)
    return 2
  for caption, path in written:
    print(f'{caption}: {path}')
  return 0

"""The figures of a set of runs, each as a PNG plus a data file, with a caption per file.

Used by `python -m aesthetic_jax.analyze` and, for the runs of a table, by
aesthetic_jax.experiments (table_figures).
"""

import logging
import os
import traceback
from typing import Mapping, Sequence

import numpy as np

from aesthetic_jax.analysis import correlation, curves, examples, filters, per_tag, runs as runs_lib
from aesthetic_jax.analysis.runs import Run
from aesthetic_jax.run_dir import files

Written = list[tuple[str, str | None]]  # (caption, path); path None: the figure failed


def per_tag_figure(runs: Sequence[Run], out_dir: str, *,
                   stem: str = 'per_tag_accuracy') -> Written:
  """Fig. 5 over `runs` (all must have tags in their test predictions)."""
  predictions = {r.name: runs_lib.read_predictions(r) for r in runs}
  num_tags = next(iter(predictions.values()))['tags'].shape[1]
  names = runs_lib.tag_names(runs, num_tags)
  table = per_tag.per_tag_table(predictions, names)
  png = per_tag.plot(table, os.path.join(out_dir, f'{stem}.png'),
                     title='Aesthetic accuracy on the test images of each semantic tag')
  return [('Per-tag test accuracy (paper Fig. 5)', png),
          ('its data', per_tag.write_csv(table, os.path.join(out_dir, f'{stem}.csv')))]


def curves_figure(runs: Sequence[Run], out_dir: str, *, stem: str = 'training_curves') -> Written:
  all_series = {r.name: curves.series(runs_lib.read_metrics(r)) for r in runs}
  png = curves.plot(all_series, os.path.join(out_dir, f'{stem}.png'),
                    title='Training curves, per epoch')
  return [('Training curves', png),
          ('their data', curves.write_csv(all_series, os.path.join(out_dir, f'{stem}.csv')))]


def correlation_figures(runs: Sequence[Run], out_dir: str) -> Written:
  """Fig. 9 for every run that has an omega.json (MTRL runs)."""
  written = []
  for run in runs:
    record = runs_lib.read_omega(run)
    if record is None:
      continue
    stem = os.path.join(out_dir, f'omega_correlation_{run.name}')
    png, data = correlation.from_omega(record, stem + '.png', stem + '.csv', run_name=run.name)
    written += [(f'Subtask correlations from Omega of {run.name} (paper Fig. 9)', png),
                ('its data', data)]
  return written


def filters_figure(run_a: Run, run_b: Run, out_dir: str) -> Written:
  """Fig. 7: conv1 filters of the two runs' latest checkpoints."""
  kernels, steps = {}, {}
  for run in (run_a, run_b):
    steps[run.name], params = runs_lib.latest_params(run)
    kernels[run.name] = runs_lib.conv1_kernel(params)[1]
  stem = os.path.join(out_dir, f'conv1_filters_{run_a.name}_vs_{run_b.name}')
  png = filters.plot(kernels, stem + '.png',
                     title='Learned conv1 filters (each stretched to [0, 1] on its own)')
  np.savez(stem + '.npz', **kernels)
  return [(f'conv1 filters, {run_a.name} vs {run_b.name} (paper Fig. 7)', png),
          ('the kernels (kh, kw, 3, C)', stem + '.npz')]


def examples_figure(run_a: Run, run_b: Run, out_dir: str, *, dataset=None, data_dir=None,
                    max_images: int = 16) -> Written:
  """Fig. 8: test images `run_a` gets right and `run_b` wrong."""
  found = examples.right_and_wrong(runs_lib.read_predictions(run_a),
                                   runs_lib.read_predictions(run_b))
  name, folder = runs_lib.dataset_of(run_a, dataset, data_dir)
  images = examples.load_images(name, folder, found['image_id'][:max_images])
  stem = os.path.join(out_dir, f'right_{run_a.name}_wrong_{run_b.name}')
  png = examples.plot(found, images, stem + '.png', name_a=run_a.name, name_b=run_b.name,
                      max_images=max_images)
  return [(f'Test images {run_a.name} gets right and {run_b.name} wrong (paper Fig. 8)', png),
          ('all such images', examples.write_csv(found, stem + '.csv', run_a.name, run_b.name))]


def _attempt(title: str, fn, *args, **kwargs) -> Written:
  """Runs one figure; a failure becomes a caption instead of stopping the others."""
  try:
    return fn(*args, **kwargs)
  except Exception as error:  # pylint: disable=broad-except
    logging.warning('%s failed:\n%s', title, traceback.format_exc())
    return [(f'{title} failed: {type(error).__name__}: {error}'.splitlines()[0], None)]


def has_tags(run: Run) -> bool:
  try:
    return 'tags' in runs_lib.read_predictions(run)
  except FileNotFoundError:
    return False


def table_figures(runs: Mapping[str, str], *, compare: Sequence[str] = (),
                  out_dir: str) -> Written:
  """The figures of a table's runs ({name: run folder}): per-tag accuracy, training curves,
  Omega correlations, and for the `compare` pair (baseline, model) conv1 filters and the
  images the model gets right and the baseline wrong. Writes out_dir/figures.json too."""
  os.makedirs(out_dir, exist_ok=True)
  opened = [runs_lib.open_run(path, name) for name, path in runs.items()]
  written = _attempt('Training curves', curves_figure, opened, out_dir)
  tagged = [r for r in opened if has_tags(r)]
  if tagged:
    written += _attempt('Per-tag accuracy', per_tag_figure, tagged, out_dir)
  written += _attempt('Omega correlations', correlation_figures, opened, out_dir)
  if len(compare) == 2 and all(name in runs for name in compare):
    baseline, model = (next(r for r in opened if r.name == n) for n in compare)
    written += _attempt('conv1 filters', filters_figure, baseline, model, out_dir)
    written += _attempt('Example images', examples_figure, model, baseline, out_dir)
  files.write_json(os.path.join(out_dir, 'figures.json'),
                   [{'caption': c, 'path': p} for c, p in written])
  return written

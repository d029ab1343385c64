"""Building the TFDS datasets aesthetic_jax trains on, and showing what a build skipped.

Needs no TensorFlow (array_record files). Images are checked, converted and (for the *_256
configs) warped in a pool of worker processes, one per core by default; the records are
written by this process. A summary follows: records per split, records per second, and every
skipped or converted input (the full list is `skip_report.json` in the built folder).
"""

import os
import sys
import time

# Heavy imports (TFDS) happen inside the functions: the image workers are spawned processes
# that re-import this module, and should not pay for them.

BUILDERS_WITH_IMAGES = ('ava', 'photonet')




def _print_summary(builder, elapsed: float | None, data_dir: str, full_name: str,
                   out=None) -> None:
  out = out or sys.stdout
  from data_builders.common import skip_report as report_lib  # pylint: disable=g-import-not-at-top
  sizes = {k: v.num_examples for k, v in builder.info.splits.items()}
  total = sum(sizes.values())
  speed = f' in {elapsed:.1f} s ({total / elapsed:.1f} records/s)' if elapsed else ''
  config = f'/{builder.builder_config.name}' if builder.builder_config else ''
  print(f'{builder.name}{config} {builder.info.version}: ' +
        ', '.join(f'{k} {n:,}' for k, n in sorted(sizes.items())) +
        f' records{speed}\n  at {builder.data_dir}', file=out)
  report_path = os.path.join(builder.data_dir, report_lib.REPORT_FILENAME)
  if os.path.exists(report_path):
    report = report_lib.BuildReport.read(builder.data_dir)
    print(f'Inputs (all ids in {report_path}):', file=out)
    print(report.summary(), file=out)
  print(f'Train on it with: --config.data.name={full_name} --config.data.data_dir={data_dir}',
        file=out)


def build(full_name: str, *, data_dir: str, manual_dir: str | None = None,
          workers: int = 0, overwrite: bool = False, progress: bool = True,
          out=None) -> int:
  """Builds `full_name` (e.g. 'ava/paper', or 'ava' for its first config) into data_dir.

  Returns an exit status."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  from aesthetic_jax.data import registry as datasets  # pylint: disable=g-import-not-at-top
  from data_builders.common import manual_dir as manual_dir_lib  # pylint: disable=g-import-not-at-top

  short = datasets.split_name(full_name)[0]
  data_dir = os.path.abspath(os.path.expanduser(data_dir))
  kwargs = {}
  if short in BUILDERS_WITH_IMAGES:
    kwargs = dict(num_workers=workers or None, progress=progress)
  builder = datasets.get_builder(full_name, data_dir, **kwargs)
  if builder.is_prepared() and not overwrite:
    print('Already built (use --overwrite to rebuild).', file=out)
    _print_summary(builder, None, data_dir, full_name, out)
    return 0
  download_config = tfds.download.DownloadConfig(
      download_mode=(tfds.download.GenerateMode.FORCE_REDOWNLOAD if overwrite
                     else tfds.download.GenerateMode.REUSE_DATASET_IF_EXISTS))
  if hasattr(builder, 'check_manual_dir'):
    try:
      manual = builder.check_manual_dir(manual_dir)
    except manual_dir_lib.ManualDirError as e:
      print(f'error: {e}', file=sys.stderr)
      return 2
    download_config.manual_dir = manual
  if progress:
    tfds.disable_progress_bar()  # the builder's own bar counts images, skipped ones included
  start = time.perf_counter()
  builder.download_and_prepare(download_config=download_config, file_format='array_record')
  _print_summary(builder, time.perf_counter() - start, data_dir, full_name, out)
  return 0


def report(full_name: str, *, data_dir: str, out=None) -> int:
  """Prints the summary of an existing build (the skip report included)."""
  from aesthetic_jax.data import registry as datasets  # pylint: disable=g-import-not-at-top
  data_dir = os.path.abspath(os.path.expanduser(data_dir))
  builder = datasets.get_builder(full_name, data_dir)
  if not builder.is_prepared():
    print(f'error: {full_name} is not built in {data_dir}: nothing at {builder.data_dir}.\n'
          f'Build it with: {datasets.build_instructions(full_name, data_dir)}', file=sys.stderr)
    return 2
  _print_summary(builder, None, data_dir, full_name, out)
  return 0

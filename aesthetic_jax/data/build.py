"""Building the TFDS datasets aesthetic_jax trains on, and showing what a build skipped.

Needs no TensorFlow (array_record files). Images are checked, converted and (for the *_256
configs) warped in a pool of worker processes, one per core by default; the records are
written by this process. A summary follows: records per split, images checked per second, and
every skipped or converted input (the full list is `skip_report.json` in the built folder).

A build never replaces a good build with a broken one. TFDS builds into a staging data_dir,
`<data_dir>/<name>/<config>/.building-<version>-XXXXXX/`, beside the version folder
`<data_dir>/<name>/<config>/<version>/` it replaces, so both are on one file system; only a
complete build is moved into place (the old folder renamed into the staging folder, the new
one renamed into place, the first rename undone if the second fails) and the staging folder,
old build included, is removed whatever happens. A build that the user's files cannot give
(no usable photo for a split, another release's AVA.txt) exits with status 2 and a message
saying what to fix; its skip report goes to `<data_dir>/<name>/<config>/failed-<version>/
skip_report.json`: beside the build it was meant to be, outside any version folder (TFDS never
takes it for a build, a good build's own report is not overwritten), not in the user's
--manual_dir (their copy of the data, maybe read-only). The next successful build removes it.
"""

import contextlib
import io
import os
import shutil
import sys
import tempfile
import time

# Heavy imports (TFDS) happen inside the functions: the image workers are spawned processes
# that re-import this module, and should not pay for them.

BUILDERS_WITH_IMAGES = ('ava', 'photonet')
STAGING_PREFIX = '.building-'  # <config dir>/.building-<version>-XXXXXX/: a build under way
FAILED_PREFIX = 'failed-'  # <config dir>/failed-<version>/skip_report.json: the last failure


@contextlib.contextmanager
def _quiet_tfds():
  """TFDS's own output off: its progress bars, its absl log lines ('Variant folder ... has
  no dataset_info.json') and what it prints ('Downloading and preparing dataset', 'Dataset
  ... downloaded and prepared'): nothing is downloaded, and the builders' own bar counts
  images. Our messages follow the build."""
  from tensorflow_datasets.core.utils import tqdm_utils  # pylint: disable=g-import-not-at-top
  from aesthetic_jax.data import registry  # pylint: disable=g-import-not-at-top
  bars = getattr(tqdm_utils, '_active', True)  # (no public getter) restored afterwards
  tqdm_utils.display_progress_bar(False)
  try:
    with registry.quiet_tfds_logs(), contextlib.redirect_stdout(io.StringIO()):
      yield
  finally:
    tqdm_utils.display_progress_bar(bars)


def _failed_report_path(builder) -> str:
  from data_builders.common import skip_report as report_lib  # pylint: disable=g-import-not-at-top
  return os.path.join(os.path.dirname(builder.data_dir), f'{FAILED_PREFIX}{builder.version}',
                      report_lib.REPORT_FILENAME)


def _print_summary(builder, elapsed: float | None, data_dir: str, full_name: str,
                   out=None) -> None:
  out = out or sys.stdout
  from data_builders.common import skip_report as report_lib  # pylint: disable=g-import-not-at-top
  sizes = {k: v.num_examples for k, v in builder.info.splits.items()}
  total = sum(sizes.values())
  config = f'/{builder.builder_config.name}' if builder.builder_config else ''
  print(f'{builder.name}{config} {builder.info.version}: ' +
        ', '.join(f'{k} {n:,}' for k, n in sorted(sizes.items())) +
        f' records\n  at {builder.data_dir}', file=out)
  report_path = os.path.join(builder.data_dir, report_lib.REPORT_FILENAME)
  report = None
  if os.path.exists(report_path):
    report = report_lib.BuildReport.read(builder.data_dir)
  if elapsed:
    # The image pass dominates a build: its rate is the honest speed, not records written.
    checked = sum(v for k, v in report.counts.items() if k.startswith('planned_')) if report else 0
    if checked:
      print(f'Checked {checked:,} images ({total:,} usable) in {elapsed:.1f} s '
            f'({checked / elapsed:.1f} images/s); wrote {total:,} records.', file=out)
    else:
      print(f'Wrote {total:,} records in {elapsed:.1f} s.', file=out)
  if report is not None:
    print(f'Inputs (all ids in {report_path}):', file=out)
    print(report.summary(), file=out)
  print(f'Train on it with: --config.data.name={full_name} --config.data.data_dir={data_dir}',
        file=out)


def _install(new_dir: str, final_dir: str, aside: str) -> None:
  """Moves the complete build `new_dir` to `final_dir`, the build there (if any) to `aside`.

  Two renames on one file system; if the second fails the first is undone, so final_dir
  holds the old build or the new one (none only between the two renames).
  """
  had_old = os.path.lexists(final_dir)
  if had_old:
    os.rename(final_dir, aside)
  try:
    os.rename(new_dir, final_dir)
  except BaseException:
    if had_old:
      os.rename(aside, final_dir)
    raise


def _install_default_config(staged_data_dir: str, final_dir: str) -> None:
  """TFDS's `<data_dir>/<name>/.config/` (the default config's name), if the build wrote it."""
  staged = os.path.join(os.path.dirname(os.path.dirname(staged_data_dir)), '.config')
  if not os.path.isdir(staged):
    return
  final = os.path.join(os.path.dirname(os.path.dirname(final_dir)), '.config')
  os.makedirs(final, exist_ok=True)
  for name in os.listdir(staged):
    os.replace(os.path.join(staged, name), os.path.join(final, name))


def _report_failure(error: Exception, builder, target, had_build: bool) -> int:
  """Prints what went wrong and what to fix, writes the skip report where it stays; 2."""
  lines = [f'error: {error}']
  report = getattr(builder, 'last_report', None)
  if report is not None:
    path = _failed_report_path(target)
    try:
      os.makedirs(os.path.dirname(path), exist_ok=True)
      report.write(os.path.dirname(path))
      lines.append(f'Skip report of this build (every skipped id, by reason): {path}')
    except OSError as e:
      lines.append(f'(Its skip report could not be written to {path}: {e})')
  lines.append(_nothing_replaced(target, had_build))
  print('\n'.join(lines), file=sys.stderr)
  return 2


def _nothing_replaced(target, had_build: bool) -> str:
  if had_build:
    return f'Nothing was replaced: the previous build at {target.data_dir} is untouched.'
  return 'Nothing was built.'


def build(full_name: str, *, data_dir: str, manual_dir: str | None = None,
          workers: int = 0, overwrite: bool = False, progress: bool = True,
          out=None) -> int:
  """Builds `full_name` (e.g. 'ava/paper', or 'ava' for its first config) into data_dir.

  Returns an exit status: 0 built (or already built), 2 the user's files cannot give a build
  (the message says what to fix), 1 the build failed otherwise (an OSError: disk full, ...).
  """
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  from aesthetic_jax.data import registry as datasets  # pylint: disable=g-import-not-at-top
  from data_builders.common import manual_dir as manual_dir_lib  # pylint: disable=g-import-not-at-top

  short = datasets.split_name(full_name)[0]
  data_dir = os.path.abspath(os.path.expanduser(data_dir))
  kwargs = {}
  if short in BUILDERS_WITH_IMAGES:
    kwargs = dict(num_workers=workers or None, progress=progress)
  with _quiet_tfds():
    target = datasets.get_builder(full_name, data_dir)
    had_build = target.is_prepared()
  if had_build and not overwrite:
    print('Already built (use --overwrite to rebuild).', file=out)
    _print_summary(target, None, data_dir, full_name, out)
    return 0
  download_config = tfds.download.DownloadConfig()
  if hasattr(target, 'check_manual_dir'):
    try:
      download_config.manual_dir = target.check_manual_dir(manual_dir)
    except manual_dir_lib.ManualDirError as e:
      print(f'error: {e}', file=sys.stderr)
      return 2
  final_dir = target.data_dir
  start = time.perf_counter()
  staging = builder = None
  try:
    os.makedirs(os.path.dirname(final_dir), exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f'{STAGING_PREFIX}{target.version}-',
                               dir=os.path.dirname(final_dir))
    with _quiet_tfds():
      builder = datasets.get_builder(full_name, staging, **kwargs)
      builder.download_and_prepare(download_config=download_config,
                                   file_format='array_record')
    _install(builder.data_dir, final_dir, aside=os.path.join(staging, 'previous'))
    _install_default_config(builder.data_dir, final_dir)
  except (manual_dir_lib.ManualDataError, manual_dir_lib.ManualDirError) as e:
    return _report_failure(e, builder, target, had_build)
  except OSError as e:
    print(f'error: building {full_name} failed: {e}\n{_nothing_replaced(target, had_build)}',
          file=sys.stderr)
    return 1
  finally:
    if staging:
      shutil.rmtree(staging, ignore_errors=True)
  elapsed = time.perf_counter() - start
  shutil.rmtree(os.path.dirname(_failed_report_path(target)), ignore_errors=True)
  with _quiet_tfds():
    built = datasets.get_builder(full_name, data_dir)
  _print_summary(built, elapsed, data_dir, full_name, out)
  return 0


def report(full_name: str, *, data_dir: str, out=None) -> int:
  """Prints the summary of an existing build (the skip report included)."""
  from aesthetic_jax.data import registry as datasets  # pylint: disable=g-import-not-at-top
  data_dir = os.path.abspath(os.path.expanduser(data_dir))
  with _quiet_tfds():
    builder = datasets.get_builder(full_name, data_dir)
    prepared = builder.is_prepared()
  failed = _failed_report_path(builder)
  if not prepared:
    last = (f'\nThe last build failed; its skip report: {failed}' if os.path.exists(failed)
            else '')
    print(f'error: {full_name} is not built in {data_dir}: nothing at {builder.data_dir}.{last}'
          f'\nBuild it with: {datasets.build_instructions(full_name, data_dir)}',
          file=sys.stderr)
    return 2
  _print_summary(builder, None, data_dir, full_name, out)
  if os.path.exists(failed):
    print(f'A later rebuild failed (this build is the one in use); its skip report: {failed}',
          file=out)
  return 0

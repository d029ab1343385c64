"""Builds the TFDS datasets that aesthetic_jax trains on, and shows what a build skipped.

  python -m aesthetic_jax.data build ava --config=paper --manual_dir=DIR --data_dir=DIR
  python -m aesthetic_jax.data build photonet --manual_dir=DIR --data_dir=DIR
  python -m aesthetic_jax.data report ava --config=paper --data_dir=DIR

Needs no TensorFlow (array_record files). Images are checked, converted and (for the *_256
configs) warped in a pool of worker processes, one per core by default (--workers); the
records are written by this process. A progress bar runs while images are processed; a
summary follows: records per split, records per second, and every skipped or converted input
(the full list is `skip_report.json` in the built folder). Training reads the result with
`--config.data.name=ava/paper --config.data.data_dir=DIR`.

Flags are argparse (only aesthetic_jax.main defines absl flags).
"""

import argparse
import os
import sys
import time

# Heavy imports (TFDS) happen inside the commands: the image workers are spawned processes
# that re-import this module, and should not pay for them.

BUILDERS_WITH_IMAGES = ('ava', 'photonet')


def _full_name(name: str, config: str | None) -> str:
  short, _, inline = name.partition('/')
  if inline and config and inline != config:
    raise SystemExit(f'Two configs given: {name!r} and --config={config}.')
  config = config or inline
  return f'{short}/{config}' if config else short


def _print_summary(builder, elapsed: float | None, data_dir: str, full_name: str,
                   out=None) -> None:
  out = out or sys.stdout
  from data_builders.ava import report as report_lib  # pylint: disable=g-import-not-at-top
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


def build(name: str, *, data_dir: str, config: str | None = None, manual_dir: str | None = None,
          workers: int = 0, overwrite: bool = False, progress: bool = True,
          out=None) -> int:
  """Builds `name` (e.g. 'ava', config 'paper') into data_dir. Returns an exit status."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  from aesthetic_jax import datasets  # pylint: disable=g-import-not-at-top
  from data_builders.ava import manual_dir as manual_dir_lib  # pylint: disable=g-import-not-at-top

  full_name = _full_name(name, config)
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


def report(name: str, *, data_dir: str, config: str | None = None, out=None) -> int:
  """Prints the summary of an existing build (the skip report included)."""
  from aesthetic_jax import datasets  # pylint: disable=g-import-not-at-top
  full_name = _full_name(name, config)
  data_dir = os.path.abspath(os.path.expanduser(data_dir))
  builder = datasets.get_builder(full_name, data_dir)
  if not builder.is_prepared():
    print(f'error: {full_name} is not built in {data_dir}: nothing at {builder.data_dir}.\n'
          f'Build it with: {datasets.build_instructions(full_name, data_dir)}', file=sys.stderr)
    return 2
  _print_summary(builder, None, data_dir, full_name, out)
  return 0


def _parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(prog='python -m aesthetic_jax.data',
                                   description=__doc__.split('\n\n')[0])
  commands = parser.add_subparsers(dest='command', required=True)
  for command, help_text in (('build', 'build a dataset from your own copy of it'),
                             ('report', 'show what an existing build holds and skipped')):
    sub = commands.add_parser(command, help=help_text)
    sub.add_argument('name', help="dataset: 'ava', 'photonet', 'synthetic' (or 'ava/paper')")
    sub.add_argument('--config', default=None,
                     help="builder config: ava: paper, official, paper_256, official_256; "
                          "photonet: paper, paper_256 (default: the first)")
    sub.add_argument('--data_dir', default='~/tensorflow_datasets',
                     help='where built datasets live (config.data.data_dir)')
    if command == 'build':
      sub.add_argument('--manual_dir', default=None,
                       help='your copy of the dataset (see the builder README)')
      sub.add_argument('--workers', type=int, default=0,
                       help='image worker processes (default: one per core)')
      sub.add_argument('--overwrite', action='store_true', help='rebuild if already built')
      sub.add_argument('--no_progress', action='store_true', help='no progress bar')
  return parser


def main(argv=None) -> int:
  args = _parser().parse_args(argv)
  if args.command == 'build':
    return build(args.name, data_dir=args.data_dir, config=args.config,
                 manual_dir=args.manual_dir, workers=args.workers, overwrite=args.overwrite,
                 progress=not args.no_progress)
  return report(args.name, data_dir=args.data_dir, config=args.config)


if __name__ == '__main__':
  sys.exit(main())

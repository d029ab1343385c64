"""Flags shared by several commands, each defined once per process (on first use).

A command calls the definers it needs at import; a second command imported into the same
process (as the tests do) reuses the definition instead of clashing with it.
"""

import collections
import sys

from absl import flags
from ml_collections import config_flags

FLAGS = flags.FLAGS
# Command module -> the shared flags it asked for (shown by its --help: entry.run).
USED_BY = collections.defaultdict(list)


def _once(name: str, define, *args, **kwargs):
  """Defines flag `name` unless defined, and records it for the command module that called
  the definer (two frames up)."""
  USED_BY[sys._getframe(2).f_globals['__name__']].append(name)
  if name not in FLAGS:
    define(name, *args, **kwargs)


def config(help_text: str = 'Experiment config file, e.g. configs/mtrl.py or '
           'configs/mtrl.py:demo; any value can be overridden with --config.KEY=VALUE.'):
  _once('config', config_flags.DEFINE_config_file, None, help_text, lock_config=True)


def workdir(help_text: str = 'A run folder of aesthetic_jax.main (checkpoints, metrics, ...).'):
  _once('workdir', flags.DEFINE_string, None, help_text)


def checkpoint():
  _once('checkpoint', flags.DEFINE_string, None,
        'A workdir, its checkpoints/ folder, or one checkpoints/<step> folder.')
  _once('step', flags.DEFINE_integer, None, 'Use the checkpoint of this step.')


def output(help_text: str):
  _once('output', flags.DEFINE_string, None, help_text)


def data_dir(help_text: str = 'Where built datasets live (config data.data_dir).'):
  _once('data_dir', flags.DEFINE_string, None, help_text)


def workers(help_text: str = 'Worker threads or processes (0: one per core).'):
  _once('workers', flags.DEFINE_integer, 0, help_text)


def progress():
  _once('no_progress', flags.DEFINE_bool, False, 'No progress bars.')


def out_dir(help_text: str):
  _once('out', flags.DEFINE_string, None, help_text)


def manual_dir(help_text: str = 'Your own copy of the dataset (see the builder README, '
               'data_builders/<name>/README.md).'):
  _once('manual_dir', flags.DEFINE_string, None, help_text)


def json_output():
  _once('json', flags.DEFINE_bool, False, 'Print one JSON object as the last line.')


def batch_size(help_text: str):
  _once('batch_size', flags.DEFINE_integer, None, help_text)


def split_flags():
  _once('num_test', flags.DEFINE_integer, None,
        "Random test images (default: the paper's, 20,000 on AVA, 3,000 on Photo.net).")
  _once('split_seed', flags.DEFINE_integer, None, "Seed of the random split (default: 0).")

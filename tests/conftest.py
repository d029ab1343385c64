"""Test-wide set-up: 8 fake CPU devices, the process settings of the entry points, parsed
absl flags, one tiny dataset and config for the whole session, the shared metadata folder.

Tests marked `slow` train or run subprocesses end to end; `pytest -m "not slow"` skips them.
"""

import atexit
import os
import pathlib
import shutil
import tempfile

# Must happen before jax is first imported anywhere in the test session.
os.environ.setdefault('XLA_FLAGS', '--xla_force_host_platform_device_count=8')
# One persistent compilation cache per test session, inherited by the tests' subprocesses:
# many tests build the same tiny programs, and XLA:CPU takes seconds to compile each (model
# initialisers especially). A fresh folder every session, so CI always starts cold.
# With pytest-xdist the workers inherit the controller's folder (set before they start).
if 'JAX_COMPILATION_CACHE_DIR' not in os.environ:
  _cache = tempfile.mkdtemp(prefix='aesthetic_jax_test_xla_cache_')
  os.environ['JAX_COMPILATION_CACHE_DIR'] = _cache
  atexit.register(shutil.rmtree, _cache, ignore_errors=True)
# Cache every program, not only those that took over a second to compile: the subprocess
# tests compile the same small steps again.
os.environ.setdefault('JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS', '0')

from aesthetic_jax import xla_cpu  # noqa: E402

# What every entry point does before JAX starts (importing aesthetic_jax does not).
xla_cpu.configure()

import pytest  # noqa: E402
from absl import flags  # noqa: E402

import tiny_config as tiny_config_lib  # noqa: E402

# grain's worker processes read absl flags; outside absl.app.run they are unparsed.
flags.FLAGS.mark_as_parsed()

SHARED_DATA = pathlib.Path(__file__).resolve().parents[2] / 'shared' / 'data'


def pytest_configure(config):
  config.addinivalue_line('markers', 'slow: trains end to end or runs subprocesses '
                          '(deselect with -m "not slow")')


@pytest.fixture
def shared_data() -> pathlib.Path:
  """../shared/data (real AVA/Photo.net metadata); tests using it skip where it is absent."""
  if not SHARED_DATA.is_dir():
    pytest.skip(f'no shared metadata at {SHARED_DATA}')
  return SHARED_DATA


@pytest.fixture(scope='session')
def tiny_data_dir(tmp_path_factory) -> str:
  """A TFDS data_dir holding the built 'synthetic/tiny' dataset (64 train, 32 test images),
  built once per session: every test that reads data uses this one."""
  from aesthetic_jax.data import registry  # pylint: disable=g-import-not-at-top
  path = str(tmp_path_factory.mktemp('tfds'))
  registry.ensure_built('synthetic/tiny', path)
  return path


@pytest.fixture
def tiny_config(tiny_data_dir):
  """tiny_config(**overrides): the tiny test config (tests/tiny_config.py) on the session's
  dataset, with dotted-key overrides, e.g. tiny_config(**{'mtrl.enabled': False})."""
  def make(**overrides):
    return tiny_config_lib.get_config(data_dir=tiny_data_dir, **overrides)
  return make

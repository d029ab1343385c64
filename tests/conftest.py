"""Test-wide set-up: 8 fake CPU devices, parsed absl flags, the shared metadata folder."""

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
if 'JAX_COMPILATION_CACHE_DIR' not in os.environ:
  _cache = tempfile.mkdtemp(prefix='aesthetic_jax_test_xla_cache_')
  os.environ['JAX_COMPILATION_CACHE_DIR'] = _cache
  atexit.register(shutil.rmtree, _cache, ignore_errors=True)
import aesthetic_jax  # noqa: E402,F401  (adds its XLA:CPU flag before JAX starts: xla_cpu.py)

import pytest  # noqa: E402
from absl import flags  # noqa: E402

# grain's worker processes read absl flags; outside absl.app.run they are unparsed.
flags.FLAGS.mark_as_parsed()

SHARED_DATA = pathlib.Path(__file__).resolve().parents[2] / 'shared' / 'data'


@pytest.fixture
def shared_data() -> pathlib.Path:
  """../shared/data (real AVA/Photo.net metadata); tests using it skip where it is absent."""
  if not SHARED_DATA.is_dir():
    pytest.skip(f'no shared metadata at {SHARED_DATA}')
  return SHARED_DATA


@pytest.fixture(scope='session')
def tiny_data_dir(tmp_path_factory) -> str:
  """A TFDS data_dir holding the built 'synthetic/tiny' dataset (64 train, 32 test images)."""
  from aesthetic_jax import datasets
  path = str(tmp_path_factory.mktemp('tfds'))
  datasets.ensure_built('synthetic/tiny', path)
  return path

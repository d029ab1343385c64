"""Which kernels XLA:CPU runs convolutions with: a process setting, made before JAX starts.

jaxlib 0.10.2's XLA:CPU hands every convolution to YNNPACK by default. On MTCNN #1 (batch 32,
227x227, 2 AVX-512 cores) those kernels ran 2.5x (conv1 forward) to 8x (conv1 kernel
gradient) slower than XLA's own Eigen convolutions (benchmarks/README.md, measured with
`python benchmarks/conv_kernels.py`); the whole training step went from 11.8 to 31-36 img/s.
Matrix products and element-wise fusions stay with YNNPACK, which runs those well.

Importing this module (or any of aesthetic_jax) changes nothing. `configure()` is called by
the command-line entry points (aesthetic_jax.cli) and by the Scorer, before JAX's CPU
backend starts; a program of your own can call it first thing too. It adds the flag to
XLA_FLAGS only for the jaxlib versions in DECISIONS (an unknown flag aborts XLA), and never
when the user's XLA_FLAGS already chose. It changes nothing on GPU/TPU.

DECISIONS records, per jaxlib version, what `benchmarks/conv_kernels.py` measured. The test
suite fails when the pinned jaxlib (requirements.txt) has no entry: re-run the benchmark on
the new version and add one.
"""

import importlib.metadata
import importlib.util
import logging
import os

EIGEN_CONVOLUTIONS = '--xla_cpu_experimental_ynn_fusion_type=-individual_convolution'
_USER_CHOICE = '--xla_cpu_experimental_ynn_fusion_type'

# jaxlib version -> (use Eigen convolutions?, what the benchmark measured).
DECISIONS = {
    '0.10.2': (True, 'benchmarks/conv_kernels.py, 2026-11-29, 2 Xeon vCPUs: Eigen 2.5x (conv1 '
                     'forward) to 8x (conv1 kernel gradient) faster than YNNPACK; MTCNN #1 step '
                     '31-36 vs 11.8 img/s'),
}


def jaxlib_version() -> str:
  try:
    return importlib.metadata.version('jaxlib')
  except importlib.metadata.PackageNotFoundError:
    return ''


def _backend_started() -> bool:
  try:
    from jax._src import xla_bridge  # pylint: disable=g-import-not-at-top
    return bool(xla_bridge.backends_are_initialized())
  except (ImportError, AttributeError):
    return False


# Plugins whose presence makes JAX's default backend an accelerator.
_ACCELERATOR_PLUGINS = ('jax_cuda12_plugin', 'jax_cuda13_plugin', 'jax_rocm60_plugin',
                        'jax_rocm7_plugin', 'libtpu')


def runs_on_cpu(environ) -> bool:
  """Whether JAX will run on its CPU backend: JAX_PLATFORMS names cpu first, or is unset and
  no accelerator plugin is installed. Decided without starting JAX."""
  platforms = [p.strip() for p in environ.get('JAX_PLATFORMS', '').split(',') if p.strip()]
  if platforms:
    return platforms[0] == 'cpu'
  return not any(importlib.util.find_spec(name) for name in _ACCELERATOR_PLUGINS)


def configure(environ=None, jaxlib: str | None = None) -> str:
  """Adds EIGEN_CONVOLUTIONS to environ['XLA_FLAGS'] where DECISIONS says so.

  Returns what holds now: 'eigen' (the flag is set), 'user' (XLA_FLAGS already chose the YNN
  fusion types otherwise: left alone), 'not-cpu' (JAX will run on an accelerator: nothing
  to set), 'ynnpack' (DECISIONS says YNNPACK for this jaxlib), 'untested-jaxlib' (no
  decision for this version: left alone), or 'too-late' (JAX's backends already started,
  so the flag could no longer take effect: left alone, with a warning).
  """
  environ = os.environ if environ is None else environ
  flags = environ.get('XLA_FLAGS', '')
  if _USER_CHOICE in flags:
    return 'eigen' if EIGEN_CONVOLUTIONS in flags.split() else 'user'
  if not runs_on_cpu(environ):
    return 'not-cpu'
  version = jaxlib_version() if jaxlib is None else jaxlib
  if version not in DECISIONS:
    return 'untested-jaxlib'
  if not DECISIONS[version][0]:
    return 'ynnpack'
  if environ is os.environ and _backend_started():
    logging.warning('XLA:CPU convolutions stay on YNNPACK (about 2.8x slower here): JAX had '
                    'already started when aesthetic_jax.xla_cpu.configure() ran. Call it '
                    'before any JAX computation.')
    return 'too-late'
  environ['XLA_FLAGS'] = f'{flags} {EIGEN_CONVOLUTIONS}'.strip()
  return 'eigen'

"""Which kernels XLA:CPU runs convolutions with: a process setting, made before JAX starts.

jaxlib 0.10.2's XLA:CPU hands every convolution to YNNPACK by default. On MTCNN #1 (batch 32,
227x227, 2 AVX-512 cores) those kernels ran 2.5x (conv1 forward) to 8x (conv1 kernel
gradient) slower than XLA's own Eigen convolutions, which reach 200-240 GFLOP/s, near the
machine's float32 matrix-product peak (benchmarks/README.md). Matrix products and
element-wise fusions stay with YNNPACK, which runs those well.

`configure()` runs when `aesthetic_jax` is imported: it adds EIGEN_CONVOLUTIONS to XLA_FLAGS
unless the user already chose YNN fusion types there, and only for the jaxlib versions it was
measured on (an unknown flag aborts XLA). It changes nothing on GPU/TPU, and nothing at all
if JAX's CPU backend already started (import aesthetic_jax before running any JAX op).
"""

import importlib.metadata
import os

EIGEN_CONVOLUTIONS = '--xla_cpu_experimental_ynn_fusion_type=-individual_convolution'
_USER_CHOICE = '--xla_cpu_experimental_ynn_fusion_type'
MEASURED_JAXLIB = ('0.10.2',)


def _jaxlib_version() -> str:
  try:
    return importlib.metadata.version('jaxlib')
  except importlib.metadata.PackageNotFoundError:
    return ''


def configure(environ=os.environ, jaxlib_version: str | None = None) -> str:
  """Adds EIGEN_CONVOLUTIONS to environ['XLA_FLAGS'] where it applies; says what it did.

  Returns 'eigen' (XLA_FLAGS now holds EIGEN_CONVOLUTIONS), 'user' (XLA_FLAGS already set
  the YNN fusion types otherwise: left alone) or 'untested-jaxlib' (the flag is not known to
  exist in that jaxlib: left alone).
  """
  flags = environ.get('XLA_FLAGS', '')
  if _USER_CHOICE in flags:
    return 'eigen' if EIGEN_CONVOLUTIONS in flags.split() else 'user'
  version = _jaxlib_version() if jaxlib_version is None else jaxlib_version
  if version not in MEASURED_JAXLIB:
    return 'untested-jaxlib'
  environ['XLA_FLAGS'] = f'{flags} {EIGEN_CONVOLUTIONS}'.strip()
  return 'eigen'

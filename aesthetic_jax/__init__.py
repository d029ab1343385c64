"""aesthetic_jax: Kao, He and Huang, "Deep Aesthetic Quality Assessment with Semantic
Information" (IEEE TIP 2017), in JAX/Flax.

`from aesthetic_jax import Scorer` scores photos with a trained model (aesthetic_jax.scorer).
"""

from aesthetic_jax import xla_cpu

# Before JAX starts its CPU backend: XLA's own convolutions, not YNNPACK's (xla_cpu.py).
XLA_CPU_CONVOLUTIONS = xla_cpu.configure()

__all__ = ['Scorer']


def __getattr__(name):
  # Imported on first use, so that `import aesthetic_jax.x` stays light (no Flax, no orbax):
  # aesthetic_jax.export loads exported models with numpy and jax alone.
  if name == 'Scorer':
    from aesthetic_jax.scorer import Scorer  # pylint: disable=g-import-not-at-top
    return Scorer
  raise AttributeError(f'module {__name__!r} has no attribute {name!r}')

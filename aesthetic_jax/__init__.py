"""aesthetic_jax: Kao, He and Huang, "Deep Aesthetic Quality Assessment with Semantic
Information" (IEEE TIP 2017), in JAX/Flax.

`from aesthetic_jax import Scorer` scores photos with a trained model (aesthetic_jax.infer).
Importing the package, or any library module of it, changes nothing in the process (no
XLA_FLAGS, no sys.path); the command-line entry points (aesthetic_jax.cli) and the Scorer
make the XLA:CPU setting of aesthetic_jax.xla_cpu.
"""

__all__ = ['Scorer']


def __getattr__(name):
  # Imported on first use, so that `import aesthetic_jax.x` stays light (no Flax, no orbax):
  # the exported-model loader (aesthetic_jax.infer.export) needs numpy and jax alone.
  if name == 'Scorer':
    from aesthetic_jax.infer.scorer import Scorer  # pylint: disable=g-import-not-at-top
    return Scorer
  raise AttributeError(f'module {__name__!r} has no attribute {name!r}')

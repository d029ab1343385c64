"""The method's pure functions: losses, Omega (MTRL), metrics, labels, dataset facts.

Nothing here imports Flax, a config or the training code, and importing a module changes
nothing in the process (no XLA_FLAGS, no sys.path): reuse them from any JAX program.
"""

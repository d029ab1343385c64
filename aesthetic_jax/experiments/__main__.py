"""python -m aesthetic_jax.experiments (the command is aesthetic_jax/cli/experiments.py)."""

from aesthetic_jax.cli import entry

entry.run('experiments')

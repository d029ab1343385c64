"""python -m aesthetic_jax.data (the command is aesthetic_jax/cli/data.py)."""

from aesthetic_jax.cli import entry

entry.run('data')

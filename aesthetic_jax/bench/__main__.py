"""python -m aesthetic_jax.bench (the command is aesthetic_jax/cli/bench.py)."""

from aesthetic_jax.cli import entry

entry.run('bench')

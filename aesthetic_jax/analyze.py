"""python -m aesthetic_jax.analyze (the command is aesthetic_jax/cli/analyze.py)."""

if __name__ == '__main__':
  from aesthetic_jax.cli import entry
  entry.run('analyze')

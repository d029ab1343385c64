"""python -m aesthetic_jax.export (the command is aesthetic_jax/cli/export.py)."""

if __name__ == '__main__':
  from aesthetic_jax.cli import entry
  entry.run('export')

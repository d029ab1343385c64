"""python -m aesthetic_jax.weights (the command is aesthetic_jax/cli/weights.py)."""

if __name__ == '__main__':
  from aesthetic_jax.cli import entry
  entry.run('weights')

"""python -m aesthetic_jax.predict (the command is aesthetic_jax/cli/predict.py)."""

if __name__ == '__main__':
  from aesthetic_jax.cli import entry
  entry.run('predict')

"""python -m aesthetic_jax.main --config=configs/mtrl.py --workdir=DIR (aesthetic_jax/cli/train.py)."""

if __name__ == '__main__':
  # First of all (no JAX yet): a SIGTERM from now on is kept and acted on after start-up.
  from aesthetic_jax.train import preemption
  preemption.remember_early_sigterm()
  from aesthetic_jax.cli import entry
  entry.run('train')

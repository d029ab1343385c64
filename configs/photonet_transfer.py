"""Photo.net fine-tuning of a network trained on AVA: STCNN FT and MTCNN #1 FT (Table V).

Kao, He and Huang (IEEE TIP 2017), Table V: STCNN 61.00 % (from scratch,
configs/photonet.py), STCNN FT 62.10 %, MTCNN #1 FT 65.20 %. The AVA model's body (conv1-fc6)
and aesthetic head initialise the Photo.net model, which trains on Photo.net's aesthetic
labels only: Photo.net has no tags, so the network is the single-task one and the AVA
model's semantic head is dropped (train_state.create_train_state prints what was loaded,
what is fresh and what was left out). Fine-tuning settings are ours (the paper gives none):
a tenth of the from-scratch learning rate, 8 epochs, x0.1 at epochs 5 and 7.

Variants (comma-separated): mtcnn (default; MTCNN #1 FT) or stcnn (STCNN FT); demo.
model.init_from defaults to the first-seed AVA run of configs/table5.py's source rows
(workdir/table5/ava_mtcnn1/seed0 or workdir/table5/ava_stcnn/seed0; workdir/table5_demo/...
for demo), where `python -m aesthetic_jax.experiments table5` puts them; point it at any AVA
workdir of the same network with --config.model.init_from=DIR.

Run (the AVA model first, then the transfer; or `python -m aesthetic_jax.experiments table5`):
  python -m aesthetic_jax.main --config=configs/mtcnn.py --workdir=workdir/table5/ava_mtcnn1/seed0
  python -m aesthetic_jax.main --config=configs/photonet_transfer.py --workdir=workdir/photonet_mtcnn1_ft
  python -m aesthetic_jax.main --config=configs/stcnn.py --workdir=workdir/table5/ava_stcnn/seed0
  python -m aesthetic_jax.main --config=configs/photonet_transfer.py:stcnn --workdir=workdir/photonet_stcnn_ft
Demo (synthetic data for both steps):
  python -m aesthetic_jax.main --config=configs/mtcnn.py:demo --workdir=workdir/table5_demo/ava_mtcnn1/seed0
  python -m aesthetic_jax.main --config=configs/photonet_transfer.py:demo --workdir=workdir/photonet_ft_demo
"""

from configs import photonet

SOURCES = {'mtcnn': 'ava_mtcnn1', 'stcnn': 'ava_stcnn'}


def get_config(arg=None):
  variants = {a.strip() for a in (arg or '').split(',') if a.strip()}
  unknown = variants - set(SOURCES) - {'demo'}
  if unknown or len(variants & set(SOURCES)) > 1:
    raise ValueError(f'Unknown or conflicting variants {sorted(variants)}; use one of '
                     f'{sorted(SOURCES)}, optionally with demo (e.g. :stcnn,demo).')
  demo = 'demo' in variants
  source = SOURCES[next(iter(variants & set(SOURCES)), 'mtcnn')]
  config = photonet.get_config('demo' if demo else None)
  config.model.init_from = f'workdir/table5{"_demo" if demo else ""}/{source}/seed0'
  config.optimizer.learning_rate /= 10
  if not demo:
    config.num_epochs = 8
    config.optimizer.step_epochs = (5, 7)
  return config

"""STCNN trained on Photo.net from scratch (the first row of the paper's Table V).

Kao, He and Huang (IEEE TIP 2017), Table V: STCNN 61.00 % (STCNN FT 62.10 %, MTCNN #1 FT
65.20 %: configs/photonet_transfer.py). Photo.net (Datta et al., ECCV 2006) has aesthetic
labels only, so the network is the single-task STCNN (MTCNN #1's body, aesthetic head);
method.md section 1 gives its split (a fixed-seed random 3,000 test) and labels (delta = 0).

Run (after building the dataset from your own copy; see data_builders/photonet):
  python -m aesthetic_jax.main --config=configs/photonet.py --workdir=workdir/photonet_stcnn
  python -m aesthetic_jax.main --config=configs/photonet.py:demo --workdir=workdir/photonet_demo
`:demo` trains on the embedded synthetic data (its tags unused).
"""

from configs import default


def get_config(arg=None):
  config = default.get_config(arg)
  if arg != 'demo':
    config.data.name = 'photonet'
  config.model.architecture = 'stcnn'
  config.loss.semantic_weight = 0.0
  config.data.delta = 0.0
  return config

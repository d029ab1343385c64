"""STCNN: the single-task baseline (MTCNN #1's body, aesthetic head only; lambda = 0).

Paper (AVA): 72.19 % (delta = 0) / 75.13 % (delta = 1).
Run:
  python -m aesthetic_jax.main --config=configs/stcnn.py --workdir=/tmp/stcnn
  python -m aesthetic_jax.main --config=configs/stcnn.py:demo --workdir=/tmp/stcnn_demo
"""

from configs import default


def get_config(arg=None):
  config = default.get_config(arg)
  config.model.architecture = 'stcnn'
  config.loss.semantic_weight = 0.0
  return config

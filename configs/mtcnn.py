"""MTCNN #1 with the balance strategy lambda = 1/M (method.md section 2).

Paper (AVA): 76.15 % (delta = 0) / 75.90 % (delta = 1).
Run:
  python -m aesthetic_jax.main --config=configs/mtcnn.py --workdir=/tmp/mtcnn
  python -m aesthetic_jax.main --config=configs/mtcnn.py:demo --workdir=/tmp/mtcnn_demo
"""

from configs import default


def get_config(arg=None):
  config = default.get_config(arg)
  config.model.architecture = 'mtcnn1'
  return config

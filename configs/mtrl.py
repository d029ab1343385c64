"""MTRLCNN #1: MTCNN #1 plus task relationship learning (paper eq. 11; method.md section 3).

Paper (AVA, delta = 0): 76.56 % accuracy (MTRLCNN #1).
Run:
  python -m aesthetic_jax.main --config=configs/mtrl.py --workdir=/tmp/mtrl
  python -m aesthetic_jax.main --config=configs/mtrl.py:demo --workdir=/tmp/mtrl_demo
"""

from configs import default


def get_config(arg=None):
  config = default.get_config(arg)
  config.model.architecture = 'mtcnn1'
  config.mtrl.enabled = True
  return config

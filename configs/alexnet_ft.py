"""MTCNN #1 / MTRLCNN #1 with an ImageNet-pretrained AlexNet as layers 1-6, fine-tuned.

Kao, He and Huang (IEEE TIP 2017), Table III, AVA, delta = 0: MTCNN 76.70 %, MTRLCNN 77.35 %.
torchvision's AlexNet up to fc7 (aesthetic_jax/model/backbones.py); the heads sit on fc7
(4096). Hyper-parameters, variants (mtcnn, mtrl, demo) and weights: configs/finetune.py.

Run (weights: the user's own torchvision file, converted once, no network):
  python -m aesthetic_jax.weights import --arch=alexnet --src=alexnet-owt-7be5be79.pth --out=weights/alexnet
  python -m aesthetic_jax.main --config=configs/alexnet_ft.py --workdir=workdir/alexnet_ft
  python -m aesthetic_jax.main --config=configs/alexnet_ft.py:mtrl --workdir=workdir/alexnet_ft_mtrl
  python -m aesthetic_jax.main --config=configs/alexnet_ft.py:demo --workdir=workdir/alexnet_ft_demo
(`.pth` needs PyTorch installed; a `.safetensors` or `.npz` copy of the state dict does not.)
"""

from configs import finetune


def get_config(arg=None):
  variants = finetune.parse_variants(arg, finetune.MODEL_VARIANTS + ('demo',))
  return finetune.finetune_config('alexnet', variants, weight_decay=5e-4)

"""MTCNN #1 / MTRLCNN #1 with an ImageNet-pretrained VGG-16 as layers 1-6, fine-tuned.

Kao, He and Huang (IEEE TIP 2017), Table III, AVA, delta = 0: MTCNN 77.73 %, MTRLCNN 78.46 %.
torchvision's vgg16 (configuration D, no batch norm) up to fc7
(aesthetic_jax/model/backbones.py); the heads sit on fc7 (4096). Hyper-parameters, variants
(mtcnn, mtrl, demo) and weights: configs/finetune.py.

Run (weights: the user's own torchvision file, converted once, no network):
  python -m aesthetic_jax.weights import --arch=vgg16 --src=vgg16-397923af.pth --out=weights/vgg16
  python -m aesthetic_jax.main --config=configs/vgg16_ft.py --workdir=workdir/vgg16_ft
  python -m aesthetic_jax.main --config=configs/vgg16_ft.py:mtrl --workdir=workdir/vgg16_ft_mtrl
  python -m aesthetic_jax.main --config=configs/vgg16_ft.py:demo --workdir=workdir/vgg16_ft_demo
(`.pth` needs PyTorch installed; a `.safetensors` or `.npz` copy of the state dict does not.)
"""

from configs import finetune


def get_config(arg=None):
  variants = finetune.parse_variants(arg, finetune.MODEL_VARIANTS + ('demo',))
  return finetune.finetune_config('vgg16', variants, weight_decay=5e-4)

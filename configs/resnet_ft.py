"""MTCNN #1 / MTRLCNN #1 with an ImageNet-pretrained ResNet as layers 1-6, fine-tuned.

Kao, He and Huang (IEEE TIP 2017), Table III, AVA, delta = 0: MTCNN 78.56 %, MTRLCNN 79.08 %
(semantic mAP 67.44 %). The paper says "ResNet"; ResNet-50 is our default, ResNet-18 a
variant. torchvision's ResNet up to the global average pool
(aesthetic_jax/model/backbones.py); the heads sit on the pooled features (2048, or 512 for
ResNet-18). Batch norm: batch statistics of the global batch in training (synchronised over
the devices), running averages in evaluation. Hyper-parameters and weights: configs/finetune.py.

Variants, comma-separated: mtcnn (default) or mtrl; resnet50 (default) or resnet18; demo.
Run (weights: the user's own torchvision file, converted once, no network):
  python -m aesthetic_jax.weights import --arch=resnet50 --src=resnet50-0676ba61.pth --out=weights/resnet50
  python -m aesthetic_jax.main --config=configs/resnet_ft.py --workdir=workdir/resnet_ft
  python -m aesthetic_jax.main --config=configs/resnet_ft.py:mtrl --workdir=workdir/resnet_ft_mtrl
  python -m aesthetic_jax.main --config=configs/resnet_ft.py:resnet18,mtrl --workdir=workdir/resnet18_ft_mtrl
(`.pth` needs PyTorch installed; a `.safetensors` or `.npz` copy of the state dict does not.)

Demo (synthetic data, ResNet-18 with widths / 16, random or the test fixture's weights):
  python -m aesthetic_jax.main --config=configs/resnet_ft.py:demo --workdir=workdir/resnet_ft_demo
  python -m aesthetic_jax.weights import --arch=resnet18 --width_divisor=16 \
      --src=tests/fixtures/backbones/resnet18.safetensors --out=workdir/resnet18_fixture
  python -m aesthetic_jax.main --config=configs/resnet_ft.py:demo \
      --config.model.init_from=workdir/resnet18_fixture --workdir=workdir/resnet_ft_demo_fixture
Speed (train images/s at 227 x 227):
  python -m aesthetic_jax.bench --config=configs/resnet_ft.py --config.batch_size=16 \
      --config.eval_batch_size=16 --with_data=false --steps=3 --repeats=2
"""

from configs import finetune

DEPTHS = ('resnet18', 'resnet50')


def get_config(arg=None):
  variants = finetune.parse_variants(arg, finetune.MODEL_VARIANTS + DEPTHS + ('demo',))
  if len(variants & set(DEPTHS)) > 1:
    raise ValueError(f'Choose one of {DEPTHS}, not both.')
  default_depth = 'resnet18' if 'demo' in variants else 'resnet50'
  body = next(iter(variants & set(DEPTHS)), default_depth)
  return finetune.finetune_config(body, variants, weight_decay=1e-4)

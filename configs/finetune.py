"""What alexnet_ft.py, vgg16_ft.py and resnet_ft.py share (a helper, not a config itself).

MTCNN #1 (or MTRLCNN #1) whose layers 1-6 are an ImageNet-pretrained body, fine-tuned with
the heads on its penultimate features (Kao, He and Huang, IEEE TIP 2017, section 4 and
Table III; method.md section 4). The paper gives no fine-tuning hyper-parameters; ours are
the usual ones for torchvision bodies: SGD with momentum 0.9, heads at 0.01 and the body at
a tenth of that (optimizer.body_lr_multiplier), x0.1 at epochs 6 and 9 of 10, and
torchvision's ImageNet input normalisation (mean 0.485, 0.456, 0.406; std 0.229, 0.224,
0.225, here on the 0..255 scale).

Variants, comma-separated after the config file (`configs/resnet_ft.py:mtrl,demo`):
  mtcnn   MTCNN #1 (the default)
  mtrl    MTRLCNN #1: MTCNN #1 plus the task relationship prior (eq. 11)
  demo    the embedded synthetic data, 64 x 64 crops and a narrow body (widths / 16 or / 32,
          as the test fixtures, so their weights can be imported), randomly initialised
plus what a config file adds (resnet_ft.py: resnet18, resnet50).

Weights: the full configs load `weights/<body>` (relative to the working directory), the
folder that `python -m aesthetic_jax.weights import --arch=<body> --src=FILE
--out=weights/<body>` writes from the user's torchvision state dict; override with
`--config.model.init_from=DIR`, or `--config.model.init_from=''` to train from scratch.
"""

import ml_collections

from configs import default

MODEL_VARIANTS = ('mtcnn', 'mtrl')
# Width divisors of the narrow bodies in tests/fixtures/backbones (the fixture script).
DEMO_WIDTH_DIVISORS = {'alexnet': 16, 'vgg16': 32, 'resnet18': 16, 'resnet50': 16}
# A randomly initialised VGG-16 (16 layers, no batch norm) at the others' 0.05 collapsed to a
# constant output in the Table III demo (3 of 3 seeds: test ROC-AUC 0.500, the majority class
# after the first epoch); at 0.01 it trains (seed 0: 64.6 % against the majority's 58.3 %).
DEMO_LEARNING_RATES = {'vgg16': 0.01}


def parse_variants(arg: str | None, allowed: tuple[str, ...]) -> set[str]:
  """'mtrl,demo' -> {'mtrl', 'demo'}; an unknown or conflicting name raises ValueError."""
  names = {a.strip() for a in (arg or '').split(',') if a.strip()}
  unknown = names - set(allowed)
  if unknown:
    raise ValueError(f'Unknown config variant(s) {sorted(unknown)}; combine any of '
                     f'{list(allowed)} with commas, e.g. :mtrl,demo.')
  if len(names & set(MODEL_VARIANTS)) > 1:
    raise ValueError(f'Choose one of {MODEL_VARIANTS}, not both.')
  return names


def finetune_config(body: str, variants: set[str], *,
                    weight_decay: float) -> ml_collections.ConfigDict:
  """MTCNN #1 / MTRLCNN #1 on the ImageNet body `body` (alexnet, vgg16, resnet18, resnet50)."""
  demo = 'demo' in variants
  config = default.get_config('demo' if demo else None)
  config.model.architecture = 'mtcnn1'
  config.model.body = body
  config.model.pixel_mean = default.IMAGENET_MEAN
  config.model.pixel_std = default.IMAGENET_STD
  config.model.dropout_rate = 0.5  # torchvision's AlexNet / VGG classifier dropout
  config.model.init_from = '' if demo else f'weights/{body}'
  config.mtrl.enabled = 'mtrl' in variants

  config.optimizer.learning_rate = 0.01  # the new heads
  config.optimizer.body_lr_multiplier = 0.1  # the pretrained body: 0.001
  config.optimizer.momentum = 0.9
  config.optimizer.weight_decay = weight_decay
  config.optimizer.schedule = 'step'
  config.optimizer.step_epochs = (6, 9)
  config.optimizer.warmup_epochs = 0.0
  config.num_epochs = 10

  if demo:
    config.model.width_divisor = DEMO_WIDTH_DIVISORS[body]
    config.optimizer.learning_rate = DEMO_LEARNING_RATES.get(body, 0.05)
    config.optimizer.body_lr_multiplier = 1.0  # a random body has nothing to keep
    config.optimizer.schedule = 'cosine'
    config.optimizer.warmup_epochs = 0.5
    config.num_epochs = 6
  return config

"""Paper Table III: MTCNN #1 vs MTRLCNN #1 with ImageNet-pretrained, fine-tuned bodies.

Kao, He and Huang (IEEE TIP 2017), Table III; method.md sections 3, 4 and 5. Layers 1-6 of
MTCNN #1 are replaced by AlexNet, VGG-16 or ResNet (the base configs configs/alexnet_ft.py,
configs/vgg16_ft.py, configs/resnet_ft.py, which say where the user's ImageNet weights file
goes); heads sit on their penultimate features. MTRLCNN adds the task relationship prior
(eq. 11). Test set: AVA, delta = 0. A row whose base config is missing from this checkout
is reported as 'not available' by the runner.

Rows (paper's accuracy; launch command, one row):
  alexnet_mtcnn  76.70 %  MTCNN #1, AlexNet FT
    python -m aesthetic_jax.main --config=configs/table3.py:alexnet_mtcnn --workdir=workdir/table3/alexnet_mtcnn/seed0
  alexnet_mtrl   77.35 %  MTRLCNN #1, AlexNet FT
    python -m aesthetic_jax.main --config=configs/table3.py:alexnet_mtrl --workdir=workdir/table3/alexnet_mtrl/seed0
  vgg16_mtcnn    77.73 %  MTCNN #1, VGG-16 FT
    python -m aesthetic_jax.main --config=configs/table3.py:vgg16_mtcnn --workdir=workdir/table3/vgg16_mtcnn/seed0
  vgg16_mtrl     78.46 %  MTRLCNN #1, VGG-16 FT
    python -m aesthetic_jax.main --config=configs/table3.py:vgg16_mtrl --workdir=workdir/table3/vgg16_mtrl/seed0
  resnet_mtcnn   78.56 %  MTCNN #1, ResNet FT
    python -m aesthetic_jax.main --config=configs/table3.py:resnet_mtcnn --workdir=workdir/table3/resnet_mtcnn/seed0
  resnet_mtrl    79.08 %  MTRLCNN #1, ResNet FT (semantic mAP 67.44 %)
    python -m aesthetic_jax.main --config=configs/table3.py:resnet_mtrl --workdir=workdir/table3/resnet_mtrl/seed0

Append `:demo` to a row for the synthetic data (as far as the base config offers `:demo`).
The whole table, with its results table (Markdown and CSV) and figures:
  python -m aesthetic_jax.experiments table3 --workdir=workdir/table3
  python -m aesthetic_jax.experiments table3:demo --workdir=workdir/table3_demo
"""

from configs import rows as rows_lib
from configs.rows import Row

TITLE = 'Table III: MTCNN #1 vs MTRLCNN #1, ImageNet-pretrained bodies fine-tuned'
COMPARE = ('resnet_mtcnn', 'resnet_mtrl')
# MTRLCNN against MTCNN on the same body.
BASELINE = {f'{body}_mtrl': f'{body}_mtcnn' for body in ('alexnet', 'vgg16', 'resnet')}

_BACKBONES = (
    # name, label, base config, paper accuracy of MTCNN and of MTRLCNN
    ('alexnet', 'AlexNet FT', 'alexnet_ft', (76.70, 77.35)),
    ('vgg16', 'VGG-16 FT', 'vgg16_ft', (77.73, 78.46)),
    ('resnet', 'ResNet FT', 'resnet_ft', (78.56, 79.08)),
)
_PAPER_MAP = {'resnet_mtrl': 67.44}


def _rows():
  rows = []
  for key, label, base, (mtcnn, mtrl) in _BACKBONES:
    for kind, name, enabled, accuracy in (('mtcnn', 'MTCNN #1', False, mtcnn),
                                          ('mtrl', 'MTRLCNN #1', True, mtrl)):
      row = f'{key}_{kind}'
      paper = {'accuracy': accuracy}
      if row in _PAPER_MAP:
        paper['semantic_map'] = _PAPER_MAP[row]
      rows.append(Row(name=row, label=f'{name}, {label}', base=base,
                      overrides={'model.architecture': 'mtcnn1', 'mtrl.enabled': enabled,
                                 'data.delta': 0.0},
                      paper=paper))
  return tuple(rows)


ROWS = _rows()


def get_config(arg=None):
  return rows_lib.get_config(ROWS, arg)

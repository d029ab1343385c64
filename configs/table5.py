"""Paper Table V: Photo.net, from scratch and fine-tuned from AVA models.

Kao, He and Huang (IEEE TIP 2017), Table V; method.md sections 1 and 4. Photo.net has
aesthetic labels only. STCNN: trained on Photo.net alone. STCNN FT / MTCNN #1 FT: the AVA
model (single-task, or multi-task with lambda = 1/M) initialises the body and aesthetic head,
its semantic head is dropped, and everything fine-tunes on Photo.net (configs/photonet.py,
configs/photonet_transfer.py). The two AVA source models are rows of this table too, run
first; the runner starts each FT run from the source row's run of the same seed
(DIR/ava_stcnn/seed<s>, DIR/ava_mtcnn1/seed<s>). A FT row launched on its own looks in
workdir/table5/<source>/seed0 (workdir/table5_demo/... for :demo).

Rows (paper's accuracy on the Photo.net test set; launch command, one row):
  ava_stcnn           (source)  STCNN on AVA
    python -m aesthetic_jax.main --config=configs/table5.py:ava_stcnn --workdir=workdir/table5/ava_stcnn/seed0
  ava_mtcnn1          (source)  MTCNN #1 on AVA, lambda = 1/M
    python -m aesthetic_jax.main --config=configs/table5.py:ava_mtcnn1 --workdir=workdir/table5/ava_mtcnn1/seed0
  photonet_stcnn      61.00 %   STCNN
    python -m aesthetic_jax.main --config=configs/table5.py:photonet_stcnn --workdir=workdir/table5/photonet_stcnn/seed0
  photonet_stcnn_ft   62.10 %   STCNN FT
    python -m aesthetic_jax.main --config=configs/table5.py:photonet_stcnn_ft --workdir=workdir/table5/photonet_stcnn_ft/seed0
  photonet_mtcnn1_ft  65.20 %   MTCNN #1 FT
    python -m aesthetic_jax.main --config=configs/table5.py:photonet_mtcnn1_ft --workdir=workdir/table5/photonet_mtcnn1_ft/seed0

Append `:demo` to a row for the synthetic data (AVA and Photo.net both replaced by it).
The whole table:
  python -m aesthetic_jax.experiments table5 --workdir=workdir/table5
  python -m aesthetic_jax.experiments table5:demo --workdir=workdir/table5_demo
"""

from configs import rows as rows_lib
from configs.rows import Row

TITLE = 'Table V: Photo.net, from scratch and fine-tuned from AVA'
COMPARE = ('photonet_stcnn', 'photonet_mtcnn1_ft')
# Paired tests need the same test images: the Photo.net rows against Photo.net's STCNN, the
# AVA source rows against AVA's.
BASELINE = {'ava_mtcnn1': 'ava_stcnn', 'photonet_stcnn_ft': 'photonet_stcnn',
            'photonet_mtcnn1_ft': 'photonet_stcnn'}

ROWS = (
    Row(name='ava_stcnn', label='STCNN on AVA (source of STCNN FT)', base='stcnn'),
    Row(name='ava_mtcnn1', label='MTCNN #1 on AVA, lambda = 1/M (source of MTCNN #1 FT)',
        base='mtcnn'),
    Row(name='photonet_stcnn', label='Photo.net: STCNN', base='photonet',
        paper={'accuracy': 61.00}),
    Row(name='photonet_stcnn_ft', label='Photo.net: STCNN FT', base='photonet_transfer',
        overrides={'model.init_from': 'workdir/table5/ava_stcnn/seed0'},
        demo_overrides={'model.init_from': 'workdir/table5_demo/ava_stcnn/seed0'},
        paper={'accuracy': 62.10}, init_from_row='ava_stcnn'),
    Row(name='photonet_mtcnn1_ft', label='Photo.net: MTCNN #1 FT', base='photonet_transfer',
        overrides={'model.init_from': 'workdir/table5/ava_mtcnn1/seed0'},
        demo_overrides={'model.init_from': 'workdir/table5_demo/ava_mtcnn1/seed0'},
        paper={'accuracy': 65.20}, init_from_row='ava_mtcnn1'),
)


def get_config(arg=None):
  return rows_lib.get_config(ROWS, arg)

"""Paper Table II: where the tasks split (MTCNN #1, #2, #3 and Enhanced MTCNN), delta = 0 and 1.

Kao, He and Huang (IEEE TIP 2017), Table II; method.md sections 4 and 5. Test set: AVA,
delta = 0. MTCNN #1/#2/#3 use the balance strategy lambda = 1/M; Enhanced MTCNN uses
lambda = 2/M plus its auxiliary aesthetic softmax on conv2 (loss.aux_weight = 1) and predicts
with its main aesthetic head. The branch layouts are in aesthetic_jax/model/topology.py.

Rows (paper's accuracy; launch command, one row):
  mtcnn1_delta0    76.15 %  MTCNN #1 (shared conv1-fc6), delta = 0
    python -m aesthetic_jax.main --config=configs/table2.py:mtcnn1_delta0 --workdir=workdir/table2/mtcnn1_delta0/seed0
  mtcnn2_delta0    75.91 %  MTCNN #2 (shared conv1-conv4), delta = 0
    python -m aesthetic_jax.main --config=configs/table2.py:mtcnn2_delta0 --workdir=workdir/table2/mtcnn2_delta0/seed0
  mtcnn3_delta0    75.92 %  MTCNN #3 (shared conv1-conv2), delta = 0
    python -m aesthetic_jax.main --config=configs/table2.py:mtcnn3_delta0 --workdir=workdir/table2/mtcnn3_delta0/seed0
  enhanced_delta0  76.58 %  Enhanced MTCNN, delta = 0
    python -m aesthetic_jax.main --config=configs/table2.py:enhanced_delta0 --workdir=workdir/table2/enhanced_delta0/seed0
  mtcnn1_delta1    75.90 %  MTCNN #1 (shared conv1-fc6), delta = 1
    python -m aesthetic_jax.main --config=configs/table2.py:mtcnn1_delta1 --workdir=workdir/table2/mtcnn1_delta1/seed0
  mtcnn2_delta1    75.81 %  MTCNN #2 (shared conv1-conv4), delta = 1
    python -m aesthetic_jax.main --config=configs/table2.py:mtcnn2_delta1 --workdir=workdir/table2/mtcnn2_delta1/seed0
  mtcnn3_delta1    75.37 %  MTCNN #3 (shared conv1-conv2), delta = 1
    python -m aesthetic_jax.main --config=configs/table2.py:mtcnn3_delta1 --workdir=workdir/table2/mtcnn3_delta1/seed0
  enhanced_delta1  76.04 %  Enhanced MTCNN, delta = 1
    python -m aesthetic_jax.main --config=configs/table2.py:enhanced_delta1 --workdir=workdir/table2/enhanced_delta1/seed0

Append `:demo` to a row (`--config=configs/table2.py:enhanced_delta0:demo`) for the synthetic
data. The whole table, with its results table (Markdown and CSV) and figures:
  python -m aesthetic_jax.experiments table2 --workdir=workdir/table2
  python -m aesthetic_jax.experiments table2:demo --workdir=workdir/table2_demo
"""

from configs import rows as rows_lib
from configs.rows import Row

TITLE = 'Table II: MTCNN #1, #2, #3 and Enhanced MTCNN'
COMPARE = ('mtcnn1_delta0', 'enhanced_delta0')
# No STCNN in this table: each network against MTCNN #1 of the same delta.
BASELINE = {f'{key}_delta{d}': f'mtcnn1_delta{d}' for d in (0, 1)
            for key in ('mtcnn2', 'mtcnn3', 'enhanced')}

_NETWORKS = (
    # name, label, overrides, paper accuracy at delta 0 and delta 1
    ('mtcnn1', 'MTCNN #1 (shared conv1-fc6)', {'model.architecture': 'mtcnn1'}, (76.15, 75.90)),
    ('mtcnn2', 'MTCNN #2 (shared conv1-conv4)', {'model.architecture': 'mtcnn2'}, (75.91, 75.81)),
    ('mtcnn3', 'MTCNN #3 (shared conv1-conv2)', {'model.architecture': 'mtcnn3'}, (75.92, 75.37)),
    ('enhanced', 'Enhanced MTCNN (lambda = 2/M, auxiliary head)',
     {'model.architecture': 'enhanced', 'loss.semantic_weight': 2.0, 'loss.aux_weight': 1.0},
     (76.58, 76.04)),
)


def _rows():
  balanced = {'loss.semantic_weight': 1.0, 'loss.semantic_weight_unit': 'per_tag'}
  return tuple(
      Row(name=f'{key}_delta{delta}', label=f'{label}, delta = {delta}', base='mtcnn',
          overrides={**balanced, **overrides, 'data.delta': float(delta)},
          paper={'accuracy': paper[delta]})
      for delta in (0, 1) for key, label, overrides, paper in _NETWORKS)


ROWS = _rows()


def get_config(arg=None):
  return rows_lib.get_config(ROWS, arg)

"""Paper Table IV (our rows): MTRLCNN #1 on AVA, next to MTCNN #1 without the MTRL prior.

Kao, He and Huang (IEEE TIP 2017), Table IV compares the paper's networks with earlier work;
its line for MTRLCNN #1 is 76.56 % (delta = 0), and MTCNN #1 (lambda = 1/M) is 76.15 %
(Table I). MTRLCNN #1 is MTCNN #1 plus the task relationship prior tr(W Omega^-1 W^T) with
the closed-form Omega update after every epoch (eq. 11; method.md section 3). The run writes
Omega and its subtask correlation matrix (paper Fig. 9) to omega.json in its workdir.

Rows (paper's accuracy; launch command, one row):
  mtcnn1  76.15 %  MTCNN #1, lambda = 1/M, delta = 0 (for comparison)
    python -m aesthetic_jax.main --config=configs/table4.py:mtcnn1 --workdir=workdir/table4/mtcnn1/seed0
  mtrl1   76.56 %  MTRLCNN #1, lambda = 1/M, delta = 0
    python -m aesthetic_jax.main --config=configs/table4.py:mtrl1 --workdir=workdir/table4/mtrl1/seed0

Append `:demo` to a row (`--config=configs/table4.py:mtrl1:demo`) for the synthetic data.
The whole table, with its results table (Markdown and CSV) and figures (Fig. 9 included):
  python -m aesthetic_jax.experiments table4 --workdir=workdir/table4
  python -m aesthetic_jax.experiments table4:demo --workdir=workdir/table4_demo
"""

from configs import rows as rows_lib
from configs.rows import Row

TITLE = 'Table IV (our rows): MTRLCNN #1'
COMPARE = ('mtcnn1', 'mtrl1')
BASELINE = {'mtrl1': 'mtcnn1'}

_BALANCED = {'loss.semantic_weight': 1.0, 'loss.semantic_weight_unit': 'per_tag',
             'data.delta': 0.0}
ROWS = (
    Row(name='mtcnn1', label='MTCNN #1, lambda = 1/M, delta = 0', base='mtcnn',
        overrides={**_BALANCED, 'mtrl.enabled': False}, paper={'accuracy': 76.15}),
    Row(name='mtrl1', label='MTRLCNN #1, lambda = 1/M, delta = 0', base='mtrl',
        overrides={**_BALANCED, 'mtrl.enabled': True}, paper={'accuracy': 76.56}),
)


def get_config(arg=None):
  return rows_lib.get_config(ROWS, arg)

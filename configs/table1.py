"""Paper Table I: MTCNN #1's balance strategies (lambda) at training margins delta = 0 and 1.

Kao, He and Huang (IEEE TIP 2017), Table I; method.md sections 2 and 5. Test set: AVA,
delta = 0. lambda = 0 is the single-task STCNN. lambda is the weight of the semantic loss,
summed over the M tags (M = 29 on AVA, 8 on the synthetic data), against the aesthetic loss.

"Semantic task early-stopped" (row lambda1es_*): lambda = 1 until the semantic loss on
held-out training images (data.validation_size of them, labelled with delta = 0) has not
improved for loss.semantic_patience_epochs epochs at an epoch end; from then on lambda is 0 for
good (train.update_early_stop: the semantic gradient stops, the aesthetic task trains on).
Every row of this table holds out the same validation images, so that all five strategies
train on the same images.

Rows (paper's accuracy; launch command, one row):
  lambda0_delta0    72.19 %  MTCNN #1, lambda = 0 (STCNN), delta = 0
    python -m aesthetic_jax.main --config=configs/table1.py:lambda0_delta0 --workdir=workdir/table1/lambda0_delta0/seed0
  lambda1m_delta0   76.15 %  MTCNN #1, lambda = 1/M, delta = 0 (semantic mAP 64.89 %)
    python -m aesthetic_jax.main --config=configs/table1.py:lambda1m_delta0 --workdir=workdir/table1/lambda1m_delta0/seed0
  lambda2m_delta0   75.76 %  MTCNN #1, lambda = 2/M, delta = 0
    python -m aesthetic_jax.main --config=configs/table1.py:lambda2m_delta0 --workdir=workdir/table1/lambda2m_delta0/seed0
  lambda1_delta0    73.54 %  MTCNN #1, lambda = 1, delta = 0
    python -m aesthetic_jax.main --config=configs/table1.py:lambda1_delta0 --workdir=workdir/table1/lambda1_delta0/seed0
  lambda1es_delta0  73.43 %  MTCNN #1, lambda = 1, semantic early-stopped, delta = 0
    python -m aesthetic_jax.main --config=configs/table1.py:lambda1es_delta0 --workdir=workdir/table1/lambda1es_delta0/seed0
  lambda0_delta1    75.13 %  MTCNN #1, lambda = 0 (STCNN), delta = 1
    python -m aesthetic_jax.main --config=configs/table1.py:lambda0_delta1 --workdir=workdir/table1/lambda0_delta1/seed0
  lambda1m_delta1   75.90 %  MTCNN #1, lambda = 1/M, delta = 1
    python -m aesthetic_jax.main --config=configs/table1.py:lambda1m_delta1 --workdir=workdir/table1/lambda1m_delta1/seed0
  lambda2m_delta1   75.82 %  MTCNN #1, lambda = 2/M, delta = 1
    python -m aesthetic_jax.main --config=configs/table1.py:lambda2m_delta1 --workdir=workdir/table1/lambda2m_delta1/seed0
  lambda1_delta1    73.12 %  MTCNN #1, lambda = 1, delta = 1
    python -m aesthetic_jax.main --config=configs/table1.py:lambda1_delta1 --workdir=workdir/table1/lambda1_delta1/seed0
  lambda1es_delta1  74.28 %  MTCNN #1, lambda = 1, semantic early-stopped, delta = 1
    python -m aesthetic_jax.main --config=configs/table1.py:lambda1es_delta1 --workdir=workdir/table1/lambda1es_delta1/seed0

Append `:demo` to a row (`--config=configs/table1.py:lambda1m_delta0:demo`) for the synthetic
data. The whole table, with its results table (Markdown and CSV) and figures:
  python -m aesthetic_jax.experiments table1 --workdir=workdir/table1
  python -m aesthetic_jax.experiments table1:demo --workdir=workdir/table1_demo
"""

from configs import rows as rows_lib
from configs.rows import Row

TITLE = 'Table I: MTCNN #1 balance strategies'
# Held-out training images for the validation semantic loss (the early-stop signal).
VALIDATION = {'data.validation_size': 5000}
DEMO_VALIDATION = {'data.validation_size': 256}
# Figures 5, 7 and 8 compare the single-task baseline with the balanced MTCNN #1.
COMPARE = ('lambda0_delta0', 'lambda1m_delta0')
# Each row is tested against the STCNN trained with the same delta.
BASELINE = {f'{key}_delta{d}': f'lambda0_delta{d}' for d in (0, 1)
            for key in ('lambda1m', 'lambda2m', 'lambda1', 'lambda1es')}

_STRATEGIES = (
    # name, label, base, overrides, paper accuracy at delta 0 and delta 1
    ('lambda0', 'MTCNN #1, lambda = 0 (STCNN)', 'stcnn', {}, (72.19, 75.13)),
    ('lambda1m', 'MTCNN #1, lambda = 1/M', 'mtcnn',
     {'loss.semantic_weight': 1.0, 'loss.semantic_weight_unit': 'per_tag'}, (76.15, 75.90)),
    ('lambda2m', 'MTCNN #1, lambda = 2/M', 'mtcnn',
     {'loss.semantic_weight': 2.0, 'loss.semantic_weight_unit': 'per_tag'}, (75.76, 75.82)),
    ('lambda1', 'MTCNN #1, lambda = 1', 'mtcnn',
     {'loss.semantic_weight': 1.0, 'loss.semantic_weight_unit': 'absolute'}, (73.54, 73.12)),
    ('lambda1es', 'MTCNN #1, lambda = 1, semantic early-stopped', 'mtcnn',
     {'loss.semantic_weight': 1.0, 'loss.semantic_weight_unit': 'absolute',
      'loss.semantic_early_stop': True, 'loss.semantic_patience_epochs': 1}, (73.43, 74.28)),
)
# The paper's semantic mAP of MTCNN #1 (method.md section 5).
_PAPER_MAP = {'lambda1m_delta0': 64.89}


def _rows():
  rows = []
  for delta in (0, 1):
    for key, label, base, overrides, paper in _STRATEGIES:
      name = f'{key}_delta{delta}'
      figures = {'accuracy': paper[delta]}
      if name in _PAPER_MAP:
        figures['semantic_map'] = _PAPER_MAP[name]
      rows.append(Row(name=name, label=f'{label}, delta = {delta}', base=base,
                      overrides={**overrides, 'data.delta': float(delta), **VALIDATION},
                      paper=figures, demo_overrides=DEMO_VALIDATION))
  return tuple(rows)


ROWS = _rows()


def get_config(arg=None):
  return rows_lib.get_config(ROWS, arg)

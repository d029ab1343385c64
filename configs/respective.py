"""Respective CNNs: an STCNN trained only on the images of one tag and tested on that tag's.

Kao, He and Huang (IEEE TIP 2017) train one such network per tag (Landscape, Nature, Still
Life, Black and White on AVA) to ask whether a semantic-specific network beats one trained on
everything (method.md section 5; the paper gives no single accuracy per tag in the text, so
the results table has no paper column). The filter is the config option data.train_tag: the
training images and the test images are those that carry the tag
(aesthetic_jax/data/pipeline.py); the pipeline is otherwise the same. On the synthetic data (`:demo`) each row uses the synthetic tag
closest in meaning (sky, floral, macro, black_and_white). Any other tag works with the
override --config.data.train_tag=NAME on any row.

Rows (launch command, one row):
  landscape        Landscape (synthetic: sky)
    python -m aesthetic_jax.main --config=configs/respective.py:landscape --workdir=workdir/respective/landscape/seed0
  nature           Nature (synthetic: floral)
    python -m aesthetic_jax.main --config=configs/respective.py:nature --workdir=workdir/respective/nature/seed0
  still_life       Still Life (synthetic: macro)
    python -m aesthetic_jax.main --config=configs/respective.py:still_life --workdir=workdir/respective/still_life/seed0
  black_and_white  Black and White (synthetic: black_and_white)
    python -m aesthetic_jax.main --config=configs/respective.py:black_and_white --workdir=workdir/respective/black_and_white/seed0

Append `:demo` to a row (`--config=configs/respective.py:nature:demo`) for the synthetic data.
All four, with a results table (Markdown and CSV):
  python -m aesthetic_jax.experiments respective --workdir=workdir/respective
  python -m aesthetic_jax.experiments respective:demo --workdir=workdir/respective_demo
"""

from configs import rows as rows_lib
from configs.rows import Row

TITLE = 'Respective CNNs: one STCNN per tag, trained and tested on that tag'
COMPARE = ()
# Each row tests on another tag's images: no two rows share a test set to pair.
BASELINE = {}

_TAGS = (
    # row, AVA tag name (AVA tags.txt), synthetic tag
    ('landscape', 'Landscape', 'sky'),
    ('nature', 'Nature', 'floral'),
    ('still_life', 'Still Life', 'macro'),
    ('black_and_white', 'Black and White', 'black_and_white'),
)

ROWS = tuple(
    Row(name=name, label=f'STCNN on {ava_tag} only', base='stcnn',
        overrides={'data.train_tag': ava_tag}, demo_overrides={'data.train_tag': synthetic_tag})
    for name, ava_tag, synthetic_tag in _TAGS)


def get_config(arg=None):
  return rows_lib.get_config(ROWS, arg)

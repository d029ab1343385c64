"""The tiny test config: MTRLCNN #1 with 8-channel convs on 32x32 crops of synthetic/tiny.

A config file like those in configs/, so that subprocess tests run the real command:
  python -m aesthetic_jax.main --config=tests/tiny_config.py \\
      --config.data.data_dir=DIR --workdir=W [--config.num_epochs=3 ...]
and in-process tests call get_config(data_dir=..., **dotted-key overrides) (conftest's
`tiny_config` fixture). OVERRIDES shrinks any `:demo` config (e.g. a table's row) the same way.
"""

from configs import mtrl
from configs import rows

OVERRIDES = {
    'data.name': 'synthetic/tiny', 'input.resize_size': 36, 'input.crop_size': 32,
    'model.conv_features': (8, 8, 8, 8), 'model.fc_features': (16, 12),
    'batch_size': 32,  # 2 steps per epoch on 64 training images
    'eval_batch_size': 16, 'num_epochs': 1, 'optimizer.schedule': 'constant',
    'optimizer.warmup_epochs': 0.0, 'log_every_steps': 1,
    'checkpoint.preemption_sync_steps': 1,
}


def get_config(arg=None, *, data_dir: str = '', **overrides):
  del arg
  config = mtrl.get_config('demo')
  rows.apply_overrides(config, {**OVERRIDES, 'data.data_dir': data_dir, **overrides})
  return config

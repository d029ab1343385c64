"""Workdirs for the scoring tests: a saved random model (fast), or a real tiny training run.

Used by test_scorer.py, test_predict.py, test_export.py and test_distribution_head.py.
"""

import os

import jax
import numpy as np
import orbax.checkpoint as ocp
from PIL import Image

import tiny_config
from aesthetic_jax import model as models
from aesthetic_jax.core.dataset_meta import DatasetMeta
from aesthetic_jax.run_dir import RunDir
from aesthetic_jax.train import state as train_state

TAGS = ('sky', 'water', 'portrait', 'floral', 'architecture')


def small_config(**overrides):
  """The tiny test network (8-channel convs, 32x32 crops); no dataset is read."""
  config = tiny_config.get_config(data_dir='/nonexistent',
                                  **{'model.distribution_head': True, **overrides})
  config.eval_batch_size = 16
  return config


def save_workdir(workdir: str, config, *, tag_names=TAGS, score_range=(1, 10), steps=(3,),
                 seed: int = 0):
  """A workdir as training leaves it (checkpoints/<step>/state, config.json,
  model_info.json), holding randomly initialised weights, saved without checksums (as
  before checksums existed: read unchecked). Returns the params saved last."""
  num_tags = len(tag_names) if config.model.architecture != 'stcnn' else 0
  meta = DatasetMeta(name='synthetic/tiny', tag_names=tuple(tag_names),
                     score_min=score_range[0], score_max=score_range[1], label_threshold=5.0)
  model = models.build_model(config.model, num_tags=num_tags, num_bins=meta.num_bins)
  tx = train_state.make_optimizer(config, 1)
  crop = config.input.crop_size
  manager = ocp.CheckpointManager(os.path.join(workdir, 'checkpoints'),
                                  options=ocp.CheckpointManagerOptions(create=True))
  # The shapes of a real TrainState, filled with numpy random numbers: compiling model.init
  # costs far more than these tests' own work.
  abstract = jax.eval_shape(lambda rng: train_state.create_train_state(
      config, model, tx, image_shape=(crop, crop, 3), rng=rng), jax.random.PRNGKey(0))
  for i, step in enumerate(steps):
    state = random_like(abstract, np.random.default_rng(seed + i))
    manager.save(step, args=ocp.args.Composite(state=ocp.args.StandardSave(state)))
    manager.wait_until_finished()
  manager.close()
  RunDir(workdir).write_run_info(config, meta.with_tags(num_tags))
  return jax.device_get(state.params)


def random_like(abstract, rng: np.random.Generator):
  """Arrays of `abstract`'s shapes: kernels ~ N(0, 1/fan_in), other floats ~ N(0, 0.1),
  integers 0."""
  def fill(leaf):
    if not np.issubdtype(leaf.dtype, np.floating):
      return np.zeros(leaf.shape, leaf.dtype)
    scale = 1 / np.sqrt(np.prod(leaf.shape[:-1])) if len(leaf.shape) > 1 else 0.1
    return (rng.normal(size=leaf.shape) * scale).astype(leaf.dtype)
  return jax.tree.map(fill, abstract)


def trained_workdir(tmp_path_factory, data_dir: str) -> str:
  """MTRLCNN #1 with the score-distribution head trained one epoch on synthetic/tiny; made
  once per test session (shared by the test files that need a real run)."""
  workdir = str(tmp_path_factory.getbasetemp() / 'trained_distribution_head')
  if not os.path.exists(os.path.join(workdir, 'test_predictions.npz')):
    from aesthetic_jax.train import loop as train  # pylint: disable=g-import-not-at-top
    train.train_and_evaluate(tiny_config.get_config(
        data_dir=data_dir, **{'model.distribution_head': True}), workdir)
  return workdir


def write_images(folder, count: int, *, seed: int = 0, fmt: str = 'JPEG',
                 size=(60, 45)) -> list[str]:
  """`count` random-noise images of `size` (w, h) in `folder`; returns their paths."""
  rng = np.random.default_rng(seed)
  os.makedirs(folder, exist_ok=True)
  paths = []
  for i in range(count):
    path = os.path.join(folder, f'img_{i:03d}.{"jpg" if fmt == "JPEG" else fmt.lower()}')
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), np.uint8)).save(path, fmt)
    paths.append(path)
  return paths

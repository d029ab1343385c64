"""Scoring photos with a trained model: the Python API behind `aesthetic_jax.predict`.

  from aesthetic_jax import Scorer
  scorer = Scorer.from_workdir('workdir/mtrl_demo')
  scores = scorer.score(['a.jpg', 'b.png'])     # paths, bytes, PIL images or arrays
  print(scores.p_high, scores.mean_score)       # (N,) arrays; mean_score needs the
  print(scores.records(top_tags=3)[0])          # score-distribution head

A workdir holds what scoring needs besides the weights, written by train.py when training
starts: `config.json` (the experiment config) and `model_info.json` (the tag names, the
score range and the heads' sizes), so no dataset is read. Images get the evaluation
preprocessing of that config: warp to input.resize_size, centre crop input.crop_size
(method.md section 1). Batches are split over all local devices.
"""

import concurrent.futures
import dataclasses
import json
import os
from typing import Any, Iterable, Sequence

import flax.traverse_util
import jax
import ml_collections
import numpy as np
from absl import logging
from jax.sharding import NamedSharding, PartitionSpec as P
from PIL import Image

from aesthetic_jax import models, preprocessing, steps

CONFIG_FILE = 'config.json'
MODEL_INFO_FILE = 'model_info.json'
AXIS = 'data'
CLASS_NAMES = ('low', 'high')


# ---------------------------------------------------------------------------------------------
# What a workdir records for scoring.

@dataclasses.dataclass(frozen=True)
class ModelInfo:
  """Dataset facts a trained model needs at scoring time (model_info.json).

  tag_names: the semantic head's M outputs in order (empty without a semantic head).
  score_min/score_max: the rating scale; the distribution head has one bin per score.
  """
  dataset: str
  tag_names: tuple[str, ...]
  score_min: int
  score_max: int
  label_threshold: float

  @property
  def num_bins(self) -> int:
    return self.score_max - self.score_min + 1


def _write_json_atomic(path: str, record) -> None:
  with open(path + '.tmp', 'w') as f:
    json.dump(record, f, indent=1)
  os.replace(path + '.tmp', path)


def write_run_info(workdir: str, config, meta, *, num_tags: int) -> None:
  """Writes config.json and model_info.json into `workdir` (process 0 only).

  num_tags: the size of the model's semantic head (0 for STCNN); meta: datasets.DatasetMeta.
  """
  if jax.process_index():
    return
  os.makedirs(workdir, exist_ok=True)
  _write_json_atomic(os.path.join(workdir, CONFIG_FILE), json.loads(config.to_json_best_effort()))
  info = ModelInfo(dataset=meta.name, tag_names=tuple(meta.tag_names)[:num_tags],
                   score_min=int(meta.score_min), score_max=int(meta.score_max),
                   label_threshold=float(meta.label_threshold))
  _write_json_atomic(os.path.join(workdir, MODEL_INFO_FILE), dataclasses.asdict(info))


def _tuples(value):
  """JSON lists back to the tuples configs use (e.g. conv_features)."""
  if isinstance(value, dict):
    return {k: _tuples(v) for k, v in value.items()}
  if isinstance(value, list):
    return tuple(_tuples(v) for v in value)
  return value


def read_run_info(workdir: str) -> tuple[ml_collections.ConfigDict, ModelInfo]:
  """(config, ModelInfo) written by write_run_info when `workdir` was trained."""
  paths = [os.path.join(workdir, name) for name in (CONFIG_FILE, MODEL_INFO_FILE)]
  missing = [p for p in paths if not os.path.exists(p)]
  if missing:
    raise FileNotFoundError(
        f'{workdir} has no {" / ".join(os.path.basename(p) for p in missing)}: it was not '
        'written by aesthetic_jax training (or by a version from before scoring existed). '
        'Rerunning the same training command writes them and resumes from the checkpoint.')
  with open(paths[0]) as f:
    config = ml_collections.ConfigDict(_tuples(json.load(f)))
  with open(paths[1]) as f:
    record = json.load(f)
  record['tag_names'] = tuple(record['tag_names'])
  return config, ModelInfo(**record)


# ---------------------------------------------------------------------------------------------
# Finding and reading checkpoints.

def _steps_in(directory: str) -> list[int]:
  return sorted(int(d) for d in os.listdir(directory)
                if d.isdigit() and os.path.isdir(os.path.join(directory, d, 'state')))


def locate_checkpoint(path: str, step: int | None = None) -> tuple[str, list[int]]:
  """(workdir, candidate step folders newest first) for a workdir, its checkpoints/ folder,
  or one step folder (<workdir>/checkpoints/<step>)."""
  path = os.path.abspath(os.path.expanduser(path))
  if os.path.isdir(os.path.join(path, 'state')) and os.path.basename(path).isdigit():
    checkpoints, step = os.path.dirname(path), int(os.path.basename(path))
  elif os.path.isdir(os.path.join(path, 'checkpoints')):
    checkpoints = os.path.join(path, 'checkpoints')
  elif os.path.isdir(path) and _steps_in(path):
    checkpoints = path
  else:
    raise FileNotFoundError(f'No checkpoint at {path}: expected a workdir of aesthetic_jax.main, '
                            'its checkpoints/ folder, or one checkpoints/<step> folder.')
  available = _steps_in(checkpoints)
  if not available:
    raise FileNotFoundError(f'{checkpoints} holds no finished checkpoint yet.')
  if step is not None:
    if step not in available:
      raise FileNotFoundError(f'No checkpoint of step {step} in {checkpoints} (have {available}).')
    available = [step]
  dirs = [os.path.join(checkpoints, str(s)) for s in reversed(available)]
  return os.path.dirname(checkpoints), dirs


def read_variables(step_dir: str) -> dict[str, Any]:
  """{'params': ..., **model_state} as numpy arrays from one checkpoint step folder.

  Only the 'state' item is read, and of it only params and model_state (not the optimizer
  state nor the input pipeline's position).
  """
  import orbax.checkpoint as ocp  # pylint: disable=g-import-not-at-top  (slow import)
  state_dir = os.path.join(step_dir, 'state')
  checkpointer = ocp.PyTreeCheckpointer()
  # Reading one item of a step directly makes orbax warn that the step's own metadata file
  # is not in the item's folder; that is expected here.
  verbosity = logging.get_verbosity()
  logging.set_verbosity(logging.ERROR)
  try:
    metadata = checkpointer.metadata(state_dir)
    tree = metadata.item_metadata.tree if hasattr(metadata, 'item_metadata') else metadata
    wanted = {k: tree[k] for k in ('params', 'model_state') if tree.get(k)}
    restore_args = jax.tree.map(lambda _: ocp.RestoreArgs(restore_type=np.ndarray), wanted)
    restored = checkpointer.restore(state_dir, args=ocp.args.PyTreeRestore(
        item=wanted, restore_args=restore_args, partial_restore=True))
  finally:
    logging.set_verbosity(verbosity)
  return {'params': restored['params'], **restored.get('model_state', {})}


def check_variables(variables, abstract, source: str) -> None:
  """Raises ValueError naming the arrays where `variables` and the model's shapes differ."""
  have = {'/'.join(k): np.shape(v) for k, v in flax.traverse_util.flatten_dict(variables).items()}
  want = {'/'.join(k): tuple(v.shape)
          for k, v in flax.traverse_util.flatten_dict(abstract).items()}
  problems = [f'missing {k} {want[k]}' for k in sorted(set(want) - set(have))]
  problems += [f'unexpected {k} {have[k]}' for k in sorted(set(have) - set(want))]
  problems += [f'{k}: checkpoint {have[k]} vs model {want[k]}'
               for k in sorted(set(have) & set(want)) if have[k] != want[k]]
  if problems:
    raise ValueError(f'{source} does not fit the model its config describes: '
                     + '; '.join(problems[:6]) + (' ...' if len(problems) > 6 else ''))


# ---------------------------------------------------------------------------------------------
# Results.

@dataclasses.dataclass(frozen=True)
class Scores:
  """Predictions for N images (numpy); a field is None where the model lacks that head.

  p_high: (N,) P(high aesthetic). semantic_probs: (N, M), columns in tag_names order.
  score_distribution: (N, K) over the scores score_min..score_max; mean_score: (N,) its
  expectation, the predicted mean rating.
  """
  p_high: np.ndarray
  semantic_probs: np.ndarray | None
  score_distribution: np.ndarray | None
  mean_score: np.ndarray | None
  tag_names: tuple[str, ...] = ()
  score_min: int = 1

  def __len__(self) -> int:
    return len(self.p_high)

  @property
  def predicted_class(self) -> np.ndarray:
    """(N,) int: 1 (high) where p_high > 0.5, as the accuracy of metrics.py counts it."""
    return (self.p_high > 0.5).astype(np.int32)

  def top_tags(self, k: int = 3) -> list[list[tuple[str, float]]]:
    """Per image, the k most probable tags as (name, probability), most probable first."""
    if self.semantic_probs is None or not k:
      return [[] for _ in range(len(self))]
    order = np.argsort(-self.semantic_probs, axis=1, kind='stable')[:, :k]
    return [[(self.tag_names[j], float(probs[j])) for j in row]
            for row, probs in zip(order, self.semantic_probs)]

  def records(self, top_tags: int = 3) -> list[dict[str, Any]]:
    """One dict per image: p_high, predicted_class ('low'/'high'), mean_score and
    score_distribution (with a distribution head), top_tags [(name, probability)]."""
    tags = self.top_tags(top_tags)
    out = []
    for i in range(len(self)):
      record = {'p_high': float(self.p_high[i]),
                'predicted_class': CLASS_NAMES[int(self.predicted_class[i])]}
      if self.mean_score is not None:
        record['mean_score'] = float(self.mean_score[i])
        record['score_distribution'] = [float(p) for p in self.score_distribution[i]]
      if self.semantic_probs is not None:
        record['top_tags'] = tags[i]
      out.append(record)
    return out


# ---------------------------------------------------------------------------------------------
# The scorer.

def inference_function(model, *, score_min: float):
  """f(variables, images uint8 (B, S, S, 3)) -> steps.predictions dict; pure, jit-able."""
  def infer(variables, images):
    return steps.predictions(model.apply(variables, images, train=False), score_min=score_min)
  return infer


def _round_up(n: int, multiple: int) -> int:
  return -(-n // multiple) * multiple


class Scorer:
  """A trained model ready to score images; see the module docstring."""

  def __init__(self, model, variables, *, config, info: ModelInfo, source: str = '',
               step: int | None = None, batch_size: int | None = None,
               devices: Sequence[jax.Device] | None = None):
    self.model, self.config, self.info = model, config, info
    self.source, self.step = source, step
    self.devices = list(devices or jax.local_devices())
    mesh = jax.sharding.Mesh(np.asarray(self.devices), (AXIS,))
    self._replicated = NamedSharding(mesh, P())
    self._split = NamedSharding(mesh, P(AXIS))
    self.variables = jax.device_put(variables, self._replicated)
    self.batch_size = _round_up(batch_size or config.eval_batch_size, len(self.devices))
    self._infer = jax.jit(inference_function(model, score_min=info.score_min),
                          in_shardings=(self._replicated, self._split),
                          out_shardings=self._split)

  # -- construction ---------------------------------------------------------------------------

  @classmethod
  def from_workdir(cls, workdir: str, *, step: int | None = None, **kwargs) -> 'Scorer':
    """The latest (or `step`'s) checkpoint of a training workdir."""
    return cls.from_checkpoint(workdir, step=step, **kwargs)

  @classmethod
  def from_checkpoint(cls, path: str, *, step: int | None = None, **kwargs) -> 'Scorer':
    """A workdir, its checkpoints/ folder, or one checkpoints/<step> folder; the config
    comes from the workdir above it."""
    workdir, candidates = locate_checkpoint(path, step)
    config, info = read_run_info(workdir)
    model = build_model(config, info)
    abstract = abstract_variables(model, config)
    errors = []
    for step_dir in candidates:  # newest first; a partial checkpoint falls back to older
      try:
        variables = read_variables(step_dir)
      except Exception as error:  # pylint: disable=broad-except
        errors.append(f'{step_dir}: {type(error).__name__}: {error}')
        continue
      check_variables(variables, abstract, step_dir)
      return cls(model, variables, config=config, info=info, source=step_dir,
                 step=int(os.path.basename(step_dir)), **kwargs)
    raise OSError('No readable checkpoint:\n' + '\n'.join(errors))

  @classmethod
  def from_config(cls, config, *, info: ModelInfo | None = None, seed: int = 0,
                  **kwargs) -> 'Scorer':
    """Randomly initialised weights (untrained: for tests and timing only)."""
    info = info or ModelInfo('untrained', (), 1, 10, 5.0)
    model = build_model(config, info)
    crop = config.input.crop_size
    variables = model.init(jax.random.PRNGKey(seed), np.zeros((1, crop, crop, 3), np.uint8),
                           train=False)
    return cls(model, jax.device_get(variables), config=config, info=info,
               source='untrained weights', **kwargs)

  # -- facts ----------------------------------------------------------------------------------

  @property
  def crop_size(self) -> int:
    return int(self.config.input.crop_size)

  @property
  def resize_size(self) -> int:
    return int(self.config.input.resize_size)

  @property
  def tag_names(self) -> tuple[str, ...]:
    return self.info.tag_names

  @property
  def has_mean_score(self) -> bool:
    return bool(self.config.model.get('distribution_head', False))

  # -- images ---------------------------------------------------------------------------------

  def load_image(self, image) -> np.ndarray:
    """The model's evaluation input uint8 (S, S, 3) of one image.

    image: a path (str or os.PathLike), encoded bytes (JPEG, PNG, ... anything PIL reads), a
    PIL image, or a uint8 array (H, W, 3) or (H, W). Raises OSError (e.g. PIL's
    UnidentifiedImageError) for a file that is not a readable image.
    """
    if isinstance(image, (str, os.PathLike)):
      with open(image, 'rb') as f:
        image = f.read()
    if isinstance(image, (bytes, bytearray, memoryview)):
      warped = preprocessing.decode_and_warp(bytes(image), self.resize_size)
    else:
      if isinstance(image, np.ndarray):
        image = Image.fromarray(np.asarray(image, np.uint8))
      if not isinstance(image, Image.Image):
        raise TypeError(f'Cannot score a {type(image).__name__}; give a path, bytes, a PIL '
                        'image or a uint8 array.')
      # The same warp as decode_and_warp, without its JPEG draft step (nothing to decode).
      image = image.convert('RGB')
      if image.size != (self.resize_size,) * 2:
        image = image.resize((self.resize_size,) * 2, Image.BILINEAR)
      warped = np.asarray(image)
    return preprocessing.center_crop(warped, self.crop_size)

  # -- predictions ----------------------------------------------------------------------------

  def dispatch(self, images: np.ndarray):
    """Starts the model on at most batch_size preprocessed images uint8 (n, S, S, 3); returns
    a handle for `collect`. The device computes while the caller prepares the next batch."""
    n = len(images)
    if not 0 < n <= self.batch_size:
      raise ValueError(f'dispatch takes 1..{self.batch_size} images, got {n}.')
    # Full batches keep one compiled shape; a short batch pads to a multiple of the devices.
    size = self.batch_size if n > self.batch_size // 2 else _round_up(n, len(self.devices))
    if size != n:
      images = np.concatenate([images, np.zeros((size - n,) + images.shape[1:], images.dtype)])
    return n, self._infer(self.variables, jax.device_put(images, self._split))

  def collect(self, handle) -> Scores:
    n, outputs = handle
    outputs = {k: np.asarray(v)[:n] for k, v in outputs.items()}
    return Scores(p_high=outputs['p_high'], semantic_probs=outputs.get('semantic_probs'),
                  score_distribution=outputs.get('score_distribution'),
                  mean_score=outputs.get('predicted_mean_score'), tag_names=self.tag_names,
                  score_min=self.info.score_min)

  def predict(self, images: np.ndarray) -> Scores:
    """Scores preprocessed images uint8 (N, S, S, 3) (see load_image), in batches."""
    images = np.asarray(images)
    expected = (self.crop_size, self.crop_size, 3)
    if images.ndim != 4 or images.shape[1:] != expected:
      raise ValueError(f'predict takes (N, {", ".join(map(str, expected))}) images, got shape '
                       f'{images.shape}; score() preprocesses images of any size.')
    handles = [self.dispatch(images[i:i + self.batch_size])
               for i in range(0, len(images), self.batch_size)]
    return concatenate([self.collect(h) for h in handles], self)

  def score(self, images: Iterable[Any] | Any, *, workers: int | None = None) -> Scores:
    """Scores images of any size: paths, encoded bytes, PIL images or uint8 arrays (one, or
    a sequence). Decoding runs on `workers` threads; an unreadable image raises."""
    if isinstance(images, (str, os.PathLike, bytes, Image.Image)) or (
        isinstance(images, np.ndarray) and images.ndim in (2, 3)):
      images = [images]
    images = list(images)
    if not images:
      return concatenate([], self)
    with concurrent.futures.ThreadPoolExecutor(workers or default_workers()) as pool:
      arrays = list(pool.map(self.load_image, images))
    return self.predict(np.stack(arrays))


def default_workers() -> int:
  return max(1, min(8, os.cpu_count() or 1))


def concatenate(parts: Sequence[Scores], scorer: Scorer) -> Scores:
  """One Scores from several (in order); an empty Scores for no parts."""
  def join(name, width):
    arrays = [getattr(p, name) for p in parts]
    if any(a is None for a in arrays):
      return None
    return np.concatenate(arrays) if arrays else np.zeros((0,) + width, np.float32)

  semantic = (len(scorer.tag_names),) if scorer.tag_names else None
  bins = (scorer.info.num_bins,) if scorer.has_mean_score else None
  return Scores(
      p_high=join('p_high', ()),
      semantic_probs=join('semantic_probs', semantic) if semantic else None,
      score_distribution=join('score_distribution', bins) if bins else None,
      mean_score=join('mean_score', ()) if bins else None,
      tag_names=scorer.tag_names, score_min=scorer.info.score_min)


def build_model(config, info: ModelInfo):
  return models.build_model(config.model, num_tags=len(info.tag_names), num_bins=info.num_bins)


def abstract_variables(model, config):
  crop = config.input.crop_size
  return jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0),
                                           np.zeros((1, crop, crop, 3), np.uint8), train=False))


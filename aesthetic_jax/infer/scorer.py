"""Scoring photos with a trained model: the Python API behind `aesthetic_jax.predict`.

  from aesthetic_jax import Scorer
  scorer = Scorer.from_workdir('workdir/mtrl_demo')
  scores = scorer.score(['a.jpg', 'b.png'])     # paths, bytes, PIL images or arrays
  print(scores.p_high, scores.mean_score)       # (N,) arrays; mean_score needs the
  print(scores.records(top_tags=3)[0])          # score-distribution head

A workdir holds what scoring needs besides the weights, written by training when it starts
(aesthetic_jax.run_dir): the experiment config and the dataset facts of the model (its tag
names and score range), so no dataset is read. Images get the evaluation
preprocessing of that config: warp to input.resize_size, centre crop input.crop_size
(method.md section 1). Batches are split over all local devices.
"""

import concurrent.futures
import dataclasses
import os
from typing import Any, Iterable, Sequence

import flax.traverse_util
import jax
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P
from PIL import Image

from aesthetic_jax import model as model_lib
from aesthetic_jax import run_dir as run_dir_lib
from aesthetic_jax import xla_cpu
from aesthetic_jax.core.dataset_meta import DatasetMeta
from aesthetic_jax.data import image_io, preprocessing
from aesthetic_jax.model import predictions as predictions_lib

AXIS = 'data'
CLASS_NAMES = ('low', 'high')


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
  """f(variables, images uint8 (B, S, S, 3)) -> model.predictions dict; pure, jit-able."""
  def infer(variables, images):
    return predictions_lib.predictions(model.apply(variables, images, train=False),
                                       score_min=score_min)
  return infer


def _round_up(n: int, multiple: int) -> int:
  return -(-n // multiple) * multiple


class Scorer:
  """A trained model ready to score images; see the module docstring."""

  def __init__(self, model, variables, *, config, meta: DatasetMeta, source: str = '',
               step: int | None = None, batch_size: int | None = None,
               devices: Sequence[jax.Device] | None = None,
               max_pixels: int = image_io.DEFAULT_MAX_PIXELS,
               max_file_bytes: int = image_io.DEFAULT_MAX_BYTES):
    xla_cpu.configure()  # a no-op unless JAX has not started yet (then: Eigen convolutions)
    self.model, self.config, self.meta = model, config, meta
    self.max_pixels, self.max_file_bytes = max_pixels, max_file_bytes
    self.source, self.step = source, step
    self.devices = list(devices or jax.local_devices())
    mesh = jax.sharding.Mesh(np.asarray(self.devices), (AXIS,))
    self._replicated = NamedSharding(mesh, P())
    self._split = NamedSharding(mesh, P(AXIS))
    self.variables = jax.device_put(variables, self._replicated)
    self.batch_size = _round_up(batch_size or config.eval_batch_size, len(self.devices))
    self._infer = jax.jit(inference_function(model, score_min=meta.score_min),
                          in_shardings=(self._replicated, self._split),
                          out_shardings=self._split)

  # -- construction ---------------------------------------------------------------------------

  @classmethod
  def from_workdir(cls, workdir: str, *, step: int | None = None, **kwargs) -> 'Scorer':
    """The newest readable (or `step`'s) checkpoint of a training workdir."""
    return cls.from_checkpoint(workdir, step=step, **kwargs)

  @classmethod
  def from_checkpoint(cls, path: str, *, step: int | None = None, **kwargs) -> 'Scorer':
    """A workdir, its checkpoints/ folder, or one checkpoints/<step> folder; the config
    comes from the workdir above it. An unreadable or altered checkpoint is skipped with a
    warning and the one before it is used (unless a step was asked for)."""
    xla_cpu.configure()  # before JAX starts, if it has not yet
    run, located_step = run_dir_lib.locate(path)
    config, meta = run.read_run_info()
    model = build_model(config, meta)
    step, fields = run.read_checkpoint(('params', 'model_state'),
                                       step=step if step is not None else located_step)
    variables = {'params': fields['params'], **fields.get('model_state', {})}
    source = os.path.join(run.checkpoints_dir, str(step))
    check_variables(variables, abstract_variables(model, config), source)
    return cls(model, variables, config=config, meta=meta, source=source, step=step, **kwargs)

  @classmethod
  def from_config(cls, config, *, meta: DatasetMeta | None = None, seed: int = 0,
                  **kwargs) -> 'Scorer':
    """Randomly initialised weights (untrained: for tests and timing only)."""
    xla_cpu.configure()
    meta = meta or DatasetMeta('untrained', (), 1, 10, 5.0)
    model = build_model(config, meta)
    crop = config.input.crop_size
    variables = model.init(jax.random.PRNGKey(seed), np.zeros((1, crop, crop, 3), np.uint8),
                           train=False)
    return cls(model, jax.device_get(variables), config=config, meta=meta,
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
    return self.meta.tag_names

  @property
  def has_mean_score(self) -> bool:
    return bool(self.config.model.get('distribution_head', False))

  # -- images ---------------------------------------------------------------------------------

  def load_image(self, image) -> np.ndarray:
    """The model's evaluation input uint8 (S, S, 3) of one image, as a viewer shows it
    (data.image_io: EXIF orientation applied, 16-bit and other modes converted,
    transparency on white).

    image: a path (str or os.PathLike; read safely: a FIFO or device is refused, never
    read, and files over max_file_bytes / images over max_pixels are refused), encoded bytes
    (JPEG, PNG, ... anything PIL reads), a PIL image, or a uint8 array (H, W, 3) or (H, W).
    Raises image_io.ImageReadError (an OSError) for what is not a readable image.
    """
    if isinstance(image, (str, os.PathLike)):
      image = image_io.read_file(image, max_bytes=self.max_file_bytes)
    if isinstance(image, (bytes, bytearray, memoryview)):
      rgb = image_io.decode_rgb(bytes(image), max_pixels=self.max_pixels,
                                draft_size=self.resize_size)
    elif isinstance(image, Image.Image):
      rgb = image_io.pil_to_rgb(image)
    elif isinstance(image, np.ndarray):
      rgb = image_io.pil_to_rgb(Image.fromarray(np.asarray(image, np.uint8)))
    else:
      raise TypeError(f'Cannot score a {type(image).__name__}; give a path, bytes, a PIL '
                      'image or a uint8 array.')
    return preprocessing.center_crop(image_io.warp(rgb, self.resize_size), self.crop_size)

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
                  score_min=self.meta.score_min)

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
    workers = workers or default_workers(max_pixels=self.max_pixels,
                                         max_file_bytes=self.max_file_bytes)
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
      arrays = list(pool.map(self.load_image, images))
    return self.predict(np.stack(arrays))


def available_memory_bytes() -> int | None:
  """MemAvailable of /proc/meminfo (Linux), else None."""
  try:
    with open('/proc/meminfo', encoding='ascii') as f:
      for line in f:
        if line.startswith('MemAvailable:'):
          return int(line.split()[1]) * 1024
  except (OSError, ValueError):
    pass
  return None


def default_workers(*, max_pixels: int = image_io.DEFAULT_MAX_PIXELS,
                    max_file_bytes: int = image_io.DEFAULT_MAX_BYTES) -> int:
  """Decoding threads: one per core (at most 8), and no more than half the available memory
  holds at the worst case of one decode each (a file of max_file_bytes and
  image_io.decoded_bytes_bound(max_pixels): 1.9 GiB with the defaults)."""
  workers = max(1, min(8, os.cpu_count() or 1))
  available = available_memory_bytes()
  if available is not None:
    per_worker = max_file_bytes + image_io.decoded_bytes_bound(max_pixels)
    workers = min(workers, max(1, available // 2 // per_worker))
  return workers


def concatenate(parts: Sequence[Scores], scorer: Scorer) -> Scores:
  """One Scores from several (in order); an empty Scores for no parts."""
  def join(name, width):
    arrays = [getattr(p, name) for p in parts]
    if any(a is None for a in arrays):
      return None
    return np.concatenate(arrays) if arrays else np.zeros((0,) + width, np.float32)

  semantic = (len(scorer.tag_names),) if scorer.tag_names else None
  bins = (scorer.meta.num_bins,) if scorer.has_mean_score else None
  return Scores(
      p_high=join('p_high', ()),
      semantic_probs=join('semantic_probs', semantic) if semantic else None,
      score_distribution=join('score_distribution', bins) if bins else None,
      mean_score=join('mean_score', ()) if bins else None,
      tag_names=scorer.tag_names, score_min=scorer.meta.score_min)


def build_model(config, meta: DatasetMeta):
  return model_lib.build_model(config.model, num_tags=meta.num_tags, num_bins=meta.num_bins)


def abstract_variables(model, config):
  crop = config.input.crop_size
  return jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0),
                                           np.zeros((1, crop, crop, 3), np.uint8), train=False))


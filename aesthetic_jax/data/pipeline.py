"""grain pipelines over the built TFDS datasets (design.md: tfds.data_source + grain).

Training: the labelled records (delta rule, optional single-tag filter) are shuffled afresh
each epoch from the config seed, sharded by process, decoded, warped, randomly cropped and
flipped, and batched. Evaluation: every test record (delta = 0), centre-cropped, in padded
batches with a mask. Batches are dicts of numpy arrays; images stay uint8 until the device.
"""

import dataclasses
from typing import Iterator

import grain
import jax
import numpy as np

from aesthetic_jax.config_error import ConfigError
from aesthetic_jax.core import labels
from aesthetic_jax.core.dataset_meta import DatasetMeta
from aesthetic_jax.data import image_io, preprocessing, registry


@dataclasses.dataclass(frozen=True)
class Subset:
  """A random-access view of `source` restricted to `indices` (a grain-compatible source)."""
  source: object
  indices: np.ndarray

  def __len__(self) -> int:
    return len(self.indices)

  def __getitem__(self, i):
    return self.source[int(self.indices[i])]


def scan_labels(source, *, chunk: int = 1024) -> dict[str, np.ndarray]:
  """mean_score (N,) and tags (N, M) of every record, read without decoding images."""
  means, tags = [], []
  for start in range(0, len(source), chunk):
    records = source.__getitems__(range(start, min(start + chunk, len(source))))
    means.extend(r['mean_score'] for r in records)
    tags.extend(r['tags'] for r in records if 'tags' in r)
  out = {'mean_score': np.asarray(means, np.float32)}
  if tags:
    out['tags'] = np.asarray(tags, bool)
  return out


def select_records(scan: dict[str, np.ndarray], meta: DatasetMeta, *, delta: float,
                   tag: str = '') -> np.ndarray:
  """Indices of records that keep a label under `delta` (and carry `tag` if one is given)."""
  keep = labels.aesthetic_label(scan['mean_score'], delta=delta,
                                threshold=meta.label_threshold) != labels.DROPPED
  if tag:
    if tag not in meta.tag_names:
      raise ConfigError(f'data.train_tag={tag!r} is not a tag of {meta.name}; '
                       f'its tags are {list(meta.tag_names)}.')
    keep &= scan['tags'][:, meta.tag_names.index(tag)]
  return np.flatnonzero(keep)


# Fields of a training batch; evaluation batches also carry 'mean_score' and 'image_id'.
# 'vote_distribution' (K,) float32, the votes divided by their sum, is there only with
# model.distribution_head (all zeros for an image without votes).
TRAIN_KEYS = ('image', 'label', 'mask', 'tags', 'vote_distribution')


@dataclasses.dataclass(frozen=True)
class RecordTransform:
  """Record -> example dict {'image': uint8 (S, S, 3), 'label', 'mean_score', 'tags'?, ...}.

  The record's image may be encoded (JPEG bytes: decoded in draft mode and warped to
  S = resize_size) or pixels, a uint8 (H, W, 3) array (raw-pixel configs, see
  data_builders.common.records; with decoding skipped they come as bytes and the record's
  `image_shape` gives their shape): used as they are when H = W = S, else warped to S x S.
  votes: also emit 'vote_distribution', the record's vote histogram normalised to sum to 1.
  """
  resize_size: int
  crop_size: int
  delta: float
  threshold: float
  train: bool
  votes: bool = False

  def warped_image(self, record) -> np.ndarray:
    """The record's image as uint8 (S, S, 3), S = resize_size (read-only)."""
    image = preprocessing.stored_image(record)
    if isinstance(image, np.ndarray):  # pixels: nothing to decode
      return image_io.warp(image, self.resize_size)  # (the image itself when S x S)
    return preprocessing.decode_and_warp(image, self.resize_size)

  def __call__(self, record, rng: np.random.Generator | None = None):
    image = self.warped_image(record)
    if self.train:
      image = preprocessing.random_crop_and_flip(image, self.crop_size, rng)
    else:
      image = preprocessing.center_crop(image, self.crop_size)
    example = {
        'image': image,
        'label': labels.aesthetic_label(record['mean_score'], delta=self.delta,
                                        threshold=self.threshold).astype(np.int32),
        'mean_score': np.float32(record['mean_score']),
        'image_id': np.int64(record['image_id']),
        'mask': np.bool_(True),
    }
    if 'tags' in record:
      example['tags'] = np.asarray(record['tags'], bool)
    if self.votes:
      example['vote_distribution'] = vote_distribution(record['votes'])
    if self.train:  # only what the train step reads travels to the devices
      example = {k: v for k, v in example.items() if k in TRAIN_KEYS}
    return example


def vote_distribution(votes) -> np.ndarray:
  """votes (K,) counts -> float32 (K,) summing to 1; all zeros when there are no votes."""
  votes = np.asarray(votes, np.float32)
  total = votes.sum()
  return votes / total if total > 0 else np.zeros_like(votes)


class ProcessBlockShard(grain.MapDataset):
  """This process's share of a global stream, in contiguous blocks of `block` elements.

  Global batch k is stream[k*B : (k+1)*B] with B = block * process_count; process p reads
  stream[k*B + p*block : k*B + (p+1)*block]. Since jax.make_array_from_process_local_data
  places process p's block on p's devices, every device sees the same examples (and crops:
  random ops run before this shard, keyed by global position) as in a one-process run.
  """

  def __init__(self, parent: grain.MapDataset, *, block: int, index: int, count: int):
    super().__init__(parent)
    self._block, self._index, self._count = block, index, count

  def __len__(self) -> int:
    return len(self._parent) // self._count

  def __getitem__(self, i):
    if isinstance(i, slice):
      return self.slice(i)
    group, offset = divmod(i, self._block)
    return self._parent[(group * self._count + self._index) * self._block + offset]

  def __str__(self) -> str:
    return f'ProcessBlockShard(block={self._block}, {self._index} of {self._count})'


def _read_options(config) -> grain.ReadOptions:
  return grain.ReadOptions(num_threads=config.input.num_threads,
                           prefetch_buffer_size=config.input.prefetch_batches)


def per_process_batch_size(global_batch_size: int) -> int:
  if global_batch_size % jax.device_count():
    raise ConfigError(
        f'batch_size={global_batch_size} does not divide over {jax.device_count()} devices; '
        f'set --config.batch_size to a multiple of {jax.device_count()}.')
  return global_batch_size // jax.process_count()


def train_dataset(config, source, indices: np.ndarray, meta: DatasetMeta):
  """The endless training stream: per-process batches, reshuffled every epoch.

  Returns a grain IterDataset; its iterator's state is checkpointed with the model.
  """
  transform = RecordTransform(config.input.resize_size, config.input.crop_size,
                              config.data.delta, meta.label_threshold, train=True,
                              votes=config.model.get('distribution_head', False))
  block = per_process_batch_size(config.batch_size)
  ds = grain.MapDataset.source(Subset(source, indices)).seed(config.seed).shuffle().repeat()
  ds = ds.random_map(transform)  # lazy: runs only for the elements this process reads
  ds = ProcessBlockShard(ds, block=block, index=jax.process_index(), count=jax.process_count())
  ds = ds.batch(block, drop_remainder=True)
  ds = ds.to_iter_dataset(_read_options(config))
  if config.input.worker_count:
    ds = ds.mp_prefetch(grain.MultiprocessingOptions(num_workers=config.input.worker_count))
  return ds


def eval_batches(config, source, indices: np.ndarray, meta: DatasetMeta,
                 ) -> Iterator[dict[str, np.ndarray]]:
  """This process's share of `indices`, centre-cropped, in full batches padded with mask 0."""
  transform = RecordTransform(config.input.resize_size, config.input.crop_size, 0.0,
                              meta.label_threshold, train=False,
                              votes=config.model.get('distribution_head', False))
  batch_size = per_process_batch_size(config.eval_batch_size)
  # Every process runs the same number of batches (a collective per batch), so pad the shard.
  per_process = -(-len(indices) // jax.process_count())
  num_batches = -(-per_process // batch_size)
  ds = grain.MapDataset.source(Subset(source, indices))[jax.process_index()::jax.process_count()]
  ds = ds.map(transform).batch(batch_size, drop_remainder=False)
  ds = ds.to_iter_dataset(_read_options(config))
  template = None
  produced = 0
  for batch in ds:
    template = batch
    produced += 1
    yield pad_batch(batch, batch_size)
  for _ in range(num_batches - produced):  # shards shorter than the longest one
    yield pad_batch({k: v[:0] for k, v in template.items()}, batch_size)


def pad_batch(batch: dict[str, np.ndarray], size: int) -> dict[str, np.ndarray]:
  """Pads every array of `batch` along axis 0 to `size` with zeros (mask False)."""
  n = len(batch['mask'])
  if n == size:
    return batch
  return {k: np.concatenate([v, np.zeros((size - n,) + v.shape[1:], v.dtype)])
          for k, v in batch.items()}


@dataclasses.dataclass
class Data:
  """Everything training needs from a dataset (indices are record positions in a source)."""
  meta: DatasetMeta
  train_source: object
  test_source: object
  train_indices: np.ndarray
  test_indices: np.ndarray
  validation_indices: np.ndarray  # held out of train_source; empty unless requested


def hold_out(indices: np.ndarray, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
  """Splits `indices` into (rest, a fixed-seed random `size` of them), both sorted."""
  if size >= len(indices):
    raise ConfigError(f'data.validation_size={size} leaves no training images '
                     f'(only {len(indices)} are labelled).')
  chosen = np.random.default_rng(seed).permutation(len(indices))[:size]
  mask = np.zeros(len(indices), bool)
  mask[chosen] = True
  return indices[~mask], indices[mask]


def load(config) -> Data:
  """Opens `config.data.name`, applies the delta rule / tag filter, holds out validation."""
  sources, meta = registry.open_dataset(config.data.name, config.data.data_dir)
  train_source, test_source = sources[config.data.train_split], sources[config.data.test_split]
  train_scan = scan_labels(train_source)
  train_indices = select_records(train_scan, meta, delta=config.data.delta,
                                 tag=config.data.train_tag)
  validation_indices = np.zeros((0,), np.int64)
  if config.data.validation_size:
    # Validation labels use delta = 0 like the test set, so hold out from the delta-0 pool.
    pool = select_records(train_scan, meta, delta=0.0, tag=config.data.train_tag)
    _, validation_indices = hold_out(pool, config.data.validation_size, config.seed)
    train_indices = np.setdiff1d(train_indices, validation_indices)
  test_indices = select_records(scan_labels(test_source), meta, delta=0.0,
                                tag=config.data.train_tag)
  if not len(test_indices):
    raise ConfigError(f'No test records of {config.data.name} match data.train_tag='
                     f'{config.data.train_tag!r}.')
  if len(train_indices) < config.batch_size:
    raise ConfigError(f'Only {len(train_indices)} training records of {config.data.name} keep a '
                     f'label (delta={config.data.delta}); fewer than batch_size='
                     f'{config.batch_size}.')
  return Data(meta, train_source, test_source, train_indices, test_indices, validation_indices)

"""Finding, building and opening the TFDS datasets that aesthetic_jax trains on.

A dataset is named as in configs: 'synthetic' (embedded default), 'synthetic/tiny',
'ava/paper', 'ava/official', 'photonet'. Reading needs no TensorFlow: records are
array_record files opened with `tfds.data_source` (see ../shared/docs/stack-notes.md).
"""

import contextlib
import importlib
import logging
import os
from typing import Any, Mapping

import tensorflow_datasets as tfds

from aesthetic_jax.core.dataset_meta import DatasetMeta

# Short name used in configs -> (TFDS registered name, module that registers the builder).
BUILDERS = {
    'synthetic': ('synthetic_aesthetics', 'data_builders.synthetic.synthetic'),
    'ava': ('ava', 'data_builders.ava.ava'),
    'photonet': ('photonet', 'data_builders.photonet.photonet'),
}
# Datasets that generate themselves from a seed, so opening one that is missing builds it.
SELF_BUILDING = ('synthetic',)


class DatasetNotBuiltError(FileNotFoundError):
  """Raised when a dataset that needs the user's own files has not been built yet."""


def split_name(name: str) -> tuple[str, str | None]:
  """'ava/paper' -> ('ava', 'paper'); 'photonet' -> ('photonet', None)."""
  short, _, config = name.partition('/')
  if short not in BUILDERS:
    raise ValueError(f'Unknown dataset {name!r}; known: {sorted(BUILDERS)} (with an optional '
                     "'/config', e.g. 'ava/paper').")
  return short, config or None


def get_builder(name: str, data_dir: str, **builder_kwargs) -> tfds.core.DatasetBuilder:
  """The (registered) builder for `name`, writing/reading array_record under `data_dir`."""
  short, config = split_name(name)
  tfds_name, module = BUILDERS[short]
  importlib.import_module(module)  # registers the builder class with TFDS
  if config:
    builder_kwargs['config'] = config
  return tfds.builder(tfds_name, data_dir=os.path.expanduser(data_dir),
                      file_format='array_record', **builder_kwargs)


def build_instructions(name: str, data_dir: str) -> str:
  short, _ = split_name(name)
  return (f'python -m aesthetic_jax.data build {name} '
          f'--manual_dir=<folder with your own copy of {short}> --data_dir={data_dir}')


@contextlib.contextmanager
def quiet_tfds_logs():
  """TFDS's absl log lines off below ERROR (e.g. 'Variant folder ... has no
  dataset_info.json' while looking for a dataset not built yet: our message says what to do)."""
  absl_logger = logging.getLogger('absl')
  level = absl_logger.level
  absl_logger.setLevel(logging.ERROR)
  try:
    yield
  finally:
    absl_logger.setLevel(level)


def ensure_built(name: str, data_dir: str) -> tfds.core.DatasetBuilder:
  """The builder of `name`, building it first if it is self-building and missing.

  Raises:
    DatasetNotBuiltError: naming the folder looked in and the command that builds it.
  """
  with quiet_tfds_logs():
    builder = get_builder(name, data_dir)
    prepared = builder.is_prepared()
  if not prepared:
    if split_name(name)[0] in SELF_BUILDING:
      builder.download_and_prepare(file_format='array_record')
    else:
      manual = getattr(builder, 'MANUAL_DOWNLOAD_INSTRUCTIONS', '') or ''
      raise DatasetNotBuiltError(
          f'Dataset {name!r} is not built: nothing at {builder.data_dir}.\n'
          f'Build it once with:\n  {build_instructions(name, data_dir)}\n'
          f'What the manual folder must hold:\n{manual.strip()}')
  return builder


def dataset_meta(builder: tfds.core.DatasetBuilder, name: str) -> DatasetMeta:
  md: Mapping[str, Any] = builder.info.metadata or {}
  return DatasetMeta(
      name=name, tag_names=tuple(md.get('tag_names', ())), score_min=int(md['score_min']),
      score_max=int(md['score_max']), label_threshold=float(md['label_threshold']),
      split_sizes={k: v.num_examples for k, v in builder.info.splits.items()})


def open_dataset(name: str, data_dir: str, decode_images: bool = False):
  """Data sources per split and the dataset's metadata.

  Images come back as encoded JPEG bytes unless `decode_images` (the input pipeline decodes
  them itself, after it has dropped unlabelled records, with PIL's fast draft mode).

  Returns:
    (sources, meta): sources maps split name -> random-access source of record dicts.
  """
  builder = ensure_built(name, data_dir)
  decoders = None if decode_images else {'image': tfds.decode.SkipDecoding()}
  sources = builder.as_data_source(decoders=decoders)
  return dict(sources), dataset_meta(builder, name)

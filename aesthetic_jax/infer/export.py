"""A trained model's inference as one self-contained file (jax.export), and loading it back.

  python -m aesthetic_jax.export --workdir=DIR --output=model.npz [--platforms=cpu,cuda,tpu]
  (or export_scorer(Scorer.from_workdir(DIR), 'model.npz') from Python)

The file is an ordinary .npz archive:
  exported        uint8: the bytes of jax.export's serialisation of
                  f(weights, images uint8 (B, S, S, 3)) -> {'p_high': (B,), ...} (the outputs
                  of model.predictions), with a symbolic batch size B, for each platform;
  weight_00000..  the model's arrays, the list `weights` in order;
  info            uint8: UTF-8 JSON with the outputs, tag names, score range and image sizes.

Loading needs numpy and jax only: neither Flax nor this project's training code.

  import json, jax, numpy as np
  with np.load('model.npz') as f:
    model = jax.export.deserialize(bytearray(f['exported'].tobytes()))
    weights = [f[k] for k in sorted(f.files) if k.startswith('weight_')]
    info = json.loads(f['info'].tobytes())
  outputs = model.call(weights, images)  # images: uint8 (B, S, S, 3), S = info['crop_size']

`load(path)` does the same and adds the model's evaluation preprocessing (PIL only): warp to
info['resize_size'], centre crop info['crop_size'] (method.md section 1). The exported
graph uses the plain pooling and LRN ops (model.pool_lrn_impl='xla'), the same on every platform.
"""

import json
import os
from typing import Any, Sequence

import jax
import numpy as np

from aesthetic_jax.run_dir import files

FORMAT = 'aesthetic_jax.export/1'
DEFAULT_PLATFORMS = ('cpu', 'cuda', 'tpu')


# ---------------------------------------------------------------------------------------------
# Saving (needs the training code: Flax, the model definitions, a checkpoint).

def export_scorer(scorer, path: str, *, platforms: Sequence[str] = DEFAULT_PLATFORMS,
                  ) -> dict[str, Any]:
  """Writes `scorer`'s model (an aesthetic_jax.Scorer) to `path` (.npz); returns its info."""
  from aesthetic_jax.infer import scorer as scorer_lib  # pylint: disable=g-import-not-at-top
  config = scorer.config.copy_and_resolve_references()
  with config.unlocked():
    config.model.pool_lrn_impl = 'xla'  # same weights and values; one graph for every platform
  infer = scorer_lib.inference_function(scorer_lib.build_model(config, scorer.meta),
                                        score_min=scorer.meta.score_min)
  leaves, treedef = jax.tree.flatten(jax.device_get(scorer.variables))

  def predict(weights, images):
    return infer(jax.tree.unflatten(treedef, weights), images)

  crop = scorer.crop_size
  batch, = jax.export.symbolic_shape('batch')
  exported = jax.export.export(jax.jit(predict), platforms=tuple(platforms))(
      [jax.ShapeDtypeStruct(np.shape(x), np.asarray(x).dtype) for x in leaves],
      jax.ShapeDtypeStruct((batch, crop, crop, 3), np.uint8))
  info = {
      'format': FORMAT, 'platforms': list(exported.platforms),
      'outputs': sorted(exported.out_tree.unflatten(range(exported.out_tree.num_leaves))),
      'resize_size': scorer.resize_size, 'crop_size': crop,
      'tag_names': list(scorer.tag_names), 'score_min': scorer.meta.score_min,
      'score_max': scorer.meta.score_max, 'dataset': scorer.meta.name,
      'architecture': scorer.config.model.architecture, 'source': scorer.source,
      'step': scorer.step, 'jax_version': jax.__version__,
  }
  arrays = {f'weight_{i:05d}': np.asarray(x) for i, x in enumerate(leaves)}
  arrays['exported'] = np.frombuffer(exported.serialize(), np.uint8)
  arrays['info'] = np.frombuffer(json.dumps(info).encode(), np.uint8)
  with files.atomic_writer(path, binary=True) as f:
    np.savez(f, **arrays)
  return info


# ---------------------------------------------------------------------------------------------
# Loading (numpy and jax; PIL for load_image).

class ExportedModel:
  """An exported model: call it on uint8 (B, S, S, 3) images, or `score` image files."""

  def __init__(self, path: str):
    with np.load(path, allow_pickle=False) as f:
      self.info = json.loads(f['info'].tobytes())
      if self.info.get('format') != FORMAT:
        raise ValueError(f'{path} is not an aesthetic_jax export ({self.info.get("format")}).')
      self.exported = jax.export.deserialize(bytearray(f['exported'].tobytes()))
      self.weights = [jax.device_put(f[k]) for k in sorted(f.files) if k.startswith('weight_')]

  @property
  def crop_size(self) -> int:
    return int(self.info['crop_size'])

  @property
  def tag_names(self) -> tuple[str, ...]:
    return tuple(self.info['tag_names'])

  def __call__(self, images) -> dict[str, np.ndarray]:
    """images uint8 (B, S, S, 3) -> {'p_high': (B,), 'semantic_probs': (B, M), ...}."""
    outputs = self.exported.call(self.weights, np.asarray(images, np.uint8))
    return {k: np.asarray(v) for k, v in outputs.items()}

  def load_image(self, image) -> np.ndarray:
    """A path or encoded bytes -> uint8 (S, S, 3): the model's evaluation preprocessing."""
    from aesthetic_jax.data import preprocessing  # pylint: disable=g-import-not-at-top  (PIL only)
    if isinstance(image, (str, os.PathLike)):
      with open(image, 'rb') as f:
        image = f.read()
    warped = preprocessing.decode_and_warp(bytes(image), int(self.info['resize_size']))
    return preprocessing.center_crop(warped, self.crop_size)

  def score(self, images: Sequence[Any]) -> dict[str, np.ndarray]:
    """Paths or encoded bytes -> outputs, as __call__."""
    return self(np.stack([self.load_image(image) for image in images]))


def load(path: str) -> ExportedModel:
  return ExportedModel(path)

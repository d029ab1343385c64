"""A trained model's inference as one self-contained file (jax.export), and loading it back.

  python -m aesthetic_jax.export --workdir=DIR --output=model.npz [--platforms=cpu,cuda,tpu]

The file is an ordinary .npz archive:
  exported        uint8: the bytes of jax.export's serialisation of
                  f(weights, images uint8 (B, S, S, 3)) -> {'p_high': (B,), ...} (the outputs
                  of steps.predictions), with a symbolic batch size B, for each platform;
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
graph uses the plain pooling and LRN ops (model.conv_impl='xla'), the same on every platform.
"""

import argparse
import json
import os
import sys
import tempfile
from typing import Any, Sequence

import jax
import numpy as np

FORMAT = 'aesthetic_jax.export/1'
DEFAULT_PLATFORMS = ('cpu', 'cuda', 'tpu')


# ---------------------------------------------------------------------------------------------
# Saving (needs the training code: Flax, the model definitions, a checkpoint).

def export_scorer(scorer, path: str, *, platforms: Sequence[str] = DEFAULT_PLATFORMS,
                  ) -> dict[str, Any]:
  """Writes `scorer`'s model (an aesthetic_jax.Scorer) to `path` (.npz); returns its info."""
  from aesthetic_jax import scorer as scorer_lib  # pylint: disable=g-import-not-at-top
  config = scorer.config.copy_and_resolve_references()
  with config.unlocked():
    config.model.conv_impl = 'xla'  # same weights and values; one graph for every platform
  infer = scorer_lib.inference_function(scorer_lib.build_model(config, scorer.info),
                                        score_min=scorer.info.score_min)
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
      'tag_names': list(scorer.tag_names), 'score_min': scorer.info.score_min,
      'score_max': scorer.info.score_max, 'dataset': scorer.info.dataset,
      'architecture': scorer.config.model.architecture, 'source': scorer.source,
      'step': scorer.step, 'jax_version': jax.__version__,
  }
  arrays = {f'weight_{i:05d}': np.asarray(x) for i, x in enumerate(leaves)}
  arrays['exported'] = np.frombuffer(exported.serialize(), np.uint8)
  arrays['info'] = np.frombuffer(json.dumps(info).encode(), np.uint8)
  folder = os.path.dirname(os.path.abspath(path))
  os.makedirs(folder, exist_ok=True)
  fd, tmp = tempfile.mkstemp(prefix=f'.{os.path.basename(path)}.', suffix='.partial',
                             dir=folder)
  try:
    with os.fdopen(fd, 'wb') as f:
      np.savez(f, **arrays)
    os.replace(tmp, path)
  except BaseException:
    os.unlink(tmp)
    raise
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
    from aesthetic_jax import preprocessing  # pylint: disable=g-import-not-at-top  (PIL only)
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


# ---------------------------------------------------------------------------------------------
# Command line.

def main(argv: Sequence[str] | None = None) -> int:
  parser = argparse.ArgumentParser(prog='python -m aesthetic_jax.export',
                                   description=__doc__.split('\n\n')[0])
  source = parser.add_mutually_exclusive_group(required=True)
  source.add_argument('--workdir', help='a training workdir (its latest checkpoint)')
  source.add_argument('--checkpoint', help='a workdir, its checkpoints/ or checkpoints/<step>')
  parser.add_argument('--step', type=int, default=None)
  parser.add_argument('--output', required=True, help='the .npz file to write')
  parser.add_argument('--platforms', default=','.join(DEFAULT_PLATFORMS),
                      help='comma-separated jax.export platforms (cpu, cuda, rocm, tpu)')
  args = parser.parse_args(sys.argv[1:] if argv is None else argv)
  from absl import logging  # pylint: disable=g-import-not-at-top
  logging.set_verbosity(logging.WARNING)
  from aesthetic_jax.scorer import Scorer  # pylint: disable=g-import-not-at-top
  scorer = Scorer.from_checkpoint(args.workdir or args.checkpoint, step=args.step)
  info = export_scorer(scorer, args.output, platforms=args.platforms.split(','))
  size = os.path.getsize(args.output) / 2**20
  print(f'Wrote {args.output} ({size:.1f} MiB) from {scorer.source}: outputs '
        f'{", ".join(info["outputs"])} for {", ".join(info["platforms"])}.')
  return 0


if __name__ == '__main__':
  sys.exit(main())

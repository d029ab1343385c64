"""The demo (scoring a few test images of the model's dataset) and the scoring benchmark."""

import os
import tempfile
import time
from typing import Any

import numpy as np
from PIL import Image

from aesthetic_jax.infer import batch_scoring



def export_test_images(scorer, count: int, folder: str, data_dir: str = '',
                       ) -> dict[str, dict[str, str]]:
  """Writes `count` test-split images of the model's dataset into `folder` as JPEG files.

  Returns {file path: {'rated mean', 'rated class', 'true tags'}} (the dataset's own labels,
  printed beside the predictions).
  """
  from aesthetic_jax.core import labels  # pylint: disable=g-import-not-at-top
  from aesthetic_jax.data import preprocessing, registry  # pylint: disable=g-import-not-at-top
  config = scorer.config
  sources, meta = registry.open_dataset(config.data.name, data_dir or config.data.data_dir)
  source = sources[config.data.test_split]
  os.makedirs(folder, exist_ok=True)
  truth = {}
  for i in range(min(count, len(source))):
    record = source[i]
    image = preprocessing.stored_image(record)
    if isinstance(image, np.ndarray):  # raw pixels: a lossless PNG decodes to exactly them
      path = os.path.join(folder, f'test_{int(record["image_id"])}.png')
      Image.fromarray(image).save(path)
    else:  # the stored JPEG bytes, exactly what evaluation decodes
      path = os.path.join(folder, f'test_{int(record["image_id"])}.jpg')
      with open(path, 'wb') as f:
        f.write(image)
    label = labels.aesthetic_label(np.float32(record['mean_score']), delta=0.0,
                                   threshold=meta.label_threshold)
    tags = [name for name, on in zip(meta.tag_names, record.get('tags', ())) if on]
    truth[path] = {'rated mean': f'{float(record["mean_score"]):.2f}',
                   'rated class': ('low', 'high')[int(label)],
                   'true tags': ', '.join(tags) or '-'}
  return truth


def write_benchmark_images(folder: str, count: int, size: tuple[int, int], seed: int = 0,
                           ) -> list[str]:
  """`count` JPEGs (quality 90) of smooth random content, `size` (width, height)."""
  rng = np.random.default_rng(seed)
  os.makedirs(folder, exist_ok=True)
  paths = []
  for i in range(count):
    small = rng.integers(0, 256, (size[1] // 16 + 1, size[0] // 16 + 1, 3), np.uint8)
    image = Image.fromarray(small).resize(size, Image.BICUBIC)
    noise = rng.integers(-12, 13, (size[1], size[0], 3))
    image = Image.fromarray(np.clip(np.asarray(image) + noise, 0, 255).astype(np.uint8))
    paths.append(os.path.join(folder, f'bench_{i:05d}.jpg'))
    image.save(paths[-1], quality=90)
  return paths


def benchmark(scorer, *, count: int, size: tuple[int, int], workers: int) -> dict[str, Any]:
  """images/s of folder scoring (decoding included) and of decoding alone, after a warm-up
  pass that compiles the model."""
  import jax  # pylint: disable=g-import-not-at-top
  with tempfile.TemporaryDirectory() as folder:
    write_benchmark_images(folder, count, size)
    score_all = lambda: batch_scoring.score_rows(
        scorer, batch_scoring.rows_for([folder]), workers=workers, top_tags=3, progress=False)
    score_all()  # compiles the model
    start = time.perf_counter()
    rows = score_all()
    scoring = time.perf_counter() - start
    errors = [r.error for r in rows if r.error]
    if errors:
      raise RuntimeError(f'{len(errors)} generated benchmark images were not scored: {errors[:3]}')
    start = time.perf_counter()
    for _ in batch_scoring.load_all(scorer, batch_scoring.rows_for([folder]), workers):
      pass
    decoding = time.perf_counter() - start
  return {'images': count, 'image_size': f'{size[0]}x{size[1]} JPEG',
          'images_per_s': count / scoring, 'decode_only_images_per_s': count / decoding,
          'batch_size': scorer.batch_size, 'workers': workers,
          'devices': f'{len(scorer.devices)} x {jax.devices()[0].device_kind}',
          'architecture': scorer.config.model.architecture, 'body': scorer.config.model.body,
          'crop_size': scorer.crop_size, 'weights': scorer.source}

"""Build and read speed of the AVA builder on synthetic photos (figures, not a test).

  python -m data_builders.ava.bench [--num_images=2000] [--workers=0] [--json]

(from the repository root: the pipeline is configured by configs/default.py).

Writes a synthetic manual dir (AVA.txt with 29 tags, JPEGs of --width x --height, ~120 KB
each at 640x427), builds it as originals and pre-warped to 256x256 (the `paper` and
`paper_256` code paths, with the paper's thresholds shrunk to the sample), and reports:
records built per second (the whole build: metadata, image workers, TFDS writer), and the
training input pipeline's images per second over each build (aesthetic_jax.data.pipeline:
decode, warp to 256, random 227 crop, flip, batch). The CPU milliseconds per record/image
(all processes) do not depend on what else the machine runs; the rates do (hence the load
average in the output).
"""

import contextlib
import io
import json
import os
import resource
import sys
import tempfile
import time

import numpy as np
from PIL import Image

NUM_TAGS = 29
from absl import app, flags

from aesthetic_jax.cli import flags as cli_flags

FLAGS = flags.FLAGS
cli_flags.workers('Image worker processes for the build (0: one per core).')
cli_flags.json_output()
cli_flags.batch_size('Images per batch of the input pipeline (default 64).')
flags.DEFINE_integer('num_images', 2000, 'Generated JPEGs.')
flags.DEFINE_integer('width', 640, 'Their width.')
flags.DEFINE_integer('height', 427, 'Their height.')
flags.DEFINE_integer('batches', 15, 'Timed batches of the input pipeline.')
flags.DEFINE_integer('threads', 2, 'grain reader threads.')
flags.DEFINE_string('work_dir', None, 'Folder for the images and builds (default: temporary).')


def synthetic_jpeg(seed: int, width: int, height: int) -> bytes:
  """Smooth colour blobs plus grain: compresses (and decodes) like a photo of that size."""
  rng = np.random.default_rng(seed)
  blobs = Image.fromarray(rng.integers(0, 256, (height // 8, width // 8, 3), dtype=np.uint8))
  pixels = np.asarray(blobs.resize((width, height), Image.BICUBIC)).astype(np.int16)
  pixels = np.clip(pixels + rng.integers(-12, 13, pixels.shape), 0, 255).astype(np.uint8)
  buffer = io.BytesIO()
  Image.fromarray(pixels).save(buffer, 'JPEG', quality=90)
  return buffer.getvalue()


def _write_image(args) -> int:
  path, seed, width, height = args
  data = synthetic_jpeg(seed, width, height)
  with open(path, 'wb') as f:
    f.write(data)
  return len(data)


def make_manual_dir(root: str, num_images: int, width: int, height: int, pool) -> float:
  """Writes the synthetic manual dir; returns the mean image size in bytes."""
  rng = np.random.default_rng(0)
  os.makedirs(os.path.join(root, 'images'), exist_ok=True)
  with open(os.path.join(root, 'tags.txt'), 'w') as f:
    f.writelines(f'{t} tag{t}\n' for t in range(1, NUM_TAGS + 1))
  with open(os.path.join(root, 'AVA.txt'), 'w') as f:
    for i in range(1, num_images + 1):
      votes = rng.multinomial(200, rng.dirichlet(np.ones(10)))
      tags = [(i - 1) % NUM_TAGS + 1, 0]
      f.write(' '.join(map(str, [i, i, *votes, *tags, 1])) + '\n')
  tasks = [(os.path.join(root, 'images', f'{i}.jpg'), i, width, height)
           for i in range(1, num_images + 1)]
  sizes = list(pool.imap(_write_image, tasks, chunksize=16) if pool else map(_write_image, tasks))
  return float(np.mean(sizes))


def cpu_seconds() -> float:
  """User + system CPU time of this process and its finished (pool) children."""
  usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
  return sum(u.ru_utime + u.ru_stime for u in usage)


def build(manual: str, data_dir: str, image_size: int, num_images: int, workers: int):
  """Builds one config; returns (builder, wall seconds, CPU seconds)."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  from data_builders.ava import ava  # pylint: disable=g-import-not-at-top
  config = ava.AvaConfig(name=f'bench_{image_size}', image_size=image_size, min_tag_images=0,
                         num_test=num_images // 10, num_tags=NUM_TAGS)
  tfds.disable_progress_bar()
  builder = ava.Ava(config=config, data_dir=data_dir, num_workers=workers)
  start, start_cpu = time.perf_counter(), cpu_seconds()
  builder.download_and_prepare(
      download_config=tfds.download.DownloadConfig(manual_dir=manual),
      file_format='array_record')
  return builder, time.perf_counter() - start, cpu_seconds() - start_cpu


def pipeline_img_per_s(builder, *, batch_size: int, batches: int, threads: int) -> float:
  """(images/s, CPU ms per image) of input_pipeline.train_dataset over the built train split,
  after warm-up."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  from aesthetic_jax.data import pipeline as input_pipeline, registry as datasets  # pylint: disable=g-import-not-at-top
  from configs import default  # pylint: disable=g-import-not-at-top  (run from the repo root)
  config = default.get_config()  # the training defaults: warp 256, crop 227, flip
  config.batch_size = batch_size
  config.input.num_threads = threads
  config.input.worker_count = 0
  source = builder.as_data_source(decoders={'image': tfds.decode.SkipDecoding()})['train']
  meta = datasets.dataset_meta(builder, builder.name)
  iterator = iter(input_pipeline.train_dataset(config, source, np.arange(len(source)), meta))
  for _ in range(2):
    next(iterator)
  start, start_cpu = time.perf_counter(), cpu_seconds()
  for _ in range(batches):
    next(iterator)
  num = batches * batch_size
  return num / (time.perf_counter() - start), (cpu_seconds() - start_cpu) / num * 1e3


def main(argv) -> int:
  from data_builders.common import images  # pylint: disable=g-import-not-at-top
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  args = FLAGS
  workers = args.workers or images.default_num_workers()
  with contextlib.ExitStack() as stack:
    work = args.work_dir or stack.enter_context(tempfile.TemporaryDirectory())
    manual = os.path.join(work, 'manual')
    with images.worker_pool(workers) as pool:
      mean_bytes = make_manual_dir(manual, args.num_images, args.width, args.height, pool)
    results = {'num_images': args.num_images, 'image': f'{args.width}x{args.height}',
               'mean_image_kb': round(mean_bytes / 1e3, 1), 'workers': workers,
               'cpu_count': os.cpu_count()}
    for image_size, label in ((0, 'original'), (256, 'prewarped_256')):
      builder, seconds, cpu = build(manual, os.path.join(work, 'data'), image_size,
                                    args.num_images, workers)
      results[f'build_records_per_s_{label}'] = round(args.num_images / seconds, 1)
      results[f'build_cpu_ms_per_record_{label}'] = round(cpu / args.num_images * 1e3, 2)
      speed, cpu_ms = pipeline_img_per_s(builder, batch_size=args.batch_size or 64,
                                         batches=args.batches, threads=args.threads)
      results[f'pipeline_img_per_s_{label}'] = round(speed, 1)
      results[f'pipeline_cpu_ms_per_img_{label}'] = round(cpu_ms, 2)
    results['load_average_1min'] = round(os.getloadavg()[0], 2)
  for key, value in results.items():
    print(f'{key:>40}: {value}', file=sys.stderr if args.json else sys.stdout)
  if args.json:
    print(json.dumps(results))
  return 0


if __name__ == '__main__':
  app.run(main)

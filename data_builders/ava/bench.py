"""Build and read speed of the AVA builder per record format, on synthetic photos (figures,
not a test), and the CPU cores per accelerator each format needs.

  python -m data_builders.ava.bench [--num_images=1000] [--workers=0] [--json]
  python -m data_builders.ava.bench --threads=1,2,4 --grain_workers=0,1,2     # the sweep

(from the repository root: the pipeline is configured by configs/default.py).

Writes a synthetic manual dir (AVA.txt with 29 tags, JPEGs of --width x --height, ~120 KB
each at 640x427: synthetic, not AVA's size distribution), builds it in each --formats
(`original`: the `paper` code path, the files stored as they are; `prewarped_256`:
`paper_256`, warped to 256x256 and re-encoded as JPEG q95; `raw_256`: `paper_raw256`,
warped to 256x256 and stored as raw uint8 pixels), with the paper's thresholds shrunk to the
sample, and reports per format:
  * the build: records per second (the whole build: metadata, image workers, TFDS writer),
    CPU ms per record (all processes) and bytes per record on disk (array_record, zstd:3);
  * the training input pipeline (aesthetic_jax.data.pipeline.train_dataset: decode or not,
    warp to 256 or not, random 227 crop, flip, batch) for every --threads x --grain_workers
    (config.input.num_threads x config.input.worker_count): images/s (wall) and CPU ms per
    image (this process, its live worker processes, and its finished children);
  * the cores per accelerator each format needs for each network to stay compute-bound
    (aesthetic_jax.bench.input_budget), from the format's median CPU ms per image over the
    settings.
The CPU milliseconds per record/image barely depend on what else the machine runs; the rates
do (hence the load average in the output).
"""

import contextlib
import glob
import io
import json
import os
import resource
import sys
import tempfile
import time

import numpy as np
from absl import app, flags
from PIL import Image

from aesthetic_jax.bench import input_budget
from aesthetic_jax.cli import flags as cli_flags

NUM_TAGS = 29

# Record formats: the AvaConfig fields of each (the named config's code path).
FORMATS = {
    'original': dict(image_size=0),  # paper
    'prewarped_256': dict(image_size=256),  # paper_256
    'raw_256': dict(image_size=256, raw=True),  # paper_raw256
}
# GFLOPs per trained image: flops_per_step / batch size (train step: forward, backward and
# update of one 227 x 227 crop; XLA's cost analysis, 1 device, batch 8) printed by
#   python -m aesthetic_jax.bench --config=configs/mtcnn.py --config.batch_size=8 \
#       --config.eval_batch_size=8 --with_data=false --steps=1 --repeats=1
#   python -m aesthetic_jax.bench --config=configs/resnet_ft.py --config.model.init_from= \
#       --config.batch_size=8 --config.eval_batch_size=8 --with_data=false --steps=1 --repeats=1
# (28,355,571,712 and 216,384,880,640 FLOPs per step). --gflops_per_image overrides them.
NETWORK_GFLOPS_PER_IMAGE = {
    'MTCNN #1': 28_355_571_712 / 8 / 1e9,  # 3.54
    'ResNet-50 FT': 216_384_880_640 / 8 / 1e9,  # 27.05
}

FLAGS = flags.FLAGS
cli_flags.workers('Image worker processes for the build (0: one per core).')
cli_flags.json_output()
cli_flags.batch_size('Images per batch of the input pipeline (default 64).')
flags.DEFINE_integer('num_images', 1000, 'Generated JPEGs.')
flags.DEFINE_integer('width', 640, 'Their width.')
flags.DEFINE_integer('height', 427, 'Their height.')
flags.DEFINE_integer('batches', 15, 'Timed batches of the input pipeline per setting.')
flags.DEFINE_integer('warmup_batches', 3, 'Batches read before timing (plus, with grain '
                     'workers, prefetch_batches + 1 per worker).')
flags.DEFINE_list('formats', list(FORMATS), f'Record formats, of {list(FORMATS)}.')
flags.DEFINE_list('threads', ['2'], 'grain reader threads (config.input.num_threads); a '
                  'list sweeps, e.g. 1,2,4.')
flags.DEFINE_list('grain_workers', ['0'], 'grain worker processes (config.input.worker_count)'
                  '; a list sweeps, e.g. 0,1,2.')
flags.DEFINE_float('mfu', input_budget.DEFAULT_MFU, 'Model FLOP utilisation assumed for the '
                   'cores-per-accelerator table.')
flags.DEFINE_list('gflops_per_image', [],
                  'NETWORK=GFLOPS pairs replacing the FLOPs per trained image of the '
                  'cores table, e.g. "MTCNN #1=3.54,ResNet-50 FT=27.05".')
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


_TICK = os.sysconf('SC_CLK_TCK') if hasattr(os, 'sysconf') else 100


def _live_descendants_cpu(root_pid: int) -> float:
  """User + system CPU seconds of the live descendants of root_pid (Linux /proc; 0 where
  there is none), including their own waited-for children."""
  parent, cpu = {}, {}
  for stat in glob.glob('/proc/[0-9]*/stat'):
    try:
      with open(stat) as f:
        text = f.read()
    except OSError:  # exited meanwhile
      continue
    pid = int(stat.split('/')[2])
    fields = text[text.rindex(')') + 2:].split()  # after "pid (comm) ": state, ppid, ...
    parent[pid] = int(fields[1])
    cpu[pid] = sum(int(v) for v in fields[11:15]) / _TICK  # utime stime cutime cstime
  total, frontier = 0.0, {root_pid}
  while frontier:
    children = {pid for pid, ppid in parent.items() if ppid in frontier}
    total += sum(cpu[pid] for pid in children)
    frontier = children
  return total


def cpu_seconds() -> float:
  """User + system CPU time of this process, its finished (waited-for) children
  (resource.getrusage RUSAGE_SELF + RUSAGE_CHILDREN), and its live descendants (grain's
  worker processes, which RUSAGE_CHILDREN counts only once they have exited).

  A difference of two calls is the CPU the whole process tree spent in between: a child
  that exits in between moves from the live sum to RUSAGE_CHILDREN with all of its time.
  """
  usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
  return sum(u.ru_utime + u.ru_stime for u in usage) + _live_descendants_cpu(os.getpid())


def _disk_bytes(data_dir: str) -> int:
  return sum(os.path.getsize(p) for p in glob.glob(os.path.join(data_dir, '*.array_record*')))


def build(manual: str, data_dir: str, fmt: str, num_images: int, workers: int):
  """Builds one format; returns (builder, wall seconds, CPU seconds, bytes per record)."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  from data_builders.ava import ava  # pylint: disable=g-import-not-at-top
  config = ava.AvaConfig(name=f'bench_{fmt}', min_tag_images=0, num_test=num_images // 10,
                         num_tags=NUM_TAGS, **FORMATS[fmt])
  tfds.disable_progress_bar()
  builder = ava.Ava(config=config, data_dir=data_dir, num_workers=workers)
  start, start_cpu = time.perf_counter(), cpu_seconds()
  builder.download_and_prepare(
      download_config=tfds.download.DownloadConfig(manual_dir=manual),
      file_format='array_record')
  seconds, cpu = time.perf_counter() - start, cpu_seconds() - start_cpu
  num_records = sum(s.num_examples for s in builder.info.splits.values())
  return builder, seconds, cpu, _disk_bytes(builder.data_dir) / num_records


def pipeline_rate(builder, *, batch_size: int, warmup: int, batches: int, threads: int,
                  grain_workers: int) -> tuple[float, float]:
  """(images/s, CPU ms per image) of pipeline.train_dataset over the built train split,
  after `warmup` batches (plus each worker's buffers), read as training reads it (registry:
  image decoding skipped)."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  from aesthetic_jax.data import pipeline as input_pipeline, registry as datasets  # pylint: disable=g-import-not-at-top
  from configs import default  # pylint: disable=g-import-not-at-top  (run from the repo root)
  config = default.get_config()  # the training defaults: warp 256, crop 227, flip
  config.batch_size = batch_size
  config.input.num_threads = threads
  config.input.worker_count = grain_workers
  source = builder.as_data_source(decoders={'image': tfds.decode.SkipDecoding()})['train']
  meta = datasets.dataset_meta(builder, builder.name)
  iterator = iter(input_pipeline.train_dataset(config, source, np.arange(len(source)), meta))
  # Worker processes fill their buffers while the first batches are awaited: drain them too,
  # so that the timed batches are produced (and their CPU spent) inside the timed window.
  warmup += grain_workers * (config.input.prefetch_batches + 1)
  try:
    for _ in range(warmup):
      next(iterator)
    start, start_cpu = time.perf_counter(), cpu_seconds()
    for _ in range(batches):
      next(iterator)
    seconds, cpu = time.perf_counter() - start, cpu_seconds() - start_cpu
  finally:
    close = getattr(iterator, 'close', None)
    if close:
      close()
  num = batches * batch_size
  return num / seconds, cpu / num * 1e3


def pipeline_table(rows: list[dict]) -> str:
  header = f'{"format":<14} {"threads":>7} {"workers":>7} {"img/s (wall)":>12} {"CPU ms/img":>10}'
  lines = [header, '-' * len(header)]
  for r in rows:
    lines.append(f'{r["format"]:<14} {r["threads"]:>7} {r["grain_workers"]:>7} '
                 f'{r["img_per_s"]:>12.1f} {r["cpu_ms_per_img"]:>10.2f}')
  return '\n'.join(lines)


def build_table(builds: dict, mean_jpeg_bytes: float) -> str:
  header = (f'{"format":<14} {"records/s":>9} {"CPU ms/rec":>10} {"KB/rec disk":>11} '
            f'{"AVA 255k, GB":>12}')
  lines = [header, '-' * len(header),
           f'{"(source JPEGs)":<14} {"":>9} {"":>10} {mean_jpeg_bytes / 1e3:>11.1f} '
           f'{mean_jpeg_bytes * AVA_IMAGES / 1e9:>12.1f}']
  for fmt, b in builds.items():
    lines.append(f'{fmt:<14} {b["records_per_s"]:>9.1f} {b["cpu_ms_per_record"]:>10.2f} '
                 f'{b["bytes_per_record"] / 1e3:>11.1f} '
                 f'{b["bytes_per_record"] * AVA_IMAGES / 1e9:>12.1f}')
  return '\n'.join(lines)


AVA_IMAGES = 255_000


def budget_rows(rows: list[dict], gflops_per_image: dict, *, mfu: float) -> list[dict]:
  """input_budget.cores_table with each format's median CPU ms per image over the measured
  settings (threads x workers: the workers' hand-over cost included, no single lucky run)."""
  formats = dict.fromkeys(r['format'] for r in rows)
  cpu_ms = {fmt: float(np.median([r['cpu_ms_per_img'] for r in rows if r['format'] == fmt]))
            for fmt in formats}
  networks = {k: v * 1e9 for k, v in gflops_per_image.items() if v}
  table = input_budget.cores_table(networks, cpu_ms, mfu=mfu) if networks else []
  return [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()}
          for r in table]


def main(argv) -> int:
  from data_builders.common import images  # pylint: disable=g-import-not-at-top
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  args = FLAGS
  unknown = sorted(set(args.formats) - set(FORMATS))
  if unknown:
    raise app.UsageError(f'Unknown --formats {unknown}; known: {list(FORMATS)}')
  threads = [int(t) for t in args.threads]
  grain_workers = [int(w) for w in args.grain_workers]
  batch_size = args.batch_size or 64
  out = sys.stderr if args.json else sys.stdout
  workers = args.workers or images.default_num_workers()
  results = {'num_images': args.num_images, 'image': f'{args.width}x{args.height}',
             'workers': workers, 'cpu_count': os.cpu_count(), 'batch_size': batch_size,
             'timed_images_per_setting': batch_size * args.batches,
             'load_average_at_start': list(os.getloadavg())}
  with contextlib.ExitStack() as stack:
    work = args.work_dir or stack.enter_context(tempfile.TemporaryDirectory())
    manual = os.path.join(work, 'manual')
    with images.worker_pool(workers) as pool:
      mean_bytes = make_manual_dir(manual, args.num_images, args.width, args.height, pool)
    results['mean_image_kb'] = round(mean_bytes / 1e3, 1)
    builds, rows = {}, []
    for fmt in args.formats:
      builder, seconds, cpu, disk = build(manual, os.path.join(work, 'data'), fmt,
                                          args.num_images, workers)
      builds[fmt] = {'records_per_s': round(args.num_images / seconds, 1),
                     'cpu_ms_per_record': round(cpu / args.num_images * 1e3, 2),
                     'bytes_per_record': round(disk)}
      for num_threads in threads:
        for num_workers in grain_workers:
          speed, cpu_ms = pipeline_rate(builder, batch_size=batch_size,
                                        warmup=args.warmup_batches, batches=args.batches,
                                        threads=num_threads, grain_workers=num_workers)
          rows.append({'format': fmt, 'threads': num_threads, 'grain_workers': num_workers,
                       'img_per_s': round(speed, 1), 'cpu_ms_per_img': round(cpu_ms, 2)})
          print(pipeline_table(rows[-1:]).splitlines()[-1], file=sys.stderr, flush=True)
  results.update(build=builds, pipeline=rows,
                 load_average_at_end=list(os.getloadavg()))
  gflops = dict(NETWORK_GFLOPS_PER_IMAGE)
  if args.gflops_per_image:
    gflops = {k.strip(): float(v) for k, _, v in (p.rpartition('=') for p in
                                                   args.gflops_per_image)}
  budget = budget_rows(rows, gflops, mfu=args.mfu)
  results['cores_per_accelerator'] = budget
  print(f'{args.num_images} synthetic {args.width}x{args.height} JPEGs '
        f'(mean {results["mean_image_kb"]} KB), build workers {workers}, '
        f'{os.cpu_count()} CPUs, load average at start '
        f'{", ".join(f"{v:.2f}" for v in results["load_average_at_start"])}, at end '
        f'{", ".join(f"{v:.2f}" for v in results["load_average_at_end"])}\n', file=out)
  print('Build (KB/rec: array_record files over records; AVA: x 255,000 images)', file=out)
  print(build_table(builds, mean_bytes) + '\n', file=out)
  print(f'Training input pipeline (batch {batch_size}, {batch_size * args.batches} timed '
        'images per setting; CPU: all processes)', file=out)
  print(pipeline_table(rows) + '\n', file=out)
  if budget:
    print(f'CPU cores per accelerator to stay compute-bound (MFU {args.mfu:.0%}; bf16 dense '
          'peaks; each format at its median CPU ms/img above)', file=out)
    print(input_budget.format_table(budget), file=out)
  if args.json:
    print(json.dumps(results))
  return 0


if __name__ == '__main__':
  app.run(main)

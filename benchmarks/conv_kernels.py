"""Times MTCNN #1's convolutions (forward, input gradient, kernel gradient) on this backend.

  python benchmarks/conv_kernels.py                 # XLA's Eigen convolutions (our default)
  XLA_FLAGS=--xla_cpu_experimental_ynn_fusion_type=+individual_convolution \
      python benchmarks/conv_kernels.py             # YNNPACK's (jaxlib 0.10.2's default)

Prints the best of --repeats timings per piece, in ms and GFLOP/s, for batch --batch_size.
Shapes are those of configs/default.py at 227x227 crops (method.md section 4).
"""

import time

from aesthetic_jax import xla_cpu

SETTING = xla_cpu.configure()  # before JAX starts; unless XLA_FLAGS already chose

# pylint: disable=g-import-not-at-top,wrong-import-position
import jax
from absl import app, flags
from jax import lax

flags.DEFINE_integer('batch_size', 32, 'Images per convolution.')
flags.DEFINE_integer('repeats', 5, 'Timings per piece (the best is printed).')
FLAGS = flags.FLAGS

# name, input (H, W, C), kernel size, output channels, stride, padding
CONVS = (('conv1', (227, 227, 3), 11, 64, 2, 'VALID'),
         ('conv2', (54, 54, 64), 5, 64, 1, 'SAME'),
         ('conv3', (26, 26, 64), 3, 64, 1, 'SAME'))


def _best_seconds(fn, args, repeats):
  jax.block_until_ready(fn(*args))
  best = float('inf')
  for _ in range(repeats):
    start = time.perf_counter()
    jax.block_until_ready(fn(*args))
    best = min(best, time.perf_counter() - start)
  return best


def main(argv):
  del argv
  args = FLAGS
  print(f'XLA_FLAGS convolution setting: {SETTING}; '
        f'backend {jax.default_backend()}')
  key = jax.random.PRNGKey(0)
  for name, (h, w, c), k, o, stride, padding in CONVS:
    x = jax.random.normal(key, (args.batch_size, h, w, c))
    kernel = jax.random.normal(key, (k, k, c, o)) * 0.01

    def conv(x, kernel, stride=stride, padding=padding):
      return lax.conv_general_dilated(x, kernel, (stride, stride), padding,
                                      dimension_numbers=('NHWC', 'HWIO', 'NHWC'))

    y = conv(x, kernel)
    flops = 2 * y.size * k * k * c
    pieces = {
        'forward': (jax.jit(conv), (x, kernel)),
        'input gradient': (jax.jit(lambda kernel, dy: jax.vjp(lambda x_: conv(x_, kernel), x)[1](
            dy)[0]), (kernel, y)),
        'kernel gradient': (jax.jit(lambda x, dy: jax.vjp(lambda k_: conv(x, k_), kernel)[1](
            dy)[0]), (x, y)),
    }
    for piece, (fn, fn_args) in pieces.items():
      seconds = _best_seconds(fn, fn_args, args.repeats)
      print(f'{name} {piece:16s} {seconds * 1e3:8.1f} ms  {flops / seconds / 1e9:6.1f} GFLOP/s',
            flush=True)


if __name__ == '__main__':
  app.run(main)

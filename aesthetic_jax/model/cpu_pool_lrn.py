"""Max-pooling and LRN written for XLA:CPU: the conv layers' `model.pool_lrn_impl='cpu'`.

XLA:CPU runs the plain path's pooling and LRN gradients (variadic reduce-window argmax,
select-and-scatter, reduce-window over channels) as slow loops: MTCNN #1 trains at 25.5
img/s with them and at 33 with this module's (benchmarks/README.md). This module computes
the same functions another way, each with its own backward pass:

- Max-pooling is a maximum of strided slices; its backward sends each window's gradient to
  its first maximum, phase by phase, with no argmax reduce-window and no scatter.
- LRN's window sums are a product with a banded 0/1 matrix, so its gradient is one too.

The convolutions themselves stay `lax.conv_general_dilated` on every path; on CPU they run
XLA's Eigen kernels when an entry point has called aesthetic_jax.xla_cpu.configure().

Both functions agree with the plain path (flax max_pool, reduce_window LRN) in values and
gradients up to float32 rounding (tests/test_cpu_pool_lrn.py). The plain path is what 'auto'
(the default) picks on GPU/TPU (`resolve_impl`).
"""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

IMPLS = ('xla', 'cpu', 'auto')


def resolve_impl(impl: str) -> str:
  """'xla' or 'cpu'; 'auto' is 'cpu' only when JAX's default backend is the CPU."""
  if impl not in IMPLS:
    raise ValueError(f'model.pool_lrn_impl={impl!r}; choose one of {IMPLS}.')
  if impl == 'auto':
    return 'cpu' if jax.default_backend() == 'cpu' else 'xla'
  return impl


def _out_hw(padded_hw, kernel_hw, strides):
  return tuple((p - k) // s + 1 for p, k, s in zip(padded_hw, kernel_hw, strides))


def _window_slices(x, window, strides, out_hw):
  """The window offsets' strided views of x (B, H, W, C), each (B, Ho, Wo, C), row-major."""
  b, _, _, c = x.shape
  (wh, ww), (sh, sw), (ho, wo) = window, strides, out_hw
  return [lax.slice(x, (0, i, j, 0), (b, i + sh * (ho - 1) + 1, j + sw * (wo - 1) + 1, c),
                    (1, sh, sw, 1))
          for i in range(wh) for j in range(ww)]


@functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2))
def max_pool(x, window: tuple[int, int], strides: tuple[int, int]):
  """VALID max-pooling of x (B, H, W, C) -> (B, Ho, Wo, C), as `flax.linen.max_pool`."""
  out_hw = _out_hw(x.shape[1:3], window, strides)
  return functools.reduce(jnp.maximum, _window_slices(x, window, strides, out_hw))


def _max_pool_fwd(x, window, strides):
  y = max_pool(x, window, strides)
  return y, (x, y)


def _materialize(x):
  """x, computed once into memory: x (..., C) @ identity (C, C), exact.

  XLA:CPU fuses element-wise producers into each consumer and re-evaluates them for every
  element it reads; in the pooling backward that recomputed the window maxima and the LRN
  gradient up to nine times per value. A matrix product is a fusion boundary it keeps, and
  a product with the identity costs little next to the convolutions.
  """
  eye = jnp.eye(x.shape[-1], dtype=x.dtype)
  return lax.dot_general(x, eye, (((x.ndim - 1,), (0,)), ((), ())),
                         precision=lax.Precision.HIGHEST, preferred_element_type=x.dtype)


def _max_pool_bwd(window, strides, residuals, dy):
  """Each window's gradient goes to its first maximum in row-major order, as XLA's
  select-and-scatter with a >= comparison does for the plain path.

  Written per stride phase: input rows h = s*a + r receive only from window offsets
  i = r (mod s), from window a - i // s, so each phase is a sum of a few shifted, masked
  copies of dy, and the phases interleave into dx with one transpose. (The plain path's
  variadic reduce-window argmax and scatter run as slow loops on XLA:CPU.)
  """
  x, y = residuals
  (wh, ww), (sh, sw) = window, strides
  b, h, w, c = x.shape
  views = _window_slices(x, window, strides, y.shape[1:3])
  first = jnp.full(y.shape, len(views) - 1, jnp.int32)
  for k in reversed(range(len(views) - 1)):
    first = jnp.where(views[k] == y, k, first)
  # Offsets as floats are exact (< 2^8); both operands of the loop below, once in memory.
  first, dy = _materialize(first.astype(dy.dtype)), _materialize(dy)
  ah, aw = -(-h // sh), -(-w // sw)
  zero = jnp.zeros((), dy.dtype)
  phases = []
  for rh in range(sh):
    row = []
    for rw in range(sw):
      block = jnp.zeros((b, ah, aw, c), dy.dtype)
      for i in range(rh, wh, sh):
        for j in range(rw, ww, sw):
          g = jnp.where(first == i * ww + j, dy, zero)
          di, dj = i // sh, j // sw
          block = block + lax.pad(g, zero, ((0, 0, 0), (di, ah - di - g.shape[1], 0),
                                            (dj, aw - dj - g.shape[2], 0), (0, 0, 0)))
      row.append(block)
    phases.append(jnp.stack(row, axis=3))  # (B, ah, aw, sw, C)
  dx = jnp.stack(phases, axis=2)  # (B, ah, sh, aw, sw, C)
  return (dx.reshape(b, ah * sh, aw * sw, c)[:, :h, :w].astype(x.dtype),)


max_pool.defvjp(_max_pool_fwd, _max_pool_bwd)


def pool(x, window: tuple[int, int], strides: tuple[int, int], *, impl: str,
         padding: tuple[tuple[int, int], tuple[int, int]] = ((0, 0), (0, 0))):
  """Max-pooling of x (B, H, W, C) -> (B, Ho, Wo, C) as `flax.linen.max_pool` with explicit
  (-inf) padding: this module's `max_pool` when `impl` resolves to 'cpu', else flax's."""
  if resolve_impl(impl) != 'cpu':
    return nn.max_pool(x, window, strides=strides, padding=padding)
  if any(p for pair in padding for p in pair):
    x = jnp.pad(x, ((0, 0), *padding, (0, 0)), constant_values=-jnp.inf)
  return max_pool(x, tuple(window), tuple(strides))


def local_response_norm(x, *, size: int, alpha: float, beta: float, k: float):
  """Cross-channel LRN of x (B, H, W, C), the formula of layers.LocalResponseNorm.

  The window sums are one product of the squares with a banded 0/1 (C, C) matrix, so the
  backward pass is one product too (XLA:CPU runs the plain path's reduce-window gradient,
  and a sum of shifted slices, as slow loops).
  """
  half = size // 2
  channels = jnp.arange(x.shape[-1])
  # band[i, o] = 1 when input channel i is in the window of output channel o.
  offset = channels[:, None] - channels[None, :]
  band = ((offset >= -half) & (offset <= size - 1 - half)).astype(x.dtype)
  window_sum = lax.dot_general(jnp.square(x), band, (((x.ndim - 1,), (0,)), ((), ())),
                               precision=lax.Precision.HIGHEST,
                               preferred_element_type=jnp.float32)
  denom = k + (alpha / size) * window_sum
  if beta == 0.75:  # d^-0.75 = d^-0.5 * d^-0.25: two rsqrt-class ops instead of exp(log())
    r = lax.rsqrt(denom)
    scale = r * jnp.sqrt(r)
  else:
    scale = jnp.power(denom, -beta)
  return (x * scale).astype(x.dtype)

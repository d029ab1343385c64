"""Convolution, max-pooling and LRN written for XLA:CPU (`model.conv_impl='cpu'`).

Where XLA:CPU's own kernels are slow for MTCNN #1 (measured, see benchmarks/README.md),
this module computes the same functions another way, each with its own backward pass:

- The kernel gradient of a convolution with few input channels (conv1: 11x11/2, 3 -> 64)
  is one matrix product over im2col patches P (B*Ho*Wo, kh*kw*C): dW = P^T dY. XLA:CPU's
  own kernel gradient is several times slower there. Forward passes, input gradients and
  the kernel gradients of wide convolutions (conv2-conv4) stay XLA's convolutions, which
  it runs well.
- Max-pooling is a maximum of strided slices; its backward sends each window's gradient to
  its first maximum, phase by phase, instead of the variadic reduce-window argmax and the
  scatter that XLA:CPU runs as slow loops.
- LRN's window sums are a product with a banded 0/1 matrix, so its gradient is one too.

Every function here agrees with the plain path (lax.conv_general_dilated, reduce_window) in
values and gradients up to float32 rounding (tests/test_cpu_conv.py). The plain path stays
the default and is what 'auto' picks on GPU/TPU (`resolve_impl`).
"""

import functools

import jax
import jax.numpy as jnp
from jax import lax

IMPLS = ('xla', 'cpu', 'auto')

# lax dimension numbers of NHWC inputs/outputs and HWIO kernels (what flax's nn.Conv uses).
_NHWC_HWIO = lax.ConvDimensionNumbers((0, 3, 1, 2), (3, 2, 0, 1), (0, 3, 1, 2))

# Convolutions with fewer input channels than this get their kernel gradient as an im2col
# matrix product.
MATMUL_MAX_IN_CHANNELS = 16


def resolve_impl(impl: str) -> str:
  """'xla' or 'cpu'; 'auto' is 'cpu' only when JAX's default backend is the CPU."""
  if impl not in IMPLS:
    raise ValueError(f'model.conv_impl={impl!r}; choose one of {IMPLS}.')
  if impl == 'auto':
    return 'cpu' if jax.default_backend() == 'cpu' else 'xla'
  return impl


def _out_hw(padded_hw, kernel_hw, strides):
  return tuple((p - k) // s + 1 for p, k, s in zip(padded_hw, kernel_hw, strides))


def _pad_spatial(x, padding):
  return jnp.pad(x, ((0, 0), tuple(padding[0]), tuple(padding[1]), (0, 0)))


def _patches(x, kernel_hw, strides, out_hw):
  """Padded x (B, Hp, Wp, C) -> patches (B*Ho*Wo, kh*kw*C), ordered (i, j, c) like HWIO.

  One gather on the (B, Hp, Wp*C) view: each patch row is kh runs of kw*C contiguous
  values, which XLA:CPU copies several times faster than C-sized pieces.
  """
  (kh, kw), (sh, sw), (ho, wo) = kernel_hw, strides, out_hw
  b, hp, wp, c = x.shape
  rows = (jnp.arange(ho) * sh)[:, None] + jnp.arange(kh)[None, :]  # (Ho, kh)
  cols = (jnp.arange(wo) * sw * c)[:, None] + jnp.arange(kw * c)[None, :]  # (Wo, kw*C)
  p = x.reshape(b, hp, wp * c)[:, rows[:, None, :, None], cols[None, :, None, :]]
  return p.reshape(-1, kh * kw * c)  # from (B, Ho, Wo, kh, kw*C)


def _lax_conv(x, kernel, strides, padding):
  return lax.conv_general_dilated(x, kernel, strides, padding, dimension_numbers=_NHWC_HWIO)


def _use_matmul(kernel) -> bool:
  return kernel.shape[2] < MATMUL_MAX_IN_CHANNELS


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def conv2d(x, kernel, strides: tuple[int, int], padding: tuple[tuple[int, int], ...]):
  """x (B, H, W, C), kernel (kh, kw, C, O) -> (B, Ho, Wo, O); padding ((lo, hi), (lo, hi)).

  The forward pass is XLA's convolution, which runs the forward well (conv1's too); the
  backward pass is `_conv2d_bwd`.
  """
  return _lax_conv(x, kernel, strides, padding)


def _conv2d_fwd(x, kernel, strides, padding):
  return _lax_conv(x, kernel, strides, padding), (x, kernel)


def _kernel_grad_matmul(x, dy, kernel_shape, strides, padding):
  """dW (kh, kw, C, O) = P(x)^T dY over every output pixel of the batch, as (dY^T P)^T: of
  the operand orders, the one XLA:CPU's dot runs fastest here."""
  kh, kw, c, o = kernel_shape
  patches = _patches(_pad_spatial(x, padding), (kh, kw), strides, dy.shape[1:3])
  dw = lax.dot_general(dy.reshape(-1, o), patches, (((0,), (0,)), ((), ())),
                       preferred_element_type=jnp.float32)
  return dw.T.reshape(kernel_shape)


def _conv2d_bwd(strides, padding, residuals, dy):
  x, kernel = residuals
  # The input gradient is itself a convolution, which XLA:CPU runs well; XLA drops it when
  # nothing uses it (conv1's input is the image).
  _, input_vjp = jax.vjp(lambda x_: _lax_conv(x_, kernel, strides, padding), x)
  (dx,) = input_vjp(dy)
  if _use_matmul(kernel):
    dw = _kernel_grad_matmul(x, dy, kernel.shape, strides, padding)
  else:
    _, kernel_vjp = jax.vjp(lambda k_: _lax_conv(x, k_, strides, padding), kernel)
    (dw,) = kernel_vjp(dy)
  return dx, dw.astype(kernel.dtype)


conv2d.defvjp(_conv2d_fwd, _conv2d_bwd)


def _explicit_padding(padding, in_hw, kernel_hw, strides):
  if isinstance(padding, str):
    return tuple(lax.padtype_to_pads(in_hw, kernel_hw, strides, padding))
  return tuple(tuple(p) for p in padding)


def conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation=None,
                         rhs_dilation=None, dimension_numbers=None, feature_group_count=1,
                         precision=None, preferred_element_type=None):
  """Drop-in for `lax.conv_general_dilated` (flax `nn.Conv(conv_general_dilated=...)`).

  2-D NHWC/HWIO convolutions without dilation or groups go through `conv2d`; anything else
  falls back to the lax op unchanged.
  """
  dn = lax.conv_dimension_numbers(lhs.shape, rhs.shape, dimension_numbers)
  simple = (lhs.ndim == 4 and dn == _NHWC_HWIO and feature_group_count == 1
            and all(d == 1 for d in (lhs_dilation or ()) + (rhs_dilation or ()))
            and preferred_element_type is None and lhs.dtype == rhs.dtype)
  if not simple:
    return lax.conv_general_dilated(
        lhs, rhs, window_strides, padding, lhs_dilation=lhs_dilation,
        rhs_dilation=rhs_dilation, dimension_numbers=dimension_numbers,
        feature_group_count=feature_group_count, precision=precision,
        preferred_element_type=preferred_element_type)
  strides = tuple(int(s) for s in window_strides)
  pads = _explicit_padding(padding, lhs.shape[1:3], rhs.shape[:2], strides)
  return conv2d(lhs, rhs, strides, pads)


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

"""Building blocks of the paper's networks: conv/fc layers, LRN, and the task heads.

The default sizes are those of the single-column network of Lu et al. (RAPID, ACM MM 2014)
that Kao, He and Huang (IEEE TIP 2017) build on; see method.md section 4.
"""

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from aesthetic_jax.model import cpu_pool_lrn


class LocalResponseNorm(nn.Module):
  """Cross-channel local response normalisation (Krizhevsky et al. 2012).

  b_c = a_c / (k + alpha / size * sum_{c' in window(c)} a_c'^2) ** beta, window of `size`
  channels centred on c (Caffe/PyTorch convention: alpha is divided by the window size).
  """
  size: int = 5
  alpha: float = 1e-4
  beta: float = 0.75
  k: float = 2.0
  impl: str = 'auto'  # model.pool_lrn_impl: 'xla', 'cpu' (model/cpu_pool_lrn.py) or 'auto'

  @nn.compact
  def __call__(self, x):  # (B, H, W, C) -> (B, H, W, C)
    if cpu_pool_lrn.resolve_impl(self.impl) == 'cpu':
      return cpu_pool_lrn.local_response_norm(x, size=self.size, alpha=self.alpha, beta=self.beta,
                                          k=self.k)
    squares = jnp.square(x)
    half = self.size // 2
    window_sum = jax.lax.reduce_window(
        squares, 0.0, jax.lax.add, window_dimensions=(1, 1, 1, self.size),
        window_strides=(1, 1, 1, 1),
        padding=((0, 0), (0, 0), (0, 0), (half, self.size - 1 - half)))
    return x / jnp.power(self.k + self.alpha / self.size * window_sum, self.beta)


class ConvLayer(nn.Module):
  """conv -> ReLU [-> max-pool 3x3/2 -> LRN], one of conv1..conv4 (NHWC)."""
  features: int
  kernel_size: int
  stride: int = 1
  pool_and_norm: bool = False
  dtype: jnp.dtype = jnp.float32
  # Pooling and LRN: 'xla' flax/lax reduce-window ops; 'cpu' model/cpu_pool_lrn.py; 'auto'
  # 'cpu' on a CPU backend, else 'xla'. Same parameters and values either way.
  impl: str = 'auto'

  @nn.compact
  def __call__(self, x, *, train: bool, example_ids=None):
    del train, example_ids  # no dropout here
    x = nn.Conv(self.features, (self.kernel_size, self.kernel_size), strides=self.stride,
                padding='SAME' if self.stride == 1 else 'VALID', dtype=self.dtype,
                name='conv')(x)
    if not self.pool_and_norm:
      return nn.relu(x)
    # Max commutes with ReLU (values and gradients): pooling first leaves ReLU a quarter.
    x = nn.relu(cpu_pool_lrn.pool(x, (3, 3), (2, 2), impl=self.impl))
    return LocalResponseNorm(impl=self.impl)(x)


class ExampleDropout(nn.Module):
  """Dropout whose mask for an example depends only on its global index (and the 'dropout'
  rng of the step), not on which device holds it: a run gives the same masks on 1 device,
  8 devices or several hosts. x: (B, ...); example_ids: int (B,) global indices of the
  examples in the step's global batch."""
  rate: float

  @nn.compact
  def __call__(self, x, *, deterministic: bool, example_ids):
    if deterministic or self.rate == 0.0:
      return x
    keep_probability = 1.0 - self.rate
    keys = jax.vmap(jax.random.fold_in, (None, 0))(self.make_rng('dropout'), example_ids)
    keep = jax.vmap(lambda key: jax.random.bernoulli(key, keep_probability, x.shape[1:]))(keys)
    return jnp.where(keep, x / keep_probability, jnp.zeros((), x.dtype)).astype(x.dtype)


def example_indices(example_ids, batch_size: int):
  """example_ids, or 0..batch_size-1 when none are given (one device, or evaluation)."""
  return jnp.arange(batch_size) if example_ids is None else example_ids


class DenseLayer(nn.Module):
  """(flatten ->) dense -> ReLU -> dropout, one of fc5/fc6."""
  features: int
  dropout_rate: float = 0.5
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x, *, train: bool, example_ids=None):
    x = x.reshape((x.shape[0], -1))
    x = nn.relu(nn.Dense(self.features, dtype=self.dtype, name='dense')(x))
    return ExampleDropout(self.dropout_rate)(
        x, deterministic=not train, example_ids=example_indices(example_ids, x.shape[0]))

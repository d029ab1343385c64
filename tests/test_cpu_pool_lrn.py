"""The CPU path (aesthetic_jax/model/cpu_pool_lrn.py, model.pool_lrn_impl='cpu') agrees with
the plain XLA path in values and gradients: per op, per layer, and for the whole MTCNN #1
objective."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from aesthetic_jax import model as models
from aesthetic_jax.model import cpu_pool_lrn, layers
from configs import default


def _normal(rng, shape, scale=1.0):
  return jnp.asarray(rng.normal(size=shape) * scale, jnp.float32)


def _value_and_grads(fn, args, cotangent):
  """fn(*args), and the gradients of <fn(*args), cotangent> with respect to every arg."""
  out = fn(*args)
  grads = jax.grad(lambda *a: jnp.vdot(fn(*a), cotangent), argnums=tuple(range(len(args))))(
      *args)
  return out, grads


def _assert_agree(plain, cpu, args, *, rtol=1e-5, atol=1e-5, seed=1):
  cotangent = _normal(np.random.default_rng(seed), jax.eval_shape(plain, *args).shape)
  want, want_grads = _value_and_grads(jax.jit(plain), args, cotangent)
  got, got_grads = _value_and_grads(jax.jit(cpu), args, cotangent)
  np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)
  jax.tree.map(lambda g, w: np.testing.assert_allclose(g, w, rtol=rtol, atol=atol),
               got_grads, want_grads)


@pytest.mark.parametrize('shape,window,strides', [
    ((2, 11, 11, 3), (3, 3), (2, 2)),  # the networks' pooling
    ((2, 10, 9, 2), (3, 3), (2, 2)),   # even size: the last row/column is never pooled
    ((1, 9, 9, 2), (3, 2), (1, 3)),
    ((1, 12, 12, 2), (2, 2), (3, 3)),  # window smaller than stride: gaps get no gradient
])
def test_max_pool_matches_flax_with_ties(shape, window, strides):
  # Small integers: many windows hold tied maxima; the gradient must go to the first one.
  x = jnp.asarray(np.random.default_rng(0).integers(0, 3, size=shape), jnp.float32)
  _assert_agree(lambda x: nn.max_pool(x, window, strides),
                lambda x: cpu_pool_lrn.max_pool(x, window, strides), (x,), rtol=0, atol=1e-6)


@pytest.mark.parametrize('channels,size', [(64, 5), (7, 5), (7, 4), (3, 5)])
def test_lrn_matches_plain(channels, size):
  x = _normal(np.random.default_rng(0), (2, 3, 3, channels), 10.0)
  plain = lambda x: layers.LocalResponseNorm(size=size).apply({}, x)
  cpu = lambda x: layers.LocalResponseNorm(size=size, impl='cpu').apply({}, x)
  _assert_agree(plain, cpu, (x,))


@pytest.mark.parametrize('kernel,stride,pool', [(11, 2, True), (5, 1, True), (3, 1, False)])
def test_conv_layer_matches_plain(kernel, stride, pool):
  rng = np.random.default_rng(0)
  in_ch = 3 if stride == 2 else 16
  x = _normal(rng, (2, 19, 19, in_ch), 3.0)
  plain_layer = layers.ConvLayer(8, kernel, stride, pool, impl='xla')
  cpu_layer = layers.ConvLayer(8, kernel, stride, pool, impl='cpu')
  params = plain_layer.init(jax.random.PRNGKey(0), x, train=False)
  # Same parameter tree either way, so checkpoints move between the paths.
  assert jax.tree.structure(params) == jax.tree.structure(
      cpu_layer.init(jax.random.PRNGKey(0), x, train=False))
  _assert_agree(lambda p, x: plain_layer.apply(p, x, train=True),
                lambda p, x: cpu_layer.apply(p, x, train=True), (params, x),
                rtol=1e-4, atol=1e-4)


def _tiny_mtcnn(pool_lrn_impl):
  config = default.get_config('demo').model
  config.conv_features = (8, 8, 8, 8)
  config.fc_features = (16, 12)
  config.dropout_rate = 0.0
  config.pool_lrn_impl = pool_lrn_impl
  return models.build_model(config, num_tags=4)


def test_mtcnn_loss_and_gradients_match_plain():
  images = jnp.asarray(np.random.default_rng(0).integers(0, 256, (2, 48, 48, 3)), jnp.uint8)
  plain, cpu = _tiny_mtcnn('xla'), _tiny_mtcnn('cpu')
  params = plain.init(jax.random.PRNGKey(0), images)['params']

  def loss(model):
    def fn(params):
      out = model.apply({'params': params}, images, train=True)
      return jnp.sum(out['aesthetic'] ** 2) + jnp.sum(jnp.sin(out['semantic']))
    return jax.jit(jax.value_and_grad(fn))

  want, want_grads = loss(plain)(params)
  got, got_grads = loss(cpu)(params)
  np.testing.assert_allclose(got, want, rtol=1e-4)
  for path, g in jax.tree_util.tree_leaves_with_path(got_grads):
    w = dict(jax.tree_util.tree_leaves_with_path(want_grads))[path]
    scale = float(jnp.abs(w).max()) or 1.0
    np.testing.assert_allclose(g, w, rtol=1e-3, atol=1e-4 * scale, err_msg=str(path))


def test_bfloat16_conv_layer_runs_close_to_float32():
  x = _normal(np.random.default_rng(0), (2, 23, 23, 3), 3.0)
  layer = layers.ConvLayer(8, 11, 2, True, impl='cpu')
  layer16 = layers.ConvLayer(8, 11, 2, True, dtype=jnp.bfloat16, impl='cpu')
  params = layer.init(jax.random.PRNGKey(0), x, train=False)
  want = layer.apply(params, x, train=False)
  got = layer16.apply(params, x, train=False)
  assert got.dtype == jnp.bfloat16
  np.testing.assert_allclose(got.astype(jnp.float32), want, rtol=0.05,
                             atol=0.05 * float(jnp.abs(want).max()))


def test_resolve_impl():
  assert cpu_pool_lrn.resolve_impl('xla') == 'xla'
  assert cpu_pool_lrn.resolve_impl('cpu') == 'cpu'
  assert cpu_pool_lrn.resolve_impl('auto') == ('cpu' if jax.default_backend() == 'cpu' else 'xla')
  with pytest.raises(ValueError, match='pool_lrn_impl'):
    cpu_pool_lrn.resolve_impl('onednn')


@pytest.mark.parametrize('window,strides,padding', [
    ((3, 3), (2, 2), ((0, 0), (0, 0))),  # AlexNet
    ((2, 2), (2, 2), ((0, 0), (0, 0))),  # VGG-16
    ((3, 3), (2, 2), ((1, 1), (1, 1))),  # ResNet's stem: -inf padding
])
def test_backbone_pools_match_flax(window, strides, padding):
  x = jnp.asarray(np.random.default_rng(0).integers(-2, 3, size=(2, 9, 8, 3)), jnp.float32)
  _assert_agree(lambda x: cpu_pool_lrn.pool(x, window, strides, impl='xla', padding=padding),
                lambda x: cpu_pool_lrn.pool(x, window, strides, impl='cpu', padding=padding),
                (x,), rtol=0, atol=1e-6)


@pytest.mark.parametrize('body', ['alexnet', 'vgg16', 'resnet18'])
def test_backbones_pool_with_the_cpu_path(body):
  """pool_lrn_impl reaches every pooling layer of the body, and the features do not change
  (the pooling ops' gradients are checked above)."""
  from aesthetic_jax.model import backbones
  kwargs = dict(width_divisor=16, dropout_rate=0.0,
                stage_sizes=(1, 1, 1, 1) if body == 'resnet18' else ())
  plain = backbones.build_backbone(body, pool_lrn_impl='xla', **kwargs)
  cpu = backbones.build_backbone(body, pool_lrn_impl='cpu', **kwargs)
  rng = np.random.default_rng(0)
  x = _normal(rng, (1, 67, 67, 3))
  # Random values from numpy: compiling the models' initialisers would take most of the test.
  shapes = jax.eval_shape(lambda: plain.init(jax.random.PRNGKey(0), x, train=False))
  variables = jax.tree.map(lambda s: _normal(rng, s.shape, 0.1), shapes)

  def max_reduce_windows(model):
    jaxpr = jax.make_jaxpr(lambda v, x: model.apply(v, x, train=False))(variables, x)
    return str(jaxpr).count('reduce_window_max')

  assert max_reduce_windows(plain) > 0 and max_reduce_windows(cpu) == 0
  np.testing.assert_allclose(jax.jit(lambda v, x: cpu.apply(v, x, train=False))(variables, x),
                             jax.jit(lambda v, x: plain.apply(v, x, train=False))(variables, x),
                             rtol=1e-4, atol=1e-5)  # pooling is exact; XLA fuses the rest anew

"""ImageNet backbones: numerically the torchvision networks, and batch norm across devices.

The reference outputs come from torchvision's own modules with random weights
(scripts/make_backbone_fixtures.py); the fixtures are narrow (widths / 16 or / 32), the
full-size networks are checked by every tensor's name, shape and order.
"""

import functools
import json
import os
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import PartitionSpec as P

from aesthetic_jax import model as models
from aesthetic_jax.init import torchvision as weights
from aesthetic_jax.model import backbones
from configs import default

FIXTURES = pathlib.Path(__file__).parent / 'fixtures' / 'backbones'
SPECS = json.loads((FIXTURES / 'fixtures.json').read_text())['archs']
TOLERANCE = 1e-4  # max abs difference in float32


def _reference(arch, folder=FIXTURES, width_divisor=None):
  """(backbone module, variables converted from the torch file, the torch io arrays)."""
  divisor = SPECS[arch]['width_divisor'] if width_divisor is None else width_divisor
  variables, _ = weights.convert(
      arch, weights.read_state_dict(str(folder / f'{arch}.safetensors')),
      width_divisor=divisor)
  io = dict(np.load(folder / f'{arch}_io.npz'))
  return backbones.build_backbone(arch, width_divisor=divisor), variables, io


def _nhwc(x):
  return jnp.asarray(np.transpose(x, (0, 2, 3, 1)))


def _apply(module, variables, x, *, train):
  """module.apply, jitted (much faster than op by op); in training also the new batch_stats."""
  mutable = ['batch_stats'] if train else False
  return jax.jit(functools.partial(module.apply, train=train, mutable=mutable))(variables, x)


@pytest.mark.parametrize('arch', backbones.BODIES)
def test_eval_features_match_torchvision(arch):
  module, variables, io = _reference(arch)
  features = _apply(module, variables, _nhwc(io['input']), train=False)
  assert features.shape == io['features_eval'].shape
  assert np.std(io['features_eval']) > 0.05  # the comparison is not between near-zeros
  np.testing.assert_array_less(np.abs(features - io['features_eval']).max(), TOLERANCE)


@pytest.mark.parametrize('arch', ['resnet18', 'resnet50'])
def test_batch_norm_in_training_matches_torch(arch):
  """train=True: batch statistics normalise, running averages move with torch's momentum."""
  module, variables, io = _reference(arch)
  features, updated = _apply(module, variables, _nhwc(io['input']), train=True)
  np.testing.assert_array_less(np.abs(features - io['features_train']).max(), TOLERANCE)
  batch, side = io['input'].shape[0], io['input'].shape[2]
  last = tuple(str(io['last_bn_name']).replace('.', '_', 1).split('.'))
  for key, path, n in (('bn1', ('bn1',), batch * (side // 2) ** 2),
                       ('last_bn', last, batch * (side // 32) ** 2)):
    stats = updated['batch_stats']
    for part in path:
      stats = stats[part]
    np.testing.assert_allclose(stats['mean'], io[f'{key}_running_mean_after'], atol=1e-5)
    # torch folds in the unbiased batch variance, flax the biased one ((n - 1) / n of it).
    before = io[f'{key}_running_var_before']
    unbiased = (io[f'{key}_running_var_after'] - 0.9 * before) / 0.1
    np.testing.assert_allclose(stats['var'], 0.9 * before + 0.1 * unbiased * (n - 1) / n,
                               rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('arch', backbones.BODIES)
def test_full_size_tensor_names_shapes_and_order_are_torchvision(arch):
  manifest = json.loads((FIXTURES / 'torchvision_state_dicts.json').read_text())[arch]
  ours = [[e.torch_name, list(e.torch_shape)] for e in weights.torchvision_layout(arch)]
  theirs = [entry for entry in manifest if not entry[0].endswith('num_batches_tracked')]
  unused = [name for name, _ in theirs if [name, _] not in ours]
  assert ours == [entry for entry in theirs if entry[0] not in unused]
  # Only the 1000-class ImageNet classifier is left out.
  assert unused == (['fc.weight', 'fc.bias'] if arch.startswith('resnet') else
                    ['classifier.6.weight', 'classifier.6.bias'])


def test_adaptive_avg_pool_matches_torch():
  cases = np.load(FIXTURES / 'adaptive_pool.npz')
  names = sorted({k.rsplit('_', 1)[0] for k in cases.files})
  assert len(names) == 4
  for name in names:
    expected = np.transpose(cases[f'{name}_output'], (0, 2, 3, 1))
    got = backbones.adaptive_avg_pool(_nhwc(cases[f'{name}_input']), expected.shape[1:3])
    np.testing.assert_allclose(got, expected, atol=1e-6, err_msg=name)


@pytest.mark.skipif(not os.environ.get('AESTHETIC_JAX_FULL_FIXTURES'),
                    reason='set AESTHETIC_JAX_FULL_FIXTURES to the --full_size_out folder of '
                    'scripts/make_backbone_fixtures.py')
@pytest.mark.parametrize('arch', backbones.BODIES)
def test_full_size_features_match_torchvision(arch):
  folder = pathlib.Path(os.environ['AESTHETIC_JAX_FULL_FIXTURES'])
  module, variables, io = _reference(arch, folder, width_divisor=1)
  features = _apply(module, variables, _nhwc(io['input']), train=False)
  np.testing.assert_array_less(np.abs(features - io['features_eval']).max(), TOLERANCE)


def _model_config(body, architecture='mtcnn1', **overrides):
  config = default.get_config().model
  config.body, config.architecture = body, architecture
  for key, value in overrides.items():
    config[key] = value
  return config


@pytest.mark.parametrize('body,features', [('alexnet', 4096), ('vgg16', 4096),
                                           ('resnet18', 512), ('resnet50', 2048)])
def test_heads_sit_on_penultimate_features(body, features):
  model = models.build_model(_model_config(body), num_tags=29)
  shapes = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0),
                                             jnp.zeros((1, 227, 227, 3), jnp.uint8)))
  shared = shapes['params']['shared']
  assert set(shared) == {body, 'aesthetic_head', 'semantic_head'}
  assert shared['aesthetic_head']['kernel'].shape == (features, 2)
  assert shared['semantic_head']['kernel'].shape == (features, 29)
  assert ('batch_stats' in shapes) == body.startswith('resnet')
  assert backbones.feature_size(body) == features


def test_backbone_replaces_the_body_of_stcnn_and_mtcnn1_only():
  model = models.build_model(_model_config('resnet18', 'stcnn'), num_tags=0)
  assert model.topology.layers == ('resnet18',) and model.topology.heads == ('aesthetic',)
  with pytest.raises(ValueError, match='mtcnn2'):
    models.build_model(_model_config('resnet18', 'mtcnn2'), num_tags=5)
  with pytest.raises(ValueError, match='Unknown model.body'):
    models.build_model(_model_config('resnet34'), num_tags=5)


def _resnet18(batch_norm_axis=None):
  """The narrow ResNet-18 of the fixtures and its (torch-made) variables: no random init,
  whose compilation takes seconds on CPU."""
  _, variables, _ = _reference('resnet18')
  module = backbones.build_backbone('resnet18', width_divisor=SPECS['resnet18']['width_divisor'],
                                    batch_norm_axis=batch_norm_axis)
  return module, variables


def test_synchronised_batch_norm_gives_the_global_batch_statistics():
  """Over 4 devices with axis 'data', training equals one device holding the whole batch."""
  images = jnp.asarray(np.random.default_rng(0).normal(size=(8, 32, 32, 3)), jnp.float32)
  module, variables = _resnet18()
  expected, expected_stats = _apply(module, variables, images, train=True)
  mesh = jax.make_mesh((4,), ('data',), devices=jax.devices()[:4])

  def sharded(axis):
    def step(v, x):
      return _resnet18(axis)[0].apply(v, x, train=True, mutable=['batch_stats'])
    return jax.jit(jax.shard_map(step, mesh=mesh, in_specs=(P(), P('data')),
                                 out_specs=(P('data'), P()), check_vma=False))

  images = jax.device_put(images, jax.sharding.NamedSharding(mesh, P('data')))
  variables = jax.device_put(variables, jax.sharding.NamedSharding(mesh, P()))
  features, stats = sharded('data')(variables, images)
  np.testing.assert_allclose(features, expected, atol=1e-5)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-5), stats,
               expected_stats)
  per_device, _ = sharded(None)(variables, images)  # each device's 2 images alone
  assert np.abs(per_device - expected).max() > 1e-3


def test_eval_uses_running_averages_and_training_the_batch():
  module, variables = _resnet18()
  rng = np.random.default_rng(1)
  first = jnp.asarray(rng.normal(size=(4, 32, 32, 3)), jnp.float32)
  second = first.at[1:].set(jnp.asarray(rng.normal(size=(3, 32, 32, 3)) * 2 + 1, jnp.float32))
  # Image 0 is in both batches: in eval its features do not depend on the others ...
  np.testing.assert_allclose(_apply(module, variables, first, train=False)[0],
                             _apply(module, variables, second, train=False)[0], atol=1e-6)
  # ... in training they do (batch statistics), and the running averages move.
  train_first, stats = _apply(module, variables, first, train=True)
  train_second, _ = _apply(module, variables, second, train=True)
  assert np.abs(train_first[0] - train_second[0]).max() > 1e-3
  assert not np.allclose(stats['batch_stats']['bn1']['mean'],
                         variables['batch_stats']['bn1']['mean'])


def test_module_names_are_torchvision_names():
  """Module names are torchvision's with '.' as '_' (what makes the import one to one)."""
  small = backbones.build_backbone('resnet18', stage_sizes=(1,))
  variables = jax.eval_shape(lambda: small.init(jax.random.PRNGKey(0), jnp.zeros((1, 32, 32, 3)),
                                                train=False))
  assert set(variables['params']) == {'conv1', 'bn1', 'layer1_0'}
  assert set(variables['params']['layer1_0']) == {'conv1', 'bn1', 'conv2', 'bn2'}
  variables = jax.eval_shape(lambda: backbones.build_backbone('resnet50').init(
      jax.random.PRNGKey(0), jnp.zeros((1, 32, 32, 3)), train=False))
  assert set(variables['params']['layer2_0']) == {'conv1', 'bn1', 'conv2', 'bn2', 'conv3',
                                                  'bn3', 'downsample_0', 'downsample_1'}


def test_one_data_parallel_train_step_with_batch_norm():
  """The train step (shard_map over 8 devices) updates batch_stats; eval reads them."""
  from aesthetic_jax.train import state as train_state  # pylint: disable=g-import-not-at-top
  from aesthetic_jax.train import steps  # pylint: disable=g-import-not-at-top
  config = default.get_config('demo')
  config.model.body, config.model.width_divisor = 'resnet18', 16
  config.model.stage_sizes, config.batch_size = (1,), 8
  model = models.build_model(config.model, num_tags=3)
  tx = train_state.make_optimizer(config, steps_per_epoch=10)
  mesh = steps.make_mesh()
  replicated = jax.sharding.NamedSharding(mesh, P())
  state = jax.jit(lambda r: train_state.create_train_state(
      config, model, tx, image_shape=(32, 32, 3), rng=r), out_shardings=replicated)(
          jax.random.PRNGKey(0))
  before = jax.tree.map(np.asarray, state.model_state)
  rng = np.random.default_rng(0)
  batch = jax.device_put({
      'image': rng.integers(0, 256, (8, 32, 32, 3)).astype(np.uint8),
      'label': rng.integers(0, 2, 8).astype(np.int32), 'mask': np.ones(8, bool),
      'tags': rng.random((8, 3)) < 0.5}, jax.sharding.NamedSharding(mesh, P(steps.AXIS)))
  step = steps.shard_map_train_step(steps.bind_train_step(model, tx, config, 3), mesh)
  state, metrics = step(state, batch)
  assert np.isfinite(float(metrics['total']))
  mean = state.model_state['batch_stats']['shared']['resnet18']['bn1']['mean']
  assert not np.allclose(mean, before['batch_stats']['shared']['resnet18']['bn1']['mean'])
  evaluate = steps.shard_map_eval_step(steps.bind_eval_step(model), mesh)
  p_high = evaluate(state, {k: batch[k] for k in ('image', 'label', 'tags')})['p_high']
  assert p_high.shape == (8,) and np.all(np.isfinite(p_high))

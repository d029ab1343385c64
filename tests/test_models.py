"""The paper's networks: output shapes, LRN values, and which parameters each task reaches."""

import flax.traverse_util
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from aesthetic_jax import model as models
from aesthetic_jax.model import layers
from configs import default

NUM_TAGS = 5


def _small_model_config(architecture):
  config = default.get_config('demo').model
  config.architecture = architecture
  config.conv_features = (8, 8, 8, 8)
  config.fc_features = (16, 12)
  return config


def _init(architecture, size=64, num_tags=NUM_TAGS):
  model = models.build_model(_small_model_config(architecture), num_tags=num_tags)
  images = jnp.asarray(np.random.default_rng(0).integers(0, 256, (3, size, size, 3)), jnp.uint8)
  params = model.init(jax.random.PRNGKey(0), images)['params']
  return model, params, images


@pytest.mark.parametrize('architecture,heads', [
    ('stcnn', {'aesthetic': 2}),
    ('mtcnn1', {'aesthetic': 2, 'semantic': NUM_TAGS}),
    ('mtcnn2', {'aesthetic': 2, 'semantic': NUM_TAGS}),
    ('mtcnn3', {'aesthetic': 2, 'semantic': NUM_TAGS}),
    ('enhanced', {'aesthetic': 2, 'semantic': NUM_TAGS, 'aesthetic_aux': 2}),
])
def test_output_shapes(architecture, heads):
  model, params, images = _init(architecture)
  out = model.apply({'params': params}, images, train=True,
                    rngs={'dropout': jax.random.PRNGKey(1)})
  assert {k: v.shape for k, v in out.items()} == {k: (3, n) for k, n in heads.items()}
  w = models.task_matrix(params)
  expected_tasks = 2 + (NUM_TAGS if 'semantic' in heads else 0)
  assert w.shape == (12, expected_tasks)


def test_paper_default_sizes_at_227():
  config = default.get_config().model
  model = models.build_model(config, num_tags=29)
  shapes = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0),
                                             jnp.zeros((1, 227, 227, 3), jnp.uint8)))
  flat = flax.traverse_util.flatten_dict(shapes['params'], sep='/')
  assert flat['shared/conv1/conv/kernel'].shape == (11, 11, 3, 64)
  assert flat['shared/conv2/conv/kernel'].shape == (5, 5, 64, 64)
  # 227 -> conv1 (stride 2) 109 -> pool 54 -> conv2 54 -> pool 26; 26 * 26 * 64 inputs to fc5.
  assert flat['shared/fc5/dense/kernel'].shape == (26 * 26 * 64, 1000)
  assert flat['shared/fc6/dense/kernel'].shape == (1000, 256)
  assert flat['shared/semantic_head/kernel'].shape == (256, 29)


def test_no_semantic_head_without_tags():
  model, params, images = _init('mtcnn1', num_tags=0)
  out = model.apply({'params': params}, images)
  assert set(out) == {'aesthetic'}


def test_lrn_matches_numpy():
  x = np.random.default_rng(0).normal(size=(2, 3, 3, 7)).astype(np.float32) * 10
  got = layers.LocalResponseNorm().apply({}, jnp.asarray(x))
  size, alpha, beta, k = 5, 1e-4, 0.75, 2.0
  expected = np.empty_like(x)
  for c in range(7):
    lo, hi = max(0, c - size // 2), min(7, c + size // 2 + 1)
    expected[..., c] = x[..., c] / (k + alpha / size * (x[..., lo:hi] ** 2).sum(-1)) ** beta
  np.testing.assert_allclose(got, expected, rtol=1e-5)


def _reached(model, params, images, head):
  """Names of the layers whose parameters get a non-zero gradient from `head`'s output."""
  def f(p):
    return model.apply({'params': p}, images)[head].sum()
  grads = flax.traverse_util.flatten_dict(jax.grad(f)(params), sep='/')
  return {'/'.join(k.split('/')[:-2]) for k, g in grads.items() if np.abs(g).max() > 0}


@pytest.mark.parametrize('architecture,semantic_must_not_reach,aesthetic_must_not_reach', [
    ('mtcnn1', set(), set()),
    ('mtcnn2', {'shared/aesthetic_branch/fc5', 'shared/aesthetic_branch/fc6'},
     {'shared/semantic_branch/fc5', 'shared/semantic_branch/fc6'}),
    ('mtcnn3', {'shared/aesthetic_branch/fc5', 'shared/aesthetic_branch/fc6'},
     {'shared/semantic_branch/conv3', 'shared/semantic_branch/fc6'}),
    ('enhanced', {'shared/auxiliary_branch/fc5', 'shared/auxiliary_branch/fc6'},
     {'shared/auxiliary_branch/fc5'}),
])
def test_which_parameters_each_task_reaches(architecture, semantic_must_not_reach,
                                            aesthetic_must_not_reach):
  model, params, images = _init(architecture)
  semantic = _reached(model, params, images, 'semantic')
  aesthetic = _reached(model, params, images, 'aesthetic')
  assert 'shared/conv1' in semantic and 'shared/conv1' in aesthetic  # conv1 is always shared
  assert not semantic & semantic_must_not_reach
  assert not aesthetic & aesthetic_must_not_reach
  if architecture == 'enhanced':
    aux = _reached(model, params, images, 'aesthetic_aux')
    assert 'shared/conv2' in aux and not any('main_branch' in n for n in aux)


def test_table2_networks_have_the_papers_layers():
  """The paper counts the output layer as an fc layer (method.md section 4): MTCNN #3's
  aesthetic path and Enhanced MTCNN's auxiliary branch are conv1-2, ONE hidden fc layer (of
  fc6's width) and the head; MTCNN #2 keeps fc5 and fc6 per task."""
  from configs import table2  # pylint: disable=g-import-not-at-top
  expected = {
      'mtcnn1': {'shared': ['aesthetic_head', 'conv1', 'conv2', 'conv3', 'conv4', 'fc5', 'fc6',
                            'semantic_head']},
      'mtcnn2': {'shared': ['aesthetic_branch', 'conv1', 'conv2', 'conv3', 'conv4',
                            'semantic_branch'],
                 'shared/aesthetic_branch': ['aesthetic_head', 'fc5', 'fc6'],
                 'shared/semantic_branch': ['fc5', 'fc6', 'semantic_head']},
      'mtcnn3': {'shared': ['aesthetic_branch', 'conv1', 'conv2', 'semantic_branch'],
                 'shared/aesthetic_branch': ['aesthetic_head', 'branch_fc1'],
                 'shared/semantic_branch': ['conv3', 'conv4', 'fc5', 'fc6', 'semantic_head']},
      'enhanced': {'shared': ['auxiliary_branch', 'conv1', 'conv2', 'main_branch'],
                   'shared/auxiliary_branch': ['aesthetic_aux_head', 'branch_fc1'],
                   'shared/main_branch': ['aesthetic_head', 'conv3', 'conv4', 'fc5', 'fc6',
                                          'semantic_head']},
  }
  for network, tree in expected.items():
    config = table2.get_config(f'{network}_delta0')  # the paper-size AVA row
    model = models.build_model(config.model, num_tags=29)
    shapes = jax.eval_shape(lambda m=model: m.init(jax.random.PRNGKey(0),
                                                   jnp.zeros((1, 227, 227, 3), jnp.uint8)))
    params = shapes['params']
    for path, children in tree.items():
      node = params
      for key in path.split('/'):
        node = node[key]
      assert sorted(node) == children, (network, path)
    if network in ('mtcnn3', 'enhanced'):
      branch = 'aesthetic_branch' if network == 'mtcnn3' else 'auxiliary_branch'
      # conv2's output (26 x 26 x 64 at 227) -> one hidden layer of fc6's 256 -> the head.
      assert params['shared'][branch]['branch_fc1']['dense']['kernel'].shape == (26 * 26 * 64,
                                                                                256)
  config = table2.get_config('mtcnn3_delta0')
  config.model.conv2_branch_fc_layers, config.model.conv2_branch_fc_width = 2, 128
  params = jax.eval_shape(lambda: models.build_model(config.model, num_tags=29).init(
      jax.random.PRNGKey(0), jnp.zeros((1, 227, 227, 3), jnp.uint8)))['params']
  assert sorted(params['shared']['aesthetic_branch']) == ['aesthetic_head', 'branch_fc1',
                                                         'branch_fc2']
  assert params['shared']['aesthetic_branch']['aesthetic_head']['kernel'].shape == (128, 2)

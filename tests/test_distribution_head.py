"""The score-distribution head (NIMA, Talebi and Milanfar 2018): squared EMD against
hand-computed values, the head in every network, its columns in MTRL's W, its objective
term and predictions, the votes in the input pipeline, and one real training run."""

import json
import math
import os
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from aesthetic_jax import model as models
from aesthetic_jax.core import losses
from aesthetic_jax.data import pipeline as input_pipeline
from aesthetic_jax.model import predictions as predictions_lib
from aesthetic_jax.train import steps
from scoring_fixtures import small_config, trained_workdir

both_jit = pytest.mark.parametrize('jit', [False, True], ids=['eager', 'jit'])
LN3 = math.log(3)


# ---------------------------------------------------------------------------------------------
# The loss.

@both_jit
def test_squared_emd_hand_values(jit):
  fn = jax.jit(losses.squared_emd) if jit else losses.squared_emd
  # softmax(0, 0, 0) = (1/3, 1/3, 1/3), CDF (1/3, 2/3, 1); target (1, 0, 0), CDF (1, 1, 1):
  # gaps (-2/3, -1/3, 0) -> (4/9 + 1/9 + 0) / 3 = 5/27.
  # softmax(ln 3, 0) = (3/4, 1/4) against (1/2, 1/2): gaps (1/4, 0) -> (1/16) / 2 = 1/32.
  three = fn(logits=jnp.zeros((1, 3)), target_distribution=jnp.array([[1., 0., 0.]]))
  two = fn(logits=jnp.array([[LN3, 0.]]), target_distribution=jnp.array([[.5, .5]]))
  np.testing.assert_allclose(three, [5 / 27], rtol=1e-6)
  np.testing.assert_allclose(two, [1 / 32], rtol=1e-6)
  # Moving all mass one bin further costs more: (1,0,0,0) vs (0,0,0,1) gives gaps of 1 in
  # three of four bins -> 3/4; vs (0,1,0,0) -> 1/4.
  target = jnp.array([[0., 0., 0., 1.], [0., 1., 0., 0.]])
  far = fn(logits=jnp.array([[1e4, 0., 0., 0.]] * 2), target_distribution=target)
  np.testing.assert_allclose(far, [3 / 4, 1 / 4], rtol=1e-6)


def test_squared_emd_is_zero_at_the_target_and_keeps_leading_dims():
  logits = jnp.log(jnp.array([[[.1, .2, .7], [.5, .25, .25]]]))
  out = losses.squared_emd(logits=logits, target_distribution=jax.nn.softmax(logits))
  assert out.shape == (1, 2)
  np.testing.assert_allclose(out, 0, atol=1e-12)


def test_squared_emd_gradient_by_hand():
  # K = 2: loss = (p1 - q1)^2 / 2 with p1 = sigmoid(l1 - l2), so
  # dL/dl1 = (p1 - q1) p1 (1 - p1) = (1/4)(3/4)(1/4) = 3/64 and dL/dl2 = -3/64.
  grad = jax.grad(lambda x: losses.squared_emd(
      logits=x, target_distribution=jnp.array([.5, .5])))(jnp.array([LN3, 0.]))
  np.testing.assert_allclose(grad, [3 / 64, -3 / 64], rtol=1e-6)


@both_jit
def test_squared_emd_extreme_logits_are_finite(jit):
  fn = jax.jit(losses.squared_emd) if jit else losses.squared_emd
  logits = jnp.array([[1e4, -1e4, 0.], [-1e4, -1e4, 1e4]])
  target = jnp.array([[0., 0., 1.], [0., 0., 1.]])
  np.testing.assert_allclose(fn(logits=logits, target_distribution=target), [2 / 3, 0.],
                             atol=1e-7)
  grad = jax.grad(lambda x: fn(logits=x, target_distribution=target).sum())(logits)
  assert np.isfinite(np.asarray(grad)).all()


# ---------------------------------------------------------------------------------------------
# The model.

def _variables(config, num_tags=5, num_bins=10):
  model = models.build_model(config.model, num_tags=num_tags, num_bins=num_bins)
  crop = config.input.crop_size
  variables = jax.eval_shape(lambda: model.init(
      jax.random.PRNGKey(0), jnp.zeros((1, crop, crop, 3), jnp.uint8), train=False))
  return model, variables


@pytest.mark.parametrize('architecture,branch', [
    ('stcnn', 'shared'), ('mtcnn1', 'shared'), ('mtcnn2', 'aesthetic_branch'),
    ('mtcnn3', 'aesthetic_branch'), ('enhanced', 'main_branch')])
def test_head_sits_beside_the_aesthetic_head(architecture, branch):
  config = small_config(**{'model.architecture': architecture})
  _, variables = _variables(config)
  heads = models.head_kernels(variables['params'])
  assert heads['distribution'].shape == (12, 10)  # fc6 (12 features) -> 10 score bins
  flat = jax.tree_util.tree_flatten_with_path(variables['params'])[0]
  paths = {tuple(k.key for k in path[:-1]) for path, _ in flat}
  aesthetic = next(p for p in paths if p[-1] == 'aesthetic_head')
  assert aesthetic[:-1] + ('distribution_head',) in paths
  assert branch in aesthetic


def test_no_head_without_the_flag_and_refused_without_bins():
  config = small_config(**{'model.distribution_head': False})
  _, variables = _variables(config)
  assert 'distribution' not in models.head_kernels(variables['params'])
  with pytest.raises(ValueError, match='number of score bins'):
    models.build_model(small_config().model, num_tags=5, num_bins=0)


def test_columns_join_w_after_the_tags():
  _, variables = _variables(small_config())
  rng = np.random.default_rng(0)
  params = jax.tree.map(lambda s: rng.normal(size=s.shape).astype(np.float32), variables)
  params = params['params']
  w = models.task_matrix(params)
  kernels = models.head_kernels(params)
  assert w.shape == (12, 2 + 5 + 10)
  np.testing.assert_array_equal(w[:, :2], kernels['aesthetic'])
  np.testing.assert_array_equal(w[:, 2:7], kernels['semantic'])
  np.testing.assert_array_equal(w[:, 7:], kernels['distribution'])
  names = models.task_matrix_names(params, tag_names='abcde', score_min=1)
  assert names == ['low aesthetic', 'high aesthetic', *'abcde'] + [
      f'score {s}' for s in range(1, 11)]


# ---------------------------------------------------------------------------------------------
# Objective, predictions, input pipeline.

def test_objective_adds_the_weighted_masked_emd():
  config = small_config(**{'mtrl.enabled': False, 'loss.distribution_weight': 0.5})
  logits = jnp.array([[LN3, 0.], [0., 0.], [5., -5.]])
  batch = {'label': jnp.array([0, 1, 0]), 'mask': jnp.array([True, True, False]),
           'vote_distribution': jnp.array([[.5, .5], [0., 0.], [1., 0.]])}
  outputs = {'aesthetic': jnp.zeros((3, 2)), 'distribution': logits}
  state = types.SimpleNamespace(semantic_gate=1.0)
  terms = steps.objective(config, outputs, batch, None, state, num_tags=0)
  # Only example 0 counts: example 1 has no votes, example 2 is padding (mask 0).
  np.testing.assert_allclose(terms['distribution'], 1 / 32, rtol=1e-6)
  np.testing.assert_allclose(terms['total'], math.log(2) + 0.5 / 32, rtol=1e-6)


def test_predictions_mean_is_the_expectation():
  logits = jnp.stack([jnp.zeros(10), jnp.zeros(10).at[6].set(1e4),
                      jnp.log(jnp.array([.5, .5, 0, 0, 0, 0, 0, 0, 0, 1e-30]))])
  out = predictions_lib.predictions({'aesthetic': jnp.array([[0., LN3]] * 3), 'distribution': logits},
                          score_min=1)
  np.testing.assert_allclose(out['predicted_mean_score'], [5.5, 7.0, 1.5], rtol=1e-5)
  np.testing.assert_allclose(out['score_distribution'].sum(-1), 1, rtol=1e-6)
  np.testing.assert_allclose(out['p_high'], 0.75, rtol=1e-6)
  # Photo.net's scale starts at 1 too, AVA's at 1; a scale from 0 shifts the mean by 1.
  shifted = predictions_lib.predictions({'aesthetic': jnp.zeros((1, 2)), 'distribution': logits[:1]},
                              score_min=0)
  np.testing.assert_allclose(shifted['predicted_mean_score'], [4.5], rtol=1e-6)


def test_record_transform_emits_normalised_votes(tmp_path):
  from PIL import Image
  path = tmp_path / 'x.jpg'
  Image.new('RGB', (40, 40), (200, 30, 30)).save(path)
  record = {'image': path.read_bytes(), 'mean_score': np.float32(6.0), 'image_id': 7,
            'votes': np.array([0, 0, 1, 3, 0], np.int32), 'tags': [True, False]}
  transform = input_pipeline.RecordTransform(36, 32, 0.0, 5.0, train=True, votes=True)
  example = transform(record, np.random.default_rng(0))
  assert set(example) == {'image', 'label', 'mask', 'tags', 'vote_distribution'}
  np.testing.assert_allclose(example['vote_distribution'], [0, 0, .25, .75, 0])
  empty = transform({**record, 'votes': np.zeros(5, np.int32)}, np.random.default_rng(0))
  np.testing.assert_array_equal(empty['vote_distribution'], np.zeros(5))
  plain = input_pipeline.RecordTransform(36, 32, 0.0, 5.0, train=False)(record)
  assert 'vote_distribution' not in plain


# ---------------------------------------------------------------------------------------------
# A real training run with the head.

def test_training_with_the_head(tiny_data_dir, tmp_path_factory):
  workdir = trained_workdir(tmp_path_factory, tiny_data_dir)
  with open(os.path.join(workdir, 'metrics.jsonl')) as f:
    records = [json.loads(line) for line in f]
  train_record = next(r for r in records if r['kind'] == 'train')
  eval_record = next(r for r in records if r['kind'] == 'eval')
  assert 0 < train_record['distribution_mean'] < 1
  assert 0 < eval_record['distribution_loss'] < 1
  assert -1 <= eval_record['mean_score_srcc'] <= 1 and -1 <= eval_record['mean_score_plcc'] <= 1
  preds = np.load(os.path.join(workdir, 'test_predictions.npz'))
  assert preds['score_distribution'].shape == (32, 10)
  np.testing.assert_allclose(preds['score_distribution'].sum(1), 1, rtol=1e-5)
  expected = preds['score_distribution'] @ np.arange(1, 11)
  np.testing.assert_allclose(preds['predicted_mean_score'], expected, rtol=1e-5)
  with open(os.path.join(workdir, 'omega.json')) as f:
    omega = json.load(f)
  assert omega['subtasks'][:3] == ['low aesthetic', 'high aesthetic', 'sky']
  assert omega['subtasks'][-10:] == [f'score {s}' for s in range(1, 11)]
  assert np.asarray(omega['omega']).shape == (2 + 8 + 10,) * 2
  with open(os.path.join(workdir, 'config.json')) as f:
    assert json.load(f)['model']['distribution_head'] is True
  with open(os.path.join(workdir, 'model_info.json')) as f:
    info = json.load(f)
  assert (info['score_min'], info['score_max'], len(info['tag_names'])) == (1, 10, 8)

"""aesthetic_jax.Scorer on saved workdirs: restoring, preprocessing, batching, results."""

import io
import json
import os
import shutil

import jax
import numpy as np
import pytest
from PIL import Image

from aesthetic_jax import Scorer
from aesthetic_jax.data import pipeline as input_pipeline
from aesthetic_jax.infer import scorer as scorer_lib
from scoring_fixtures import TAGS, save_workdir, small_config, write_images


@pytest.fixture(scope='module')
def saved(tmp_path_factory):
  """(workdir, params of its newest checkpoint): MTRLCNN #1 with the distribution head."""
  workdir = str(tmp_path_factory.mktemp('scorer') / 'run')
  params = save_workdir(workdir, small_config(), steps=(1, 3))
  return workdir, params


@pytest.fixture(scope='module')
def scorer(saved):
  return Scorer.from_workdir(saved[0])


@pytest.fixture(scope='module')
def images(tmp_path_factory):
  return write_images(str(tmp_path_factory.mktemp('images')), 11)


def test_restores_the_newest_checkpoint_exactly(saved, scorer):
  workdir, params = saved
  assert scorer.step == 3 and scorer.source.endswith(os.path.join('checkpoints', '3'))
  jax.tree.map(np.testing.assert_array_equal, jax.device_get(scorer.variables['params']),
               params)
  assert scorer.tag_names == TAGS and scorer.has_mean_score
  assert (scorer.resize_size, scorer.crop_size) == (36, 32)


def test_checkpoint_paths_and_steps(saved, scorer):
  workdir, _ = saved
  older = Scorer.from_checkpoint(os.path.join(workdir, 'checkpoints', '1'))
  assert older.step == 1
  assert Scorer.from_workdir(workdir, step=1).step == 1
  assert Scorer.from_checkpoint(os.path.join(workdir, 'checkpoints')).step == 3
  diff = np.abs(np.asarray(older.variables['params']['shared']['aesthetic_head']['kernel'])
                - np.asarray(scorer.variables['params']['shared']['aesthetic_head']['kernel']))
  assert diff.max() > 0  # really another checkpoint
  with pytest.raises(FileNotFoundError, match='No checkpoint of step 2'):
    Scorer.from_workdir(workdir, step=2)


def test_load_image_is_the_evaluation_preprocessing(scorer, images):
  data = open(images[0], 'rb').read()
  record = {'image': data, 'mean_score': np.float32(5.5), 'image_id': 1}
  expected = input_pipeline.RecordTransform(36, 32, 0.0, 5.0, train=False)(record)['image']
  np.testing.assert_array_equal(scorer.load_image(images[0]), expected)
  np.testing.assert_array_equal(scorer.load_image(data), expected)


def test_every_input_kind_gives_the_same_scores(scorer, tmp_path):
  pixels = np.random.default_rng(1).integers(0, 256, (50, 70, 3), np.uint8)
  path = tmp_path / 'p.png'  # PNG is lossless: file, bytes, PIL and array hold one image
  Image.fromarray(pixels).save(path)
  kinds = [str(path), path, path.read_bytes(), Image.fromarray(pixels), pixels]
  scores = scorer.score(kinds)
  assert len(scores) == 5
  np.testing.assert_allclose(scores.p_high, scores.p_high[0], rtol=1e-6)
  np.testing.assert_allclose(scores.mean_score, scores.mean_score[0], rtol=1e-6)
  single = scorer.score(str(path))  # one image, not a list
  assert len(single) == 1
  np.testing.assert_allclose(single.p_high, scores.p_high[:1], rtol=1e-6)


def test_batches_agree_with_one_at_a_time(scorer, images):
  assert scorer.batch_size == 16
  arrays = np.stack([scorer.load_image(p) for p in images])
  many = scorer.predict(np.concatenate([arrays, arrays]))  # 22 images: a full batch and 6
  ones = [scorer.predict(a[None]) for a in arrays]
  expected = np.concatenate([o.p_high for o in ones])
  np.testing.assert_allclose(many.p_high, np.concatenate([expected, expected]), atol=1e-6)
  assert many.semantic_probs.shape == (22, len(TAGS))
  assert many.score_distribution.shape == (22, 10)
  np.testing.assert_allclose(many.score_distribution.sum(1), 1, rtol=1e-5)
  np.testing.assert_allclose(many.mean_score, many.score_distribution @ np.arange(1, 11),
                             rtol=1e-5)
  assert len(scorer.score([])) == 0
  with pytest.raises(ValueError, match=r'\(N, 32, 32, 3\)'):
    scorer.predict(np.zeros((2, 40, 40, 3), np.uint8))


def test_records_and_top_tags():
  scores = scorer_lib.Scores(
      p_high=np.array([0.9, 0.2, 0.5]), semantic_probs=np.array([[.1, .7, .3], [.5, .2, .9],
                                                                 [.3, .3, .1]]),
      score_distribution=np.full((3, 10), .1), mean_score=np.array([6.5, 3.0, 5.5]),
      tag_names=('a', 'b', 'c'))
  np.testing.assert_array_equal(scores.predicted_class, [1, 0, 0])  # 0.5 is not > 0.5
  records = scores.records(top_tags=2)
  assert records[0]['predicted_class'] == 'high' and records[1]['predicted_class'] == 'low'
  assert [t for t, _ in records[0]['top_tags']] == ['b', 'c']
  assert [t for t, _ in records[1]['top_tags']] == ['c', 'a']
  assert [t for t, _ in records[2]['top_tags']] == ['a', 'b']  # ties keep tag order
  assert records[0]['mean_score'] == 6.5 and len(records[0]['score_distribution']) == 10
  json.dumps(records)  # plain Python values


def test_stcnn_without_distribution_head(tmp_path):
  config = small_config(**{'model.architecture': 'stcnn', 'model.distribution_head': False,
                           'mtrl.enabled': False})
  save_workdir(str(tmp_path), config)
  scorer = Scorer.from_workdir(str(tmp_path))
  scores = scorer.score([np.zeros((40, 40, 3), np.uint8)])
  assert scorer.tag_names == () and not scorer.has_mean_score
  assert scores.semantic_probs is None and scores.mean_score is None
  assert scores.records() == [{'p_high': pytest.approx(float(scores.p_high[0])),
                               'predicted_class': scores.records()[0]['predicted_class']}]


def test_clear_errors(saved, tmp_path):
  workdir, _ = saved
  with pytest.raises(FileNotFoundError, match='No checkpoint at'):
    Scorer.from_workdir(str(tmp_path / 'nothing'))
  copy = str(tmp_path / 'copy')
  shutil.copytree(workdir, copy)
  # A config that describes another network than the checkpoint holds.
  with open(os.path.join(copy, 'config.json')) as f:
    config = json.load(f)
  config['model']['fc_features'] = [16, 20]
  with open(os.path.join(copy, 'config.json'), 'w') as f:
    json.dump(config, f)
  with pytest.raises(ValueError, match='does not fit the model'):
    Scorer.from_workdir(copy)
  os.remove(os.path.join(copy, 'model_info.json'))
  with pytest.raises(FileNotFoundError, match='model_info.json'):
    Scorer.from_workdir(copy)


def test_unreadable_image_raises(scorer):
  with pytest.raises(OSError):
    scorer.score([b'not an image'])
  with pytest.raises(TypeError, match='Cannot score'):
    scorer.load_image(42)


def test_a_partial_newest_checkpoint_falls_back(saved, tmp_path):
  copy = str(tmp_path / 'copy')
  shutil.copytree(saved[0], copy)
  state = os.path.join(copy, 'checkpoints', '3', 'state')
  for name in os.listdir(state):  # the step's arrays are gone (e.g. a crash while saving)
    path = os.path.join(state, name)
    shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
  assert Scorer.from_workdir(copy).step == 1


def test_pil_and_array_inputs_match_bytes_for_a_jpeg(scorer, images):
  # For a decoded image the warp is the same (bilinear to resize_size, then centre crop).
  with Image.open(images[1]) as image:
    pixels = np.asarray(image.convert('RGB'))
  buffer = io.BytesIO()
  Image.fromarray(pixels).save(buffer, 'PNG')
  np.testing.assert_array_equal(scorer.load_image(pixels), scorer.load_image(buffer.getvalue()))

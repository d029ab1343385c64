"""aesthetic_jax.export: the exported artefact agrees with the live model and loads with
numpy and jax alone."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from aesthetic_jax import Scorer
from aesthetic_jax.cli import entry
from aesthetic_jax.cli import export as export_cli
from aesthetic_jax.infer import export
from scoring_fixtures import TAGS, save_workdir, small_config, write_images


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
  """(live Scorer, path of its export, image paths); pool_lrn_impl 'cpu' live, 'xla' exported."""
  root = tmp_path_factory.mktemp('export')
  workdir = str(root / 'run')
  save_workdir(workdir, small_config(**{'model.pool_lrn_impl': 'cpu'}))
  path = str(root / 'model.npz')
  assert entry.call(export_cli.main, [f'--workdir={workdir}', f'--output={path}']) == 0
  return Scorer.from_workdir(workdir), path, write_images(str(root / 'images'), 5)


@pytest.mark.parametrize('batch', [1, 3, 17])
def test_exported_agrees_with_live(exported, batch):
  scorer, path, _ = exported
  model = export.load(path)
  images = np.random.default_rng(batch).integers(0, 256, (batch, 32, 32, 3), np.uint8)
  live = scorer.predict(images)
  out = model(images)
  assert sorted(out) == ['p_high', 'predicted_mean_score', 'score_distribution',
                         'semantic_probs']
  np.testing.assert_allclose(out['p_high'], live.p_high, atol=1e-5)
  np.testing.assert_allclose(out['semantic_probs'], live.semantic_probs, atol=1e-5)
  np.testing.assert_allclose(out['score_distribution'], live.score_distribution, atol=1e-5)
  np.testing.assert_allclose(out['predicted_mean_score'], live.mean_score, atol=1e-4)
  assert np.ptp(out['p_high']) > 0 or batch == 1  # the images really differ


def test_info_and_files(exported):
  scorer, path, images = exported
  model = export.load(path)
  assert model.tag_names == TAGS and model.crop_size == 32
  assert model.info['platforms'] == ['cpu', 'cuda', 'tpu']
  assert (model.info['score_min'], model.info['score_max']) == (1, 10)
  assert model.info['step'] == 3
  out = model.score(images)
  np.testing.assert_allclose(out['p_high'], scorer.score(images).p_high, atol=1e-5)


def test_loads_without_the_training_code(exported, tmp_path):
  """In a fresh interpreter: the docstring's numpy + jax recipe, then export.load; neither
  imports Flax, optax, orbax, grain or TFDS."""
  scorer, path, _ = exported
  images = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3), np.uint8)
  np.save(tmp_path / 'images.npy', images)
  script = textwrap.dedent(f"""
      import json, sys
      import jax, numpy as np
      images = np.load({str(tmp_path / 'images.npy')!r})
      with np.load({path!r}) as f:
        model = jax.export.deserialize(bytearray(f['exported'].tobytes()))
        weights = [f[k] for k in sorted(f.files) if k.startswith('weight_')]
        info = json.loads(f['info'].tobytes())
      raw = model.call(weights, images)
      from aesthetic_jax.infer import export
      loaded = export.load({path!r})(images)
      heavy = [m for m in ('flax', 'optax', 'orbax', 'grain', 'tensorflow_datasets',
                           'aesthetic_jax.model', 'aesthetic_jax.infer.scorer')
               if m in sys.modules]
      print(json.dumps({{'raw': np.asarray(raw['p_high']).tolist(),
                         'loaded': loaded['p_high'].tolist(), 'heavy': heavy,
                         'crop': info['crop_size']}}))
  """)
  result = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True,
                          timeout=300, cwd=str(tmp_path))
  assert result.returncode == 0, result.stderr[-2000:]
  record = json.loads(result.stdout.strip().splitlines()[-1])
  assert record['heavy'] == [] and record['crop'] == 32
  live = scorer.predict(images).p_high
  np.testing.assert_allclose(record['raw'], live, atol=1e-5)
  np.testing.assert_allclose(record['loaded'], live, atol=1e-5)


def test_not_an_export(tmp_path):
  path = str(tmp_path / 'other.npz')
  np.savez(path, info=np.frombuffer(json.dumps({'format': 'x'}).encode(), np.uint8))
  with pytest.raises(ValueError, match='not an aesthetic_jax export'):
    export.load(path)

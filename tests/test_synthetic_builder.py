"""The embedded synthetic dataset: records, determinism, visible tags, tag-dependent quality."""

import dataclasses

import numpy as np
import pytest

from aesthetic_jax.data import registry as datasets
from data_builders.synthetic import quality, render
from data_builders.synthetic import synthetic

CONFIGS = synthetic.SyntheticAesthetics.builder_configs
# Factors that leave a rendered picture as drawn (no blur, noise or exposure change).
NEUTRAL = quality.Factors(blur=0.0, exposure=1.0, noise=0.0, composition=quality.THIRDS,
                          saturation=1.0)


def _read_all(source) -> list[dict]:
  return [source[i] for i in range(len(source))]


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
  """(sources, meta, data_dir) of 'synthetic/tiny', built once for this module."""
  data_dir = str(tmp_path_factory.mktemp('synthetic_tiny'))
  sources, meta = datasets.open_dataset('synthetic/tiny', data_dir, decode_images=True)
  return sources, meta, data_dir


def test_configs():
  small, tiny_config = CONFIGS['small'], CONFIGS['tiny']
  assert (small.num_train, small.num_test, small.image_size) == (3000, 800, 96)
  assert (tiny_config.num_train, tiny_config.num_test, tiny_config.image_size) == (64, 32, 48)
  assert synthetic.SyntheticAesthetics.DEFAULT_BUILDER_CONFIG_NAME == 'small'
  assert str(synthetic.SyntheticAesthetics.VERSION) == '1.0.0'
  assert '1.0.0' in synthetic.SyntheticAesthetics.RELEASE_NOTES


def test_split_sizes_and_metadata(tiny):
  _, meta, data_dir = tiny
  builder = datasets.get_builder('synthetic/tiny', data_dir)
  assert meta.split_sizes == {'train': 64, 'test': 32}
  assert meta.tag_names == ('sky', 'water', 'portrait', 'floral', 'architecture', 'night',
                            'macro', 'black_and_white')
  assert (meta.score_min, meta.score_max, meta.label_threshold) == (1, 10, 5.0)
  metadata = builder.info.metadata
  assert metadata['tag_ids'] == list(range(1, 9))
  assert 'SYNTHETIC' in metadata['description'] and 'not AVA' in metadata['description']
  assert 'SYNTHETIC' in builder.info.description
  assert builder.builder_config.name == 'tiny'


def test_record_fields(tiny):
  sources, _, _ = tiny
  ids = []
  for split, size in (('train', 64), ('test', 32)):
    for record in _read_all(sources[split]):
      image, votes, tags = record['image'], record['votes'], record['tags']
      assert image.dtype == np.uint8 and image.shape == (48, 48, 3)
      assert votes.dtype == np.int32 and votes.shape == (10,) and (votes >= 0).all()
      assert 100 <= votes.sum() <= 200
      assert record['num_votes'] == votes.sum()
      assert record['mean_score'] == pytest.approx(votes @ np.arange(1, 11) / votes.sum(),
                                                   abs=1e-6)
      assert tags.dtype == np.bool_ and tags.shape == (8,) and tags.sum() <= 2
      ids.append(int(record['image_id']))
    assert len(sources[split]) == size
  assert len(set(ids)) == 96  # unique across splits


def test_records_are_what_the_generator_makes(tiny):
  sources, _, _ = tiny
  config = CONFIGS['tiny']
  for split in ('train', 'test'):
    by_id = {int(r['image_id']): r for r in _read_all(sources[split])}
    for index in (0, 5, len(by_id) - 1):
      _, expected = synthetic.make_example(config, split, index)
      record = by_id[expected['image_id']]
      np.testing.assert_array_equal(record['votes'], expected['votes'])
      np.testing.assert_array_equal(record['tags'], expected['tags'])


def test_two_builds_are_identical(tiny, tmp_path):
  first, _ = datasets.open_dataset('synthetic/tiny', tiny[2])  # images stay JPEG bytes
  again, _ = datasets.open_dataset('synthetic/tiny', str(tmp_path))
  for split in ('train', 'test'):
    a, b = _read_all(first[split]), _read_all(again[split])
    assert [r['image_id'] for r in a] == [r['image_id'] for r in b]
    for x, y in zip(a, b):
      assert x['image'] == y['image']  # identical JPEG bytes
      np.testing.assert_array_equal(x['votes'], y['votes'])
      np.testing.assert_array_equal(x['tags'], y['tags'])
      assert x['mean_score'] == y['mean_score']


def test_render_is_deterministic():
  tags = ('portrait', 'water')
  factors = quality.sample_factors(np.random.default_rng(3))
  a = render.render_example(np.random.default_rng(7), tags, factors, 40)
  b = render.render_example(np.random.default_rng(7), tags, factors, 40)
  c = render.render_example(np.random.default_rng(8), tags, factors, 40)
  assert a.dtype == np.uint8 and a.shape == (40, 40, 3)
  np.testing.assert_array_equal(a, b)
  assert not np.array_equal(a, c)
  assert synthetic.make_example(CONFIGS['tiny'], 'train', 3)[0] == 'train_0000003'
  k1, r1 = synthetic.make_example(CONFIGS['tiny'], 'test', 3)
  k2, r2 = synthetic.make_example(CONFIGS['tiny'], 'test', 3)
  assert k1 == k2 and r1['image'] == r2['image']


@pytest.mark.parametrize('tags', [('black_and_white',), ('black_and_white', 'floral'),
                                  ('night', 'black_and_white'), ('sky', 'black_and_white')])
def test_black_and_white_renders_gray(tags):
  for seed in range(3):
    rng = np.random.default_rng(seed)
    image = render.render_example(rng, tags, quality.sample_factors(rng), 32)
    np.testing.assert_array_equal(image[..., 0], image[..., 1])
    np.testing.assert_array_equal(image[..., 1], image[..., 2])


def test_black_and_white_records_are_gray_after_jpeg(tiny):
  sources, _, _ = tiny
  bw = quality.TAG_NAMES.index('black_and_white')
  records = [r for s in ('train', 'test') for r in _read_all(sources[s]) if r['tags'][bw]]
  assert records, 'no black_and_white picture in tiny'
  for record in records:
    image = record['image']
    assert (image[..., 0] == image[..., 1]).all() and (image[..., 1] == image[..., 2]).all()
  colour = [r['image'] for r in _read_all(sources['train']) if not r['tags'][bw]]
  assert any((img[..., 0] != img[..., 2]).any() for img in colour)


def test_night_is_darker():
  rng = np.random.default_rng(0)
  night, day = [], []
  for _ in range(20):
    factors = quality.sample_factors(rng)
    other = quality.TAG_NAMES[rng.integers(5)]  # sky .. architecture
    night.append(render.render_example(rng, ('night', other), factors, 32).mean())
    day.append(render.render_example(rng, (other,), factors, 32).mean())
  assert np.mean(night) < 0.6 * np.mean(day)


def test_night_records_are_darker(tiny):
  sources, _, _ = tiny
  column = quality.TAG_NAMES.index('night')
  records = _read_all(sources['train']) + _read_all(sources['test'])
  night = [r['image'].mean() for r in records if r['tags'][column]]
  other = [r['image'].mean() for r in records if not r['tags'][column]]
  assert night and np.mean(night) < 0.7 * np.mean(other)


def test_sky_is_blue_on_top():
  rng = np.random.default_rng(1)

  def blueness(tags):
    image = render.render_example(rng, tags, NEUTRAL, 48).astype(float)
    top = image[:12]
    return (top[..., 2] - top[..., 0]).mean()

  sky = [blueness(('sky',)) for _ in range(10)]
  plain = [blueness(()) for _ in range(10)]
  assert min(sky) > 20 and np.mean(sky) > np.mean(plain) + 30


# Mid-range factors: the quality rule is near its steepest here (away from the squashing).
MID = quality.Factors(blur=0.5, exposure=1.0, noise=0.5, composition=quality.CENTRE,
                      saturation=0.85)


def _quality(tags, **changes) -> float:
  return quality.latent_quality(tags, dataclasses.replace(MID, **changes))


def test_darkness_hurts_except_at_night():
  for tags in (('sky',), ('portrait',), ()):
    assert _quality(tags, exposure=0.4) < _quality(tags, exposure=1.0) - 1.0
  for tags in (('night',), ('night', 'sky')):
    assert _quality(tags, exposure=0.4) == pytest.approx(_quality(tags, exposure=1.0))


def test_saturation_counts_except_in_black_and_white():
  for tags in (('floral',), ('sky', 'water'), ()):
    assert _quality(tags, saturation=1.5) > _quality(tags, saturation=0.3) + 0.7
  for tags in (('black_and_white',), ('black_and_white', 'floral')):
    assert _quality(tags, saturation=1.5) == _quality(tags, saturation=0.3)


def test_background_blur_depends_on_tags():
  for tags in (('macro',), ('portrait',)):
    assert _quality(tags, blur=1.0) > _quality(tags, blur=0.0) + 1.0
  for tags in (('architecture',), ('sky',), ('water',), ()):
    assert _quality(tags, blur=1.0) < _quality(tags, blur=0.0) - 0.5


def test_noise_hurts_portraits_most():
  drop = {tags: _quality(tags, noise=0.0) - _quality(tags, noise=1.0)
          for tags in (('portrait',), ('sky',))}
  assert drop[('sky',)] > 0.5 and drop[('portrait',)] > 1.5 * drop[('sky',)]


def test_composition_matters():
  scores = [_quality(('water',), composition=c)
            for c in (quality.THIRDS, quality.CENTRE, quality.EDGE)]
  assert scores[0] > scores[1] > scores[2]


def test_quality_range_and_votes():
  rng = np.random.default_rng(0)
  for _ in range(50):
    tags, factors = quality.sample_tags(rng), quality.sample_factors(rng)
    assert len(tags) <= 2 and len(set(tags)) == len(tags)
    value = quality.latent_quality(tags, factors)
    assert 2.5 <= value <= 7.5
  votes = quality.sample_votes(rng, 6.0)
  assert votes.shape == (10,) and 100 <= votes.sum() <= 200
  assert quality.histogram_mean(votes) == pytest.approx(6.0, abs=0.4)


def test_small_label_balance():
  """About 60% of 'small' is high (mean > 5): a classifier must beat ~0.6."""
  config = CONFIGS['small']
  for split in ('train', 'test'):
    annotations = [synthetic.annotate(config, split, i) for i in range(400)]
    high = np.mean([a.mean_score > quality.LABEL_THRESHOLD for a in annotations])
    latent_high = np.mean([a.quality > quality.LABEL_THRESHOLD for a in annotations])
    assert 0.5 <= high <= 0.7 and 0.5 <= latent_high <= 0.7
    counts = np.sum([quality.tag_vector(a.tags) for a in annotations], axis=0)
    assert counts.min() >= 30  # every tag is common enough to learn

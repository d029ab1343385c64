"""Tags, photographic factors, the latent quality rule and the votes of a synthetic photo.

Kao, He and Huang (IEEE TIP 2017) argue that what makes a photo good depends on what it
shows. The rule here makes that literal: each factor's effect on quality depends on the
tags (darkness hurts unless the shot is a night scene, saturation is moot in black and
white, background blur helps a macro or portrait shot and hurts architecture or a
landscape, noise hurts a portrait most). Everything is a pure function of its inputs.
"""

import dataclasses

import numpy as np

TAG_NAMES = ('sky', 'water', 'portrait', 'floral', 'architecture', 'night', 'macro',
             'black_and_white')
TAG_IDS = tuple(range(1, len(TAG_NAMES) + 1))
NUM_TAGS = len(TAG_NAMES)
SCORE_MIN, SCORE_MAX = 1, 10
NUM_BINS = SCORE_MAX - SCORE_MIN + 1
LABEL_THRESHOLD = 5.0

# P(0, 1 or 2 tags) per image; the tags themselves are uniform without replacement, so each
# tag is on about 14% of the images (about 430 of the 3000 training images of 'small').
NUM_TAGS_PROBS = (0.2, 0.45, 0.35)

# Composition: the subject near a rule-of-thirds point, dead centre, or cut by the frame.
THIRDS, CENTRE, EDGE = 0, 1, 2
COMPOSITION_NAMES = ('thirds', 'centre', 'edge')
COMPOSITION_PROBS = (0.45, 0.35, 0.2)

# Ranges of the factors (see `Factors`).
EXPOSURE_RANGE = (0.35, 1.35)
SATURATION_RANGE = (0.1, 1.6)

# Quality effects, in score units (the rule of `latent_quality`).
BASE_QUALITY = 6.3
COMPOSITION_EFFECT = {THIRDS: 0.6, CENTRE: 0.0, EDGE: -0.9}
DARKNESS_PENALTY = 1.8          # x darkness in [0, 1]; none for night shots
OVEREXPOSURE_PENALTY = 0.8      # x overexposure in [0, 1]; for every tag
SATURATION_EFFECT = 0.8         # x (saturation - 0.85) / 0.75 in [-1, 1]; none for b&w
NOISE_PENALTY = 1.0             # x noise in [0, 1]
NOISE_PENALTY_PORTRAIT = 2.0
# Background blur: effect = coefficient x (2 blur - 1); a tagged image averages the
# coefficients of its tags that have one (black_and_white has none), an untagged one gets
# the default.
BLUR_COEFFICIENT = {'macro': 1.2, 'portrait': 1.0, 'floral': 0.4, 'night': -0.3,
                    'sky': -0.9, 'water': -0.9, 'architecture': -1.2}
BLUR_COEFFICIENT_DEFAULT = -0.5
# Small per-tag offsets of the base quality.
TAG_BASE = {'black_and_white': 0.2, 'macro': 0.1, 'night': 0.1}
IDIOSYNCRATIC_STD = 0.35
# The raw score is squashed smoothly into QUALITY_CENTRE +- QUALITY_HALF_RANGE.
QUALITY_CENTRE, QUALITY_HALF_RANGE = 5.0, 2.5

VOTE_STD = 1.4
NUM_VOTES_RANGE = (100, 200)


@dataclasses.dataclass(frozen=True)
class Factors:
  """The photographic factors of one image, applied by `render.render_example`.

  blur: background defocus in [0, 1] (Gaussian sigma up to ~3.5% of the image side).
  exposure: brightness gain in EXPOSURE_RANGE (1 = correct).
  noise: sensor noise in [0, 1] (std up to 0.08 of full scale).
  composition: THIRDS, CENTRE or EDGE.
  saturation: colour saturation multiplier in SATURATION_RANGE (1 = as rendered).
  quirk: the image's idiosyncratic quality term, N(0, IDIOSYNCRATIC_STD); not rendered.
  """
  blur: float
  exposure: float
  noise: float
  composition: int
  saturation: float
  quirk: float = 0.0

  @property
  def darkness(self) -> float:
    """0 at exposure >= 1, rising to 1 at the darkest exposure."""
    return max(0.0, 1.0 - self.exposure) / (1.0 - EXPOSURE_RANGE[0])

  @property
  def overexposure(self) -> float:
    """0 up to exposure 1.1, rising to 1 at the brightest exposure."""
    return max(0.0, self.exposure - 1.1) / (EXPOSURE_RANGE[1] - 1.1)


def tag_vector(tags) -> np.ndarray:
  """Tag names -> bool multi-hot (NUM_TAGS,) in TAG_NAMES order."""
  unknown = set(tags) - set(TAG_NAMES)
  if unknown:
    raise ValueError(f'Unknown tags {sorted(unknown)}; known: {TAG_NAMES}.')
  return np.array([name in tags for name in TAG_NAMES], bool)


def sample_tags(rng: np.random.Generator) -> tuple[str, ...]:
  """0, 1 or 2 distinct tag names, in TAG_NAMES order."""
  count = rng.choice(len(NUM_TAGS_PROBS), p=NUM_TAGS_PROBS)
  chosen = rng.choice(NUM_TAGS, size=count, replace=False)
  return tuple(TAG_NAMES[i] for i in sorted(chosen))


def sample_factors(rng: np.random.Generator) -> Factors:
  return Factors(
      blur=float(rng.uniform(0.0, 1.0)),
      exposure=float(rng.uniform(*EXPOSURE_RANGE)),
      noise=float(rng.uniform(0.0, 1.0)),
      composition=int(rng.choice(len(COMPOSITION_PROBS), p=COMPOSITION_PROBS)),
      saturation=float(rng.uniform(*SATURATION_RANGE)),
      quirk=float(rng.normal(0.0, IDIOSYNCRATIC_STD)))


def blur_coefficient(tags) -> float:
  """The tag-dependent weight of background blur (positive: blur helps)."""
  coefficients = [BLUR_COEFFICIENT[t] for t in tags if t in BLUR_COEFFICIENT]
  return float(np.mean(coefficients)) if coefficients else BLUR_COEFFICIENT_DEFAULT


def quality_terms(tags, factors: Factors) -> dict[str, float]:
  """Each factor's contribution to the raw quality (before squashing), in score units."""
  tags = set(tags)
  noise_penalty = NOISE_PENALTY_PORTRAIT if 'portrait' in tags else NOISE_PENALTY
  return {
      'base': BASE_QUALITY + sum(TAG_BASE.get(t, 0.0) for t in tags),
      'composition': COMPOSITION_EFFECT[factors.composition],
      'darkness': 0.0 if 'night' in tags else -DARKNESS_PENALTY * factors.darkness,
      'overexposure': -OVEREXPOSURE_PENALTY * factors.overexposure,
      'saturation': (0.0 if 'black_and_white' in tags else
                     SATURATION_EFFECT * (factors.saturation - 0.85) / 0.75),
      'noise': -noise_penalty * factors.noise,
      'blur': blur_coefficient(tags) * (2.0 * factors.blur - 1.0),
      'quirk': factors.quirk,
  }


def latent_quality(tags, factors: Factors) -> float:
  """The image's true mean score, in QUALITY_CENTRE +- QUALITY_HALF_RANGE (2.5..7.5)."""
  raw = sum(quality_terms(tags, factors).values())
  return float(QUALITY_CENTRE + QUALITY_HALF_RANGE *
               np.tanh((raw - QUALITY_CENTRE) / QUALITY_HALF_RANGE))


def sample_votes(rng: np.random.Generator, quality: float) -> np.ndarray:
  """int32 (NUM_BINS,): votes[s - 1] raters gave score s; about 100-200 raters.

  Each rating is a normal draw around `quality` (std VOTE_STD), rounded and clipped to 1..10.
  """
  num_votes = rng.integers(NUM_VOTES_RANGE[0], NUM_VOTES_RANGE[1] + 1)
  ratings = np.clip(np.rint(rng.normal(quality, VOTE_STD, num_votes)), SCORE_MIN, SCORE_MAX)
  return np.bincount(ratings.astype(np.int64) - SCORE_MIN, minlength=NUM_BINS).astype(np.int32)


def histogram_mean(votes: np.ndarray) -> float:
  """The mean score of a vote histogram (NUM_BINS,)."""
  votes = np.asarray(votes, np.float64)
  return float(votes @ np.arange(SCORE_MIN, SCORE_MAX + 1) / votes.sum())


@dataclasses.dataclass(frozen=True)
class Annotation:
  """What one synthetic photo shows and how it was rated (everything but its pixels)."""
  tags: tuple[str, ...]
  factors: Factors
  quality: float
  votes: np.ndarray  # int32 (NUM_BINS,)

  @property
  def mean_score(self) -> float:
    return histogram_mean(self.votes)


def sample_annotation(rng: np.random.Generator) -> Annotation:
  """Tags, factors, latent quality and votes of one photo."""
  tags = sample_tags(rng)
  factors = sample_factors(rng)
  value = latent_quality(tags, factors)
  return Annotation(tags=tags, factors=factors, quality=value, votes=sample_votes(rng, value))

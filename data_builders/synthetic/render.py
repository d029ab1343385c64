"""Procedural rendering of a synthetic photo whose tags are visible in its pixels.

A photo is a background scene (blue sky, rippled water, a skyline, night lights, or a
generic ground and horizon with a few objects) and one subject (a face, a flower, a tower
or a generic object; large for macro) placed by the composition factor. The background is
defocused by the blur factor; then saturation, grayscale (black_and_white), exposure and
noise are applied to the whole frame. Vectorised numpy throughout (see shapes.py).
"""

import numpy as np

from data_builders.synthetic import quality, shapes
from data_builders.synthetic.shapes import hsv, paint

MAX_BLUR_SIGMA = 0.035   # background blur sigma at blur = 1, as a fraction of the side
MAX_NOISE_STD = 0.08     # noise std at noise = 1, in [0, 1] pixel units
NIGHT_DIM = 0.35         # how much darker a night scene is drawn
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # ITU-R BT.601


def subject_centre(rng: np.random.Generator, composition: int) -> tuple[float, float]:
  """(cy, cx) in [0, 1]: near a rule-of-thirds point, near the centre, or on an edge."""
  if composition == quality.THIRDS:
    cy, cx = rng.choice([1 / 3, 2 / 3], size=2) + rng.normal(0.0, 0.02, 2)
  elif composition == quality.CENTRE:
    cy, cx = 0.5 + rng.normal(0.0, 0.02, 2)
  else:  # cut by the frame: centred on (or just inside) one side
    along = rng.uniform(0.3, 0.7)
    across = rng.choice([0.0, 1.0]) + rng.uniform(-0.04, 0.04)
    cy, cx = (along, across) if rng.random() < 0.5 else (across, along)
  return float(cy), float(cx)


def _muted_non_blue(rng: np.random.Generator, value=(0.45, 0.85)) -> np.ndarray:
  """A low-saturation colour whose hue avoids the blues of sky and water."""
  return hsv(rng.uniform(-0.12, 0.45), rng.uniform(0.05, 0.35), rng.uniform(*value))


def _upper(rng, tags, y, horizon, night) -> np.ndarray:
  """Above the horizon (3, H, 1): a blue sky gradient (sky) or a muted non-blue backdrop."""
  t = np.clip(y / max(horizon, 1e-3), 0.0, 1.0)
  if 'sky' in tags:
    hue = rng.uniform(0.55, 0.62)
    if night:
      top, bottom = hsv(hue + 0.05, 0.8, 0.12), hsv(hue, 0.6, 0.3)
    else:
      top = hsv(hue, rng.uniform(0.6, 0.85), rng.uniform(0.6, 0.8))
      bottom = hsv(hue, rng.uniform(0.15, 0.35), rng.uniform(0.9, 1.0))
  else:
    dim = NIGHT_DIM if night else 1.0
    top, bottom = _muted_non_blue(rng) * dim, _muted_non_blue(rng) * dim
  return top * (1.0 - t) + bottom * t


def _lower(rng, tags, y, x, horizon, night) -> np.ndarray:
  """Below the horizon (3, H, W): rippled blue water (water) or a muted banded ground."""
  depth = np.clip((y - horizon) / max(1.0 - horizon, 1e-3), 0.0, 1.0)
  if 'water' in tags:
    base = hsv(rng.uniform(0.52, 0.6), rng.uniform(0.55, 0.85),
               0.25 if night else rng.uniform(0.55, 0.8))
    freq, wobble = rng.uniform(25, 40), rng.uniform(6, 12)
    ripples = np.sin(2 * np.pi * (freq * depth ** 0.7 + 0.25 * np.sin(2 * np.pi * wobble * x)))
    return base * ((1.0 - 0.35 * depth) * (1.0 + 0.18 * ripples))
  ground = _muted_non_blue(rng, (0.35, 0.7)) * (NIGHT_DIM if night else 1.0)
  bands = 1.0 + 0.08 * np.sin(2 * np.pi * rng.uniform(4, 9) * depth + rng.uniform(0, 6.3))
  return ground * ((1.0 - 0.25 * depth) * bands) * np.ones_like(x)


def _clouds(rng, canvas, y, x, horizon, size) -> np.ndarray:
  for _ in range(rng.integers(0, 4)):
    cy, cx = rng.uniform(0.05, max(0.1, horizon - 0.15)), rng.uniform(0.0, 1.0)
    ry, rx = rng.uniform(0.03, 0.07), rng.uniform(0.08, 0.2)
    mask = 0.85 * shapes.ellipse(y, x, cy, cx, ry, rx, size) * (y < horizon)
    canvas = paint(canvas, mask, hsv(0.6, 0.03, rng.uniform(0.92, 1.0)))
  return canvas


def _skyline(rng, canvas, y, x, horizon, night) -> np.ndarray:
  """Rectilinear blocks with window grids (lit at night) standing on the horizon."""
  left = rng.uniform(-0.1, 0.05)
  while left < 1.0:
    width, top = rng.uniform(0.12, 0.28), rng.uniform(0.12, max(0.15, horizon - 0.15))
    wall = hsv(rng.uniform(0.0, 0.12), rng.uniform(0.0, 0.3), rng.uniform(0.4, 0.75))
    wall = wall * (NIGHT_DIM if night else 1.0)
    canvas = paint(canvas, shapes.rect(y, x, top, horizon + 0.02, left, left + width), wall)
    pitch_y, pitch_x = rng.uniform(0.04, 0.07), width / rng.integers(3, 6)
    windows = shapes.window_grid(y, x, top + 0.02, left + 0.25 * pitch_x, pitch_y, pitch_x)
    windows &= shapes.rect(y, x, top + 0.015, horizon - 0.01, left + 0.01,
                           left + width - 0.01) > 0
    lit = hsv(0.13, 0.6, 0.95) if night else wall * 0.45
    canvas = paint(canvas, windows.astype(np.float32), lit)
    left += width + rng.uniform(0.0, 0.04)
  return canvas


def _scatter(rng, canvas, y, x, sprite, count, top, size, radius, dim) -> np.ndarray:
  """`count` small sprites below `top` (flowers in a meadow, objects on the ground)."""
  for _ in range(count):
    cy, cx = rng.uniform(top, 0.97), rng.uniform(0.03, 0.97)
    canvas = shapes.stamp(canvas, sprite, rng, y, x, cy, cx, rng.uniform(*radius), size,
                          dim=dim)
  return canvas


def _night_lights(rng, canvas, y, x) -> np.ndarray:
  """Bright point lights (street lights, stars) anywhere in a dark scene."""
  count = rng.integers(10, 25)
  glow = shapes.spots(y, x, rng.uniform(0.05, 0.95, count), rng.uniform(0.0, 1.0, count),
                      rng.uniform(0.006, 0.015, count))
  colour = hsv(rng.uniform(0.08, 0.16), rng.uniform(0.1, 0.5), 1.0)
  return paint(canvas, np.clip(glow, 0.0, 1.0), colour)


def _macro_backdrop(rng, y, x) -> np.ndarray:
  """A soft two-colour gradient with a few large out-of-focus discs (bokeh)."""
  a, b = (hsv(rng.uniform(0, 1), rng.uniform(0.2, 0.6), rng.uniform(0.35, 0.8)) for _ in range(2))
  angle = rng.uniform(0, 2 * np.pi)
  t = np.clip(0.5 + 0.7 * ((y - 0.5) * np.sin(angle) + (x - 0.5) * np.cos(angle)), 0, 1)
  count = rng.integers(2, 5)
  bokeh = shapes.spots(y, x, rng.uniform(0, 1, count), rng.uniform(0, 1, count),
                       rng.uniform(0.05, 0.1, count))
  return paint(a * (1.0 - t) + b * t, 0.35 * np.clip(bokeh, 0, 1),
               hsv(rng.uniform(0, 1), 0.2, 1.0))


def render_background(rng, tags, y, x, size: int) -> np.ndarray:
  """The scene behind the subject, float (3, H, W) in [0, 1]."""
  tags = set(tags)
  night, macro = 'night' in tags, 'macro' in tags
  dim = NIGHT_DIM if night else 1.0
  if macro and not tags & {'sky', 'water', 'architecture'}:
    canvas = _macro_backdrop(rng, y, x) * dim
  else:
    horizon = rng.uniform(0.65, 0.85) if macro else rng.uniform(0.45, 0.7)
    canvas = np.where(y < horizon, _upper(rng, tags, y, horizon, night),
                      _lower(rng, tags, y, x, horizon, night)).astype(np.float32)
    if 'sky' in tags and not night:
      canvas = _clouds(rng, canvas, y, x, horizon, size)
    if 'architecture' in tags:
      canvas = _skyline(rng, canvas, y, x, horizon, night)
    if 'floral' in tags and subject_kind(tags) != 'flower' and not macro:
      canvas = _scatter(rng, canvas, y, x, shapes.small_flower, rng.integers(3, 7),
                        max(horizon, 0.6), size, (0.04, 0.07), dim)
    elif not tags - {'black_and_white', 'night'}:  # the generic scene
      canvas = _scatter(rng, canvas, y, x, shapes.generic, rng.integers(2, 5), horizon + 0.05,
                        size, (0.03, 0.06), 0.9 * dim)
  if night:
    canvas = _night_lights(rng, canvas, y, x)
  return canvas


def subject_kind(tags) -> str:
  """The subject a tag set gets: 'face' > 'flower' > 'tower' > 'generic'."""
  for tag, kind in (('portrait', 'face'), ('floral', 'flower'), ('architecture', 'tower')):
    if tag in tags:
      return kind
  return 'generic'


_SPRITES = {'face': shapes.face, 'flower': shapes.flower, 'tower': shapes.tower,
            'generic': shapes.generic}


def draw_subject(rng, canvas, tags, y, x, cy, cx, size: int) -> np.ndarray:
  """Draws the subject (sharp, never blurred) centred at (cy, cx) onto canvas in place."""
  kind = subject_kind(tags)
  night = 'night' in tags
  r = rng.uniform(0.3, 0.4) if 'macro' in tags else rng.uniform(0.12, 0.17)
  if kind == 'tower':
    # A tower is ~3r tall (smaller when macro, so it does not swallow the frame) and lights
    # its own windows at night.
    r *= 0.6 if 'macro' in tags else 1.0
    return shapes.stamp(canvas, shapes.tower, rng, y, x, cy, cx, r, size, night=night)
  return shapes.stamp(canvas, _SPRITES[kind], rng, y, x, cy, cx, r, size,
                      dim=0.4 if night else 1.0)


def render_example(rng: np.random.Generator, tags, factors: quality.Factors,
                   size: int) -> np.ndarray:
  """uint8 (size, size, 3) RGB picture showing `tags`, shot with `factors`.

  tags: names from quality.TAG_NAMES. All randomness (colours, positions, sizes, noise)
  comes from `rng`: the same rng state gives the same array.
  """
  coords = (np.arange(size, dtype=np.float32) + 0.5) / size
  y, x = coords[:, None], coords[None, :]
  cy, cx = subject_centre(rng, factors.composition)
  image = render_background(rng, tags, y, x, size)
  image = shapes.gaussian_blur(image, factors.blur * MAX_BLUR_SIGMA * size)
  image = draw_subject(rng, np.asarray(image, np.float32), tags, y, x, cy, cx, size)
  gray = np.tensordot(_LUMA, image, axes=1)[None]  # (1, H, W)
  black_and_white = 'black_and_white' in tags
  if black_and_white:
    image = gray
  else:
    image = gray + (image - gray) * np.float32(factors.saturation)
  image *= np.float32(255.0 * factors.exposure)
  # Zero-mean uniform noise with the wanted std (a normal draw costs ~3x more, looks alike).
  half_width = np.float32(255.0 * MAX_NOISE_STD * factors.noise * np.sqrt(3.0))
  image += half_width * (2.0 * rng.random((image.shape[0], size, size), np.float32) - 1.0)
  image = np.clip(image + 0.5, 0.0, 255.0).astype(np.uint8)  # round half up, saturate
  return np.ascontiguousarray(np.broadcast_to(image, (3, size, size)).transpose(1, 2, 0))

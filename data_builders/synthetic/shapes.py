"""Vectorised drawing primitives and sprites for the synthetic renderer.

Conventions: y (H, 1) and x (1, W) are pixel-centre coordinates in [0, 1] (a sub-grid of
the frame works the same), masks are float (H, W) in [0, 1], canvases are channel-first
float (3, H, W): broadcasting a mask over a leading channel axis is far faster in numpy
than over a trailing one. Colours are (3, 1, 1).
"""

import colorsys

import numpy as np
from scipy import ndimage


def hsv(h: float, s: float, v: float) -> np.ndarray:
  """A colour (3, 1, 1) from hue (wraps), saturation and value in [0, 1]."""
  return np.array(colorsys.hsv_to_rgb(h % 1.0, s, v), np.float32)[:, None, None]


def paint(canvas: np.ndarray, mask: np.ndarray, colour) -> np.ndarray:
  """canvas (3, H, W) with colour (3, 1, 1) or (3, H, W) laid over where mask (H, W) is 1."""
  return canvas + (colour - canvas) * mask


def blank(y, x, channels: int = 0) -> np.ndarray:
  """Zeros (H, W), or (channels, H, W) if channels."""
  shape = (y.shape[0], x.shape[1])
  return np.zeros((channels, *shape) if channels else shape, np.float32)


def ellipse(y, x, cy, cx, ry, rx, size: int) -> np.ndarray:
  """Anti-aliased filled ellipse mask (edge about one pixel of a size x size frame wide)."""
  r = np.sqrt(((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2)
  return np.clip((1.0 - r) * (min(ry, rx) * size) + 0.5, 0.0, 1.0)


def rect(y, x, top, bottom, left, right) -> np.ndarray:
  """Mask of an axis-aligned rectangle (an outer product of two 1-D ranges)."""
  return (((y >= top) & (y < bottom)) & ((x >= left) & (x < right))).astype(np.float32)


def window_grid(y, x, top, left, pitch_y, pitch_x, fill=0.55) -> np.ndarray:
  """Bool (H, W): a regular grid of windows starting at (top, left)."""
  return (((y - top) % pitch_y) < fill * pitch_y) & (((x - left) % pitch_x) < fill * pitch_x)


def spots(y, x, cy, cx, radius) -> np.ndarray:
  """Sum (H, W) of Gaussian spots centred at (cy, cx) (K,) with radii (K,).

  A 2-D Gaussian is the outer product of two 1-D ones, so the sum over spots is a matmul.
  """
  rows = np.exp(-0.5 * ((y.T - cy[:, None]) / radius[:, None]) ** 2)  # (K, H)
  cols = np.exp(-0.5 * ((x - cx[:, None]) / radius[:, None]) ** 2)    # (K, W)
  return (rows.T @ cols).astype(np.float32)


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
  """Gaussian blur of float (C, H, W) over H and W with `sigma` pixels (edges reflected)."""
  if sigma < 0.3:
    return image
  return ndimage.gaussian_filter(image, (0.0, sigma, sigma), mode='reflect', truncate=3.0)


def _span(coords: np.ndarray, centre: float, half: float) -> slice:
  lo, hi = np.searchsorted(coords, (centre - half, centre + half))
  return slice(int(lo), int(hi))


def stamp(canvas, sprite, rng, y, x, cy, cx, r, size: int, *, dim: float = 1.0, **kwargs):
  """Draws sprite(rng, y, x, cy, cx, r, size, **kwargs) onto canvas (3, H, W) in place.

  Only the box that can hold the sprite (EXTENT[sprite] * r around (cy, cx), plus a pixel
  for anti-aliasing) is computed; `dim` scales its colours (night scenes).
  """
  half = EXTENT[sprite] * r + 1.0 / size
  rows, cols = _span(y[:, 0], cy, half), _span(x[0], cx, half)
  if rows.start == rows.stop or cols.start == cols.stop:
    return canvas
  rgb, alpha = sprite(rng, y[rows], x[:, cols], cy, cx, r, size, **kwargs)
  canvas[:, rows, cols] = paint(canvas[:, rows, cols], alpha, rgb * dim)
  return canvas


# --- Sprites: (rng, y, x, cy, cx, r, size) -> rgb (3, H, W), alpha (H, W) ------------------

_SKIN = ((0.07, 0.35, 0.95), (0.07, 0.45, 0.8), (0.06, 0.55, 0.6), (0.06, 0.6, 0.4))
_PETAL_HUES = (0.0, 0.93, 0.8, 0.12, 0.07, 0.75)


def face(rng, y, x, cy, cx, r, size):
  """Head and shoulders: a skin-tone face ellipse with hair, two eyes and a mouth."""
  rgb, alpha = blank(y, x, 3), blank(y, x)
  eye_dx, eye_y = 0.3 * r, cy - 0.1 * r
  parts = (  # (cy, cx, ry, rx, colour), back to front
      (cy + 1.55 * r, cx, 0.75 * r, 1.5 * r,
       hsv(rng.uniform(0, 1), rng.uniform(0.3, 0.8), rng.uniform(0.3, 0.8))),  # shoulders
      (cy - 0.12 * r, cx, 1.08 * r, 0.86 * r, hsv(0.07, 0.6, rng.uniform(0.08, 0.4))),  # hair
      (cy + 0.05 * r, cx, r, 0.74 * r, hsv(*_SKIN[rng.integers(len(_SKIN))])),
      (eye_y, cx - eye_dx, 0.1 * r, 0.13 * r, hsv(0, 0, 0.08)),
      (eye_y, cx + eye_dx, 0.1 * r, 0.13 * r, hsv(0, 0, 0.08)),
      (cy + 0.5 * r, cx, 0.08 * r, 0.28 * r, hsv(0.98, 0.6, 0.55)),  # mouth
  )
  for py, px, ry, rx, colour in parts:
    mask = ellipse(y, x, py, px, ry, rx, size)
    rgb, alpha = paint(rgb, mask, colour), np.maximum(alpha, mask)
  return rgb, alpha


def flower(rng, y, x, cy, cx, r, size, stem=True):
  """Two rings of petals (rose-curve outlines) round a yellow-brown disc, on a green stem."""
  dy, dx = y - cy, x - cx
  dist, theta = np.sqrt(dy ** 2 + dx ** 2), np.arctan2(dy, dx)
  petals, turn = rng.integers(5, 9), rng.uniform(0, 2 * np.pi)
  hue = _PETAL_HUES[rng.integers(len(_PETAL_HUES))] + rng.uniform(-0.03, 0.03)
  rgb, alpha = blank(y, x, 3), blank(y, x)
  if stem:
    stem_mask = rect(y, x, cy, cy + 3 * r, cx - 0.06 * r, cx + 0.06 * r)
    rgb, alpha = paint(rgb, stem_mask, hsv(0.3, 0.7, 0.45)), stem_mask
  for scale, shade, offset in ((1.0, 1.0, 0.0), (0.62, 0.75, np.pi / petals)):
    outline = scale * r * (0.5 + 0.5 * np.abs(np.cos(petals * (theta - turn - offset) / 2)))
    mask = np.clip((outline - dist) * size + 0.5, 0.0, 1.0)
    rgb = paint(rgb, mask, hsv(hue, rng.uniform(0.6, 0.95), shade * rng.uniform(0.8, 1.0)))
    alpha = np.maximum(alpha, mask)
  disc = ellipse(y, x, cy, cx, 0.22 * r, 0.22 * r, size)
  rgb = paint(rgb, disc, hsv(rng.uniform(0.08, 0.15), 0.9, rng.uniform(0.5, 0.9)))
  return rgb, np.maximum(alpha, disc)


def small_flower(rng, y, x, cy, cx, r, size):
  return flower(rng, y, x, cy, cx, r, size, stem=False)


def tower(rng, y, x, cy, cx, r, size, night=False):
  """A tall rectilinear block with a grid of windows (lit at night)."""
  width, height = r * rng.uniform(1.0, 1.5), r * rng.uniform(2.6, 3.4)
  top, left = cy - 0.5 * height, cx - 0.5 * width
  body = rect(y, x, top, top + height, left, left + width)
  wall = hsv(rng.uniform(0.0, 0.12), rng.uniform(0.05, 0.35), rng.uniform(0.55, 0.85))
  rgb = paint(blank(y, x, 3), body, wall * (0.35 if night else 1.0))
  pitch_x = width / rng.integers(3, 5)
  windows = window_grid(y, x, top + 0.1 * r, left + 0.2 * pitch_x, 0.3 * r, pitch_x)
  windows &= (body > 0) & (y < top + height - 0.1 * r) & (x < left + width - 0.1 * pitch_x)
  lit = hsv(0.13, 0.6, 0.95) if night else hsv(0.58, 0.25, 0.3)
  return paint(rgb, windows.astype(np.float32), lit), body


def generic(rng, y, x, cy, cx, r, size):
  """A ball, a box or a tree in a random colour."""
  colour = hsv(rng.uniform(0, 1), rng.uniform(0.5, 0.9), rng.uniform(0.5, 0.95))
  kind = rng.integers(3)
  if kind == 0:
    alpha = ellipse(y, x, cy, cx, r, r, size)
    highlight = ellipse(y, x, cy - 0.35 * r, cx - 0.35 * r, 0.25 * r, 0.25 * r, size)
    return paint(colour + blank(y, x, 3), 0.6 * highlight, hsv(0, 0, 1)), alpha
  if kind == 1:
    alpha = rect(y, x, cy - 0.8 * r, cy + 0.8 * r, cx - r, cx + r)
    lid = rect(y, x, cy - 0.8 * r, cy - 0.5 * r, cx - r, cx + r)
    return paint(colour + blank(y, x, 3), lid, colour * 0.6), alpha
  trunk = rect(y, x, cy, cy + 1.4 * r, cx - 0.15 * r, cx + 0.15 * r)
  crown = ellipse(y, x, cy - 0.2 * r, cx, r, 0.8 * r, size)
  rgb = paint(hsv(0.07, 0.6, 0.35) + blank(y, x, 3), crown,
              hsv(rng.uniform(0.22, 0.38), 0.7, rng.uniform(0.35, 0.7)))
  return rgb, np.maximum(trunk, crown)


# Half-size of the box round (cy, cx) that holds each sprite, in units of r.
EXTENT = {face: 2.35, flower: 3.05, small_flower: 1.05, tower: 1.75, generic: 1.45}

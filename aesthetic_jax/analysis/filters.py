"""Paper Fig. 7: the learned conv1 filters of two runs side by side.

Each filter (kh, kw, 3) is shown as an RGB tile, stretched to [0, 1] on its own (min-max), as
is usual for first-layer filters; the tiles say nothing about absolute weight sizes.
"""

import math

import numpy as np

from aesthetic_jax.analysis import plotting
from aesthetic_jax.analysis.plotting import plt


def tile(kernel: np.ndarray, *, pad: int = 1) -> np.ndarray:
  """kernel (kh, kw, 3, C) -> RGB image (rows * (kh + pad) - pad, cols * (kw + pad) - pad, 3),
  filters in a near-square grid (row-major, filter order), white between tiles."""
  kh, kw, _, count = kernel.shape
  cols = math.ceil(math.sqrt(count))
  rows = math.ceil(count / cols)
  grid = np.ones((rows * (kh + pad) - pad, cols * (kw + pad) - pad, 3))
  for c in range(count):
    f = kernel[..., c].astype(np.float64)
    span = f.max() - f.min()
    f = (f - f.min()) / span if span > 0 else np.full_like(f, 0.5)
    r, q = divmod(c, cols)
    grid[r * (kh + pad):r * (kh + pad) + kh, q * (kw + pad):q * (kw + pad) + kw] = f
  return grid


def plot(kernels: dict[str, np.ndarray], path: str, *, title: str) -> str:
  """One panel per run ({name: kernel (kh, kw, 3, C)}), each titled with its filter shape."""
  fig, axes = plt.subplots(1, len(kernels), figsize=(5.2 * len(kernels), 5.6), squeeze=False)
  for ax, (name, kernel) in zip(axes[0], kernels.items()):
    ax.imshow(tile(kernel), interpolation='nearest')
    kh, kw, _, count = kernel.shape
    ax.set_title(f'{name}\n{count} conv1 filters of {kh}x{kw}x3')
    ax.set_xticks([])
    ax.set_yticks([])
  fig.suptitle(title)
  return plotting.save(fig, path)

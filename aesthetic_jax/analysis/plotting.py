"""matplotlib on the Agg backend (files only, no display) and how figures are saved."""

import os

import matplotlib

matplotlib.use('Agg')

import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)

DPI = 120


def save(fig, path: str) -> str:
  """Writes `fig` as PNG to `path` (folders made as needed), closes it; returns the path."""
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  fig.savefig(path, dpi=DPI, bbox_inches='tight')
  plt.close(fig)
  return path


def run_colors(n: int):
  """n distinguishable colours, the same run always the same colour within a figure."""
  cmap = plt.get_cmap('tab10' if n <= 10 else 'tab20')
  return [cmap(i % cmap.N) for i in range(n)]

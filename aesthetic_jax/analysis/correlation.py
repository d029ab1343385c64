"""Paper Fig. 9: the subtask correlation matrix learned by MTRL, as a labelled heat map.

corr_ij = Omega_ij / sqrt(Omega_ii Omega_jj) over the T = 2 + M subtasks (method.md section 3);
rows and columns: 'low aesthetic', 'high aesthetic', then the tag names.
"""

import csv

import numpy as np

from aesthetic_jax.analysis import plotting
from aesthetic_jax.analysis.plotting import plt


def write_csv(path: str, names, matrix: np.ndarray) -> str:
  with open(path, 'w', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(['subtask'] + list(names))
    for name, row in zip(names, matrix):
      writer.writerow([name] + [f'{v:.6f}' for v in row])
  return path


def plot(names, matrix: np.ndarray, path: str, *, title: str) -> str:
  """Heat map of `matrix` (T, T) in [-1, 1] with `names` on both axes and a colour bar."""
  matrix = np.asarray(matrix, float)
  t = len(names)
  size = max(5.0, 0.32 * t + 3.0)
  fig, ax = plt.subplots(figsize=(size + 1.2, size))
  image = ax.imshow(matrix, cmap='RdBu_r', vmin=-1.0, vmax=1.0, interpolation='nearest')
  ax.set_xticks(range(t), names, rotation=90)
  ax.set_yticks(range(t), names)
  ax.set_xlabel('subtask')
  ax.set_ylabel('subtask')
  # The aesthetic rows/columns against the tags: a line keeps the two groups apart.
  ax.axhline(1.5, color='black', linewidth=0.8)
  ax.axvline(1.5, color='black', linewidth=0.8)
  if t <= 12:
    for i in range(t):
      for j in range(t):
        ax.text(j, i, f'{matrix[i, j]:.2f}', ha='center', va='center', fontsize=7,
                color='white' if abs(matrix[i, j]) > 0.6 else 'black')
  bar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
  bar.set_label('correlation  Omega_ij / sqrt(Omega_ii Omega_jj)')
  ax.set_title(title)
  return plotting.save(fig, path)


def from_omega(record: dict, png_path: str, csv_path: str, *, run_name: str) -> list[str]:
  """Fig. 9 of an omega.json record ({'subtasks', 'correlation', 'step'})."""
  names, matrix = record['subtasks'], np.asarray(record['correlation'], float)
  title = (f'Subtask correlations learned by MTRL ({run_name}, step {record.get("step", "?")})')
  return [plot(names, matrix, png_path, title=title), write_csv(csv_path, names, matrix)]

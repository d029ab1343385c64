"""Training curves of several runs from their metrics.jsonl, one panel per quantity.

Per epoch: the training loss and accuracy averaged over the epoch's steps (train records), the
test accuracy and losses (eval records), and the validation semantic loss (the early-stop
signal).
"""

import csv

import numpy as np

from aesthetic_jax.analysis import plotting
from aesthetic_jax.analysis.plotting import plt

# (record kind, key, panel title, y label)
PANELS = (
    ('train', 'total_mean', 'training objective (mean over the epoch)', 'loss'),
    ('train', 'accuracy_mean', 'training accuracy (mean over the epoch)', 'accuracy'),
    ('eval', 'accuracy', 'test accuracy (delta = 0)', 'accuracy'),
    ('eval', 'aesthetic_loss', 'test aesthetic loss (softmax CE)', 'loss per image'),
    ('eval', 'semantic_loss', 'test semantic loss (sum of BCE over tags)', 'loss per image'),
    ('validation', 'semantic_loss', 'validation semantic loss (early-stop signal)',
     'loss per image'),
)


def series(records: list[dict]) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
  """(kind, key) -> (epochs, values) for every PANELS entry this run has."""
  out = {}
  for kind, key, _, _ in PANELS:
    points = [(r['epoch'], r[key]) for r in records
              if r.get('kind') == kind and r.get(key) is not None]
    if points:
      epochs, values = zip(*points)
      out[(kind, key)] = (np.asarray(epochs, float), np.asarray(values, float))
  return out


def write_csv(all_series: dict[str, dict], path: str) -> str:
  with open(path, 'w', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(['run', 'kind', 'metric', 'epoch', 'value'])
    for run, per_run in all_series.items():
      for (kind, key), (epochs, values) in per_run.items():
        for e, v in zip(epochs, values):
          writer.writerow([run, kind, key, int(e), f'{v:.6g}'])
  return path


def plot(all_series: dict[str, dict], path: str, *, title: str) -> str:
  """A grid of the PANELS that at least one run has; one line per run."""
  panels = [p for p in PANELS if any((p[0], p[1]) in s for s in all_series.values())]
  cols = min(3, len(panels))
  rows = -(-len(panels) // cols)
  fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.4 * rows + 0.6), squeeze=False)
  colors = dict(zip(all_series, plotting.run_colors(len(all_series))))
  for ax in axes.flat[len(panels):]:
    ax.axis('off')
  for ax, (kind, key, panel_title, ylabel) in zip(axes.flat, panels):
    for run, per_run in all_series.items():
      if (kind, key) in per_run:
        epochs, values = per_run[(kind, key)]
        ax.plot(epochs, values, marker='o', markersize=3, label=run, color=colors[run])
    ax.set_title(panel_title, fontsize=9)
    ax.set_xlabel('epoch')
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
  legend = {}
  for ax in axes.flat:
    for handle, label in zip(*ax.get_legend_handles_labels()):
      legend.setdefault(label, handle)
  handles, labels = list(legend.values()), list(legend)
  fig.legend(handles, labels, title='run', loc='lower center', ncol=min(5, len(labels)),
             bbox_to_anchor=(0.5, -0.02 - 0.03 * (len(labels) // 5)), fontsize=8)
  fig.suptitle(title)
  fig.tight_layout(rect=(0, 0.06 + 0.03 * (len(labels) // 5), 1, 1))
  return plotting.save(fig, path)

"""Paper Fig. 5: aesthetic accuracy on the test images of each tag, several runs side by side.

Accuracy on tag m = share of the test images carrying tag m whose predicted class
(P(high) > 0.5) is their label (aesthetic_jax.metrics.per_tag_accuracy).
"""

import csv

import numpy as np

from aesthetic_jax.core import metrics as metrics_lib
from aesthetic_jax.analysis import plotting
from aesthetic_jax.analysis.plotting import plt


def _floats(values) -> np.ndarray:
  return np.asarray([np.nan if v is None else float(v) for v in values], float)


def per_tag_table(predictions: dict[str, dict[str, np.ndarray]], tag_names) -> dict:
  """{'tags': names, 'counts': {run: (M,)}, 'accuracy': {run: (M,)}, 'overall': {run: float}}
  from each run's test_predictions (accuracies as fractions, NaN where a tag has no image)."""
  table = {'tags': list(tag_names), 'counts': {}, 'accuracy': {}, 'overall': {}}
  for run, preds in predictions.items():
    if 'tags' not in preds:
      raise ValueError(f'{run}: its test predictions carry no tags (dataset without tags?).')
    tags = np.asarray(preds['tags'], bool)
    table['accuracy'][run] = _floats(metrics_lib.per_tag_accuracy(
        preds['p_high'], preds['label'], tags))
    table['counts'][run] = tags.sum(0)
    table['overall'][run] = float(((preds['p_high'] > 0.5) == (preds['label'] == 1)).mean())
  return table


def write_csv(table: dict, path: str) -> str:
  runs = list(table['accuracy'])
  with open(path, 'w', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(['tag'] + [f'{r} accuracy %' for r in runs] + [f'{r} test images' for r in runs])
    for i, tag in enumerate(table['tags'] + ['all test images']):
      accs = [table['accuracy'][r][i] if i < len(table['tags']) else table['overall'][r]
              for r in runs]
      counts = [int(table['counts'][r][i]) if i < len(table['tags']) else ''
                for r in runs]
      writer.writerow([tag] + ['' if np.isnan(a) else f'{100 * a:.2f}' for a in accs] + counts)
  return path


def plot(table: dict, path: str, *, title: str) -> str:
  """Grouped bars: one group per tag (plus 'all'), one bar per run, accuracy in %."""
  runs, tags = list(table['accuracy']), table['tags']
  counts = [table['counts'][r] for r in runs]
  same_counts = all(np.array_equal(counts[0], c) for c in counts)
  labels = [f'{t} (n={int(counts[0][i])})' if same_counts else t for i, t in enumerate(tags)]
  labels.append('all')
  groups = len(labels)
  width = 0.8 / len(runs)
  fig, ax = plt.subplots(figsize=(max(7.0, groups * max(0.8, 0.35 + 0.18 * len(runs))), 5.0))
  for k, (run, color) in enumerate(zip(runs, plotting.run_colors(len(runs)))):
    values = 100 * np.append(table['accuracy'][run], table['overall'][run])
    ax.bar(np.arange(groups) - 0.4 + (k + 0.5) * width, np.nan_to_num(values), width,
           label=run, color=color)
  ax.set_xticks(range(groups), labels, fontsize=8, rotation=30, ha='right',
                rotation_mode='anchor')
  ax.set_xlabel('semantic tag of the test images (n = number of test images with the tag)'
                if same_counts else 'semantic tag of the test images')
  ax.set_ylabel('aesthetic accuracy (%)')
  ax.set_ylim(0, 100)
  ax.axhline(50, color='grey', linewidth=0.6, linestyle=':')
  ax.grid(axis='y', alpha=0.3)
  ax.legend(title='run', fontsize=8, loc='upper left', bbox_to_anchor=(1.01, 1.0))
  ax.set_title(title)
  return plotting.save(fig, path)

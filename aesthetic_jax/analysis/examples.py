"""Paper Fig. 8: test images that run A classifies correctly and run B wrongly.

Predictions are aligned by image_id (test_predictions.npz of both runs); images are read from
the run's dataset (aesthetic_jax.data.registry) and shown with their mean score, label and both
runs' P(high). Shown first: the largest disagreements |P_A(high) - P_B(high)|.
"""

import csv

import numpy as np
from PIL import Image

from aesthetic_jax.analysis import plotting
from aesthetic_jax.analysis.plotting import plt

LABELS = ('low', 'high')


def right_and_wrong(preds_a: dict, preds_b: dict) -> dict[str, np.ndarray]:
  """Images A gets right and B wrong, by decreasing |P_A(high) - P_B(high)|.

  Returns {'image_id', 'label', 'mean_score', 'p_high_a', 'p_high_b'} (K,) and the counts
  'num_common' (images in both), 'num_a_only' (A right, B wrong), 'num_b_only' (the reverse).
  """
  ids_b = {int(i): k for k, i in enumerate(preds_b['image_id'])}
  pairs = [(k, ids_b[int(i)]) for k, i in enumerate(preds_a['image_id']) if int(i) in ids_b]
  if not pairs:
    raise ValueError('The two runs share no test image.')
  ia, ib = map(np.asarray, zip(*pairs))
  label = np.asarray(preds_a['label'])[ia]
  pa, pb = np.asarray(preds_a['p_high'])[ia], np.asarray(preds_b['p_high'])[ib]
  right_a, right_b = (pa > 0.5) == (label == 1), (pb > 0.5) == (label == 1)
  chosen = np.flatnonzero(right_a & ~right_b)
  chosen = chosen[np.argsort(-np.abs(pa[chosen] - pb[chosen]), kind='stable')]
  return {'image_id': np.asarray(preds_a['image_id'])[ia][chosen], 'label': label[chosen],
          'mean_score': np.asarray(preds_a['mean_score'])[ia][chosen],
          'p_high_a': pa[chosen], 'p_high_b': pb[chosen], 'num_common': len(pairs),
          'num_a_only': int((right_a & ~right_b).sum()),
          'num_b_only': int((right_b & ~right_a).sum())}


def write_csv(found: dict, path: str, name_a: str, name_b: str) -> str:
  with open(path, 'w', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(['image_id', 'label', 'mean_score', f'P(high) {name_a}', f'P(high) {name_b}'])
    for i in range(len(found['image_id'])):
      writer.writerow([int(found['image_id'][i]), LABELS[int(found['label'][i])],
                       f"{found['mean_score'][i]:.3f}", f"{found['p_high_a'][i]:.4f}",
                       f"{found['p_high_b'][i]:.4f}"])
  return path


def load_images(dataset: str, data_dir: str, image_ids, *, split: str = 'test',
                size: int = 256) -> dict[int, np.ndarray]:
  """image_id -> uint8 RGB (at most `size` on the long side) for the wanted ids of `split`."""
  from aesthetic_jax.data import image_io, preprocessing, registry  # pylint: disable=g-import-not-at-top
  sources, _ = registry.open_dataset(dataset, data_dir)
  source = sources[split]
  wanted, found = {int(i) for i in image_ids}, {}
  for start in range(0, len(source), 512):
    for record in source.__getitems__(range(start, min(start + 512, len(source)))):
      image_id = int(record['image_id'])
      if image_id in wanted:
        stored = preprocessing.stored_image(record)
        pixels = stored if isinstance(stored, np.ndarray) else image_io.decode_rgb(stored)
        image = Image.fromarray(pixels)
        image.thumbnail((size, size))
        found[image_id] = np.asarray(image)
    if len(found) == len(wanted):
      break
  return found


def plot(found: dict, images: dict[int, np.ndarray], path: str, *, name_a: str, name_b: str,
         max_images: int = 16) -> str:
  """A grid of up to `max_images` images, each captioned with its scores and predictions."""
  count = min(max_images, len(found['image_id']))
  cols = min(4, max(1, count))
  rows = max(1, -(-count // cols))
  fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 3.4 * rows + 0.8), squeeze=False)
  for ax in axes.flat:
    ax.axis('off')
  for k in range(count):
    ax = axes.flat[k]
    image_id = int(found['image_id'][k])
    if image_id in images:
      ax.imshow(images[image_id])
    ax.set_title(f"image {image_id}: {LABELS[int(found['label'][k])]} "
                 f"(mean score {found['mean_score'][k]:.2f})\n"
                 f"{name_a}: P(high) {found['p_high_a'][k]:.2f}, right\n"
                 f"{name_b}: P(high) {found['p_high_b'][k]:.2f}, wrong", fontsize=8)
  if not count:
    axes.flat[0].text(0.5, 0.5, 'no such test image', ha='center', va='center')
  fig.suptitle(f'Test images {name_a} classifies correctly and {name_b} wrongly '
               f"({found['num_a_only']} of the {found['num_common']} test images; "
               f"{found['num_b_only']} the other way round), largest disagreements first",
               fontsize=10)
  return plotting.save(fig, path)

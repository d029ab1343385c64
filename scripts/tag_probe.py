"""Linear probe: how well do a trained run's shared features encode the semantic tags?

  python scripts/tag_probe.py RUN_DIR [RUN_DIR ...] [--dataset=synthetic] [--data_dir=data]
      [--layer=fc6] [--ridge=10]

For each run: the output of `--layer` (MTCNN #1's fc6: the input of its heads) on every
training and test image, through the run's own evaluation preprocessing (the Scorer's);
features standardised with the training images' mean and std; a ridge regression (penalty
--ridge, with an intercept) from them to the tags (as +-1), fitted on the training images;
the mean average precision of its scores on the test images (core.metrics). A network
trained on aesthetics alone (lambda = 0) tells how much tag information that task puts in
the features by itself; the same probe on a multi-task run, how much the semantic loss adds.
Prints one line per run, then one JSON object.
"""

import json

import jax
import numpy as np
from absl import app, flags

from aesthetic_jax.core import metrics
from aesthetic_jax.data import registry
from aesthetic_jax.infer.scorer import Scorer

FLAGS = flags.FLAGS
flags.DEFINE_string('dataset', 'synthetic', 'Dataset with tags (its train and test splits).')
flags.DEFINE_string('data_dir', 'data', 'Its TFDS data_dir.')
flags.DEFINE_string('layer', 'fc6', 'Module whose output is probed.')
flags.DEFINE_float('ridge', 10.0, 'Ridge penalty on the standardised features.')
_BATCH = 128


def layer_features(scorer: Scorer, records, layer: str) -> np.ndarray:
  """(N, D): the output of the module named `layer` for each record's image."""
  suffix = f"['{layer}']['__call__'][0]"
  out = []
  for start in range(0, len(records), _BATCH):
    images = np.stack([scorer.load_image(r['image']) for r in records[start:start + _BATCH]])
    _, state = scorer.model.apply(scorer.variables, images, train=False,
                                  capture_intermediates=True)
    named = {jax.tree_util.keystr(path): value for path, value
             in jax.tree_util.tree_flatten_with_path(state['intermediates'])[0]}
    found = [k for k in named if k.endswith(suffix)]
    if len(found) != 1:
      raise ValueError(f'{len(found)} modules named {layer!r}; modules: {sorted(named)}')
    out.append(np.asarray(named[found[0]], np.float64).reshape(len(images), -1))
  return np.concatenate(out)


def probe_map(train_x, train_tags, test_x, test_tags, ridge: float) -> float:
  """Test mAP of a ridge regression from standardised features (N, D) to tags (N, M)."""
  mean, std = train_x.mean(0), train_x.std(0) + 1e-6
  def design(x):
    return np.hstack([(x - mean) / std, np.ones((len(x), 1))])
  a = design(train_x)
  weights = np.linalg.solve(a.T @ a + ridge * np.eye(a.shape[1]), a.T @ (2 * train_tags - 1))
  return metrics.mean_average_precision(design(test_x) @ weights, test_tags)


def main(argv):
  runs = argv[1:]
  if not runs:
    raise app.UsageError('Give one or more run directories.')
  sources, _ = registry.open_dataset(FLAGS.dataset, FLAGS.data_dir)
  splits = {s: [sources[s][i] for i in range(len(sources[s]))] for s in ('train', 'test')}
  tags = {s: np.stack([r['tags'] for r in records]).astype(np.float64)
          for s, records in splits.items()}
  results = {}
  for run in runs:
    scorer = Scorer.from_workdir(run)
    x = {s: layer_features(scorer, records, FLAGS.layer) for s, records in splits.items()}
    results[run] = probe_map(x['train'], tags['train'], x['test'], tags['test'], FLAGS.ridge)
    print(f'{run}: {FLAGS.layer} probe mAP {results[run]:.4f}', flush=True)
  print(json.dumps({'layer': FLAGS.layer, 'ridge': FLAGS.ridge, 'probe_map': results}))


if __name__ == '__main__':
  app.run(main)

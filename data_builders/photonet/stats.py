"""Photo.net's figures from its metadata file (and, if present, the images folder's listing).

  python -m data_builders.photonet.stats --manual_dir=DIR [--json]

No image is decoded: the split is drawn over the photos whose file exists (all valid rows
when there is no images/ folder), as the builder draws it; the build then also skips files
that turn out to be broken.
"""

import json
import os
import sys

import numpy as np
from absl import app, flags

from aesthetic_jax.cli import flags as cli_flags
from data_builders.common import manual_dir as manual_dir_lib
from data_builders.common import skip_report as report_lib
from data_builders.common import splits
from data_builders.photonet import metadata

FLAGS = flags.FLAGS
cli_flags.manual_dir()
cli_flags.json_output()
cli_flags.split_flags()

DELTAS = (0, 1)


def compute(manual_dir: str, *, num_test: int = metadata.NUM_TEST,
            split_seed: int = metadata.SPLIT_SEED) -> dict:
  report = report_lib.BuildReport('photonet')
  table, num_lines = metadata.read_dataset_txt(manual_dir, report)
  has_images_dir = os.path.isdir(os.path.join(manual_dir, metadata.IMAGES_DIR))
  has_file = (metadata.available(manual_dir, table.image_id) if has_images_dir
              else np.ones(len(table), bool))
  train_ids, test_ids = splits.paper_split(table.image_id[has_file], num_test, split_seed)
  is_train = np.isin(table.image_id, train_ids)
  in_split = has_file
  train_labels = {str(d): splits.label_counts(table.mean_score[is_train], d) for d in DELTAS}
  return {
      'num_rows': num_lines,
      'num_valid_rows': len(table),
      'num_no_distribution': report.count(metadata.NO_DISTRIBUTION),
      'num_counts_mismatch': report.count(metadata.COUNTS_MISMATCH),
      'duplicate_ids': sorted(set(report.ids(metadata.DUPLICATE_ID))),
      'images_dir_found': has_images_dir,
      'num_with_file': int(has_file.sum()) if has_images_dir else None,
      'num_train': len(train_ids),
      'num_test': len(test_ids),
      'split_seed': split_seed,
      'num_train_by_delta': {d: c['low'] + c['high'] for d, c in train_labels.items()},
      'train_labels_by_delta': train_labels,
      'test_labels': splits.label_counts(table.mean_score[in_split & ~is_train], 0),
      'num_mean_exactly_5': int((table.mean_score[in_split] == metadata.LABEL_THRESHOLD).sum()),
      'issues': {reason: report.count(reason) for reason in sorted(report.issues)},
  }


def format_table(stats: dict) -> str:
  lines = [f"photonet_dataset.txt lines        {stats['num_rows']:>8}",
           f"  valid rows                      {stats['num_valid_rows']:>8}"]
  for reason, n in stats['issues'].items():
    lines.append(f'  {reason:<32}{n:>8}')
  if stats['duplicate_ids']:
    lines.append(f"  repeated ids: {', '.join(map(str, stats['duplicate_ids']))}")
  if stats['images_dir_found']:
    lines.append(f"photos with a file                {stats['num_with_file']:>8}")
  else:
    lines.append('no images/ folder: the split below is over every valid row')
  lines.append(f"  train / test (seed {stats['split_seed']})          "
               f"{stats['num_train']:>8} / {stats['num_test']}")
  for delta, c in stats['train_labels_by_delta'].items():
    lines.append(f'  train labelled, delta={delta}        {c["low"] + c["high"]:>8}'
                 f'  (low {c["low"]}, high {c["high"]}, dropped {c["dropped"]})')
  c = stats['test_labels']
  lines.append(f"  test, delta=0                   {c['low'] + c['high']:>8}"
               f"  (low {c['low']}, high {c['high']})")
  lines.append(f"  mean exactly 5.0 (labelled low) {stats['num_mean_exactly_5']:>8}")
  return '\n'.join(lines)


def main(argv) -> int:
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  if not FLAGS.manual_dir:
    raise app.UsageError('give --manual_dir=DIR (a folder with photonet_dataset.txt)')
  try:
    root = manual_dir_lib.require(
        FLAGS.manual_dir, {metadata.DATASET_TXT: "Datta et al.'s ratings file"},
        dataset='photonet')
    stats = compute(root, num_test=FLAGS.num_test or metadata.NUM_TEST,
                    split_seed=FLAGS.split_seed if FLAGS.split_seed is not None
                    else metadata.SPLIT_SEED)
  except (manual_dir_lib.ManualDirError, ValueError) as e:
    print(e, file=sys.stderr)
    return 2
  print(json.dumps(stats) if FLAGS.json else format_table(stats))
  return 0


if __name__ == '__main__':
  app.run(main)

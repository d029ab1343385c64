"""AVA's figures under the paper's rule, from the metadata files alone (no images, no TFDS).

  python -m data_builders.ava.stats --manual_dir=DIR [--json]

Reads AVA.txt and tags.txt (and aesthetics_image_lists/generic_test.jpgl when present, for
the `official` split). Prints a table, or with --json one JSON object: num_rows (non-blank
lines of AVA.txt), tag_counts, selected_tag_ids/names, num_selected, num_train, num_test,
num_train_by_delta, num_mean_exactly_5 and more. These are the `paper` config's planned
sizes: the build then skips the images that are missing or broken in the user's copy.
"""

import json
import os
import sys

import numpy as np
from absl import app, flags

from aesthetic_jax.cli import flags as cli_flags
from data_builders.ava import metadata
from data_builders.common import manual_dir as manual_dir_lib
from data_builders.common import skip_report as report_lib
from data_builders.common import splits

FLAGS = flags.FLAGS
cli_flags.manual_dir()
cli_flags.json_output()
cli_flags.split_flags()
flags.DEFINE_integer('min_tag_images', metadata.MIN_TAG_IMAGES,
                     'Keep the tags carried by more than this many images.')

DELTAS = (0, 1)


def compute(manual_dir: str, *, min_tag_images: int = metadata.MIN_TAG_IMAGES,
            num_test: int = metadata.NUM_TEST, split_seed: int = metadata.SPLIT_SEED) -> dict:
  """The figures (see the module docstring) as a JSON-ready dict."""
  report = report_lib.BuildReport('ava')
  table, num_lines, tag_names = metadata.read_manual_dir(manual_dir, report)
  selection = metadata.select(table, tag_names, min_tag_images)
  selected = table.take(selection.row_mask)
  train_ids, test_ids = splits.paper_split(selected.image_id, num_test, split_seed)
  is_train = np.isin(selected.image_id, train_ids)
  train_means, test_means = selected.mean_score[is_train], selected.mean_score[~is_train]
  train_labels = {str(d): splits.label_counts(train_means, d) for d in DELTAS}
  stats = {
      'num_rows': num_lines,
      'num_valid_rows': len(table),
      'tag_counts': {str(t): n for t, n in selection.tag_counts.items()},
      'min_tag_images': min_tag_images,
      'selected_tag_ids': selection.tag_ids,
      'selected_tag_names': selection.tag_names,
      'num_selected': len(selected),
      'num_train': len(train_ids),
      'num_test': len(test_ids),
      'split_seed': split_seed,
      'num_train_by_delta': {d: c['low'] + c['high'] for d, c in train_labels.items()},
      'train_labels_by_delta': train_labels,
      'test_labels': splits.label_counts(test_means, 0),
      'num_mean_exactly_5': int((selected.mean_score == metadata.LABEL_THRESHOLD).sum()),
      'images_per_selected_tag': {
          name: int(n) for name, n in zip(selection.tag_names,
                                          metadata.multi_hot(selected.tag_ids,
                                                             selection.tag_ids).sum(0))},
      'issues': {reason: report.count(reason) for reason in sorted(report.issues)},
  }
  list_path = os.path.join(manual_dir, metadata.OFFICIAL_TEST_LIST)
  if os.path.exists(list_path):
    listed = metadata.read_id_list(list_path)
    official_report = report_lib.BuildReport('ava/official')
    train, test = metadata.official_split(table.image_id, listed, official_report)
    stats['official'] = {
        'num_listed': len(set(listed)), 'num_test': len(test), 'num_train': len(train),
        'num_listed_not_in_ava_txt': official_report.count(metadata.LIST_ID_NOT_IN_AVA_TXT)}
  return stats


def format_table(stats: dict) -> str:
  lines = [
      f"AVA.txt lines                     {stats['num_rows']:>8}",
      f"  valid rows                      {stats['num_valid_rows']:>8}",
  ]
  for reason, n in stats['issues'].items():
    lines.append(f'  {reason:<32}{n:>8}')
  lines.append(f"tags on > {stats['min_tag_images']} images: "
               f"{len(stats['selected_tag_ids'])}")
  for tag_id, name in zip(stats['selected_tag_ids'], stats['selected_tag_names']):
    n = stats['tag_counts'][str(tag_id)]
    lines.append(f'  {tag_id:>3} {name:<30}{n:>8}')
  lines += [
      f"images with a kept tag            {stats['num_selected']:>8}",
      f"  train / test (seed {stats['split_seed']})          "
      f"{stats['num_train']:>8} / {stats['num_test']}",
  ]
  for delta, c in stats['train_labels_by_delta'].items():
    lines.append(f'  train labelled, delta={delta}        {c["low"] + c["high"]:>8}'
                 f'  (low {c["low"]}, high {c["high"]}, dropped {c["dropped"]})')
  c = stats['test_labels']
  lines.append(f"  test, delta=0                   {c['low'] + c['high']:>8}"
               f"  (low {c['low']}, high {c['high']})")
  lines.append(f"  mean exactly 5.0 (labelled low) {stats['num_mean_exactly_5']:>8}")
  if 'official' in stats:
    o = stats['official']
    lines.append(f"official split: train {o['num_train']}, test {o['num_test']} "
                 f"(listed {o['num_listed']}, not in AVA.txt {o['num_listed_not_in_ava_txt']})")
  return '\n'.join(lines)


def main(argv) -> int:
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  if not FLAGS.manual_dir:
    raise app.UsageError('give --manual_dir=DIR (a folder with AVA.txt and tags.txt)')
  try:
    root = manual_dir_lib.require(FLAGS.manual_dir, {
        metadata.AVA_TXT: 'the ratings file of the AVA release',
        metadata.TAGS_TXT: 'semantic tag id -> name'}, dataset='ava')
  except manual_dir_lib.ManualDirError as e:
    print(e, file=sys.stderr)
    return 2
  try:
    stats = compute(root, min_tag_images=FLAGS.min_tag_images,
                    num_test=FLAGS.num_test or metadata.NUM_TEST,
                    split_seed=FLAGS.split_seed if FLAGS.split_seed is not None
                    else metadata.SPLIT_SEED)
  except ValueError as e:  # e.g. num_test not below the number of selected images
    print(e, file=sys.stderr)
    return 2
  print(json.dumps(stats) if FLAGS.json else format_table(stats))
  return 0


if __name__ == '__main__':
  app.run(main)

"""The analyses (paper Figs. 5, 7, 8, 9 and training curves): their numbers on hand-made
data, and the `analyze` command on run folders laid out as training writes them (the real
train -> figures path is in test_experiments.py)."""

import csv
import json
import os

import numpy as np
import pytest
from PIL import Image

from aesthetic_jax.analysis import correlation, curves, examples, filters, per_tag, runs
from aesthetic_jax.cli import analyze as analyze_cli
from aesthetic_jax.cli import entry
from aesthetic_jax.run_dir import RunDir


def _analyze(argv):
  return entry.call(analyze_cli.main, argv)


def _png_size(path):
  with Image.open(path) as image:
    assert image.format == 'PNG'
    return image.size


def _csv(path):
  with open(path) as f:
    return list(csv.reader(f))


def test_filter_tiles():
  kernel = np.zeros((2, 2, 3, 5))
  kernel[..., 0] = np.arange(12).reshape(2, 2, 3)  # stretched to [0, 1]
  kernel[..., 1] = 7.0  # constant: mid grey
  grid = filters.tile(kernel)
  # 5 filters -> 3 columns x 2 rows of 2x2 tiles with 1-pixel white gaps.
  assert grid.shape == (5, 8, 3)
  np.testing.assert_allclose(grid[:2, :2], np.arange(12).reshape(2, 2, 3) / 11)
  np.testing.assert_allclose(grid[:2, 3:5], 0.5)
  np.testing.assert_allclose(grid[2], 1.0)  # the gap between the two rows of tiles
  np.testing.assert_allclose(grid[:, 2], 1.0)


def test_conv1_kernel_is_found_by_name_then_by_shape():
  rapid = {'shared': {'conv1': {'conv': {'kernel': np.ones((11, 11, 3, 4))}},
                      'conv2': {'conv': {'kernel': np.ones((5, 5, 4, 4))}}}}
  assert runs.conv1_kernel(rapid)[0] == 'shared/conv1/conv/kernel'
  other = {'body': {'stem': {'kernel': np.ones((7, 7, 3, 8))},
                    'block': {'kernel': np.ones((3, 3, 8, 8))}}}
  path, kernel = runs.conv1_kernel(other)
  assert path == 'body/stem/kernel' and kernel.shape == (7, 7, 3, 8)
  with pytest.raises(ValueError):
    runs.conv1_kernel({'dense': {'kernel': np.ones((3, 4))}})


def _preds(ids, p_high, label, tags=None):
  out = {'image_id': np.asarray(ids), 'p_high': np.asarray(p_high, np.float32),
         'label': np.asarray(label), 'mean_score': np.linspace(3, 7, len(ids))}
  if tags is not None:
    out['tags'] = np.asarray(tags, bool)
  return out


def test_right_and_wrong_aligns_by_image_id():
  a = _preds([10, 11, 12, 13, 14], [0.9, 0.6, 0.2, 0.8, 0.1], [1, 1, 0, 0, 1])
  # B lists the images in another order and lacks image 14.
  b = _preds([13, 12, 11, 10], [0.3, 0.8, 0.45, 0.4], [0, 0, 1, 1])
  found = examples.right_and_wrong(a, b)
  # A right & B wrong: 10 (0.9 vs 0.4), 11 (0.6 vs 0.45), 12 (0.2 vs 0.8); 13 is the reverse.
  assert found['image_id'].tolist() == [12, 10, 11]  # |dP| = 0.6, 0.5, 0.15
  np.testing.assert_allclose(found['p_high_b'], [0.8, 0.4, 0.45])
  assert (found['num_common'], found['num_a_only'], found['num_b_only']) == (4, 3, 1)


def test_per_tag_table_by_hand(tmp_path):
  tags = [[1, 0], [1, 1], [0, 1], [1, 0]]
  a = _preds([1, 2, 3, 4], [0.9, 0.2, 0.7, 0.6], [1, 1, 0, 1], tags)  # right, wrong, wrong, right
  b = _preds([1, 2, 3, 4], [0.1, 0.8, 0.3, 0.6], [1, 1, 0, 1], tags)  # wrong, right, right, right
  table = per_tag.per_tag_table({'A': a, 'B': b}, ['sky', 'water'])
  np.testing.assert_allclose(table['accuracy']['A'], [2 / 3, 0.0])
  np.testing.assert_allclose(table['accuracy']['B'], [2 / 3, 1.0])
  assert table['counts']['A'].tolist() == [3, 2]
  assert table['overall'] == {'A': 0.5, 'B': 0.75}
  rows = _csv(per_tag.write_csv(table, str(tmp_path / 'p.csv')))
  assert rows[0] == ['tag', 'A accuracy %', 'B accuracy %', 'A test images', 'B test images']
  assert rows[1] == ['sky', '66.67', '66.67', '3', '3']
  assert rows[3] == ['all test images', '50.00', '75.00', '', '']
  width, height = _png_size(per_tag.plot(table, str(tmp_path / 'p.png'), title='t'))
  assert width > 600 and height > 400


def test_correlation_heat_map_keeps_the_names(tmp_path):
  names = ['low aesthetic', 'high aesthetic', 'sky', 'water']
  corr = np.array([[1, -1, .2, .1], [-1, 1, -.2, -.1], [.2, -.2, 1, .5], [.1, -.1, .5, 1]])
  png, data = correlation.from_omega({'subtasks': names, 'correlation': corr.tolist(),
                                      'step': 7}, str(tmp_path / 'c.png'),
                                     str(tmp_path / 'c.csv'), run_name='mtrl')
  rows = _csv(data)
  assert rows[0] == ['subtask'] + names and rows[3][0] == 'sky'
  assert float(rows[3][4]) == pytest.approx(0.5)
  assert min(_png_size(png)) > 400


def test_curves_series_and_plot(tmp_path):
  records = [
      {'kind': 'train', 'step': 2, 'epoch': 1, 'total_mean': 1.5, 'accuracy_mean': 0.5},
      {'kind': 'validation', 'step': 2, 'epoch': 1, 'semantic_loss': 4.0},
      {'kind': 'eval', 'step': 2, 'epoch': 1, 'accuracy': 0.6, 'aesthetic_loss': 0.7},
      {'kind': 'train', 'step': 4, 'epoch': 2, 'total_mean': 1.2, 'accuracy_mean': 0.75},
      {'kind': 'eval', 'step': 4, 'epoch': 2, 'accuracy': 0.65, 'aesthetic_loss': 0.6},
  ]
  got = curves.series(records)
  assert got[('train', 'total_mean')][1].tolist() == [1.5, 1.2]
  assert got[('eval', 'accuracy')][0].tolist() == [1.0, 2.0]
  assert got[('validation', 'semantic_loss')][1].tolist() == [4.0]
  assert ('eval', 'semantic_loss') not in got
  rows = _csv(curves.write_csv({'r': got}, str(tmp_path / 'c.csv')))
  assert ['r', 'train', 'total_mean', '2', '1.2'] in rows
  assert min(_png_size(curves.plot({'r': got}, str(tmp_path / 'c.png'), title='t'))) > 300


def _save_checkpoint(workdir, step, state):
  """A checkpoint laid out as training writes it (item 'state'; no checksums: unchecked)."""
  import orbax.checkpoint as ocp
  manager = ocp.CheckpointManager(os.path.join(workdir, 'checkpoints'),
                                  options=ocp.CheckpointManagerOptions(create=True))
  manager.save(step, args=ocp.args.Composite(state=ocp.args.StandardSave(state)))
  manager.wait_until_finished()
  manager.close()


@pytest.fixture(scope='module')
def two_runs(tmp_path_factory, tiny_data_dir):
  """Two hand-made run folders over the 32 test images of synthetic/tiny: 'mtrl' (with
  omega.json and the model's tags) and 'stcnn' (no tags), with metrics, predictions,
  config.json and a checkpoint each."""
  from aesthetic_jax.data import registry as datasets
  root = tmp_path_factory.mktemp('analysis')
  data_dir = tiny_data_dir
  sources, meta = datasets.open_dataset('synthetic/tiny', data_dir)
  test = sources['test']
  records = test.__getitems__(range(len(test)))
  ids = np.asarray([r['image_id'] for r in records])
  tags = np.asarray([r['tags'] for r in records], bool)
  label = (np.asarray([r['mean_score'] for r in records]) > 5).astype(np.int32)
  rng = np.random.default_rng(0)
  paths = {}
  for k, name in enumerate(('mtrl', 'stcnn')):
    path = str(root / name)
    run = RunDir(path).make()
    order = rng.permutation(len(ids)) if k else np.arange(len(ids))  # another image order
    run.write_predictions(dict(image_id=ids[order], label=label[order], tags=tags[order],
                               p_high=rng.random(len(ids)),
                               mean_score=np.linspace(2, 8, len(ids))))
    for epoch in (1, 2):
      run.metrics.append('train', 2 * epoch, {'epoch': epoch, 'total_mean': 1.0 / epoch,
                                              'accuracy_mean': 0.5})
      run.metrics.append('eval', 2 * epoch, {'epoch': epoch, 'accuracy': 0.5 + 0.1 * epoch,
                                             'aesthetic_loss': 0.7})
    with open(os.path.join(path, 'config.json'), 'w') as f:
      json.dump({'data': {'name': 'synthetic/tiny', 'data_dir': data_dir}}, f)
    with open(os.path.join(path, 'model_info.json'), 'w') as f:
      json.dump(meta.with_tags(0 if name == 'stcnn' else meta.num_tags).to_json(), f)
    kernel = rng.normal(size=(11, 11, 3, 8)).astype(np.float32)
    _save_checkpoint(path, 4, {'params': {'shared': {'conv1': {'conv': {'kernel': kernel}}}},
                               'semantic_gate': np.float32(1.0)})
    paths[name] = path
  corr = np.eye(2 + meta.num_tags)
  RunDir(paths['mtrl']).write_omega({
      'subtasks': ['low aesthetic', 'high aesthetic'] + list(meta.tag_names),
      'omega': corr.tolist(), 'correlation': corr.tolist(), 'step': 4})
  return paths


def test_analyze_all_on_run_folders(two_runs, tmp_path):
  out = str(tmp_path / 'figs')
  # STCNN first: the tag names come from the first run whose model has the tags.
  assert _analyze(['all', f'STCNN={two_runs["stcnn"]}', f'MTRL={two_runs["mtrl"]}',
                   f'--out={out}']) == 0
  assert _analyze(['filters', f'MTRL={two_runs["mtrl"]}', f'STCNN={two_runs["stcnn"]}',
                   f'--out={out}']) == 0
  assert _analyze(['examples', f'MTRL={two_runs["mtrl"]}', f'STCNN={two_runs["stcnn"]}',
                   f'--out={out}']) == 0
  for name in ('training_curves.png', 'per_tag_accuracy.png', 'omega_correlation_MTRL.png',
               'conv1_filters_MTRL_vs_STCNN.png', 'right_MTRL_wrong_STCNN.png'):
    assert min(_png_size(os.path.join(out, name))) > 300, name
  a, b = (runs.read_predictions(runs.open_run(two_runs[k])) for k in ('mtrl', 'stcnn'))
  # Per-tag accuracy (STCNN's column first), by the MTRL run's tag names, against a count.
  rows = _csv(os.path.join(out, 'per_tag_accuracy.csv'))
  assert [r[0] for r in rows[1:]] == ['sky', 'water', 'portrait', 'floral', 'architecture',
                                      'night', 'macro', 'black_and_white', 'all test images']
  right_b = (b['p_high'] > 0.5) == (b['label'] == 1)
  for m, row in enumerate(rows[1:9]):
    on_tag = b['tags'][:, m]
    assert row[3] == str(on_tag.sum())
    assert row[1] == ('' if not on_tag.any() else f'{100 * right_b[on_tag].mean():.2f}')
  # Fig. 7 shows exactly the checkpoints' conv1 kernels.
  kernels = np.load(os.path.join(out, 'conv1_filters_MTRL_vs_STCNN.npz'))
  _, params = runs.latest_params(runs.open_run(two_runs['mtrl']))
  np.testing.assert_array_equal(kernels['MTRL'], params['shared']['conv1']['conv']['kernel'])
  assert kernels['STCNN'].shape == (11, 11, 3, 8)
  # Fig. 8 lists the images MTRL gets right and STCNN wrong (the runs list them in other orders).
  p_b = dict(zip(b['image_id'].tolist(), b['p_high']))
  expected = {int(i) for i, pa, y in zip(a['image_id'], a['p_high'], a['label'])
              if (pa > 0.5) == (y == 1) and (p_b[int(i)] > 0.5) != (y == 1)}
  listed = {int(r[0]) for r in _csv(os.path.join(out, 'right_MTRL_wrong_STCNN.csv'))[1:]}
  assert listed == expected and expected
  images = examples.load_images('synthetic/tiny', runs.dataset_of(
      runs.open_run(two_runs['mtrl']))[1], sorted(expected)[:3])
  assert sorted(images) == sorted(expected)[:3]
  assert all(im.dtype == np.uint8 and im.shape[2] == 3 for im in images.values())


def test_analyze_refuses_what_it_cannot_draw(two_runs, capsys):
  assert _analyze(['correlation', two_runs['stcnn']]) == 2
  assert 'omega.json' in capsys.readouterr().err
  assert _analyze(['filters', two_runs['stcnn']]) == 2

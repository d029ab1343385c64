"""Weight import (torchvision files -> backbone.npz), model.init_from, and the body's LR."""

import argparse
import io
import json
import pathlib
import subprocess
import sys
import zipfile

import grain
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from aesthetic_jax import model as models
from aesthetic_jax.cli import entry
from aesthetic_jax.cli import weights as weights_cli
from aesthetic_jax.init import torchvision as weights
from aesthetic_jax.init import transfer
from aesthetic_jax.run_dir import checkpoints as checkpointing
from aesthetic_jax.train import state as train_state
from configs import default, resnet_ft

FIXTURES = pathlib.Path(__file__).parent / 'fixtures' / 'backbones'
RESNET18 = str(FIXTURES / 'resnet18.safetensors')
ROOT = pathlib.Path(__file__).resolve().parents[1]


def _state_dict():
  return weights.read_state_dict(RESNET18)


def test_import_writes_a_converted_tree_and_reports_what_it_did_not_use(tmp_path):
  report = weights.import_torchvision('resnet18', RESNET18, str(tmp_path), width_divisor=16)
  assert report.unused == ['fc.bias', 'fc.weight']  # the ImageNet classifier
  assert len(report.skipped) == 20 and all(n.endswith('num_batches_tracked')
                                           for n in report.skipped)
  assert report.loaded == 100  # 20 convs, 20 BNs x (weight, bias, running mean, var)
  variables, saved = weights.load_backbone(str(tmp_path))
  assert saved['arch'] == 'resnet18' and saved['unused'] == ['fc.bias', 'fc.weight']
  assert len(saved['source_sha256']) == 64
  torch = _state_dict()
  np.testing.assert_array_equal(variables['params']['conv1']['kernel'],
                                np.transpose(torch['conv1.weight'], (2, 3, 1, 0)))
  np.testing.assert_array_equal(variables['params']['layer2_0']['downsample_1']['scale'],
                                torch['layer2.0.downsample.1.weight'])
  np.testing.assert_array_equal(variables['batch_stats']['layer4_1']['bn2']['var'],
                                torch['layer4.1.bn2.running_var'])


def test_linear_weights_are_transposed():
  torch = weights.read_state_dict(str(FIXTURES / 'vgg16.safetensors'))
  variables, report = weights.convert('vgg16', torch, width_divisor=32)
  np.testing.assert_array_equal(variables['params']['classifier_3']['kernel'],
                                torch['classifier.3.weight'].T)
  assert report.unused == ['classifier.6.bias', 'classifier.6.weight']


def test_npz_source_with_a_data_parallel_prefix(tmp_path):
  torch = _state_dict()
  path = tmp_path / 'resnet18.npz'
  np.savez(path, **{f'module.{k}': v for k, v in torch.items()})
  from_npz, _ = weights.convert('resnet18', weights.read_state_dict(str(path)), width_divisor=16)
  from_safetensors, _ = weights.convert('resnet18', torch, width_divisor=16)
  jax.tree.map(np.testing.assert_array_equal, from_npz, from_safetensors)


def _write_safetensors(path, tensors, dtypes):
  """A minimal .safetensors writer (header JSON + raw little-endian data)."""
  header, blobs, offset = {}, [], 0
  for name, array in tensors.items():
    blob = np.ascontiguousarray(array).tobytes()
    header[name] = {'dtype': dtypes[name], 'shape': list(array.shape),
                    'data_offsets': [offset, offset + len(blob)]}
    blobs.append(blob)
    offset += len(blob)
  encoded = json.dumps(header).encode()
  with open(path, 'wb') as f:
    f.write(len(encoded).to_bytes(8, 'little') + encoded + b''.join(blobs))


def test_bfloat16_safetensors_are_read_and_cast(tmp_path):
  torch = _state_dict()
  halves = {k: v.astype(jnp.bfloat16) if v.dtype == np.float32 else v for k, v in torch.items()}
  dtypes = {k: 'BF16' if v.dtype == jnp.bfloat16 else 'I64' for k, v in halves.items()}
  path = tmp_path / 'resnet18_bf16.safetensors'
  _write_safetensors(path, halves, dtypes)
  read = weights.read_state_dict(str(path))
  assert read['conv1.weight'].dtype == jnp.bfloat16
  variables, report = weights.convert('resnet18', read, width_divisor=16)
  assert variables['params']['conv1']['kernel'].dtype == np.float32
  assert len(report.cast) == 100
  np.testing.assert_allclose(variables['batch_stats']['bn1']['mean'],
                             torch['bn1.running_mean'], rtol=1e-2)


def test_the_first_missing_tensor_in_network_order_is_named():
  torch = _state_dict()
  del torch['layer3.1.conv1.weight'], torch['layer1.1.bn2.running_var']
  with pytest.raises(weights.WeightMismatchError, match=r"'layer1\.1\.bn2\.running_var'"):
    weights.convert('resnet18', torch, width_divisor=16)


def test_a_shape_mismatch_is_named_with_both_shapes():
  with pytest.raises(weights.WeightMismatchError,
                     match=r"'conv1\.weight' has shape \(4, 3, 7, 7\).*\(8, 3, 7, 7\)"):
    weights.convert('resnet18', _state_dict(), width_divisor=8)
  # A ResNet-18 file is not a ResNet-50: the first 1x1 conv of the bottleneck differs.
  with pytest.raises(weights.WeightMismatchError, match=r"'layer1\.0\.conv1\.weight'"):
    weights.convert('resnet50', _state_dict(), width_divisor=16)


def test_command_line(tmp_path, capsys):
  out = tmp_path / 'alexnet'
  assert entry.call(weights_cli.main, ['import', '--arch=alexnet',
                                       f'--src={FIXTURES / "alexnet.safetensors"}',
                                       f'--out={out}', '--width_divisor=16']) == 0
  assert 'Not used (2): classifier.6.bias, classifier.6.weight' in capsys.readouterr().out
  assert (out / weights.BACKBONE_FILE).exists()
  assert entry.call(weights_cli.main, ['import', '--arch=alexnet',
                                       f'--src={FIXTURES / "alexnet.safetensors"}',
                                       f'--out={tmp_path / "bad"}']) == 1
  err = capsys.readouterr().err
  assert err.startswith('error: ') and err.count('\n') == 1, err
  assert "'features.0.weight' has shape (4, 3, 11, 11)" in err
  assert not (tmp_path / 'bad').exists()


def test_python_dash_m_entry_point(tmp_path):
  result = subprocess.run(
      [sys.executable, '-m', 'aesthetic_jax.weights', 'import', '--arch=resnet50',
       f'--src={FIXTURES / "resnet50.safetensors"}', f'--out={tmp_path}', '--width_divisor=16'],
      capture_output=True, text=True, cwd=ROOT, check=False)
  assert result.returncode == 0, result.stderr
  assert 'resnet50: loaded 265 tensors' in result.stdout
  assert 'Not used (2): fc.bias, fc.weight' in result.stdout


def test_pth_needs_torch_or_says_how_to_convert(tmp_path, capsys):
  path = tmp_path / 'resnet18.pth'
  path.write_bytes(b'not really a pickle')
  try:
    import torch  # noqa: F401  pylint: disable=g-import-not-at-top,unused-import
  except ImportError:
    with pytest.raises(weights.WeightFileError, match='PyTorch is not installed'):
      weights.read_state_dict(str(path))
    _refused(capsys, path, tmp_path / 'out', 'safetensors')
  else:
    pytest.skip('torch is installed here; the .pth path is then torch.load')


# ---------------------------------------------------------------------------------------------
# Refusals: one line naming the file (and tensor), exit status 1, nothing written to --out.


def _refused(capsys, src, out, *expected, arch='resnet18', flags=('--width_divisor=16',)):
  """Runs the import command, checks it refused in one line; returns that line."""
  code = entry.call(weights_cli.main, ['import', f'--arch={arch}', f'--src={src}',
                                       f'--out={out}', *flags])
  err = capsys.readouterr().err
  assert code == 1, err
  assert err.startswith('error: ') and err.count('\n') == 1, err
  assert str(src) in err, err
  for text in expected:
    assert text in err, err
  assert not pathlib.Path(out).exists()
  return err


def _extra_blocks(state, blocks):
  """`state` plus a copy of block 1 of a stage as each (stage, block) of `blocks`."""
  extended = dict(state)
  for stage, block in blocks:
    prefix = f'layer{stage}.1.'
    extended.update({f'layer{stage}.{block}.{k[len(prefix):]}': v for k, v in state.items()
                     if k.startswith(prefix)})
  return extended


_RESNET34_EXTRA = ((1, 2), (2, 2), (2, 3), (3, 2), (3, 3), (3, 4), (3, 5), (4, 2))


def test_a_resnet34_is_refused_as_resnet18_and_imported_with_its_stage_sizes(tmp_path, capsys):
  resnet34 = _extra_blocks(_state_dict(), _RESNET34_EXTRA)
  src = tmp_path / 'resnet34.npz'
  np.savez(src, **resnet34)
  err = _refused(capsys, src, tmp_path / 'out', "has 'layer1.2.conv1.weight', which resnet18",
                 '80 tensors', 'is it a ResNet-34', '--arch=resnet18', '--stage_sizes=3,4,6,3')
  assert 'fc.weight' not in err  # the ImageNet classifier may go unused
  # What the message suggests imports every tensor.
  assert entry.call(weights_cli.main, ['import', '--arch=resnet18', f'--src={src}',
                                       f'--out={tmp_path / "out"}', '--width_divisor=16',
                                       '--stage_sizes=3,4,6,3']) == 0
  assert 'Not used (2): fc.bias, fc.weight' in capsys.readouterr().out


def test_fewer_stage_sizes_than_the_file_has_are_refused():
  resnet50 = weights.read_state_dict(str(FIXTURES / 'resnet50.safetensors'))
  with pytest.raises(weights.WeightMismatchError,
                     match=r"'layer1\.2\.conv1\.weight'.*is it a ResNet-50.*--stage_sizes=3,4,6,3"):
    weights.convert('resnet50', resnet50, width_divisor=16, stage_sizes=(2, 2, 2, 2))


def _raw_safetensors(path, header, data=b'', length=None):
  """A .safetensors file from a header (dict or raw bytes) and data, length as given."""
  encoded = header if isinstance(header, bytes) else json.dumps(header).encode()
  length = len(encoded) if length is None else length
  path.write_bytes(length.to_bytes(8, 'little') + encoded + data)
  return path


def _conv1(offsets=(0, 588 * 4), dtype='F32'):
  return {'dtype': dtype, 'shape': [4, 3, 7, 7], 'data_offsets': list(offsets)}


def _write_bytes(path, data):
  path.write_bytes(data)
  return path


def _truncated_safetensors(tmp_path):
  data = (FIXTURES / 'resnet18.safetensors').read_bytes()
  return _write_bytes(tmp_path / 'resnet18.safetensors', data[:len(data) * 2 // 3])


def _npz_member(path, name, header, data=b''):
  """An .npz with one member: a .npy header (dict) and the bytes given as its data."""
  member = io.BytesIO()
  np.lib.format.write_array_header_1_0(member, header)
  with zipfile.ZipFile(path, 'w') as archive:
    archive.writestr(name, member.getvalue() + data)
  return path


def _truncated_npz(tmp_path):
  path = tmp_path / 'resnet18.npz'
  np.savez(path, **_state_dict())
  data = path.read_bytes()
  path.write_bytes(data[:len(data) // 2])
  return path


def _object_npz(tmp_path):
  path = tmp_path / 'resnet18.npz'
  np.savez(path, **{'conv1.weight': np.array([{'a': 1}], dtype=object)})
  return path


def _nan_npz(tmp_path):
  state = _state_dict()
  state['layer2.0.conv1.weight'] = state['layer2.0.conv1.weight'].copy()
  state['layer2.0.conv1.weight'][1, 2, 0, 0] = np.nan
  state['layer2.0.conv1.weight'][0, 0, 1, 1] = np.inf
  np.savez(tmp_path / 'resnet18.npz', **state)
  return tmp_path / 'resnet18.npz'


def _keras_npz(tmp_path):
  path = tmp_path / 'resnet18.npz'
  np.savez(path, **{'conv1/kernel:0': np.zeros((7, 7, 3, 4), np.float32)})
  return path


def _folder(tmp_path):
  (tmp_path / 'weights.safetensors').mkdir()
  return tmp_path / 'weights.safetensors'


def _empty(tmp_path):
  (tmp_path / 'resnet18.safetensors').write_bytes(b'')
  return tmp_path / 'resnet18.safetensors'


_MALFORMED = {
    'truncated safetensors': (_truncated_safetensors, ['truncated', "tensor 'layer"]),
    'hostile header length': (lambda d: _raw_safetensors(
        d / 'a.safetensors', b'{}', length=1 << 62), ['header claims 4,611,686,018,427,387,904']),
    'header not JSON': (lambda d: _raw_safetensors(d / 'a.safetensors', b'{"conv1.weight": ['),
                        ['header is not valid JSON']),
    'header not an object': (lambda d: _raw_safetensors(d / 'a.safetensors', [1, 2]),
                             ['not an object of tensors']),
    'duplicate tensor': (lambda d: _raw_safetensors(
        d / 'a.safetensors', b'{"x": {}, "x": {}}'), ["key 'x' appears twice"]),
    'offsets out of range': (lambda d: _raw_safetensors(
        d / 'a.safetensors', {'conv1.weight': _conv1((4000, 4000 + 588 * 4))}, b'\0' * 2352),
                             ["tensor 'conv1.weight' lies at bytes 4,000-6,352", 'truncated']),
    'offsets overlapping': (lambda d: _raw_safetensors(
        d / 'a.safetensors', {'conv1.weight': _conv1(), 'conv2.weight': _conv1()},
        b'\0' * 2352), ["tensors 'conv1.weight' and 'conv2.weight' overlap"]),
    'offsets not the shape': (lambda d: _raw_safetensors(
        d / 'a.safetensors', {'conv1.weight': _conv1((0, 100))}, b'\0' * 100),
                              ["tensor 'conv1.weight' spans 100 bytes", 'needs 2,352']),
    'negative offset': (lambda d: _raw_safetensors(
        d / 'a.safetensors', {'conv1.weight': _conv1((-4, 2348))}, b'\0' * 2352),
                        ["tensor 'conv1.weight' has no valid dtype/shape/data_offsets"]),
    'unsupported dtype': (lambda d: _raw_safetensors(
        d / 'a.safetensors', {'conv1.weight': _conv1(dtype='C64')}, b'\0' * 2352),
                          ["tensor 'conv1.weight' has dtype 'C64'", 'float32']),
    'truncated npz': (_truncated_npz, ['not a readable .npz']),
    'not a zip': (lambda d: _write_bytes(d / 'model.npz', b'\x89HDF\r\n\x1a\n' * 9),
                  ['not a readable .npz']),
    'object array': (_object_npz, ["array 'conv1.weight' holds Python objects"]),
    'hostile npy shape': (lambda d: _npz_member(
        d / 'a.npz', 'conv1.weight.npy',
        {'descr': '<f4', 'fortran_order': False, 'shape': (1 << 40,)}, b'\0' * 16),
                          ["array 'conv1.weight' declares shape (1099511627776,)"]),
    'empty file': (_empty, ['empty (0 bytes)']),
    'a folder': (_folder, ['a folder, not a weights file']),
    'no file': (lambda d: d / 'missing.safetensors', ['no such file']),
    'unknown format': (lambda d: _write_bytes(d / 'resnet18.h5', b'x'),
                       ["unknown weights format '.h5'"]),
    'NaN values': (_nan_npz, ["tensor 'layer2.0.conv1.weight' has 2 NaN or Inf values"]),
    'TensorFlow layout': (_keras_npz, ["no tensor 'conv1.weight'", 'TensorFlow/Keras']),
}


@pytest.mark.parametrize('case', _MALFORMED)
def test_a_malformed_file_is_refused_in_one_line(case, tmp_path, capsys):
  make, expected = _MALFORMED[case]
  _refused(capsys, make(tmp_path), tmp_path / 'out' / 'nested', *expected)
  assert not (tmp_path / 'out').exists()


def test_a_refusal_leaves_an_earlier_import_as_it_was(tmp_path, capsys):
  out = tmp_path / 'out'
  weights.import_torchvision('resnet18', RESNET18, str(out), width_divisor=16)
  before = {p.name: p.read_bytes() for p in out.iterdir()}
  code = entry.call(weights_cli.main, ['import', '--arch=resnet18', f'--src={_nan_npz(tmp_path)}',
                                       f'--out={out}', '--width_divisor=16'])
  assert code == 1 and capsys.readouterr().err.startswith('error: ')
  assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_a_failed_write_leaves_no_half_import(tmp_path, monkeypatch):
  out = tmp_path / 'new' / 'out'

  def disk_full(*args, **kwargs):
    raise OSError(28, 'No space left on device')

  monkeypatch.setattr(weights.np, 'savez', disk_full)
  with pytest.raises(weights.WeightFileError, match='No space left on device'):
    weights.import_torchvision('resnet18', RESNET18, str(out), width_divisor=16)
  assert not (tmp_path / 'new').exists()
  (tmp_path / 'old').mkdir()
  with pytest.raises(weights.WeightFileError):
    weights.import_torchvision('resnet18', RESNET18, str(tmp_path / 'old'), width_divisor=16)
  assert not list((tmp_path / 'old').iterdir())  # no temporary files left


def test_the_backbone_carries_its_own_report(tmp_path):
  weights.import_torchvision('resnet18', RESNET18, str(tmp_path), width_divisor=16)
  # As if an import of another arch had died between its two renames.
  (tmp_path / weights.REPORT_FILE).write_text(json.dumps({'arch': 'resnet50'}))
  variables, report = weights.load_backbone(str(tmp_path))
  assert report['arch'] == 'resnet18' and report['loaded'] == 100
  assert set(variables) == {'params', 'batch_stats'}


def test_out_that_is_a_file_is_refused(tmp_path, capsys):
  out = tmp_path / 'out'
  out.write_text('mine')
  code = entry.call(weights_cli.main, ['import', '--arch=resnet18', f'--src={RESNET18}',
                                       f'--out={out}', '--width_divisor=16'])
  err = capsys.readouterr().err
  assert code == 1 and err.startswith('error: ') and err.count('\n') == 1, err
  assert f'{out}: a file, not a folder' in err and out.read_text() == 'mine'


def test_a_bug_is_not_reworded_as_a_refusal(monkeypatch):
  def bug(path):
    raise ValueError(f'a bug reading {path}')  # a ValueError, but no WeightFileError

  monkeypatch.setattr(weights, 'read_state_dict', bug)
  with pytest.raises(ValueError, match='a bug'):
    entry.call(weights_cli.main, ['import', '--arch=resnet18', f'--src={RESNET18}',
                                  '--out=/nonexistent/out'])


def _torch_file(tmp_path, state):
  """`state` saved with torch.save, numpy arrays (also in nested dicts) as tensors."""
  torch = pytest.importorskip('torch')

  def tensors(value):
    if isinstance(value, dict):
      return {k: tensors(v) for k, v in value.items()}
    return torch.from_numpy(np.array(value)) if isinstance(value, np.ndarray) else value

  path = tmp_path / 'resnet18.pth'
  torch.save(tensors(state), path)
  return path


def test_a_pth_with_pickled_objects_is_refused(tmp_path, capsys):
  state = dict(_state_dict(), args=argparse.Namespace(lr=0.1))
  path = _torch_file(tmp_path, state)
  _refused(capsys, path, tmp_path / 'out', 'pickled Python objects',
           'argparse.Namespace', 'weights_only=True')


def test_a_truncated_pth_is_refused(tmp_path, capsys):
  path = _torch_file(tmp_path, _state_dict())
  path.write_bytes(path.read_bytes()[:50_000])
  _refused(capsys, path, tmp_path / 'out', 'torch.load cannot read it', 'truncated')


def test_a_pth_state_dict_is_imported(tmp_path):
  path = _torch_file(tmp_path, {'state_dict': _state_dict(), 'epoch': 90})
  report = weights.import_torchvision('resnet18', str(path), str(tmp_path / 'out'),
                                      width_divisor=16)
  assert report.loaded == 100 and report.unused == ['fc.bias', 'fc.weight']


def _demo_config(**model):
  config = resnet_ft.get_config('demo')  # ResNet-18, widths / 16 as the fixture
  for key, value in model.items():
    config.model[key] = value
  return config


def _create(config, num_tags=3):
  """(model, a fresh TrainState with model.init_from's weights). The fresh weights are
  random numbers of the right shapes (compiling the initialiser costs seconds per model):
  only what init_from puts in matters here."""
  model = models.build_model(config.model, num_tags=num_tags)
  tx = train_state.make_optimizer(config, steps_per_epoch=10)
  crop = config.input.crop_size
  shapes = jax.eval_shape(lambda rng: train_state.create_train_state(
      config, model, tx, image_shape=(crop, crop, 3), rng=rng), jax.random.PRNGKey(0))
  rng = np.random.default_rng(0)
  state = jax.tree.map(lambda s: jax.device_put(
      (rng.normal(size=s.shape) * 0.05).astype(s.dtype) if np.issubdtype(s.dtype, np.floating)
      else np.zeros(s.shape, s.dtype)), shapes)
  return model, train_state.with_pretrained_weights(state, config)


def test_init_from_an_imported_backbone_gives_torchs_features(tmp_path, capsys):
  """fixture file -> import -> init_from -> the model's body computes torch's features."""
  weights.import_torchvision('resnet18', RESNET18, str(tmp_path), width_divisor=16)
  config = _demo_config(init_from=str(tmp_path), pixel_mean=(0.0, 0.0, 0.0),
                        pixel_std=(1.0, 1.0, 1.0))
  model, state = _create(config)
  log = capsys.readouterr().out
  assert 'loaded 100 arrays' in log and 'shared/aesthetic_head' in log
  imported, _ = weights.load_backbone(str(tmp_path))
  jax.tree.map(np.testing.assert_array_equal, state.params['shared']['resnet18'],
               imported['params'])
  jax.tree.map(np.testing.assert_array_equal, state.model_state['batch_stats']['shared'][
      'resnet18'], imported['batch_stats'])
  io = np.load(FIXTURES / 'resnet18_io.npz')
  _, features = model.apply({'params': state.params, **state.model_state},
                            np.transpose(io['input'], (0, 2, 3, 1)), train=False,
                            capture_intermediates=lambda m, _: m.name == 'resnet18')
  got = features['intermediates']['shared']['resnet18']['__call__'][0]
  np.testing.assert_array_less(np.abs(got - io['features_eval']).max(), 1e-4)


def test_init_from_refuses_weights_of_another_body(tmp_path):
  weights.import_torchvision('resnet18', RESNET18, str(tmp_path), width_divisor=16)
  config = _demo_config(init_from=str(tmp_path), body='resnet50')
  with pytest.raises(weights.WeightMismatchError, match='resnet18 weights'):
    _create(config)
  with pytest.raises(FileNotFoundError, match='aesthetic_jax.weights import --arch=resnet18'):
    _create(_demo_config(init_from=str(tmp_path / 'missing')))


def _rapid(architecture):
  config = default.get_config('demo')
  config.model.architecture = architecture
  config.model.conv_features, config.model.fc_features = (8, 8, 8, 8), (16, 12)
  return config


def test_init_from_an_ava_workdir_drops_the_semantic_head(tmp_path, capsys, monkeypatch):
  """Photo.net transfer (Table V): MTCNN #1 trained on AVA -> the single-task model."""
  _, ava = _create(_rapid('mtcnn1'), num_tags=5)
  iterator = iter(grain.MapDataset.range(4).to_iter_dataset())
  checkpointer = checkpointing.Checkpointer(str(tmp_path / 'ava' / 'checkpoints'))
  checkpointer.save(12, ava, iterator)
  checkpointer.close()
  config = _rapid('stcnn')
  monkeypatch.chdir(tmp_path)
  config.model.init_from = 'ava'  # relative, as in configs/photonet_transfer.py
  _, photonet = _create(config, num_tags=0)
  log = capsys.readouterr().out
  assert 'checkpoint at step 12' in log
  assert 'not used from the source: params/shared/semantic_head' in log
  assert 'semantic_head' not in photonet.params['shared']
  jax.tree.map(np.testing.assert_array_equal, photonet.params['shared'],
               {k: v for k, v in ava.params['shared'].items() if k != 'semantic_head'})


def test_body_learns_at_a_fraction_of_the_heads_rate():
  config = default.get_config()
  config.optimizer.body_lr_multiplier = 0.1
  config.optimizer.schedule, config.optimizer.momentum = 'constant', 0.0
  config.optimizer.weight_decay = 0.0
  params = {'shared': {'resnet18': {'conv1': {'kernel': jnp.ones((3, 3, 3, 4))}},
                       'aesthetic_head': {'kernel': jnp.ones((4, 2)), 'bias': jnp.ones(2)}}}
  tx = train_state.make_optimizer(config, steps_per_epoch=10)
  updates, _ = tx.update(jax.tree.map(jnp.ones_like, params), tx.init(params), params)
  lr = config.optimizer.learning_rate
  np.testing.assert_allclose(updates['shared']['resnet18']['conv1']['kernel'], -0.1 * lr)
  np.testing.assert_allclose(updates['shared']['aesthetic_head']['kernel'], -lr)
  np.testing.assert_allclose(updates['shared']['aesthetic_head']['bias'], -lr)
  assert train_state.param_groups(params)['shared']['aesthetic_head']['bias'] == 'head'
  # Weight decay still reaches the body's kernels, inside the optimizer.
  config.optimizer.weight_decay = 1.0
  tx = train_state.make_optimizer(config, steps_per_epoch=10)
  zero = jax.tree.map(jnp.zeros_like, params)
  updates, _ = tx.update(zero, tx.init(params), params)
  np.testing.assert_allclose(updates['shared']['resnet18']['conv1']['kernel'], -0.1 * lr)
  np.testing.assert_allclose(updates['shared']['aesthetic_head']['bias'], 0.0)

"""Weight import (torchvision files -> backbone.npz), model.init_from, and the body's LR."""

import json
import pathlib
import subprocess
import sys

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
  assert "'features.0.weight' has shape (4, 3, 11, 11)" in capsys.readouterr().err


def test_python_dash_m_entry_point(tmp_path):
  result = subprocess.run(
      [sys.executable, '-m', 'aesthetic_jax.weights', 'import', '--arch=resnet50',
       f'--src={FIXTURES / "resnet50.safetensors"}', f'--out={tmp_path}', '--width_divisor=16'],
      capture_output=True, text=True, cwd=ROOT, check=False)
  assert result.returncode == 0, result.stderr
  assert 'resnet50: loaded 265 tensors' in result.stdout
  assert 'Not used (2): fc.bias, fc.weight' in result.stdout


def test_pth_needs_torch_or_says_how_to_convert(tmp_path):
  path = tmp_path / 'resnet18.pth'
  path.write_bytes(b'not really a pickle')
  try:
    import torch  # noqa: F401  pylint: disable=g-import-not-at-top,unused-import
  except ImportError:
    with pytest.raises(ImportError, match='PyTorch is not installed'):
      weights.read_state_dict(str(path))
  else:
    pytest.skip('torch is installed here; the .pth path is then torch.load')


def _demo_config(**model):
  config = resnet_ft.get_config('demo')  # ResNet-18, widths / 16 as the fixture
  for key, value in model.items():
    config.model[key] = value
  return config


def _create(config, num_tags=3):
  model = models.build_model(config.model, num_tags=num_tags)
  tx = train_state.make_optimizer(config, steps_per_epoch=10)
  crop = config.input.crop_size
  state = jax.jit(lambda rng: train_state.create_train_state(
      config, model, tx, image_shape=(crop, crop, 3), rng=rng))(jax.random.PRNGKey(0))
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

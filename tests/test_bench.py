"""The bench (aesthetic_jax/bench) runs end to end on a tiny config and its figures agree
with each other: speed itself is measured by running the bench, never by a timed test."""

import math

import pytest

from aesthetic_jax.bench import runner as bench
from aesthetic_jax.bench import timing

REPORTED = ('train_step_img_per_s', 'loop_img_per_s', 'input_img_per_s', 'eval_img_per_s',
            'gflops_per_s', 'fraction_of_matmul_peak', 'peak_rss_mb', 'compile_s',
            'loop_over_step', 'input_over_step', 'eval_over_train')


@pytest.mark.slow
def test_bench_reports_every_figure(tiny_config, monkeypatch):
  # Small products for the peak: the test checks the plumbing, not this machine's peak.
  monkeypatch.setattr(timing, 'matmul_peak_gflops', lambda: 10.0)
  config = tiny_config(batch_size=8, eval_batch_size=8)
  results = bench.run(config, num_steps=1, repeats=3, num_tags=0, with_data=True,
                      pause_s=0.0)
  for key in REPORTED:
    assert isinstance(results[key], float) and math.isfinite(results[key]), key
    assert results[key] > 0, key
  assert results['flops_per_step'] > 0
  assert results['fraction_of_matmul_peak'] == results['gflops_per_s'] / 10.0
  assert results['pool_lrn_impl'] == 'cpu'  # 'auto' on a CPU backend
  lo, hi = results['train_step_img_per_s_range']
  assert lo <= results['train_step_img_per_s'] <= hi
  # The figures are those of one measurement: rates, times and FLOPs agree.
  assert results['train_step_img_per_s'] == pytest.approx(8 / (results['train_step_ms'] / 1e3))
  assert results['gflops_per_s'] == pytest.approx(
      results['flops_per_step'] / (results['train_step_ms'] / 1e3) / 1e9)
  assert results['eval_over_train'] == pytest.approx(
      results['eval_img_per_s'] / results['train_step_img_per_s'])
  assert 'torch_train_step_img_per_s' not in results  # no interpreter given


# The PyTorch reference (aesthetic_jax/bench/torch_reference.py, torch_process.py).

def _configs():
  """name -> config of every config file / body the reference covers (random init)."""
  from configs import alexnet_ft, mtcnn, resnet_ft, stcnn, vgg16_ft
  made = {'mtcnn': mtcnn.get_config(), 'stcnn': stcnn.get_config(),
          'alexnet': alexnet_ft.get_config(), 'vgg16': vgg16_ft.get_config(),
          'resnet18': resnet_ft.get_config('resnet18'), 'resnet50': resnet_ft.get_config(),
          'alexnet_demo': alexnet_ft.get_config('demo'),
          'vgg16_demo': vgg16_ft.get_config('demo'),
          'resnet18_demo': resnet_ft.get_config('demo'),
          'resnet50_demo': resnet_ft.get_config('resnet50,demo'),
          'mtcnn_demo': mtcnn.get_config('demo'), 'stcnn_demo': stcnn.get_config('demo')}
  for config in made.values():
    config.model.init_from = ''
  return made


def test_torch_reference_supports_every_body_of_mtcnn1_and_stcnn():
  from aesthetic_jax.bench import torch_process
  from aesthetic_jax.train import steps
  for name, config in _configs().items():
    assert torch_process.supports(config), (name, torch_process.unsupported_reason(config))
    spec = torch_process.spec_from_config(config, 29)
    assert spec['body'] == config.model.body
    assert spec['width_divisor'] == config.model.width_divisor
    assert spec['body_lr_multiplier'] == config.optimizer.body_lr_multiplier
    assert spec['semantic_weight'] == steps.semantic_weight(config.loss, 29)  # 1/29; STCNN 0
    assert spec['device'] == 'cpu' and spec['dtype'] == config.model.dtype
  from configs import mtcnn, resnet_ft
  resnet = resnet_ft.get_config('resnet18')
  resnet.model.stage_sizes = (1, 1, 1, 1)
  assert torch_process.supports(resnet)
  refused = {'mtrl': resnet_ft.get_config('mtrl')}
  for architecture in ('mtcnn2', 'mtcnn3', 'enhanced'):
    refused[architecture] = mtcnn.get_config()
    refused[architecture].model.architecture = architecture
  refused['distribution_head'] = mtcnn.get_config()
  refused['distribution_head'].model.distribution_head = True
  refused['three_stages'] = resnet_ft.get_config('resnet18')
  refused['three_stages'].model.stage_sizes = (1, 1, 1)
  refused['alexnet_stages'] = _configs()['alexnet']
  refused['alexnet_stages'].model.stage_sizes = (1, 1, 1, 1)
  refused['too_narrow'] = resnet_ft.get_config('resnet18')
  refused['too_narrow'].model.width_divisor = 128
  refused['unknown_body'] = mtcnn.get_config()
  refused['unknown_body'].model.body = 'densenet'
  for name, config in refused.items():
    assert not torch_process.supports(config), name
    assert torch_process.unsupported_reason(config), name


def _jax_param_count(config, num_tags):
  import jax
  import jax.numpy as jnp
  import numpy as np
  from aesthetic_jax import model as model_lib
  model = model_lib.build_model(config.model, num_tags=num_tags)
  crop = config.input.crop_size
  shapes = jax.eval_shape(lambda: model.init(
      jax.random.PRNGKey(0), jnp.zeros((1, crop, crop, 3), jnp.uint8), train=False))
  return int(sum(np.prod(s.shape) for s in jax.tree.leaves(shapes['params'])))


@pytest.mark.parametrize('name', ['mtcnn_demo', 'stcnn_demo', 'alexnet_demo', 'vgg16_demo',
                                  'resnet18_demo', 'resnet50_demo'])
def test_torch_reference_builds_the_jax_network(name):
  """Only where the test interpreter has torch (never a dependency: skipped otherwise).
  The narrow demo bodies keep it fast; the widths follow the same width // divisor rule."""
  pytest.importorskip('torch')
  from aesthetic_jax.bench import torch_process, torch_reference
  config = _configs()[name]
  if config.model.body != 'rapid':
    try:
      torch_reference.import_torchvision()
    except ImportError:
      pytest.skip('torchvision is not installed')
  num_tags = 0 if config.model.architecture == 'stcnn' else 29
  spec = torch_process.spec_from_config(config, num_tags)
  assert set(spec) <= set(torch_reference.default_spec())  # no key the reference ignores
  spec = torch_reference.default_spec() | spec | {
      'batch_size': 2, 'eval_batch_size': 2, 'warmup_steps': 2}
  runner = torch_reference.Runner(spec)
  info = torch_reference.ready_info(runner)
  assert info['num_params'] == _jax_param_count(config, num_tags), name
  assert (runner.model.semantic is None) == (num_tags == 0)
  assert math.isfinite(info['first_loss']) and info['first_loss'] > 0
  assert info['flops_per_step'] is None or info['flops_per_step'] > 0
  p_high, _ = runner.eval_step()
  assert tuple(p_high.shape) == (2,)

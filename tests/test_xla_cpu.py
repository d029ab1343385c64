"""aesthetic_jax/xla_cpu.py: XLA:CPU runs convolutions with its Eigen kernels, not YNNPACK's,
when an entry point asks; importing the library changes nothing in the process."""

import os
import pathlib
import re
import subprocess
import sys

import jax
import jax.numpy as jnp
import pytest
from jax import lax

from aesthetic_jax import xla_cpu

REPO = pathlib.Path(__file__).resolve().parents[1]


def test_adds_the_flag_to_existing_flags():
  environ = {'XLA_FLAGS': '--xla_force_host_platform_device_count=8'}
  assert xla_cpu.configure(environ, jaxlib='0.10.2') == 'eigen'
  assert environ['XLA_FLAGS'].split() == ['--xla_force_host_platform_device_count=8',
                                          xla_cpu.EIGEN_CONVOLUTIONS]
  # Idempotent: a second call adds nothing.
  assert xla_cpu.configure(environ, jaxlib='0.10.2') == 'eigen'
  assert environ['XLA_FLAGS'].count('ynn_fusion_type') == 1


def test_sets_the_flag_when_there_are_none():
  environ = {}
  assert xla_cpu.configure(environ, jaxlib='0.10.2') == 'eigen'
  assert environ['XLA_FLAGS'] == xla_cpu.EIGEN_CONVOLUTIONS


def test_leaves_the_users_choice_alone():
  environ = {'XLA_FLAGS': '--xla_cpu_experimental_ynn_fusion_type=individual_convolution'}
  assert xla_cpu.configure(environ, jaxlib='0.10.2') == 'user'
  assert environ['XLA_FLAGS'] == '--xla_cpu_experimental_ynn_fusion_type=individual_convolution'


def test_leaves_undecided_jaxlib_alone():
  # An unknown flag in XLA_FLAGS aborts XLA, so other versions get nothing added.
  environ = {'XLA_FLAGS': '--xla_force_host_platform_device_count=8'}
  assert xla_cpu.configure(environ, jaxlib='0.11.0') == 'untested-jaxlib'
  assert environ['XLA_FLAGS'] == '--xla_force_host_platform_device_count=8'


def test_the_pinned_jaxlib_has_a_measured_decision():
  """Fails when requirements.txt pins another jaxlib: run `python benchmarks/conv_kernels.py`
  (and its --ynnpack form) on it and record the outcome in xla_cpu.DECISIONS."""
  pins = dict(re.findall(r'^([\w-]+)==([\w.]+)', (REPO / 'requirements.txt').read_text(),
                         re.MULTILINE))
  assert pins['jaxlib'] in xla_cpu.DECISIONS, (
      f'jaxlib {pins["jaxlib"]} is pinned but xla_cpu.DECISIONS has no measurement for it')
  assert xla_cpu.jaxlib_version() == pins['jaxlib']


def _python(code: str, **env) -> str:
  result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          cwd=REPO, env={**os.environ, **env}, timeout=120, check=True)
  return result.stdout.strip().splitlines()[-1]


def test_importing_the_library_changes_nothing_in_the_process():
  modules = ['aesthetic_jax', 'aesthetic_jax.core.losses', 'aesthetic_jax.core.omega',
             'aesthetic_jax.core.metrics', 'aesthetic_jax.model', 'aesthetic_jax.train.loop',
             'aesthetic_jax.infer.scorer', 'aesthetic_jax.experiments.runner',
             'aesthetic_jax.run_dir']
  code = ('import os, sys; before = (os.environ.get("XLA_FLAGS"), list(sys.path)); '
          + '; '.join(f'import {m}' for m in modules)
          + '; print(before == (os.environ.get("XLA_FLAGS"), list(sys.path)))')
  assert _python(code, XLA_FLAGS='--xla_force_host_platform_device_count=2') == 'True'
  heavy = ('import sys; import aesthetic_jax.core.losses; '
           'print(sorted(m for m in ("flax", "ml_collections", "optax") if m in sys.modules))')
  assert _python(heavy) == '[]'


def test_too_late_once_jax_has_started():
  code = ('import os, jax; jax.numpy.ones(1).block_until_ready(); '
          'from aesthetic_jax import xla_cpu; print(xla_cpu.configure(), '
          '"ynn" in os.environ.get("XLA_FLAGS", ""))')
  env = {k: v for k, v in os.environ.items() if k != 'XLA_FLAGS'}
  result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          cwd=REPO, env=env, timeout=120, check=True)
  assert result.stdout.split() == ['too-late', 'False']
  assert 'configure() ran' in result.stderr


def test_convolutions_of_this_process_do_not_run_on_ynnpack():
  """conftest's xla_cpu.configure() (as the entry points do, before JAX starts) took effect:
  a compiled convolution and its gradients are XLA's own, a matrix product YNNPACK's."""
  if (xla_cpu.EIGEN_CONVOLUTIONS not in os.environ.get('XLA_FLAGS', '')
      or jax.default_backend() != 'cpu'):
    pytest.skip(f'flag not applied here ({os.environ.get("XLA_FLAGS")}, '
                f'{jax.default_backend()})')
  # 64 channels: without the flag YNNPACK takes all three convolutions at this size.
  x, w = jnp.ones((2, 16, 16, 64)), jnp.ones((3, 3, 64, 64))

  def conv_loss(x, w):
    y = lax.conv_general_dilated(x, w, (1, 1), 'SAME',
                                 dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
    return jnp.sum(y ** 2)

  hlo = jax.jit(jax.grad(conv_loss, argnums=(0, 1))).lower(x, w).compile().as_text()
  assert hlo.count('convolution(') == 3  # forward, input gradient, kernel gradient
  assert _ynn_fused_ops(hlo, 'convolution(') == 0
  dot_hlo = jax.jit(lambda a: a @ a).lower(jnp.ones((64, 64))).compile().as_text()
  assert _ynn_fused_ops(dot_hlo, 'dot(') == 1  # YNNPACK still runs matrix products


def _ynn_fused_ops(hlo: str, op: str) -> int:
  """How many `op` instructions sit in computations that a YNNPACK fusion calls."""
  called = {m.group(1) for m in re.finditer(r'calls=(%[\w.-]+)[^\n]*__ynn_fusion', hlo)}
  bodies = re.split(r'\n(?=\S)', hlo)  # computations start at column 0
  return sum(body.count(op) for body in bodies if body.split(' ', 1)[0] in called)


def test_nothing_is_set_for_an_accelerator(monkeypatch):
  """The XLA:CPU setting stays off where JAX will not run on the CPU: JAX_PLATFORMS names
  an accelerator, or an accelerator plugin is installed."""
  environ = {'JAX_PLATFORMS': 'cuda,cpu'}
  assert xla_cpu.configure(environ, jaxlib='0.10.2') == 'not-cpu'
  assert 'XLA_FLAGS' not in environ
  assert xla_cpu.configure({'JAX_PLATFORMS': 'cpu'}, jaxlib='0.10.2') == 'eigen'
  real_find_spec = xla_cpu.importlib.util.find_spec
  monkeypatch.setattr(xla_cpu.importlib.util, 'find_spec',
                      lambda name: object() if name == 'jax_cuda12_plugin' else
                      real_find_spec(name))
  environ = {}
  assert xla_cpu.configure(environ, jaxlib='0.10.2') == 'not-cpu' and environ == {}


def test_pooling_and_lrn_take_the_plain_ops_off_the_cpu(monkeypatch):
  """model.pool_lrn_impl='auto' picks the CPU-written pooling/LRN on a CPU backend only:
  forced to see a GPU backend, the model is built from the plain reduce-window ops."""
  from aesthetic_jax import model as model_lib  # pylint: disable=g-import-not-at-top
  from aesthetic_jax.model import cpu_pool_lrn  # pylint: disable=g-import-not-at-top
  from configs import default  # pylint: disable=g-import-not-at-top
  config = default.get_config('demo').model
  config.conv_features, config.fc_features = (8, 8, 8, 8), (16, 12)

  def lowered_ops():
    network = model_lib.build_model(config, num_tags=3)
    images = jnp.zeros((2, 64, 64, 3), jnp.uint8)
    variables = network.init(jax.random.PRNGKey(0), images)
    loss = lambda v: network.apply(v, images, train=False)['aesthetic'].sum()
    return str(jax.make_jaxpr(jax.grad(loss))(variables))

  assert cpu_pool_lrn.resolve_impl('auto') == 'cpu'
  assert 'reduce_window' not in lowered_ops()  # the CPU path: slices and matrix products
  monkeypatch.setattr(cpu_pool_lrn.jax, 'default_backend', lambda: 'gpu')
  assert cpu_pool_lrn.resolve_impl('auto') == 'xla'
  assert 'reduce_window' in lowered_ops()

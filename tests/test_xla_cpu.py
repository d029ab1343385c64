"""aesthetic_jax/xla_cpu.py: XLA:CPU runs convolutions with its Eigen kernels, not YNNPACK's."""

import re

import jax
import jax.numpy as jnp
import pytest
from jax import lax

import aesthetic_jax
from aesthetic_jax import xla_cpu


def test_adds_the_flag_to_existing_flags():
  environ = {'XLA_FLAGS': '--xla_force_host_platform_device_count=8'}
  assert xla_cpu.configure(environ, jaxlib_version='0.10.2') == 'eigen'
  assert environ['XLA_FLAGS'].split() == ['--xla_force_host_platform_device_count=8',
                                          xla_cpu.EIGEN_CONVOLUTIONS]
  # Idempotent: a second call (another import) adds nothing.
  assert xla_cpu.configure(environ, jaxlib_version='0.10.2') == 'eigen'
  assert environ['XLA_FLAGS'].count('ynn_fusion_type') == 1


def test_sets_the_flag_when_there_are_none():
  environ = {}
  assert xla_cpu.configure(environ, jaxlib_version='0.10.2') == 'eigen'
  assert environ['XLA_FLAGS'] == xla_cpu.EIGEN_CONVOLUTIONS


def test_leaves_the_users_choice_alone():
  environ = {'XLA_FLAGS': '--xla_cpu_experimental_ynn_fusion_type=individual_convolution'}
  assert xla_cpu.configure(environ, jaxlib_version='0.10.2') == 'user'
  assert environ['XLA_FLAGS'] == '--xla_cpu_experimental_ynn_fusion_type=individual_convolution'


def test_leaves_untested_jaxlib_alone():
  # An unknown flag in XLA_FLAGS aborts XLA, so other versions get nothing added.
  environ = {'XLA_FLAGS': '--xla_force_host_platform_device_count=8'}
  assert xla_cpu.configure(environ, jaxlib_version='0.11.0') == 'untested-jaxlib'
  assert environ['XLA_FLAGS'] == '--xla_force_host_platform_device_count=8'


def test_convolutions_of_this_process_do_not_run_on_ynnpack():
  """Importing aesthetic_jax (conftest does, before JAX starts) took effect: a compiled
  convolution and its gradients are XLA's own, while a matrix product is still YNNPACK's."""
  if aesthetic_jax.XLA_CPU_CONVOLUTIONS != 'eigen' or jax.default_backend() != 'cpu':
    pytest.skip(f'flag not applied here ({aesthetic_jax.XLA_CPU_CONVOLUTIONS}, '
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

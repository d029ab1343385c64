"""Runs a pod user can trust: two processes on 127.0.0.1 agree with one; SIGKILL and SIGTERM
followed by the same command end bit-identical to an uninterrupted run. Every run here is
the real command line (`python -m aesthetic_jax.main`, or tests/train_and_dump.py, which is
the same flags and code plus a dump of the final parameters)."""

import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
DUMP = str(REPO / 'tests' / 'train_and_dump.py')

pytestmark = pytest.mark.slow

# 64 steps with a checkpoint every 4: long enough that the signals land mid-run (the tests
# check that they did).
COMMON = ['--config.num_epochs=8', '--config.batch_size=8', '--config.checkpoint.every_steps=4']


def _env(devices):
  return dict(os.environ, PYTHONPATH=str(REPO),
              XLA_FLAGS=f'--xla_force_host_platform_device_count={devices}')


def _start(args, data_dir, devices=2):
  return subprocess.Popen(
      [sys.executable, DUMP, '--config=tests/tiny_config.py',
       f'--config.data.data_dir={data_dir}', *args], env=_env(devices), cwd=REPO,
      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(proc, timeout=300):
  out, _ = proc.communicate(timeout=timeout)
  assert proc.returncode == 0, out[-3000:]
  return out


def _load(path):
  with np.load(path) as f:
    return {k: f[k] for k in f.files}


def _free_port():
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


def _wait_for_checkpoint(workdir, min_step, proc, timeout=180):
  ckpt = pathlib.Path(workdir) / 'checkpoints'
  deadline = time.time() + timeout
  while time.time() < deadline:
    if proc.poll() is not None:
      pytest.fail(f'training ended before step {min_step}: {proc.stdout.read()[-2000:]}')
    steps = [int(p.name) for p in ckpt.glob('*') if p.name.isdigit()] if ckpt.exists() else []
    if steps and max(steps) >= min_step:
      return
    time.sleep(0.2)
  pytest.fail(f'no checkpoint at step >= {min_step} after {timeout} s')


@pytest.fixture(scope='module')
def reference(tiny_data_dir, tmp_path_factory):
  """Parameters of an uninterrupted run (2 fake devices)."""
  work = tmp_path_factory.mktemp('reference')
  _finish(_start([f'--workdir={work / "w"}', f'--params_out={work / "p.npz"}', *COMMON],
                 tiny_data_dir))
  return _load(work / 'p.npz')


def _assert_bit_identical(a, b):
  assert a.keys() == b.keys()
  for k in a:
    np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_sigkill_then_rerun_is_bit_identical(tiny_data_dir, reference, tmp_path):
  args = [f'--workdir={tmp_path / "w"}', f'--params_out={tmp_path / "p.npz"}', *COMMON]
  proc = _start(args, tiny_data_dir)
  _wait_for_checkpoint(tmp_path / 'w', 8, proc)
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  assert not (tmp_path / 'p.npz').exists()  # it really died mid-run
  out = _finish(_start(args, tiny_data_dir))
  assert 'Resumed from the checkpoint at step' in out
  _assert_bit_identical(reference, _load(tmp_path / 'p.npz'))


def test_sigterm_saves_exits_cleanly_and_resumes_exactly(tiny_data_dir, reference, tmp_path):
  args = [f'--workdir={tmp_path / "w"}', f'--params_out={tmp_path / "p.npz"}', *COMMON]
  proc = _start(args, tiny_data_dir)
  _wait_for_checkpoint(tmp_path / 'w', 4, proc)
  proc.send_signal(signal.SIGTERM)
  out = _finish(proc)
  assert 'SIGTERM received: saved a checkpoint at step' in out
  assert not (tmp_path / 'p.npz').exists()
  out = _finish(_start(args, tiny_data_dir))
  assert 'Resumed from the checkpoint at step' in out
  _assert_bit_identical(reference, _load(tmp_path / 'p.npz'))


def test_sigterm_during_start_up_exits_0_with_a_message(tiny_data_dir, tmp_path):
  proc = subprocess.Popen(
      [sys.executable, '-m', 'aesthetic_jax.main', '--config=tests/tiny_config.py',
       f'--config.data.data_dir={tiny_data_dir}', f'--workdir={tmp_path / "w"}'],
      env=_env(2), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
  # The workdir appears as training starts, before data loading and compilation.
  deadline = time.time() + 120
  while not (tmp_path / 'w').exists() and proc.poll() is None and time.time() < deadline:
    time.sleep(0.05)
  assert proc.poll() is None
  proc.send_signal(signal.SIGTERM)
  out = _finish(proc)
  assert 'SIGTERM received during start-up' in out
  assert not (tmp_path / 'w' / 'checkpoints').exists() or not os.listdir(
      tmp_path / 'w' / 'checkpoints')


def test_two_processes_match_one(tiny_data_dir, tmp_path):
  port = _free_port()
  procs = [_start([f'--workdir={tmp_path / "multi"}', f'--params_out={tmp_path / f"p{i}.npz"}',
                   '--config.batch_size=8', f'--coordinator_address=127.0.0.1:{port}',
                   '--num_processes=2', f'--process_id={i}'], tiny_data_dir, devices=2)
           for i in range(2)]
  for proc in procs:
    _finish(proc)
  _finish(_start([f'--workdir={tmp_path / "single"}', f'--params_out={tmp_path / "one.npz"}',
                  '--config.batch_size=8'], tiny_data_dir, devices=4))
  p0, p1, one = (_load(tmp_path / n) for n in ('p0.npz', 'p1.npz', 'one.npz'))
  _assert_bit_identical(p0, p1)
  for k in one:
    np.testing.assert_allclose(p0[k], one[k], rtol=1e-5, atol=1e-6, err_msg=k)

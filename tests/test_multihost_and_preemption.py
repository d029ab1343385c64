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
import tempfile
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


def _start(args, data_dir, devices=2, command=(DUMP,)):
  """The command in a subprocess, its output to a file (a pipe nobody reads while the test
  waits on another process could fill up and stall it)."""
  log = tempfile.NamedTemporaryFile('w+', suffix='.log', delete=False)
  proc = subprocess.Popen(
      [sys.executable, *command, '--config=tests/tiny_config.py',
       f'--config.data.data_dir={data_dir}', *args], env=_env(devices), cwd=REPO,
      stdout=log, stderr=subprocess.STDOUT, text=True)
  proc.log = log
  return proc


def _output(proc) -> str:
  proc.log.seek(0)
  return proc.log.read()


def _finish(proc, timeout=300):
  proc.wait(timeout=timeout)
  out = _output(proc)
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
      pytest.fail(f'training ended before step {min_step}: {_output(proc)[-2000:]}')
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
  proc = _start([f'--workdir={tmp_path / "w"}'], tiny_data_dir,
                command=('-m', 'aesthetic_jax.main'))
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


def _max_difference(a, b):
  return max(float(np.max(np.abs(a[k] - b[k]))) for k in a)


def test_device_count_and_processes_change_nothing_but_rounding(tiny_data_dir, reference,
                                                                tmp_path):
  """The same 64 steps (batch 8) on 1, 2 (reference), 4 devices, and 2 processes of 2
  devices: dropout masks and crops depend on the example's global index, never on the
  device, so only the order of float sums differs."""
  # (No mid-epoch checkpoints here: they do not change the parameters, and they take time.)
  common = COMMON + ['--config.checkpoint.every_steps=0']
  runs = {f'{n}dev': _start([f'--workdir={tmp_path / f"{n}dev"}',
                             f'--params_out={tmp_path / f"{n}dev.npz"}', *common],
                            tiny_data_dir, devices=n) for n in (1, 4)}
  for proc in runs.values():
    _finish(proc)
  port = _free_port()
  procs = [_start([f'--workdir={tmp_path / "multi"}', f'--params_out={tmp_path / f"p{i}.npz"}',
                   *common, f'--coordinator_address=127.0.0.1:{port}', '--num_processes=2',
                   f'--process_id={i}'], tiny_data_dir, devices=2) for i in range(2)]
  for proc in procs:
    _finish(proc)
  p0, p1 = _load(tmp_path / 'p0.npz'), _load(tmp_path / 'p1.npz')
  _assert_bit_identical(p0, p1)  # the processes hold the same replicated parameters
  gaps = {'1dev': _max_difference(_load(tmp_path / '1dev.npz'), reference),
          '4dev': _max_difference(_load(tmp_path / '4dev.npz'), reference),
          '2proc': _max_difference(p0, reference)}
  print('max |params - 2-device params| after 64 steps:', gaps)
  assert all(gap < 1e-4 for gap in gaps.values()), gaps

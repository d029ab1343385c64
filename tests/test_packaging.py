"""The package as `pip install .` (not editable) leaves it: every command and the paper's
tables work from another folder; the accelerator requirement files pin the same JAX."""

import os
import pathlib
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]


def _pins(path: pathlib.Path) -> dict[str, str]:
  return dict(re.findall(r'^([\w.-]+)(?:\[[\w-]+\])?==([\w.]+)', path.read_text(), re.MULTILINE))


def test_accelerator_builds_pin_the_same_jax():
  jax_version = _pins(REPO / 'requirements.txt')['jax']
  for accelerator in ('cuda12', 'cuda13', 'tpu'):
    text = (REPO / f'requirements-{accelerator}.txt').read_text()
    assert f'jax[{accelerator}]=={jax_version}' in text
    assert '-r requirements.txt' in text


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
  """A fresh virtual environment holding the built wheel (no editable install), reading the
  pinned dependencies from this interpreter's site-packages."""
  root = tmp_path_factory.mktemp('packaging')
  # Built from a copy: setuptools writes build/ and *.egg-info beside the sources.
  source = root / 'source'
  top_level = {'.git', '.venv', 'data', 'build', 'tensorflow_datasets'}

  def ignore(folder, names):  # the checkout's own outputs, at the top level only
    skipped = {n for n in names if n.endswith('.egg-info') or n == '__pycache__'}
    if os.path.samefile(folder, REPO):
      skipped |= {n for n in names if n in top_level or n.startswith('workdir')}
    return skipped

  shutil.copytree(REPO, source, ignore=ignore)
  subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation',
                  '--quiet', '-w', str(root / 'wheel'), str(source)], check=True, timeout=300)
  wheel, = (root / 'wheel').glob('aesthetic_jax-*.whl')
  venv = root / 'venv'
  subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(venv)], check=True)
  python = venv / 'bin' / 'python'
  site = subprocess.run([str(python), '-c', 'import sysconfig; print(sysconfig.get_paths()'
                         '["purelib"])'], capture_output=True, text=True, check=True).stdout
  # A path line (not processed as a site dir): the dependencies without the editable finder.
  (pathlib.Path(site.strip()) / 'deps.pth').write_text(sysconfig.get_paths()['purelib'] + '\n')
  subprocess.run([sys.executable, '-m', 'pip', '--python', str(python), 'install',
                  '--no-deps', '--quiet', str(wheel)], check=True, timeout=300)
  return python, wheel


def _run(python, *args, cwd):
  env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH',)}
  return subprocess.run([str(python), *args], capture_output=True, text=True, cwd=cwd,
                        env=env, timeout=300)


@pytest.mark.slow
def test_commands_work_from_another_folder_after_pip_install(installed, tmp_path):
  python, wheel = installed
  names = zipfile.ZipFile(wheel).namelist()
  assert 'configs/table1.py' in names and 'aesthetic_jax/bench/torch_reference.py' in names
  assert 'data_builders/ava/README.md' in names
  where = _run(python, '-c', 'import aesthetic_jax; print(aesthetic_jax.__file__)',
               cwd=tmp_path)
  assert str(REPO) not in where.stdout and 'site-packages' in where.stdout, where
  # (Every command's --help in-process: tests/test_train.py.)
  for command, flag in (('experiments', '--seeds'), ('predict', '--[no]follow_links'),
                        ('main', '--workdir')):
    result = _run(python, '-m', f'aesthetic_jax.{command}', '--help', cwd=tmp_path)
    # absl ends --help with exit status 1; the help names the command's own flags.
    assert result.returncode in (0, 1) and not result.stderr, (command, result.stderr[-2000:])
    assert flag in result.stdout and f'aesthetic_jax.{command}' in result.stdout, command
  tables = _run(python, '-c', 'import aesthetic_jax.experiments.runner; from '
                'aesthetic_jax.experiments import tables; print(tables.available())',
                cwd=tmp_path)
  assert tables.stdout.strip() == (
      "('table1', 'table2', 'table3', 'table4', 'table5', 'respective')"), tables.stderr

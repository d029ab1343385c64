#!/usr/bin/env bash
# aesthetic_jax: the two commands a new user needs.
#   ./run.sh        set up .venv (pinned), train MTRLCNN on the embedded synthetic data, score a few photos
#   ./run.sh test   set up .venv (pinned with pytest) and run the test suite
#   ./run.sh bench  speed and memory of MTCNN #1 (aesthetic_jax.bench; see README "Performance")
# Extra arguments after `test` go to pytest; after nothing/`demo`, to aesthetic_jax.main.
# JAX_ACCELERATOR=cuda12, cuda13 or tpu installs JAX's build for that accelerator
# (requirements-<accelerator>.txt) instead of the CPU one.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
VENV=.venv
ACCELERATOR=${JAX_ACCELERATOR:-cpu}
case "$ACCELERATOR" in
  cpu) REQUIREMENTS=requirements-test.txt ;;
  cuda12|cuda13|tpu) REQUIREMENTS="requirements-test.txt requirements-$ACCELERATOR.txt" ;;
  *) echo "JAX_ACCELERATOR=$ACCELERATOR: use cpu, cuda12, cuda13 or tpu" >&2; exit 2 ;;
esac

setup() {
  if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 is needed"'
    "$PYTHON" -m venv "$VENV"
  fi
  local stamp="$VENV/.installed-$ACCELERATOR-$(cat requirements*.txt setup.py | cksum | cut -d' ' -f1)"
  if [ ! -f "$stamp" ]; then
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    for r in $REQUIREMENTS; do "$VENV/bin/python" -m pip install --quiet -r "$r"; done
    "$VENV/bin/python" -m pip install --quiet --no-deps -e .
    rm -f "$VENV"/.installed-*
    touch "$stamp"
  fi
}

use_tcmalloc() {
  # tcmalloc, when installed (Debian: libtcmalloc-minimal4), makes CPU training ~20% faster.
  local lib=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
  if [ -z "${LD_PRELOAD:-}" ] && [ -f "$lib" ]; then export LD_PRELOAD="$lib"; fi
}

mode=${1:-demo}
case "$mode" in
  test)
    shift
    setup
    # On every core (pytest-xdist); the tests of one file stay in one worker (shared fixtures).
    exec "$VENV/bin/python" -m pytest -q -n auto --dist loadscope tests "$@"
    ;;
  demo)
    [ $# -gt 0 ] && shift
    setup
    use_tcmalloc
    workdir=${WORKDIR:-workdir/mtrl_demo}
    data_dir=${DATA_DIR:-data}
    "$VENV/bin/python" -m aesthetic_jax.main --config=configs/mtrl.py:demo \
      --workdir="$workdir" --config.data.data_dir="$data_dir" "$@"
    # The whole loop: score five synthetic test images with the model just trained.
    "$VENV/bin/python" -m aesthetic_jax.predict --workdir="$workdir" --data_dir="$data_dir" \
      --demo_from_test_split=5 --no_progress
    ;;
  bench)
    shift
    setup
    use_tcmalloc
    exec "$VENV/bin/python" -m aesthetic_jax.bench --config=configs/mtcnn.py \
      --config.data.name=synthetic --config.data.data_dir="${DATA_DIR:-data}" "$@"
    ;;
  *)
    echo "usage: ./run.sh [demo [main.py flags...]] | test [pytest args...] | bench [bench flags...]" >&2
    exit 2
    ;;
esac

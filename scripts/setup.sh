#!/usr/bin/env bash
# Sets up everything keras-nasnet needs on a fresh Debian/Ubuntu machine:
# the offline Fashion-MNIST files (Debian package dataset-fashion-mnist),
# Graphviz for the cell diagrams, and a virtual environment in .venv with the
# package and its test dependencies.
# Safe to run again: it does only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

# Debian packages: the offline Fashion-MNIST files (required) and Graphviz's
# dot, which lays out the cell diagrams (optional: without it matplotlib
# draws them).
missing=()
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || missing+=(dataset-fashion-mnist)
command -v dot >/dev/null || missing+=(graphviz)
if [ ${#missing[@]} -gt 0 ]; then
  echo "[setup] installing the Debian packages ${missing[*]}"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  # Offline, the package cache may still hold them: go on without the update.
  $SUDO apt-get update -qq || echo "[setup] apt-get update failed; trying the package cache" >&2
  for package in "${missing[@]}"; do
    if [ "$package" = graphviz ]; then
      $SUDO apt-get install -y -qq graphviz >/dev/null ||
        echo "[setup] could not install graphviz: cell diagrams will be drawn with matplotlib" >&2
    else
      $SUDO apt-get install -y -qq "$package" >/dev/null
    fi
  done
fi

stamp="$VENV/.keras-nasnet-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "[setup] creating $VENV and installing keras-nasnet with its test dependencies"
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -e ".[test]"
  touch "$stamp"
fi

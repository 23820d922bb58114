#!/usr/bin/env bash
# Sets up everything keras-nasnet needs on a fresh Debian/Ubuntu machine:
# the offline Fashion-MNIST files (Debian package dataset-fashion-mnist) and a
# virtual environment in .venv with the package and its test dependencies.
# Safe to run again: it does only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  echo "[setup] installing the Debian package dataset-fashion-mnist (offline Fashion-MNIST)"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq dataset-fashion-mnist >/dev/null
fi

stamp="$VENV/.keras-nasnet-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "[setup] creating $VENV and installing keras-nasnet with its test dependencies"
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -e ".[test]"
  touch "$stamp"
fi

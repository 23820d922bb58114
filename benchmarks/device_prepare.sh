#!/usr/bin/env bash
# Prepares what benchmarks/device_suite.sh needs on a GPU machine that has no
# network and no Keras: run it here (with the package registry reachable), then
# carry both folders to the device ("carry": [".whl", ".data"]).
#
#   .whl/   the wheels the GPU machine lacks (keras, keras-tuner, kt-legacy,
#           namex, optree, absl-py) for CPython 3.12 on manylinux x86_64, about 3 MB;
#   .data/fashion-mnist/   the four Fashion-MNIST IDX files (30 MB), from the
#           Debian package dataset-fashion-mnist (or FASHION_MNIST_DIR).
#
# Both are ignored by git (.gitignore). Re-running replaces nothing that is
# already there. Usage: bash benchmarks/device_prepare.sh
set -eu -o pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PY=${PYTHON:-python3}
SOURCE=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
# The versions the project is tested with (pyproject.toml, the venv).
# absl-py: keras imports it (keras/src/saving/saving_api.py) and the GPU
# machines are not documented to have it; a copy in /tmp/site is harmless.
PACKAGES=(keras==3.15.1 keras-tuner==1.4.8 kt-legacy namex optree absl-py==2.5.1)

mkdir -p .whl
"$PY" -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
  "${PACKAGES[@]}"

mkdir -p .data/fashion-mnist
for name in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  found=
  for file in "$SOURCE/$name.gz" "$SOURCE/$name"; do
    if [ -f "$file" ]; then
      cp -n "$file" .data/fashion-mnist/
      found=1
      break
    fi
  done
  if [ -z "$found" ]; then
    echo "device_prepare.sh: $name(.gz) not found in $SOURCE (apt install dataset-fashion-mnist, or set FASHION_MNIST_DIR)" >&2
    exit 1
  fi
done
echo "== .whl/:"
ls -l .whl
echo "== .data/fashion-mnist/:"
ls -l .data/fashion-mnist
du -sh .whl .data

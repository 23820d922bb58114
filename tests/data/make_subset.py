"""Writes the small real Fashion-MNIST subset committed under tests/data/.

60 training and 20 test images per class (600 + 200), the first ones of each
class in file order, taken from the full IDX files of the Debian package
`dataset-fashion-mnist`. Run from the repository root:

    python tests/data/make_subset.py [SOURCE_DIR]

The output is deterministic (gzip mtime 0), so re-running it leaves git clean.
"""

import os
import sys

import numpy as np

from keras_nasnet.data.idx import read_idx, write_idx

SOURCE_DIR = "/usr/share/datasets/fashion-mnist"
OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fashion-mnist")
PER_CLASS = {"train": 60, "t10k": 20}


def first_per_class(labels, per_class):
    """Indices of the first `per_class` examples of every class, in file order."""
    keep = np.concatenate(
        [np.flatnonzero(labels == c)[:per_class] for c in np.unique(labels)]
    )
    return np.sort(keep)


def main(source_dir=SOURCE_DIR, out_dir=OUT_DIR):
    os.makedirs(out_dir, exist_ok=True)
    for split, per_class in PER_CLASS.items():
        images = read_idx(os.path.join(source_dir, f"{split}-images-idx3-ubyte.gz"))
        labels = read_idx(os.path.join(source_dir, f"{split}-labels-idx1-ubyte.gz"))
        keep = first_per_class(labels, per_class)
        write_idx(os.path.join(out_dir, f"{split}-images-idx3-ubyte.gz"), images[keep])
        write_idx(os.path.join(out_dir, f"{split}-labels-idx1-ubyte.gz"), labels[keep])
        print(f"{split}: {len(keep)} images")


if __name__ == "__main__":
    main(*sys.argv[1:2])

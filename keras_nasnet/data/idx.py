"""Reading and writing IDX files, the format of MNIST and Fashion-MNIST.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number
of dimensions), one big-endian uint32 per dimension, then the values in C
order, big-endian. Files may be gzip-compressed; compression is recognised
from the content, not the file name.

Reference: LeCun et al., "The MNIST database of handwritten digits"
(yann.lecun.com/exdb/mnist), section "File formats".
"""

import gzip
import math
import os
import zlib

import numpy as np

# IDX type code -> big-endian numpy dtype.
_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path):
    with open(path, "rb") as f:
        raw = f.read()
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as e:
        raise ValueError(
            f"Invalid IDX file {path!s}: it looks gzip-compressed but cannot be "
            f"decompressed ({e}). The file is probably truncated or corrupt; "
            "download or copy it again."
        ) from e


def read_idx(path):
    """Reads one IDX file (raw or gzip-compressed) into a numpy array.

    The header is validated: the magic number, the type code and the data
    length must agree exactly, so a truncated file or a file of another format
    is rejected instead of being read as garbage.

    Args:
        path: path to the file, `.gz` or not.

    Returns:
        A numpy array in native byte order with the shape the header declares
        (`uint8` for MNIST-style images and labels).

    Raises:
        FileNotFoundError: if there is no such file.
        ValueError: if the file is not a valid IDX file (or is a directory);
            the message names the file.

    Example:

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "labels-idx1-ubyte.gz")
    >>> write_idx(path, np.array([3, 1, 4], dtype="uint8"))
    >>> read_idx(path)
    array([3, 1, 4], dtype=uint8)
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise ValueError(
            f"Invalid IDX file {path}: it is a directory, not a file. Pass the "
            "path of the file itself (e.g. train-images-idx3-ubyte.gz)."
        )
    if not os.path.exists(path):
        raise FileNotFoundError(f"IDX file {path} does not exist.")
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise ValueError(
            f"Invalid IDX file {path}: {len(raw)} bytes, shorter than the "
            "4-byte magic number."
        )
    zero0, zero1, type_code, ndim = raw[0], raw[1], raw[2], raw[3]
    if zero0 != 0 or zero1 != 0 or type_code not in _DTYPES or ndim == 0:
        raise ValueError(
            f"Invalid IDX file {path}: bad magic number 0x{raw[:4].hex()}. "
            "Expected two zero bytes, a type code in "
            f"{sorted(hex(c) for c in _DTYPES)} and a number of dimensions "
            ">= 1 (e.g. 0x00000803 for images, 0x00000801 for labels)."
        )
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise ValueError(
            f"Invalid IDX file {path}: the header declares {ndim} dimensions "
            f"but the file ends after {len(raw)} bytes."
        )
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = _DTYPES[type_code]
    # math.prod: exact, where a product of many uint32 dims overflows int64.
    expected = header_size + math.prod(shape) * dtype.itemsize
    if len(raw) != expected:
        problem = "truncated" if len(raw) < expected else "has trailing bytes"
        raise ValueError(
            f"Invalid IDX file {path}: the file is {problem}. The header "
            f"declares shape {shape} of {dtype.name} ({expected} bytes with the "
            f"header); the data has {len(raw)} bytes."
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header_size).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def write_idx(path, array):
    """Writes a numpy array as an IDX file, gzip-compressed if `path` ends in `.gz`.

    Args:
        path: destination path.
        array: an array of at least one dimension whose dtype is one IDX
            supports (`uint8`, `int8`, `int16`, `int32`, `float32`, `float64`).

    Raises:
        ValueError: if the dtype or number of dimensions cannot be written.
    """
    path = os.fspath(path)
    array = np.asarray(array)
    codes = {dt.newbyteorder("="): code for code, dt in _DTYPES.items()}
    if array.dtype not in codes or not 1 <= array.ndim <= 255:
        raise ValueError(
            "Invalid value received for argument `array`. Expected an array "
            "with 1 to 255 dimensions and dtype in "
            f"{sorted(str(d) for d in codes)}. Received: array with dtype "
            f"{array.dtype} and shape {array.shape}"
        )
    code = codes[array.dtype]
    header = (
        bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    )
    payload = header + array.astype(_DTYPES[code]).tobytes()
    if path.endswith(".gz"):
        # mtime=0 keeps the bytes reproducible.
        payload = gzip.compress(payload, mtime=0)
    with open(path, "wb") as f:
        f.write(payload)

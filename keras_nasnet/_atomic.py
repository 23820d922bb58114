"""Files replaced whole or not at all.

A search is killed at any moment (SIGKILL, preemption, out-of-memory): a state
file must then hold either its previous content or its new one, never a
truncated mix. Everything is written to a temporary file in the same folder
and renamed over the target (`os.replace` is atomic on POSIX and Windows).
"""

import contextlib
import json
import os
import tempfile


def is_local(path):
    """Whether `path` is on the local file system (not `gs://`, `s3://`...),
    where a rename is atomic."""
    return "://" not in str(path)


@contextlib.contextmanager
def replace_on_success(path, mode="w", durable=False):
    """Opens a temporary file that replaces `path` when the block succeeds.

    Args:
        path: the file to write (local).
        mode: `"w"` or `"wb"`.
        durable: flush to disk (`fsync`) before the rename, so that the new
            content also survives a power loss, not only a killed process.
            Off by default: a search writes several files per trial, and an
            `fsync` costs milliseconds on a busy disk. Without it, a kill at
            any moment still leaves the old or the new file; a power cut may
            lose the last seconds (or, on file systems without ext4's
            rename heuristic, leave an empty file, which a reload reports).

    Yields:
        The open temporary file. If the block raises, it is removed and
        `path` keeps its previous content.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(
        dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp"
    )
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def write_json(path, obj, durable=False, **dumps_kwargs):
    """Writes `json.dumps(obj, **dumps_kwargs)` to `path` atomically."""
    text = json.dumps(obj, **dumps_kwargs)
    with replace_on_success(path, "w", durable=durable) as f:
        f.write(text)
    return text

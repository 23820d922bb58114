"""What every benchmark records beside its figures, and how it writes them.

Each script under `benchmarks/` prints one JSON line and writes the same
report, indented, under `benchmarks/results/`. `header(name)` returns the part
that says where and how it was measured: the command, the date, the machine
(with its load average, since the benchmark machines are shared), the Keras
backend, the device and the library versions.
"""

import datetime
import json
import os
import platform
import shlex
import sys

from keras_nasnet import _atomic

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS_DIR = os.path.join(HERE, "results")


def cpu_model():
    """The CPU in words: its model name, family and model numbers, and its
    widest vector unit. A virtual machine may name every generation alike
    ("AMD EPYC"), while a child's training step ran 5-6x faster on one
    (family 26, AVX-512) than on the machines of earlier sessions."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not line.strip():
                    break  # the first processor is enough
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        pass
    name = fields.get("model name") or platform.processor() or "unknown"
    details = [
        f"{label} {fields[key]}"
        for key, label in (("cpu family", "family"), ("model", "model"))
        if key in fields
    ]
    flags = fields.get("flags", "").split()
    vector = next((v for v in ("avx512f", "avx2", "avx") if v in flags), None)
    if vector:
        details.append(vector)
    return f"{name} ({', '.join(details)})" if details else name


def versions():
    """Versions of Python and of the libraries the measurement depends on."""
    import keras
    import keras_tuner
    import numpy as np

    out = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "keras": keras.__version__,
        "keras_tuner": keras_tuner.__version__,
    }
    backend = keras.backend.backend()
    if backend in ("tensorflow", "jax", "torch"):
        out[backend] = __import__(backend).__version__
    return out


def device():
    """The accelerator Keras computes on, in words: a GPU's name, or "cpu"."""
    import keras

    backend = keras.backend.backend()
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            if gpus:
                details = tf.config.experimental.get_device_details(gpus[0])
                return details.get("device_name", "gpu")
        elif backend == "jax":
            import jax

            dev = jax.devices()[0]
            if dev.platform != "cpu":
                return getattr(dev, "device_kind", dev.platform)
        elif backend == "torch":
            import torch

            if torch.cuda.is_available():
                return torch.cuda.get_device_name(0)
    except Exception:  # a device query must never stop a benchmark
        pass
    return "cpu"


def header(name, argv=None):
    """The report's metadata; add `"results"` and pass it to `write`."""
    import keras

    argv = sys.argv if argv is None else argv
    return {
        "benchmark": name,
        "command": "python " + " ".join(shlex.quote(a) for a in argv),
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        ),
        "machine": {
            "platform": platform.platform(),
            "cpu": cpu_model(),
            "cpu_count": os.cpu_count(),
            "load_average_at_start": list(os.getloadavg()),
        },
        "backend": keras.backend.backend(),
        "device": device(),
        "versions": versions(),
    }


def write(report, output):
    """Prints `report` as one JSON line and writes it, indented, to `output`
    (a temporary file renamed into place, so a killed run leaves the previous
    result whole). `output=None` only prints."""
    report.setdefault("machine", {})["load_average_at_end"] = list(os.getloadavg())
    print(json.dumps(report), flush=True)
    if output is None:
        return
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    with _atomic.replace_on_success(output) as f:
        f.write(json.dumps(report, indent=2) + "\n")


def read_earlier(path, settings, parser, flag):
    """The report at `path`, written by an earlier run with these `settings`
    (a dict), for `flag` (`--resume`, `--merge`); records where it came from
    in the returned report's `provenance`. Exits through `parser.error` if
    it was measured with other settings."""
    with open(path) as f:
        earlier = json.load(f)
    if earlier.get("settings") != settings:
        parser.error(
            f"{flag}: {path} was measured with other settings; choose another "
            "file, or the flags it was run with"
        )
    earlier["provenance"] = {
        "path": path,
        **{k: earlier.get(k) for k in ("command", "date_utc", "machine")},
    }
    return earlier


def child_env(**variables):
    """This process's environment for a child Python process of a benchmark,
    with the repository and benchmarks/ first on PYTHONPATH (the children
    import `keras_nasnet` and the scripts' siblings) and `variables` set."""
    path = (os.path.dirname(HERE), HERE, os.environ.get("PYTHONPATH"))
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in path if p),
        **variables,
    }


def thread_variables(threads):
    """The environment that gives a child process's TensorFlow `threads`
    intra- and inter-op threads; empty for None (TensorFlow's own, one per
    core). Benchmarks run side by side on a few cores need it: two processes
    of two threads each on 2 cores oversubscribe them."""
    if threads is None:
        return {}
    return {
        "TF_NUM_INTRAOP_THREADS": str(threads),
        "TF_NUM_INTEROP_THREADS": str(threads),
    }


# The line a benchmark's child process prints its result on (JSON after it).
RESULT = "RESULT "


def print_result(obj):
    """Prints `obj` for the parent process (`result_of`)."""
    print(RESULT + json.dumps(obj), flush=True)


def result_of(stdout):
    """What a child printed with `print_result` in `stdout`, or None."""
    for line in stdout.splitlines():
        if line.startswith(RESULT):
            return json.loads(line[len(RESULT) :])
    return None


def default_output(name):
    return os.path.join(RESULTS_DIR, f"{name}.json")

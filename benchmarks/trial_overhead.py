"""What a search trial spends its time and memory on.

Part 1, time: for `--genotypes` random genotypes
(`keras_nasnet.space.sampling.random_genotype(seed)`, seeds 0, 1, ..., add or
concat per block unless `--no-search-combine`), one trial of the default
search proxy as `keras-nasnet search` / `make search` runs it (the
hypermodel of `keras_nasnet.workflow.make_hypermodel`, N=1, F=8, 5 blocks,
the workflow's batch (32) and learning rate (0.1; figures committed before
2026-11-30 used batch 64 and 0.05), 1 epoch on 2,000 Fashion-MNIST training images
scored on 500 held-out ones, no XLA), each after `keras.backend.clear_session()` + `gc.collect()` as
keras-tuner does: the seconds spent building and compiling the child
(`hypermodel.build`), the first training step (which traces, and compiles
with XLA), the later steps, and the validation pass (its first batch traces
the test function). Reported: median, p10 and p90 of each, and the fraction
of a trial spent in build + compile.

Part 2, memory: `--memory-trials` consecutive trials of a real
evolution search (the tuner of `keras_nasnet.workflow.make_tuner`, as
`keras-nasnet search` runs it) over the same hypermodel in this one process (smaller
data: `--memory-train-images`), recording after each trial the process's
resident memory (VmRSS), its peak (VmHWM), and the accelerator's memory in
use and its peak (JAX: `memory_stats()`; TensorFlow:
`tf.config.experimental.get_memory_info`; null on a CPU). A least-squares line
through the RSS of trials 10 to the last gives the growth per trial in MiB: a
leak shows as a steady slope.

Part 3, phases through the workflow: `--search-trials` trials of a real
search (`keras_nasnet.workflow.search` with the default `SearchSettings`,
the make-search proxy: the SEARCH_PROXY recipe, N=1, F=8, B=5, 1 epoch on
`--search-train-images` images scored on `--search-validation-images`; the
children's `--cells-per-stack`, `--filters`, `--num-blocks` and
`--batch-size`, whose defaults are the workflow's), all
in this one process, as the CLI runs each process of its chain. Each
trial's seconds per phase come from its metrics `seconds_<phase>`
(`tuner_plugins.phases`: data, build, trace, train, validation, save,
decision, total). Reported: each phase's sum and share of the trials'
total, the non-training share (1 - train / total), the seconds Python's
garbage collector paused each trial (`gc_pauses`, inside its phases), and
the cost of
starting one process of the chain (a fresh interpreter importing what a
search process imports), also spread over
`workflow.DEFAULT_TRIALS_PER_PROCESS` trials.

Usage:
    python benchmarks/trial_overhead.py [--genotypes 20] [--memory-trials 50]
        [--search-trials 0] [--search-train-images 4000]
        [--search-validation-images 1000]
        [--data-dir DIR] [--cells-per-stack 1] [--filters 8] [--batch-size 32]
        [--train-images 2000] [--validation-images 500] [--jit-compile off]
        [--output benchmarks/results/trial_overhead_<backend>.json]
"""

import argparse
import gc
import os
import subprocess
import sys
import tempfile
import time

import _common
import keras
import numpy as np

from keras_nasnet import data, progress, workflow
from keras_nasnet._phases import PHASES
from keras_nasnet.space import decisions, ops, sampling

_JIT = {"on": True, "off": False, "auto": "auto"}
# The line through RSS starts here: the first trials load libraries and fill
# caches that are paid once.
FIT_FROM_TRIAL = 10


def read_status_mib(field):
    """A `/proc/self/status` memory field (`VmRSS`, `VmHWM`) in MiB, or None."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    return None


def device_memory():
    """`(bytes in use, peak bytes)` on the accelerator, or `(None, None)` on a CPU."""
    backend = keras.backend.backend()
    try:
        if backend == "jax":
            import jax

            dev = jax.devices()[0]
            stats = dev.memory_stats() if dev.platform != "cpu" else None
            if stats:
                return stats.get("bytes_in_use"), stats.get("peak_bytes_in_use")
        elif backend == "tensorflow":
            import tensorflow as tf

            if tf.config.list_physical_devices("GPU"):
                info = tf.config.experimental.get_memory_info("GPU:0")
                return info["current"], info["peak"]
        elif backend == "torch":
            import torch

            if torch.cuda.is_available():
                return torch.cuda.memory_allocated(), torch.cuda.max_memory_allocated()
    except Exception:  # a memory query must never stop a benchmark
        pass
    return None, None


def summary(values):
    values = np.asarray(values, dtype=float)
    return {
        "median": round(float(np.median(values)), 3),
        "p10": round(float(np.percentile(values, 10)), 3),
        "p90": round(float(np.percentile(values, 90)), 3),
        "mean": round(float(np.mean(values)), 3),
    }


class _StepTimer(keras.callbacks.Callback):
    """Wall-clock times of one `fit`: the first step, the later ones, validation."""

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()
        self.batch_ends = []
        self.test_begin = self.test_end = None

    def on_train_batch_end(self, batch, logs=None):
        self.batch_ends.append(time.perf_counter())

    def on_test_begin(self, logs=None):
        if self.test_begin is None:
            self.test_begin = time.perf_counter()

    def on_test_end(self, logs=None):
        if self.test_end is None:
            self.test_end = time.perf_counter()


def _settings(splits, args, **changes):
    """The search settings of the proxy measured: `keras-nasnet search`'s."""
    return workflow.SearchSettings(
        cells_per_stack=args.cells_per_stack,
        filters=args.filters,
        num_blocks=args.num_blocks,
        search_combine=args.search_combine,
        learning_rate=args.learning_rate,
        epochs=args.epochs,
        batch_size=args.batch_size,
        input_shape=tuple(splits.input_shape),
        num_classes=splits.num_classes,
        **changes,
    )


def _hypermodel(settings, args):
    return workflow.make_hypermodel(
        settings, jit_compile=_JIT[args.jit_compile], run_eagerly=args.run_eagerly
    )


def time_trials(splits, args):
    """Part 1: build + compile vs training, one trial per random genotype."""
    hypermodel = _hypermodel(_settings(splits, args), args)
    combines = (ops.ADD, ops.CONCAT) if args.search_combine else (ops.ADD,)
    (x, y), validation = splits.train, splits.validation
    rows = []
    for seed in range(args.genotypes):
        genotype = sampling.random_genotype(
            seed, num_blocks=args.num_blocks, combines=combines
        )
        keras.backend.clear_session()
        gc.collect()
        hp = hypermodel.search_space()
        hp.values.update(decisions.encode(genotype))
        assert hypermodel.genotype(hp) == genotype
        start = time.perf_counter()
        model = hypermodel.build(hp)
        build_s = time.perf_counter() - start
        timer = _StepTimer()
        start = time.perf_counter()
        hypermodel.fit(
            hp,
            model,
            x,
            y,
            validation_data=validation,
            epochs=args.epochs,
            batch_size=args.batch_size,
            callbacks=[timer],
            verbose=0,
        )
        fit_s = time.perf_counter() - start
        ends = timer.batch_ends
        later = np.diff(ends)
        # Later steps, not counting the epoch boundaries (validation runs there).
        steps_per_epoch = len(ends) // args.epochs
        later = [d for i, d in enumerate(later, 1) if i % steps_per_epoch]
        row = {
            "seed": seed,
            "params": int(model.count_params()),
            "build_compile_s": build_s,
            "fit_s": fit_s,
            "first_step_s": ends[0] - timer.start,
            "later_steps_s": float(np.sum(later)),
            "later_step_ms": 1e3 * float(np.median(later)) if later else None,
            "validation_s": (
                timer.test_end - timer.test_begin if timer.test_end else None
            ),
            "steps": len(ends),
        }
        row["tracing_s"] = row["first_step_s"] - (row["later_step_ms"] or 0) / 1e3
        row["build_fraction"] = build_s / (build_s + fit_s)
        rows.append(row)
        print(
            f"genotype {seed}: build+compile {build_s:.2f} s, fit {fit_s:.2f} s "
            f"(first step {row['first_step_s']:.2f} s, later "
            f"{row['later_steps_s']:.2f} s, validation {row['validation_s']:.2f} s)",
            file=sys.stderr,
            flush=True,
        )
    keys = (
        "build_compile_s",
        "fit_s",
        "first_step_s",
        "tracing_s",
        "later_steps_s",
        "later_step_ms",
        "validation_s",
        "build_fraction",
        "params",
    )
    total_build = sum(r["build_compile_s"] for r in rows)
    total = total_build + sum(r["fit_s"] for r in rows)
    return {
        "genotypes": args.genotypes,
        # key -> {median, p10, p90, mean} over the genotypes
        "summary": {k: summary([r[k] for r in rows]) for k in keys},
        "build_compile_fraction_of_total": round(total_build / total, 4),
        "trials": [
            {k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()}
            for r in rows
        ],
    }


class _MemoryProbe(progress.SearchCallback):
    """Reads the process's and the device's memory after each trial."""

    def __init__(self):
        self.rows = []

    def on_trial_end(self, event):
        self.record()

    def record(self):
        used, peak = device_memory()
        self.rows.append(
            {
                "trial": len(self.rows) + 1,
                "rss_mib": read_status_mib("VmRSS"),
                "peak_rss_mib": read_status_mib("VmHWM"),
                "device_bytes_in_use": used,
                "device_peak_bytes": peak,
                "time_s": time.perf_counter(),
            }
        )


def rss_slope(rows, first=FIT_FROM_TRIAL):
    """MiB per trial of a least-squares line through RSS from trial `first` on."""
    points = [(r["trial"], r["rss_mib"]) for r in rows if r["trial"] >= first]
    if len(points) < 2 or points[0][1] is None:
        return None
    trials, rss = zip(*points, strict=True)
    return float(np.polyfit(trials, rss, 1)[0])


def memory_trials(splits, args):
    """Part 2: memory across consecutive trials of one real search."""
    probe = _MemoryProbe()
    subset = data.load(
        "fashion_mnist",
        data_dir=args.data_dir,
        validation_size=args.memory_validation_images,
        subset=args.memory_train_images,
        download=False,
    )
    settings = _settings(
        subset,
        args,
        strategy="evolution",
        max_trials=args.memory_trials,
        strategy_options={
            "population_size": min(8, args.memory_trials),
            "sample_size": min(3, args.memory_trials),
        },
        seed=0,
    )
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as directory:
        # The workflow's tuner, as `keras-nasnet search` runs it.
        tuner = workflow.make_tuner(
            settings,
            _hypermodel(settings, args),
            os.path.join(directory, "memory"),
            callback=probe,
        )
        tuner.search(
            *subset.train,
            validation_data=subset.validation,
            epochs=args.epochs,
            batch_size=args.batch_size,
            verbose=0,
        )
        statuses = [t.status for t in tuner.oracle.trials.values()]
    for row in probe.rows:
        row["time_s"] = round(row["time_s"] - start, 2)
        for key in ("rss_mib", "peak_rss_mib"):
            if row[key] is not None:
                row[key] = round(row[key], 1)
    slope = rss_slope(probe.rows)
    device_used = [r["device_bytes_in_use"] for r in probe.rows]
    device_slope = None
    if len(device_used) > FIT_FROM_TRIAL and None not in device_used:
        trials = [r["trial"] for r in probe.rows[FIT_FROM_TRIAL - 1 :]]
        used = np.array(device_used[FIT_FROM_TRIAL - 1 :]) / 2**20
        device_slope = round(float(np.polyfit(trials, used, 1)[0]), 3)
    return {
        "trials": len(probe.rows),
        "completed": statuses.count("COMPLETED"),
        "train_images": len(subset.train[0]),
        "validation_images": len(subset.validation[0]),
        "rss_growth_mib_per_trial": None if slope is None else round(slope, 3),
        "fit_from_trial": FIT_FROM_TRIAL,
        "rss_first_mib": probe.rows[0]["rss_mib"] if probe.rows else None,
        "rss_last_mib": probe.rows[-1]["rss_mib"] if probe.rows else None,
        "peak_rss_mib": probe.rows[-1]["peak_rss_mib"] if probe.rows else None,
        "device_growth_mib_per_trial": device_slope,
        "per_trial": probe.rows,
    }


class _PhaseCollector(progress.SearchCallback):
    """Keeps each trial's `TrialEnd`, and the seconds Python's garbage
    collector paused the process during each trial (any phase)."""

    def __init__(self):
        self.trials = []
        self.gc_seconds = []
        self._paused = 0.0
        self._since = None

    def on_trial_end(self, event):
        self.trials.append(event)
        self.gc_seconds.append(self._paused)
        self._paused = 0.0

    def on_gc(self, phase, info):
        if phase == "start":
            self._since = time.perf_counter()
        elif self._since is not None:
            self._paused += time.perf_counter() - self._since
            self._since = None


def process_start_seconds():
    """Wall seconds of a fresh interpreter that imports what a process of a
    search chain imports before its data (the backend, Keras, keras-tuner,
    the tuners)."""
    code = (
        "from keras_nasnet import workflow\n"
        "workflow.import_backend_quietly()\n"
        "from keras_nasnet import _workflow_keras\n"
    )
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return time.perf_counter() - start


def search_phases(args):
    """Part 3: each phase of the trials of a real search, in one process."""
    collector = _PhaseCollector()
    # The size flags' defaults are the workflow's: smaller, they make a
    # quick check of the script.
    settings = workflow.SearchSettings(
        data_dir=args.data_dir,
        max_trials=args.search_trials,
        cells_per_stack=args.cells_per_stack,
        filters=args.filters,
        num_blocks=args.num_blocks,
        batch_size=args.batch_size,
        train_images=args.search_train_images,
        validation_images=args.search_validation_images,
    )
    start = time.perf_counter()
    gc.callbacks.append(collector.on_gc)
    try:
        with tempfile.TemporaryDirectory() as directory:
            workflow.search(
                settings,
                os.path.join(directory, "search"),
                progress=collector,
                jit_compile=_JIT[args.jit_compile],
                run_eagerly=args.run_eagerly,
            )
    finally:
        gc.callbacks.remove(collector.on_gc)
    wall = time.perf_counter() - start
    rows = [
        {
            "trial_id": e.trial_id,
            "status": e.status,
            "score": e.score,
            **{k: round(v, 3) for k, v in (e.phases or {}).items()},
            "gc_pauses": round(paused, 3),
        }
        for e, paused in zip(collector.trials, collector.gc_seconds, strict=True)
    ]
    sums = {p: sum(r.get(p, 0.0) for r in rows) for p in PHASES}
    total = sums["total"]
    restart = process_start_seconds()
    per_trial = restart / workflow.DEFAULT_TRIALS_PER_PROCESS
    with_restart = total + per_trial * len(rows)
    return {
        "settings": {
            k: v for k, v in settings.to_json().items() if k not in ("data_dir",)
        },
        "trials": len(rows),
        "wall_s": round(wall, 2),
        # To the ms of the rows: at 0.01 s, a one-second trial's shares
        # could not be recomputed from the sums to 0.1%.
        "phase_sums_s": {p: round(v, 3) for p, v in sums.items()},
        "phase_shares": {
            p: round(v / total, 4) for p, v in sums.items() if p != "total"
        },
        "non_training_share": round(1 - sums["train"] / total, 4),
        "non_training_share_median": round(
            float(np.median([1 - r["train"] / r["total"] for r in rows])), 4
        ),
        "process_start_s": round(restart, 2),
        "trials_per_process": workflow.DEFAULT_TRIALS_PER_PROCESS,
        "non_training_share_with_restarts": round(1 - sums["train"] / with_restart, 4),
        "per_trial": rows,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--genotypes", type=int, default=20)
    parser.add_argument("--memory-trials", type=int, default=50, help="0 skips part 2")
    parser.add_argument(
        "--search-trials", type=int, default=0, help="part 3; 0 skips it"
    )
    parser.add_argument(
        "--search-train-images",
        type=int,
        default=workflow.SearchSettings.train_images,
    )
    parser.add_argument("--search-validation-images", type=int, default=1000)
    parser.add_argument(
        "--data-dir",
        default=None,
        help="folder of the Fashion-MNIST IDX files (default: the usual places)",
    )
    parser.add_argument("--cells-per-stack", type=int, default=1)
    parser.add_argument("--filters", type=int, default=8)
    parser.add_argument("--num-blocks", type=int, default=5)
    parser.add_argument(
        "--search-combine",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="blocks also choose add or concat, as `keras-nasnet search` does "
        "(the figures committed before this flag were add-only cells)",
    )
    parser.add_argument(
        "--learning-rate", type=float, default=workflow.SearchSettings.learning_rate
    )
    parser.add_argument(
        "--batch-size", type=int, default=workflow.SearchSettings.batch_size
    )
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--train-images", type=int, default=2000)
    parser.add_argument("--validation-images", type=int, default=500)
    parser.add_argument("--memory-train-images", type=int, default=256)
    parser.add_argument("--memory-validation-images", type=int, default=64)
    parser.add_argument("--jit-compile", choices=tuple(_JIT), default="off")
    parser.add_argument("--run-eagerly", action="store_true")
    parser.add_argument(
        "--output",
        default=None,
        help="default: benchmarks/results/trial_overhead_<backend>.json",
    )
    args = parser.parse_args(argv)
    output = args.output or _common.default_output(
        f"trial_overhead_{keras.backend.backend()}"
    )

    report = _common.header("trial_overhead")
    report["settings"] = {
        k: v for k, v in vars(args).items() if k not in ("output", "data_dir")
    }
    report["results"] = {}
    if args.search_trials:
        # First: its first trial pays for the libraries' first use.
        report["results"]["search"] = search_phases(args)
    splits = data.load(
        "fashion_mnist",
        data_dir=args.data_dir,
        validation_size=args.validation_images,
        subset=args.train_images,
        download=False,
    )
    report["settings"]["input_shape"] = list(splits.input_shape)
    if args.genotypes:
        report["results"]["time"] = time_trials(splits, args)
    if args.memory_trials:
        report["results"]["memory"] = memory_trials(splits, args)
    report["results"]["rss_at_end_mib"] = read_status_mib("VmRSS")
    _common.write(report, output)


if __name__ == "__main__":
    sys.exit(main())

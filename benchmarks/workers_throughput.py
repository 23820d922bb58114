"""Search throughput with 1, 2 and 4 keras-tuner workers sharing one device.

The search of `search_quality.py` (same `NASNetHyperModel`, data and proxy
flags, one strategy) runs as keras-tuner's distributed search on localhost:
a chief process serving the oracle over gRPC and W worker processes training
trials, each a separate `python benchmarks/_search_worker.py` with
KERASTUNER_ORACLE_IP/PORT/TUNER_ID set, the way `tests/test_distributed.py`
runs them. Every worker count gets the same fixed number of trials
(`--max-trials`) and a fresh project directory.

Per worker count it reports the wall-clock time from launching the processes
until every worker has exited (`wall_s`, startup and imports included) and
the search span from the first trial's start to the last trial's end
(`search_s`), trials per hour over each, and the speedup over one worker
(search span). On a GPU, trials per GPU-hour too: all workers share the one
device, so it equals trials per hour over `wall_s`.

Memory when the device is a GPU: JAX processes get
XLA_PYTHON_CLIENT_PREALLOCATE=false and XLA_PYTHON_CLIENT_MEM_FRACTION =
1 / (W + 0.5); TensorFlow workers turn on memory growth. The chief trains
nothing and runs on the CPU (JAX_PLATFORMS=cpu, CUDA_VISIBLE_DEVICES="").
Whatever happens (an error, a timeout, Ctrl-C), every process started is
killed before the script exits. The report is rewritten after each worker
count (`"complete": false` until the last), so a run stopped from outside
keeps the counts it finished; with `--keep-going` a count that fails or
passes `--timeout` is recorded with its `error` and the next count runs
(exit status 1). `benchmarks/device_suite.sh` runs it that way with 1, 2, 4
and 8 workers.

On a GPU without TensorFlow (see ../shared/GPU.md):

    KERAS_BACKEND=jax python benchmarks/workers_throughput.py --data-dir .data \\
        --workers 1,2,4 --max-trials 24 --cells-per-stack 2 --filters 16 \\
        --epochs 5 --train-images 10000 --validation-images 5000 --xla --tag gpu

The small CPU run committed under benchmarks/results/ (CPU-bound: two shared
cores, so more workers cannot run faster than two):

    python benchmarks/workers_throughput.py --workers 1,2 --max-trials 6 \\
        --cells-per-stack 1 --filters 8 --num-blocks 2 --epochs 1 \\
        --train-images 640 --validation-images 320 --eager --tag cpu_small
"""

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time

# Before Keras (and with it JAX) is imported here: the parent only asks which
# device there is, and must not take the GPU's memory from its workers.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import _common  # noqa: E402
import search_quality  # noqa: E402

from keras_nasnet import workflow  # noqa: E402

# Seconds the chief gets to exit on its own once the workers have (see
# `run_workers`).
CHIEF_GRACE_S = 2.0
HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "_search_worker.py")


def _forwarded_flags(args):
    flags = [
        "--dataset",
        args.dataset,
        "--train-images",
        str(args.train_images),
        "--validation-images",
        str(args.validation_images),
        "--cells-per-stack",
        str(args.cells_per_stack),
        "--filters",
        str(args.filters),
        "--num-blocks",
        str(args.num_blocks),
        "--epochs",
        str(args.epochs),
        "--batch-size",
        str(args.batch_size),
        "--learning-rate",
        str(args.learning_rate),
        "--max-trials",
        str(args.max_trials),
        "--controller-batch-size",
        str(args.controller_batch_size),
        "--controller-learning-rate",
        str(args.controller_learning_rate),
    ]
    for name in ("data_dir", "population_size", "sample_size"):
        value = getattr(args, name)
        if value is not None:
            flags += ["--" + name.replace("_", "-"), str(value)]
    if args.bayesian_initial_points is not None:
        flags += ["--bayesian-initial-points", str(args.bayesian_initial_points)]
    flags += ["--eager"] if args.eager else []
    flags += ["--xla"] if args.xla else []
    return flags


def _env(tuner_id, port, workers, on_gpu, threads=None):
    env = _common.child_env(
        KERASTUNER_ORACLE_IP="127.0.0.1",
        KERASTUNER_ORACLE_PORT=str(port),
        KERASTUNER_TUNER_ID=tuner_id,
        XLA_PYTHON_CLIENT_PREALLOCATE="false",
    )
    if tuner_id == "chief":
        env["JAX_PLATFORMS"] = "cpu"
        env["CUDA_VISIBLE_DEVICES"] = ""
    else:
        if on_gpu:
            env["XLA_PYTHON_CLIENT_MEM_FRACTION"] = f"{1 / (workers + 0.5):.3f}"
        env.update(_common.thread_variables(threads))
    return env


def _tail(path, size=3000):
    try:
        with open(path) as f:
            return f.read()[-size:]
    except OSError:
        return ""


def _best_score(project):
    # A worker's trial object never sees its score (the chief computes it):
    # read the chief's trial files.
    scores = []
    for name in os.listdir(project):
        path = os.path.join(project, name, "trial.json")
        if name.startswith("trial_") and os.path.isfile(path):
            with open(path) as f:
                score = json.load(f).get("score")
            if score is not None:
                scores.append(float(score))
    return max(scores, default=None)


def _wait(process, tuner_id, deadline, timeout, directory):
    """Waits for `process` until `deadline`; raises if it fails or is late."""
    try:
        process.wait(timeout=max(1.0, deadline - time.time()))
    except subprocess.TimeoutExpired:
        raise RuntimeError(
            f"{tuner_id} did not exit within --timeout {timeout}s:\n"
            + _tail(os.path.join(directory, f"{tuner_id}.out"))
        ) from None
    if process.returncode != 0:
        raise RuntimeError(
            f"{tuner_id} failed (exit {process.returncode}):\n"
            + _tail(os.path.join(directory, f"{tuner_id}.out"))
        )


def run_workers(args, workers, on_gpu, directory):
    """One distributed search with `workers` workers; returns its record."""
    port = workflow._free_port()
    log = os.path.join(directory, "trials.jsonl")
    flags = _forwarded_flags(args) + [
        "--directory",
        os.path.join(directory, "project"),
        "--strategy",
        args.strategy,
        "--seed",
        str(args.seed),
        "--log",
        log,
    ]
    processes = {}  # tuner id -> (Popen, its output file)
    start = time.time()
    try:
        for tuner_id in ["chief"] + [f"tuner{i}" for i in range(workers)]:
            out_path = os.path.join(directory, f"{tuner_id}.out")
            out = open(out_path, "w")
            processes[tuner_id] = (
                subprocess.Popen(
                    [sys.executable, WORKER, *flags],
                    env=_env(tuner_id, port, workers, on_gpu, args.threads),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                ),
                out,
            )
        deadline = start + args.timeout
        # The workers end when the oracle stops handing out trials.
        for tuner_id, (process, _) in processes.items():
            if tuner_id == "chief":
                continue
            _wait(process, tuner_id, deadline, args.timeout, directory)
        workers_done = time.time()
        # The chief then exits on its own, but keras-tuner's chief (its
        # `oracle_chief.start_server`) checks for trials still running only
        # every 20 s once a worker was told to stop: up to 20 s of an idle
        # wait that nothing measures. Every trial has ended (a worker's
        # EndTrial returns once the chief saved it), so a chief still up
        # after CHIEF_GRACE_S is stopped and that is recorded.
        chief = processes["chief"][0]
        try:
            chief.wait(timeout=CHIEF_GRACE_S)
            chief_exit = "exited"
        except subprocess.TimeoutExpired:
            chief.terminate()
            chief.wait(timeout=30)
            chief_exit = "terminated after the workers ended"
        else:
            _wait(chief, "chief", deadline, args.timeout, directory)
    finally:
        for process, out in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)
            out.close()
    wall_s = workers_done - start
    with open(log) as f:
        trials = [json.loads(line) for line in f]
    completed = [t for t in trials if t["status"] == "COMPLETED"]
    search_s = max(t["end"] for t in trials) - min(t["start"] for t in trials)
    per_worker = {}
    for t in trials:
        per_worker[t["tuner_id"]] = per_worker.get(t["tuner_id"], 0) + 1
    record = {
        "workers": workers,
        "trials": len(trials),
        "completed_trials": len(completed),
        "trials_per_worker": per_worker,
        "wall_s": round(wall_s, 1),
        "search_s": round(search_s, 1),
        "startup_s": round(min(t["start"] for t in trials) - start, 1),
        "median_trial_s": round(
            sorted(t["end"] - t["start"] for t in trials)[len(trials) // 2], 1
        ),
        "trials_per_hour": round(len(trials) / search_s * 3600, 1),
        "trials_per_hour_wall": round(len(trials) / wall_s * 3600, 1),
        "trials_per_gpu_hour": (
            round(len(trials) / wall_s * 3600, 1) if on_gpu else None
        ),
        "best_score": _best_score(os.path.join(directory, "project")),
        "chief_exit": chief_exit,
    }
    return record


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    search_quality.add_proxy_arguments(parser)
    parser.set_defaults(max_trials=24)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument(
        "--strategy", default="evolution", choices=search_quality.STRATEGIES
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--timeout", type=float, default=3600, help="seconds per worker count"
    )
    parser.add_argument(
        "--keep-going",
        action="store_true",
        help="a worker count that fails or passes --timeout is recorded (its "
        "`error`) and the next one runs; the exit status is then 1",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="TensorFlow's intra- and inter-op threads in each worker "
        "(default: TensorFlow's own, as many as the cores)",
    )
    parser.add_argument("--tag", default=None)
    parser.add_argument("--output", default=None)
    args = parser.parse_args(argv)
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads must be a positive integer; received {args.threads}")
    counts = [int(w) for w in args.workers.split(",")]
    if any(w < 1 for w in counts):
        parser.error(f"--workers must be positive integers; received {args.workers}")

    report = _common.header("workers_throughput")
    on_gpu = report["device"] != "cpu"
    tag = args.tag or ("gpu" if on_gpu else "cpu")
    output = args.output or _common.default_output(f"workers_throughput_{tag}")
    report.update(
        tag=tag,
        strategy=args.strategy,
        seed=args.seed,
        settings=search_quality.proxy_settings(args),
        threads_per_worker=args.threads,
        cpu_bound=not on_gpu,
        scale=(
            f"{args.max_trials} trials per worker count, proxy "
            f"N={args.cells_per_stack}, F={args.filters}, B={args.num_blocks}, "
            f"{args.epochs} epoch(s) on {args.train_images} / "
            f"{args.validation_images} images; device: {report['device']}"
        ),
        caveat=(
            "CPU-bound: every process computes on the same "
            f"{os.cpu_count()} CPU cores (shared with other users; see the "
            "load averages), so extra workers only overlap startup, oracle "
            "round trips and idle time. Not the GPU figure."
            if not on_gpu
            else "One GPU shared by all workers."
        ),
        results={},
    )
    failed = []

    def finish(complete):
        base = report["results"].get("1")
        if base is not None and "error" in base:
            base = None
        for record in report["results"].values():
            if "error" in record:
                continue
            record["speedup"] = (
                round(record["trials_per_hour"] / base["trials_per_hour"], 2)
                if base
                else None
            )
            record["speedup_wall"] = (
                round(record["trials_per_hour_wall"] / base["trials_per_hour_wall"], 2)
                if base
                else None
            )
        report["complete"] = complete
        report["failed_worker_counts"] = failed
        # A partial report is written but not printed: stdout gets one line.
        with open(os.devnull, "w") as devnull:
            with contextlib.redirect_stdout(devnull if not complete else sys.stdout):
                _common.write(report, output)

    for workers in counts:
        with tempfile.TemporaryDirectory(prefix=f"workers_{workers}_") as tmp:
            print(
                f"[workers_throughput] {workers} worker(s), "
                f"{args.max_trials} trials ...",
                file=sys.stderr,
                flush=True,
            )
            try:
                record = run_workers(args, workers, on_gpu, tmp)
            except Exception as e:  # with --keep-going, any failure of one count
                if not args.keep_going:
                    raise
                failed.append(workers)
                record = {
                    "workers": workers,
                    "error": f"{type(e).__name__}: {e}"[-2000:],
                }
        print(f"[workers_throughput] {record}", file=sys.stderr, flush=True)
        report["results"][str(workers)] = record
        # Rewritten after each worker count: a run stopped from outside keeps
        # the counts it finished.
        finish(complete=False)
    finish(complete=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""The Python half of `benchmarks/device_suite.sh`: device information and the summary.

Two subcommands, both run by the shell script (see its header and the
"device_suite" section of benchmarks/README.md):

- `info --output PATH`: what the suite runs on, written like every benchmark
  (`_common.header`: command, date, machine, backend, device, versions) with
  the JAX devices (kind, memory limit), `nvidia-smi`'s view of the GPUs and
  the environment variables that steer the backend and its memory. It is the
  suite's first step: an uninstalled Keras or a missing GPU shows up here,
  in seconds, rather than in every later step.
- `summarize --status FILE --output PATH`: reads the step table the shell
  script wrote (one tab-separated line per step: name, status, exit code,
  seconds, cap, result JSON) and each step's JSON, and writes the suite's
  summary: per step its status, time, cap and headline figures, the tail of
  the log of a step that did not pass, and whether all passed (the exit
  status: 0 when all passed, 1 otherwise). It imports no Keras, so that it
  still reports when Keras itself is what failed; the device, backend and
  versions come from the `info` step's JSON. A markdown table with the same
  content is written beside the JSON (`.md`) and printed.
"""

import argparse
import datetime
import json
import os
import shlex
import subprocess
import sys

import _common

# Statuses the shell script writes; only "passed" counts as passed.
PASSED, FAILED, TIMEOUT, SKIPPED = "passed", "failed", "timeout", "skipped"
# The environment that steers the backend, its devices and its memory.
_ENV = (
    "KERAS_BACKEND",
    "JAX_PLATFORMS",
    "CUDA_VISIBLE_DEVICES",
    "XLA_PYTHON_CLIENT_PREALLOCATE",
    "XLA_PYTHON_CLIENT_MEM_FRACTION",
    "XLA_FLAGS",
)
_LOG_TAIL_CHARS = 3000


def nvidia_smi():
    """`nvidia-smi`'s one-line-per-GPU query, or None without one."""
    query = "name,memory.total,driver_version,utilization.gpu,memory.used"
    try:
        result = subprocess.run(
            ["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip().splitlines() if result.returncode == 0 else None


def jax_devices():
    """Each JAX device's platform, kind and memory limit, or None without JAX."""
    try:
        import jax
    except ImportError:
        return None
    out = []
    for dev in jax.devices():
        try:
            stats = dev.memory_stats() or {}
        except Exception:  # CPU devices may not report memory
            stats = {}
        out.append(
            {
                "id": dev.id,
                "platform": dev.platform,
                "device_kind": getattr(dev, "device_kind", None),
                "memory_bytes_limit": stats.get("bytes_limit"),
            }
        )
    return out


def info(args):
    report = _common.header("device_info")
    report["results"] = {
        "jax_devices": jax_devices(),
        "nvidia_smi": nvidia_smi(),
        "environment": {name: os.environ.get(name) for name in _ENV},
    }
    _common.write(report, args.output)
    return 0


def _read_status(path):
    """The step table: one dict per line of the shell script's status file."""
    steps = []
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            name, status, rc, seconds, cap, output = line.rstrip("\n").split("\t")
            steps.append(
                {
                    "name": name,
                    "status": status,
                    "exit_code": int(rc) if rc.lstrip("-").isdigit() else None,
                    "seconds": float(seconds),
                    "cap_s": int(cap),
                    "output": output,
                }
            )
    return steps


def _rounded(value):
    return round(value, 4) if isinstance(value, float) else value


def figures(report):
    """The headline figures of one step's report, by its `benchmark` name."""
    name, results = report.get("benchmark"), report.get("results") or {}
    if name == "device_info":
        return {k: report.get(k) for k in ("device", "backend", "versions")}
    if name == "trial_overhead":
        time_part = results.get("time") or {}
        out = {
            k: _rounded(v)
            for k, v in time_part.items()
            if isinstance(v, int | float) and not isinstance(v, bool)
        }
        # key -> its median over the genotypes, whichever phases are recorded.
        out.update(
            {
                f"median_{k}": v.get("median")
                for k, v in (time_part.get("summary") or {}).items()
                if isinstance(v, dict)
            }
        )
        return out
    if name == "workers_throughput":
        keys = (
            "trials",
            "wall_s",
            "median_trial_s",
            "trials_per_hour",
            "trials_per_gpu_hour",
            "speedup",
            "error",
        )
        return {
            workers: {k: record[k] for k in keys if k in record}
            for workers, record in results.items()
        }
    if name == "throughput":
        out = {
            model: {
                k: record[k]
                for k in ("images_per_s", "inference_images_per_s")
                if k in record
            }
            for model, record in results.items()
        }
        for key in ("ratio_ours_over_keras", "inference_ratio_ours_over_keras"):
            if key in report:
                out[key] = report[key]
        return out
    if name == "search_quality":
        strategies = (report.get("summary") or {}).get("strategies") or {}
        return {
            strategy: {
                k: stats.get(k)
                for k in (
                    "seeds",
                    "final_median_best",
                    "final_min_best",
                    "final_max_best",
                )
            }
            for strategy, stats in strategies.items()
        }
    return {}


def _log_tail(logs, name):
    path = os.path.join(logs, f"{name}.log")
    try:
        with open(path, errors="replace") as f:
            return f.read()[-_LOG_TAIL_CHARS:]
    except OSError:
        return None


def _format_figures(value):
    text = json.dumps(value, separators=(",", ":"))
    return text if len(text) <= 400 else text[:397] + "..."


def markdown(summary):
    lines = [
        f"# Device suite ({summary['tag']})",
        "",
        f"Device {summary.get('device')}, backend {summary.get('backend')}, "
        f"{summary['date_utc']}; {summary['wall_s']:.0f} s of a "
        f"{summary['budget_s']} s budget; all passed: {summary['all_passed']}.",
        "",
        "| step | status | seconds | cap | output | figures |",
        "|---|---|---:|---:|---|---|",
    ]
    for name, step in summary["steps"].items():
        lines.append(
            f"| {name} | {step['status']} | {step['seconds']:.0f} | "
            f"{step['cap_s']} | {step['output']} | "
            f"`{_format_figures(step.get('figures'))}` |"
        )
    lines += ["", f"Command: `{summary['command']}`", ""]
    return "\n".join(lines)


def summarize(args):
    steps = _read_status(args.status)
    device = {}
    by_name = {}
    for step in steps:
        path = step.pop("output")
        step["output"] = os.path.basename(path)
        report = None
        if os.path.isfile(path):
            try:
                with open(path) as f:
                    report = json.load(f)
            except (OSError, ValueError) as e:
                step["error"] = f"unreadable result: {e}"
        if report is None and step["status"] == PASSED:
            # Exit status 0 but nothing (valid) written: not a pass.
            step["status"] = FAILED
            step.setdefault("error", "no result JSON")
        if report is not None:
            step["figures"] = figures(report)
            # A partial report (a worker count or a search left unfinished).
            if report.get("complete") is False:
                step["complete"] = False
            if report.get("benchmark") == "device_info":
                device = {
                    k: report.get(k)
                    for k in ("machine", "backend", "device", "versions")
                }
        if step["status"] != PASSED:
            step["log_tail"] = _log_tail(args.logs, step["name"])
        by_name[step["name"]] = step
    all_passed = bool(steps) and all(s["status"] == PASSED for s in steps)
    summary = {
        "benchmark": "device_suite",
        "command": args.command,
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        ),
        "tag": args.tag,
        **device,
        "budget_s": args.budget_s,
        "wall_s": args.wall_s,
        "all_passed": all_passed,
        "steps": by_name,
    }
    _common.write(summary, args.output)
    text = markdown(summary)
    with open(os.path.splitext(args.output)[0] + ".md", "w") as f:
        f.write(text)
    print(text, file=sys.stderr, flush=True)
    return 0 if all_passed else 1


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="subcommand", required=True)
    info_parser = commands.add_parser("info", help="what the suite runs on")
    info_parser.add_argument("--output", required=True)
    summary_parser = commands.add_parser("summarize", help="the suite's summary")
    summary_parser.add_argument("--status", required=True)
    summary_parser.add_argument("--output", required=True)
    summary_parser.add_argument(
        "--logs", default=None, help="folder of <step>.log (default: --status's)"
    )
    summary_parser.add_argument("--tag", default=None)
    summary_parser.add_argument("--budget-s", type=int, default=None)
    summary_parser.add_argument("--wall-s", type=float, default=None)
    summary_parser.add_argument(
        "--command",
        default=None,
        help="the suite's command line (default: this one)",
    )
    args = parser.parse_args(argv)
    if args.subcommand == "info":
        return info(args)
    args.logs = args.logs or os.path.dirname(os.path.abspath(args.status))
    if args.command is None:
        args.command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    return summarize(args)


if __name__ == "__main__":
    sys.exit(main())

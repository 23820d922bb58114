"""The scripts under benchmarks/ run and write the report they promise.

One test per script, each at the smallest size the script takes (eager
steps where tracing would cost minutes), so a broken benchmark shows up in
CI and not on the day a GPU machine is lent. The figures themselves are not
checked, only that they are there and positive.
"""

import json
import os
import pathlib
import subprocess
import tempfile

import pytest

# Slow: left out of `make check` (`pytest -m "not slow"`).
pytestmark = pytest.mark.slow

REPO = pathlib.Path(__file__).resolve().parents[1]
DATA_DIR = REPO / "tests" / "data"


def test_throughput(run_benchmark_in_process, tmp_path):
    report = run_benchmark_in_process(
        "throughput",
        [
            "--image-size",
            "32",
            "--batch-size",
            "2",
            "--steps",
            "1",
            "--warmup-steps",
            "1",
            "--repeats",
            "2",
            "--run-eagerly",
            # The CIFAR model (20 cells) would double the test's time.
            "--models",
            "ours_mobile,keras_mobile",
            # Both mobile models at 1@192 rather than 4@1056: a fifth of
            # the layers. tests/test_model.py checks the 4@1056 pair.
            "--cells-per-stack",
            "1",
            "--penultimate-filters",
            "192",
        ],
        tmp_path,
    )
    assert report["settings"]["image_size"] == 32
    assert report["settings"]["cells_per_stack"] == 1
    results = report["results"]
    assert set(results) == {"ours_mobile", "keras_mobile"}
    for result in results.values():
        assert result["images_per_s"] > 0
        assert len(result["images_per_s_each"]) == 2
        assert all(v > 0 for v in result["images_per_s_each"])
    assert results["ours_mobile"]["params"] == results["keras_mobile"]["params"]
    assert report["ratio_ours_over_keras"] > 0
    assert len(report["ratio_each"]) == 2


def test_trial_overhead(run_benchmark_in_process, tmp_path):
    report = run_benchmark_in_process(
        "trial_overhead",
        [
            "--data-dir",
            str(DATA_DIR),
            "--genotypes",
            "2",
            "--memory-trials",
            "3",
            "--num-blocks",
            "1",
            "--filters",
            "4",
            "--batch-size",
            "32",
            "--train-images",
            "64",
            "--validation-images",
            "32",
            "--memory-train-images",
            "32",
            "--memory-validation-images",
            "16",
            "--run-eagerly",
        ],
        tmp_path,
    )
    time_part = report["results"]["time"]
    assert time_part["genotypes"] == 2 and len(time_part["trials"]) == 2
    for key in ("build_compile_s", "fit_s", "first_step_s", "later_steps_s"):
        assert time_part["summary"][key]["median"] > 0, key
    assert 0 < time_part["build_compile_fraction_of_total"] < 1
    memory = report["results"]["memory"]
    assert memory["trials"] == memory["completed"] == 3
    assert all(row["rss_mib"] > 0 for row in memory["per_trial"])
    assert memory["peak_rss_mib"] >= memory["rss_last_mib"] > 0
    # Fewer trials than the line needs: no slope, and no made-up one.
    assert memory["rss_growth_mib_per_trial"] is None


# One eager step per trial (64 images, batch 64): an eager step of even this
# child costs most of a second on the CPU.
_TINY_SEARCH = [
    "--data-dir", str(DATA_DIR), "--train-images", "64",
    "--validation-images", "32", "--cells-per-stack", "1", "--filters", "4",
    "--num-blocks", "1", "--epochs", "1", "--batch-size", "64", "--eager",
]  # fmt: skip


def _assert_best_so_far(curve, length):
    assert len(curve) == length
    assert all(0.0 <= v <= 1.0 for v in curve)
    assert all(a <= b for a, b in zip(curve, curve[1:], strict=False))


def test_search_quality(run_benchmark_in_process, tmp_path):
    # Random search in a process of its own (the default), then evolution in
    # this process (--in-process), resuming the first run's output.
    first = run_benchmark_in_process(
        "search_quality",
        [*_TINY_SEARCH, "--max-trials", "2", "--seeds", "0",
         "--strategies", "random"],
        tmp_path,
    )  # fmt: skip
    assert first["process_per_search"] is True
    assert len(first["runs"]["random"]["0"]["scores"]) == 2
    report = run_benchmark_in_process(
        "search_quality",
        [*_TINY_SEARCH, "--max-trials", "2", "--seeds", "0",
         "--strategies", "evolution,random", "--resume", "--in-process"],
        tmp_path,
    )  # fmt: skip
    assert report["process_per_search"] is False
    assert report["runs"]["random"] == first["runs"]["random"]
    assert report["complete"] is True
    assert report["scale"] and report["caveat"]
    runs = report["runs"]
    assert set(runs) == {"evolution", "random"}
    for by_seed in runs.values():
        assert set(by_seed) == {"0"}
        run = by_seed["0"]
        assert len(run["scores"]) == 2
        _assert_best_so_far(run["best_so_far"], 2)
    summary = report["summary"]
    assert 0.0 <= summary["reference_level"] <= 1.0
    for stats in summary["strategies"].values():
        _assert_best_so_far(stats["median"], 2)
        assert all(
            lo <= mid <= hi
            for lo, mid, hi in zip(
                stats["min"], stats["median"], stats["max"], strict=True
            )
        )
        reach = stats["trials_to_reach_reference"]
        assert reach is None or 1 <= reach <= 2
    # Each strategy against random search, seed by seed (one seed: one pair;
    # no trial after evolution's population of 2: nothing to compare).
    versus = summary["versus_reference"]["evolution"]
    final = versus["final_best"]
    assert final["pairs"] == 1 and final["pairs_above"] in (0.0, 0.5, 1.0)
    assert 0 < final["p_one_sided"] <= 1
    assert versus["mean_child_after_population"] == {
        "pairs_above": 0.0,
        "pairs": 0,
        "p_one_sided": None,
    }
    assert "| evolution | " in (tmp_path / "search_quality.md").read_text()
    # Random search reaches its own final median by its last trial.
    assert summary["strategies"]["random"]["trials_to_reach_reference"] is not None
    assert set(report["targets"]) == {
        "evolution_reaches_random_final_in_half_the_trials",
        "controller_ends_at_or_above_random",
    }
    assert (tmp_path / "search_quality.md").read_text().startswith("# Search quality")
    assert (tmp_path / "search_quality.png").stat().st_size > 0

    # --merge: the same searches, written by two processes (one strategy
    # each), combine into the same summary without training anything.
    parts = []
    for strategy in ("evolution", "random"):
        part = dict(report, runs={strategy: runs[strategy]})
        path = tmp_path / f"part_{strategy}.json"
        path.write_text(json.dumps(part))
        parts.append(str(path))
    merge = [*_TINY_SEARCH, "--max-trials", "2", "--seeds", "0",
             "--strategies", "evolution,random", "--merge", ",".join(parts)]  # fmt: skip
    merged_dir = tmp_path / "merged"
    merged_dir.mkdir()
    merged = run_benchmark_in_process("search_quality", merge, merged_dir)
    assert merged["runs"] == runs
    assert merged["summary"] == summary
    assert [m["path"] for m in merged["merged_from"]] == parts
    # A search in two outputs is refused, as is a missing one.
    for paths in ([parts[0], parts[0]], [parts[0]]):
        args = [*merge[:-1], ",".join(paths)]
        with pytest.raises(SystemExit):
            run_benchmark_in_process("search_quality", args, merged_dir)
    # --resume of the merged output: every search is there, none runs again.
    resume = [*merge[:-2], "--resume"]
    resumed = run_benchmark_in_process("search_quality", resume, merged_dir)
    assert resumed["runs"] == runs
    assert resumed["resumed_from"][0]["path"].endswith("search_quality.json")
    # Other settings than the output's are refused.
    with pytest.raises(SystemExit):
        run_benchmark_in_process(
            "search_quality", [*resume, "--batch-size", "32"], merged_dir
        )


def test_workers_throughput(run_benchmark_in_process, tmp_path, monkeypatch):
    # The project directories (and so every process's arguments) under
    # tmp_path (`tempfile` of this process read TMPDIR before this test).
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    report = run_benchmark_in_process(
        "workers_throughput",
        [*_TINY_SEARCH, "--max-trials", "2", "--workers", "2",
         "--timeout", "240", "--threads", "1"],
        tmp_path,
    )  # fmt: skip
    assert report["cpu_bound"] is True and report["caveat"]
    assert report["threads_per_worker"] == 1
    # --threads reaches the workers' TensorFlow, not the chief (it trains
    # nothing).
    import workers_throughput

    worker = workers_throughput._env("tuner0", 1, 2, False, threads=1)
    assert worker["TF_NUM_INTRAOP_THREADS"] == worker["TF_NUM_INTEROP_THREADS"] == "1"
    chief = workers_throughput._env("chief", 1, 2, False, threads=1)
    assert chief.get("TF_NUM_INTRAOP_THREADS") == os.environ.get(
        "TF_NUM_INTRAOP_THREADS"
    )
    results = report["results"]
    # One worker count: each costs a chief and its workers importing Keras
    # and TensorFlow (JAX, though quicker to import, trains eagerly far
    # slower).
    assert set(results) == {"2"}
    for record in results.values():
        assert record["trials"] == record["completed_trials"] == 2
        assert sum(record["trials_per_worker"].values()) == 2
        assert record["wall_s"] >= record["search_s"] > 0
        assert record["trials_per_hour"] > 0
        assert record["trials_per_gpu_hour"] is None
        assert 0.0 <= record["best_score"] <= 1.0
        # keras-tuner's chief may wait 20 s before it exits: not waited for.
        assert record["chief_exit"] in ("exited", "terminated after the workers ended")
    assert results["2"]["speedup"] is None  # no one-worker run to compare
    # No process outlives the script.
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True)
    assert str(tmp_path) not in ps.stdout


def test_oracle_decision_time(run_benchmark_in_process, tmp_path):
    report = run_benchmark_in_process(
        "oracle_decision_time", ["--sizes", "5,10", "--repeats", "3"], tmp_path
    )
    assert set(report["results"]) == {
        "evolution",
        "controller",
        "keras_tuner_random_search",
    }
    for by_size in report["results"].values():
        assert set(by_size) == {"5", "10"}
        for row in by_size.values():
            assert row["median_ms"] > 0 and row["max_ms"] >= row["median_ms"]
            assert row["repeats"] == 3

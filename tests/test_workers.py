"""`keras-nasnet search --workers N`: trials run at once, each in a worker
process (keras-tuner's chief/worker mode on this machine), reported as one
search's."""

import json
import os
import re
import subprocess
import sys

import pytest

from tests.test_cli import TINY, _trial_scores

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "benchmarks")

pytestmark = pytest.mark.slow


def test_a_search_in_two_workers_reads_as_one_search(tmp_path):
    # Two workers of chains of 2 trials each: one worker runs at least 2 of
    # the 3 trials, so a chain hands over to a fresh worker process, or ends
    # because the search's trials have all ended.
    directory = tmp_path / "workers"
    result = subprocess.run(
        [sys.executable, "-m", "keras_nasnet.cli", "search",
         "--strategy", "evolution", "--max-trials", "3",
         "--population-size", "2", "--sample-size", "1",
         "--workers", "2", "--trials-per-process", "2",
         "--directory", str(directory), *TINY],
        capture_output=True,
        text=True,
        timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert out.count("trials to run") == 1  # the chief's header only
    assert "[search] 2 trials at a time, each in a worker process" in out
    trials = re.findall(
        r"\[search\] trial (\d+) completed  score (\S+) .* (\d)/3 done", out
    )
    # Each trial once; the search's count of ended trials, in order; each
    # score as the chief computed it (a worker's trial never sees it).
    assert sorted(t[0] for t in trials) == ["0", "1", "2"]
    assert [t[2] for t in trials] == ["1", "2", "3"]
    scores = _trial_scores(directory)
    assert {tid: float(score) for tid, score, _ in trials} == pytest.approx(
        {tid: score for tid, (_, score) in scores.items()}, abs=1e-4
    )
    assert all(status == "COMPLETED" for status, _ in scores.values())
    # The chief reports the end: the best of the three.
    best = max(scores.items(), key=lambda item: item[1][1])
    assert f"(trial {best[0]}), 3/3 trials done" in out
    assert "[search] best genotype" in out
    assert "Reloading Tuner" not in out  # keras-tuner's, on each resume
    # Each trial's phases, timed by its worker, are in its trial.json (as
    # with one process), where the report reads them.
    from keras_nasnet import _phases, report

    records = report.load_search(str(directory)).records
    assert len(records) == 3
    for record in records:
        assert set(record.seconds) == set(_phases.PHASES)
        assert record.seconds["total"] >= record.seconds["trace"] > 0

    # benchmarks/search_workers.py reads these lines.
    sys.path.insert(0, BENCHMARKS)
    try:
        import search_workers
    finally:
        sys.path.remove(BENCHMARKS)
    parsed, best_score = search_workers.parse(out)
    assert [t["trial_id"] for t in parsed] == [t[0] for t in trials]
    assert [t["score"] for t in parsed] == [float(t[1]) for t in trials]
    assert all(t["seconds"] >= 0 and 0 <= t["train_share"] <= 1 for t in parsed)
    assert best_score == pytest.approx(best[1][1], abs=1e-4)


def test_the_search_workers_benchmark_runs_the_command(tmp_path):
    # One worker count, one trial: the benchmark's plumbing (the command, its
    # flags after --, the report); the two-worker lines are read above.
    output = tmp_path / "search_workers.json"
    subprocess.run(
        [sys.executable, os.path.join(BENCHMARKS, "search_workers.py"),
         "--workers", "1", "--max-trials", "1", "--output", str(output),
         "--", *TINY],
        check=True,
        capture_output=True,
        timeout=600,
    )  # fmt: skip
    report = json.loads(output.read_text())
    assert report["benchmark"] == "search_workers"
    assert report["search_flags"][-len(TINY) :] == TINY
    record = report["results"]["1"]
    assert record["trials"] == 1 and record["speedup_wall"] == 1.0
    # One trial: no interval between trial ends to time.
    assert record["trial_interval_s"] is None and record["speedup_interval"] is None
    assert record["wall_s"] > record["last_trial_at_s"] >= 0
    assert 0 <= record["best_score"] <= 1

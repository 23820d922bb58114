"""`keras-nasnet search --workers N`: trials run at once, each in a worker
process (keras-tuner's chief/worker mode on this machine), reported as one
search's."""

import re
import subprocess
import sys

import pytest

from tests.test_cli import TINY, _trial_scores

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

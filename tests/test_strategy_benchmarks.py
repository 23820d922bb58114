"""The strategy measurements under benchmarks/ run and write their report
(at the smallest size they take; the figures are not checked)."""

import pytest

# Slow: left out of `make check` (`pytest -m "not slow"`).
pytestmark = pytest.mark.slow


def test_identity_mutation(run_benchmark_in_process, tmp_path):
    report = run_benchmark_in_process(
        "identity_mutation",
        ["--seeds", "1", "--settings", "small", "--noises", "0"],
        tmp_path,
    )
    arms = report["results"]["small"]["by_noise"]["0"]
    for arm in ("paper", "redraw", "oracle"):
        assert 0 < arms[arm]["median"] <= 40


def test_controller_learning_rate(run_benchmark_in_process, tmp_path):
    report = run_benchmark_in_process(
        "controller_learning_rate",
        ["--seeds", "1", "--learning-rates", "0.01", "--checkpoints", "5,10"],
        tmp_path,
    )
    results = report["results"]
    assert results["controller_lr_0.01"]["updates"] == 2
    for arm in ("controller_lr_0.01", "random"):
        best = results[arm]["best_after"]
        assert 0 < best["5"]["median"] <= best["10"]["median"] <= 50

"""The proxy benchmarks run, resume, and report what they promise.

`benchmarks/proxy_recipe.py` and `benchmarks/proxy_fidelity.py` at their
`--smoke` size: tiny eager trainings in the test's own process (the scripts'
`main`), on the committed Fashion-MNIST subset. Their figures are not
checked, only that every training is recorded once, a rerun trains nothing
new, and the report is complete.
"""

import json
import pathlib

import pytest

# Each script trains eagerly: about ten seconds.
pytestmark = pytest.mark.slow

REPO = pathlib.Path(__file__).resolve().parents[1]
SUBSET = REPO / "tests" / "data" / "fashion-mnist"


def _run(run_benchmark_in_process, script, tmp_path):
    args = ["--smoke", "--data-dir", str(SUBSET)]
    report = run_benchmark_in_process(script, args, tmp_path)
    progress = tmp_path / f"{script}.jsonl"
    rows = [json.loads(line) for line in progress.read_text().splitlines()]
    return report, rows


def _check_timings(row):
    for kind in ("cpu", "wall"):
        for phase in ("build", "first_step", "validation", "trial"):
            assert row[f"{kind}_{phase}"] > 0, (kind, phase)
    assert 0 <= row["val_accuracy"] <= 1
    assert row["steps"] >= 1


def test_proxy_recipe_smoke_records_each_training_once(
    run_benchmark_in_process, tmp_path
):
    report, rows = _run(run_benchmark_in_process, "proxy_recipe", tmp_path)
    assert report["benchmark"] == "proxy_recipe"
    assert [row["name"] for row in rows] == ["smoke_eager"]
    _check_timings(rows[0])
    assert report["results"]["smoke_eager"]["repeats"] == 1
    # A rerun resumes: nothing trained again.
    report, rows = _run(run_benchmark_in_process, "proxy_recipe", tmp_path)
    assert len(rows) == 1 and report["results"]["smoke_eager"]["repeats"] == 1


def test_proxy_fidelity_smoke_correlates_the_rankings(
    run_benchmark_in_process, tmp_path
):
    report, rows = _run(run_benchmark_in_process, "proxy_fidelity", tmp_path)
    assert report["benchmark"] == "proxy_fidelity"
    trainings = sorted((row["genotype"], row["training"]) for row in rows)
    assert trainings == [
        ("random_0", "proxy_tiny"),
        ("random_0", "reference"),
        ("random_1", "proxy_tiny"),
        ("random_1", "reference"),
    ]
    for row in rows:
        _check_timings(row)
        assert (row["test_accuracy"] is None) == (row["training"] != "reference")
    summary = report["results"]["proxy_tiny"]
    assert summary["genotypes"] == 2
    for statistic in ("kendall_tau", "spearman_rho"):
        # None when the two tiny proxies tie (no ranking to correlate).
        value = summary[statistic]["value"]
        assert value is None or -1 <= value <= 1
    assert report["total_cpu_s"] > 0
    _, again = _run(run_benchmark_in_process, "proxy_fidelity", tmp_path)
    assert len(again) == 4


@pytest.mark.parametrize(
    ("interval", "expected"),
    [(False, "cheap"), (True, "dear")],
)
def test_proxy_fidelity_choice_rules(monkeypatch, interval, expected):
    # The measured case: the cheaper proxy's tau is above 0.5 but its
    # interval reaches below; the dearer one's interval stays above.
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    import proxy_fidelity

    def candidate(seconds, tau, low):
        return {
            "mean_cpu_trial_s": seconds,
            "kendall_tau": {"value": tau, "ci95": None if low is None else [low, 0.9]},
        }

    summary = {
        "cheap": candidate(36.0, 0.52, 0.30),
        "dear": candidate(45.5, 0.68, 0.50),
        "dearest": candidate(90.0, 0.80, 0.60),
        "untied": candidate(10.0, None, None),
        "poor": candidate(20.0, 0.45, 0.2),
    }
    assert proxy_fidelity.choose(summary, interval=interval) == expected
    assert proxy_fidelity.choose(summary, 0.95, interval=interval) is None


@pytest.mark.parametrize("name", ["batch32", "batch64"])
def test_proxy_fidelity_reference_trains_at_least_5x_longer(monkeypatch, name):
    # Issue 11.4: the reference is at least 5x every candidate's training,
    # counted in multiply-adds per image x images x epochs.
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    import proxy_fidelity

    from keras_nasnet.genotypes import NASNET_A
    from keras_nasnet.space import cost

    def work(spec):
        recipe = spec["recipe"]
        per_image = cost.macs(
            NASNET_A,
            recipe["cells_per_stack"],
            filters=recipe["filters"],
            input_shape=(28, 28, 1),
            stem_strides=recipe["stem_strides"],
        )
        return per_image * spec["train_images"] * recipe["epochs"]

    measured = proxy_fidelity.SETS[name]
    reference = work(measured["reference"])
    assert measured["candidates"]
    for candidate in measured["candidates"].values():
        assert reference >= 5 * work(candidate)


def test_search_quality_rank_test_counts_pairs_and_permutations(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    import search_quality

    # Every pair above: the most extreme of the C(6, 3) = 20 splits.
    test = search_quality.rank_test([3.0, 4.0, 5.0], [0.0, 1.0, 2.0])
    assert test == {"pairs_above": 9.0, "pairs": 9, "p_one_sided": 0.05}
    # Ties count half; the same samples: nothing to tell them apart.
    test = search_quality.rank_test([1.0, 2.0], [1.0, 2.0])
    assert test["pairs_above"] == 2.0 and test["p_one_sided"] > 0.5
    # An empty side: no test.
    assert search_quality.rank_test([], [1.0])["p_one_sided"] is None
    # Too many splits to count: random permutations, still near 0 here.
    test = search_quality.rank_test(list(range(20, 40)), list(range(20)))
    assert test["pairs_above"] == 400.0 and test["p_one_sided"] < 0.001

"""The order the suite hands its files out in (tests/conftest.py) and the
measured file lengths it reads (tests/file_seconds.py)."""

import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import file_seconds  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]


def test_file_seconds_sums_each_file_s_phases():
    log = [
        "============ slowest durations ============",
        "12.50s call     tests/test_a.py::test_one",
        "2.00s setup    tests/test_a.py::test_two[x-1]",
        "0.50s teardown tests/test_a.py::test_two[x-1]",
        "3.25s call     keras_nasnet/training.py::keras_nasnet.training.f",
        "(5 durations < 0.005s hidden.  Use -vv to show these durations.)",
        "965 passed, 3 skipped in 592.24s (0:09:52)",
    ]
    assert file_seconds.file_seconds(log) == {
        "tests/test_a.py": 15.0,
        "keras_nasnet/training.py": 3.2,
    }


def test_the_recorded_files_exist():
    # A renamed file would lose its place at the head of the queue.
    recorded = json.loads((REPO / "tests" / "file_seconds.json").read_text())
    assert recorded and all(s >= 0 for s in recorded.values())
    missing = [path for path in recorded if not (REPO / path).is_file()]
    assert not missing, f"rerun tests/file_seconds.py: {missing}"


def test_the_suite_runs_the_longest_recorded_files_first(request):
    recorded = json.loads((REPO / "tests" / "file_seconds.json").read_text())
    order = []
    for item in request.session.items:
        path = item.nodeid.split("::", 1)[0]
        if not order or order[-1] != path:
            order.append(path)
    # pytest-xdist hands the files out in this order (not its own: the
    # files with the most tests first).
    assert getattr(request.config.option, "loadscopereorder", False) is False
    # Each file's tests run together, the recorded files longest first.
    assert len(order) == len(set(order))
    lengths = [recorded[path] for path in order if path in recorded]
    assert lengths == sorted(lengths, reverse=True)

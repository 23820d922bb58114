"""Writes tests/file_seconds.json from a `pytest --durations=0` log.

    python -m pytest -n 2 --dist loadfile --durations=0 -q > durations.log
    python tests/file_seconds.py durations.log

The JSON maps each file (as pytest names it, from the repository's root) to
the seconds its tests took in that run, setup and teardown included. Only
`tests/conftest.py` reads it, to hand the longest files out first under
`--dist loadfile`; a stale or missing entry changes the order, never a
result.
"""

import collections
import json
import os
import re
import sys

LINE = re.compile(r"^(\d+(?:\.\d+)?)s (?:setup|call|teardown)\s+(\S+?)::")


def file_seconds(lines):
    seconds = collections.Counter()
    for line in lines:
        match = LINE.match(line)
        if match:
            seconds[match.group(2)] += float(match.group(1))
    return {path: round(s, 1) for path, s in seconds.most_common()}


def main(argv):
    (log,) = argv
    with open(log) as f:
        seconds = file_seconds(f)
    if not seconds:
        raise SystemExit(f"{log}: no `--durations=0` lines")
    output = os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "file_seconds.json"
    )
    with open(output, "w") as f:
        json.dump(seconds, f, indent=1)
        f.write("\n")
    print(f"{output}: {len(seconds)} files, {sum(seconds.values()):.0f} s")


if __name__ == "__main__":
    main(sys.argv[1:])

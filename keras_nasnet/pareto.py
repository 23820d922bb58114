"""Pareto dominance, NSGA-II's ranking and crowding distance, and hypervolume.

Pure functions over points given as sequences of numbers in which **larger is
better in every coordinate** (negate a cost to maximize it: `(accuracy,
-macs)`). They import nothing but the standard library, so the oracle (on a
distributed chief), the report (on a machine without Keras) and the
benchmarks share one implementation.

Reference: Deb et al. 2002, "A Fast and Elitist Multiobjective Genetic
Algorithm: NSGA-II" (fast non-dominated sorting, crowding distance, the
crowded-comparison operator); Zitzler and Thiele 1998 (the hypervolume, "size
of the dominated space").
"""

import math


def dominates(a, b):
    """Whether `a` Pareto-dominates `b`: at least as good in every
    coordinate and better in one (larger is better).

    Example:

    >>> dominates((0.9, -10), (0.8, -10)), dominates((0.9, -20), (0.8, -10))
    (True, False)
    """
    better = False
    for x, y in zip(a, b, strict=True):
        if x < y:
            return False
        if x > y:
            better = True
    return better


def non_dominated_ranks(points):
    """NSGA-II's fast non-dominated sorting.

    Args:
        points: a sequence of equal-length tuples (larger is better).

    Returns:
        A list of ranks, one per point: 0 for the non-dominated front, 1 for
        the front once that is removed, and so on. Equal points share a rank.

    Example:

    >>> non_dominated_ranks([(1, 1), (2, 0), (0, 0), (1, 1)])
    [0, 0, 1, 0]
    """
    n = len(points)
    dominated_by = [[] for _ in range(n)]  # i -> the points i dominates
    counts = [0] * n  # i -> how many points dominate i
    for i in range(n):
        for j in range(i + 1, n):
            if dominates(points[i], points[j]):
                dominated_by[i].append(j)
                counts[j] += 1
            elif dominates(points[j], points[i]):
                dominated_by[j].append(i)
                counts[i] += 1
    ranks = [0] * n
    front = [i for i in range(n) if counts[i] == 0]
    rank = 0
    while front:
        following = []
        for i in front:
            ranks[i] = rank
            for j in dominated_by[i]:
                counts[j] -= 1
                if counts[j] == 0:
                    following.append(j)
        front, rank = following, rank + 1
    return ranks


def crowding_distances(points, ranks=None):
    """NSGA-II's crowding distance of each point within its front.

    For each coordinate, a front's points are sorted by it; the two extremes
    get an infinite distance and every other point adds the gap between its
    neighbours, divided by the front's range in that coordinate.

    Args:
        points: a sequence of equal-length tuples.
        ranks: the points' fronts (`non_dominated_ranks(points)` if None).

    Returns:
        A list of distances (floats, `inf` at a front's extremes), one per
        point: larger is a less crowded part of its front.

    Example:

    >>> crowding_distances([(0, 3), (1, 2), (2, 1), (3, 0)])
    [inf, 1.3333333333333333, 1.3333333333333333, inf]
    """
    if ranks is None:
        ranks = non_dominated_ranks(points)
    distances = [0.0] * len(points)
    fronts = {}
    for i, rank in enumerate(ranks):
        fronts.setdefault(rank, []).append(i)
    for members in fronts.values():
        if len(members) <= 2:
            for i in members:
                distances[i] = math.inf
            continue
        for k in range(len(points[members[0]])):
            order = sorted(members, key=lambda i, k=k: points[i][k])
            low, high = points[order[0]][k], points[order[-1]][k]
            distances[order[0]] = distances[order[-1]] = math.inf
            if high == low:
                continue
            for before, i, after in zip(order, order[1:], order[2:], strict=False):
                distances[i] += (points[after][k] - points[before][k]) / (high - low)
    return distances


def crowded_order(points):
    """NSGA-II's crowded-comparison order: `(rank, -crowding distance)` per
    point; the smaller key is the better point.

    Example:

    >>> crowded_order([(1, 0), (0, 1), (0, 0)])
    [(0, -inf), (0, -inf), (1, -inf)]
    """
    ranks = non_dominated_ranks(points)
    distances = crowding_distances(points, ranks)
    return [(rank, -d) for rank, d in zip(ranks, distances, strict=True)]


def pareto_front(points):
    """The indices of the non-dominated points, in input order.

    Example:

    >>> pareto_front([(0.9, -30), (0.8, -10), (0.7, -20), (0.95, -50)])
    [0, 1, 3]
    """
    return [
        i
        for i, p in enumerate(points)
        if not any(dominates(q, p) for j, q in enumerate(points) if j != i)
    ]


def hypervolume(points, reference):
    """The volume dominated by `points` and bounded by `reference`.

    Larger is better in every coordinate; the reference is a point every
    point of interest dominates (e.g. `(0.0, -max_macs)` for `(accuracy,
    -macs)`). Points that do not beat the reference in every coordinate add
    nothing. Exact, by slicing along the last coordinate (fine for the
    hundreds of points and 2-3 objectives of a search).

    Args:
        points: a sequence of equal-length tuples.
        reference: a tuple of the same length.

    Returns:
        The hypervolume, a float (0.0 for no point beyond the reference).

    Example:

    >>> hypervolume([(1, 2), (2, 1)], (0, 0))  # two 1x2 boxes overlapping 1x1
    3.0
    """
    reference = tuple(float(r) for r in reference)
    kept = [
        tuple(float(x) for x in p)
        for p in points
        if all(x > r for x, r in zip(p, reference, strict=True))
    ]
    return _hypervolume(kept, reference)


def _hypervolume(points, reference):
    if not points:
        return 0.0
    if len(reference) == 1:
        return max(p[0] for p in points) - reference[0]
    # Slabs between consecutive values of the last coordinate, from the top:
    # each slab's cross-section is the (d-1)-volume of the points reaching it.
    points = sorted(points, key=lambda p: p[-1], reverse=True)
    volume = 0.0
    for i, p in enumerate(points):
        bottom = points[i + 1][-1] if i + 1 < len(points) else reference[-1]
        height = p[-1] - bottom
        if height > 0:
            section = [q[:-1] for q in points[: i + 1]]
            volume += height * _hypervolume(section, reference[:-1])
    return volume

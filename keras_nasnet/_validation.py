"""Argument checks with keras-style errors, shared by the modules that take
user settings (training recipes, augmentation, the HyperModel, the search
strategies).

"Invalid value received for argument `epochs`. Expected an integer >= 1.
Received: epochs=0" names the argument, the expectation and what was received.
"""

import numbers


def fail(name, expected, value):
    """Raises the keras-style ValueError for argument `name`."""
    raise ValueError(
        f"Invalid value received for argument `{name}`. Expected {expected}. "
        f"Received: {name}={value!r}"
    )


def is_int(value):
    """An integer (Python or NumPy), not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value):
    """A real number (Python or NumPy), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_int(name, value, minimum, maximum=None, maximum_name=None):
    """Returns `value` as a Python int if it is an integer >= `minimum` (and
    <= `maximum`, described as `maximum_name` when it is another argument).

    Example:

    >>> check_int("sample_size", 3, 1, 10, "population_size")
    3
    >>> check_int("sample_size", 0, 1, 100, "population_size")
    Traceback (most recent call last):
    ...
    ValueError: Invalid value received for argument `sample_size`. Expected an integer between 1 and population_size (100). Received: sample_size=0
    """
    if maximum is None:
        if not is_int(value) or value < minimum:
            fail(name, f"an integer >= {minimum}", value)
    elif not is_int(value) or not minimum <= value <= maximum:
        bound = maximum if maximum_name is None else f"{maximum_name} ({maximum})"
        fail(name, f"an integer between {minimum} and {bound}", value)
    return int(value)


def check_real(name, value, low=None, high=None, closed=(True, True), allow_none=False):
    """Returns `value` as a Python float (or None when `allow_none`) if it is a
    real number in the interval from `low` to `high` (either may be None: no
    bound); `closed` says whether each end is included.

    Example:

    >>> check_real("ppo_clip", 0.2, 0, 1, closed=(False, False))
    0.2
    >>> check_real("temperature", -1.0, 0, closed=(False, True), allow_none=True)
    Traceback (most recent call last):
    ...
    ValueError: Invalid value received for argument `temperature`. Expected None or a number > 0. Received: temperature=-1.0
    """
    if value is None and allow_none:
        return None
    ok = is_real(value) and value == value  # NaN is in no interval
    if ok and low is not None:
        ok = value >= low if closed[0] else value > low
    if ok and high is not None:
        ok = value <= high if closed[1] else value < high
    if not ok:
        if low is not None and high is not None:
            expected = (
                f"a number in {'[' if closed[0] else '('}{low:g}, {high:g}"
                f"{']' if closed[1] else ')'}"
            )
        elif low is not None:
            expected = f"a number {'>=' if closed[0] else '>'} {low:g}"
        elif high is not None:
            expected = f"a number {'<=' if closed[1] else '<'} {high:g}"
        else:
            expected = "a number"
        fail(name, f"None or {expected}" if allow_none else expected, value)
    return float(value)


def check_choice(name, value, choices):
    """Returns `value` if it is one of `choices`.

    Example:

    >>> check_choice("update", "a2c", ("ppo", "reinforce"))
    Traceback (most recent call last):
    ...
    ValueError: Invalid value received for argument `update`. Expected one of 'ppo', 'reinforce'. Received: update='a2c'
    """
    if not isinstance(value, str) or value not in choices:
        fail(name, "one of " + ", ".join(repr(c) for c in choices), value)
    return value


def check_known_options(owner, options, known, hint=""):
    """Raises keras' error for keyword arguments `owner` does not take.

    Example:

    >>> check_known_options("EvolutionStrategy", {"units": 5}, ["sample_size"])
    Traceback (most recent call last):
    ...
    ValueError: Unrecognized keyword arguments passed to EvolutionStrategy: {'units': 5}. Expected some of: sample_size.
    """
    unknown = {k: v for k, v in options.items() if k not in known}
    if unknown:
        expected = ", ".join(known) if known else "none"
        raise ValueError(
            f"Unrecognized keyword arguments passed to {owner}: {unknown}. "
            f"Expected some of: {expected}.{' ' + hint if hint else ''}"
        )

"""Argument checks with keras-style errors, shared by the modules that take
user settings (training recipes, augmentation, the HyperModel).

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


def check_int(name, value, minimum):
    """Returns `value` as a Python int if it is an integer >= `minimum`."""
    if not is_int(value) or value < minimum:
        fail(name, f"an integer >= {minimum}", value)
    return int(value)

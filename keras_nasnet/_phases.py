"""The phases a search trial's wall time is split into, by name.

Recorded by `tuner_plugins.phases` as the trial's metrics `seconds_<phase>`,
read by `keras_nasnet.report` and `keras_nasnet.progress`. No Keras here:
the report reads them on a machine without it.
"""

# Data preparation, building and compiling, tracing, training steps,
# validation, saving, the oracle's decision, and the trial's total.
PHASES = ("data", "build", "trace", "train", "validation", "save", "decision", "total")


def metric_name(phase):
    """The trial metric that holds `phase`'s seconds: `seconds_<phase>`."""
    return f"seconds_{phase}"

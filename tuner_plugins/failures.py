"""Failing trials: what ends a trial as FAILED, and why, in one line.

A real search meets children that cannot be trained: a genotype or a set of
hyperparameters that does not build, a loss that becomes NaN, a model that
does not fit in the accelerator's memory. Each of these is deterministic (the
same trial fails the same way when it runs again), so each ends its trial as
FAILED with a one-line reason, never as INVALID: keras-tuner retries INVALID
trials `max_retries_per_trial` times, which here would only repeat the
failure. The search goes on; after `max_consecutive_failed_trials` failures
in a row it stops with `TooManyFailedTrialsError`, which lists their reasons.

Any other error while training (a lost file system, a flaky device) keeps
keras-tuner's behavior: the trial is INVALID and retried.

- `TrialFailureMixin`: the behavior above for any `keras_tuner.Tuner`
  (`AgingEvolution` and `RNNController` have it; mix it in first:
  `class MyTuner(TrialFailureMixin, keras_tuner.RandomSearch)`).
- `is_out_of_memory(error)`: TensorFlow's `ResourceExhaustedError`, JAX's
  `RESOURCE_EXHAUSTED`, torch's `OutOfMemoryError` and Python's
  `MemoryError`, wherever they sit in a chain of exceptions.
- `failure_reason(trial)`: the reason a FAILED or INVALID trial records in
  `trial.message` (keras-tuner stores the whole traceback there, as in
  `trial.json`), as one line.

NaN losses are caught where training happens, by `NASNetHyperModel.fit`.
"""

import re

import keras_tuner

# An error's text that says it ran out of memory: TensorFlow's "OOM when
# allocating tensor", XLA/JAX's "RESOURCE_EXHAUSTED: Out of memory while
# trying to allocate", torch's "CUDA out of memory".
_OOM_TEXT = re.compile(r"RESOURCE_EXHAUSTED|\bOOM\b|out of memory", re.IGNORECASE)
# Exception class names that mean out of memory, on any backend.
_OOM_TYPES = frozenset({"ResourceExhaustedError", "OutOfMemoryError"})
# The hyperparameters that decide a proxy's memory, named in OOM reasons.
_SIZE_SETTINGS = ("cells_per_stack", "filters", "batch_size")
# A reason longer than this is cut: it goes on one line of a progress report.
_MAX_REASON = 300


class TooManyFailedTrialsError(RuntimeError):
    """The search stopped: `max_consecutive_failed_trials` failed in a row.

    A `RuntimeError`, as keras-tuner raises for the same condition.

    Attributes:
        reasons: `(trial_id, reason)` of the failed trials, oldest first.
    """

    def __init__(self, message, reasons):
        super().__init__(message)
        self.reasons = list(reasons)


def _chain(error):
    """`error` and the exceptions it was raised from or while handling."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


def is_out_of_memory(error):
    """Whether `error` (or one it was raised from) means out of memory.

    Args:
        error: an exception.

    Returns:
        True for TensorFlow's `tf.errors.ResourceExhaustedError`, torch's
        `OutOfMemoryError`, Python's `MemoryError`, and any exception whose
        message says `RESOURCE_EXHAUSTED`, `OOM` or `out of memory` (JAX's
        `XlaRuntimeError`, torch's older `RuntimeError`).

    Example:

    >>> is_out_of_memory(RuntimeError("RESOURCE_EXHAUSTED: Out of memory"))
    True
    >>> is_out_of_memory(ValueError("Unknown op 'conv_9x9'."))
    False
    """
    for e in _chain(error):
        if isinstance(e, MemoryError) or type(e).__name__ in _OOM_TYPES:
            return True
        if _OOM_TEXT.search(str(e)):
            return True
    return False


def _one_line(text, limit=_MAX_REASON):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _describe(error):
    """`Type: first line of the message`, for an error we did not raise."""
    message = str(error).strip().splitlines()
    first = message[0] if message else ""
    return _one_line(
        f"{type(error).__name__}: {first}" if first else type(error).__name__
    )


def _size(hp, num_params, batch_size):
    """`1,234 parameters, cells_per_stack=1, filters=8, batch_size=64`."""
    parts = [] if num_params is None else [f"{num_params:,} parameters"]
    values = dict(hp.values) if hp is not None else {}
    if batch_size is not None:
        values.setdefault("batch_size", batch_size)
    parts += [f"{name}={values[name]}" for name in _SIZE_SETTINGS if name in values]
    return ", ".join(parts)


def out_of_memory_reason(error, stage, hp=None, num_params=None, batch_size=None):
    """The one-line reason of a trial that ran out of memory.

    Args:
        error: the out-of-memory exception.
        stage: `"building"` or `"training"`.
        hp: the trial's `keras_tuner.HyperParameters`, to name its size.
        num_params: the model's parameter count, if it was built.
        batch_size: the batch size given to `search()`, when `hp` has none.

    Returns:
        A string such as `"Out of memory while training the model (52,410
        parameters, filters=32, batch_size=256): ResourceExhaustedError: OOM
        when allocating tensor ... Use a smaller batch_size, filters or
        cells_per_stack, or the tuner's max_model_size."`.
    """
    size = _size(hp, num_params, batch_size)
    size = f" ({size})" if size else ""
    return (
        f"Out of memory while {stage} the model{size}: {_describe(error)}. Use a "
        "smaller batch_size, filters or cells_per_stack, or the tuner's "
        "max_model_size to skip models this large."
    )


_TRACEBACK_HEADER = "Traceback (most recent call last):"
_FAILED_TRIAL_PREFIX = re.compile(r"^(?:[\w.]+\.)?FailedTrialError: ")


def failure_reason(trial):
    """The reason a trial failed, as one line; `""` if it records none.

    Reads `trial.message`, where keras-tuner stores the traceback of the error
    that ended the trial: the reason is the last exception's text, without the
    traceback, and without the type when it is a `FailedTrialError` (whose
    message is the reason itself).

    Args:
        trial: a `keras_tuner.engine.trial.Trial`, or its message as a string.

    Returns:
        One line, at most 300 characters.

    Example:

    >>> failure_reason(
    ...     "Traceback (most recent call last):\\n"
    ...     '  File "x.py", line 1, in <module>\\n'
    ...     "keras_tuner.src.errors.FailedTrialError: Oversized model: 9 "
    ...     "parameters. Skip model.\\n"
    ... )
    'Oversized model: 9 parameters. Skip model.'
    """
    message = trial if isinstance(trial, str) else getattr(trial, "message", None)
    if not message:
        return ""
    lines = message.rstrip().splitlines()
    headers = [i for i, line in enumerate(lines) if line.startswith(_TRACEBACK_HEADER)]
    if not headers:
        return _one_line(message)
    # After the last traceback's indented frame lines comes `Type: message`.
    tail = lines[headers[-1] + 1 :]
    start = next(
        (i for i, line in enumerate(tail) if line and not line[0].isspace()), None
    )
    if start is None:
        return _one_line(lines[-1])
    text = "\n".join(tail[start:])
    return _one_line(_FAILED_TRIAL_PREFIX.sub("", text, count=1))


def _trailing_failures(oracle):
    """The FAILED trials that end the oracle's history, oldest first."""
    failed = []
    for trial_id in reversed(list(getattr(oracle, "end_order", []))):
        trial = oracle.trials.get(trial_id)
        if trial is None or trial.status != keras_tuner.engine.trial.TrialStatus.FAILED:
            break
        failed.append(trial)
    return failed[::-1]


class TrialFailureMixin:
    """Ends deterministic failures as FAILED trials with a one-line reason.

    Mix it into any `keras_tuner.Tuner` (before the tuner class):

    - a model that fails to build (any error from `hypermodel.build`) ends
      its trial FAILED: `"The model failed to build: ValueError: ..."`;
    - an out-of-memory error while building or training ends it FAILED,
      naming the model's size (`out_of_memory_reason`);
    - a `keras_tuner.errors.FailedTrialError` raised anywhere (e.g. by
      `NASNetHyperModel.fit` on a NaN loss) ends it FAILED, as in
      keras-tuner;
    - after `max_consecutive_failed_trials` FAILED trials in a row, `search`
      raises `TooManyFailedTrialsError` listing their reasons (keras-tuner's
      own `RuntimeError` is its `__cause__`).

    Other errors keep keras-tuner's behavior (INVALID, retried), and
    `keras_tuner.errors.FatalError`s still stop the search at once.
    """

    def _try_build(self, hp):
        try:
            model = super()._try_build(hp)
        except (keras_tuner.errors.FailedTrialError, keras_tuner.errors.FatalError):
            raise
        except Exception as e:
            if is_out_of_memory(e):
                reason = out_of_memory_reason(e, "building", hp)
            else:
                reason = f"The model failed to build: {_describe(e)}"
            raise keras_tuner.errors.FailedTrialError(reason) from e
        try:
            self._last_model_params = int(model.count_params())
        except ValueError:  # a subclassed model that is not built yet
            self._last_model_params = None
        return model

    def run_trial(self, trial, *args, **kwargs):
        self._last_model_params = None
        try:
            return super().run_trial(trial, *args, **kwargs)
        except (keras_tuner.errors.FailedTrialError, keras_tuner.errors.FatalError):
            raise
        except Exception as e:
            if not is_out_of_memory(e):
                raise
            reason = out_of_memory_reason(
                e,
                "training",
                trial.hyperparameters,
                self._last_model_params,
                kwargs.get("batch_size"),
            )
            raise keras_tuner.errors.FailedTrialError(reason) from e

    def on_trial_end(self, trial):
        try:
            super().on_trial_end(trial)
        except RuntimeError as e:
            limit = getattr(self.oracle, "max_consecutive_failed_trials", None)
            failed = _trailing_failures(self.oracle)
            if (
                isinstance(e, TooManyFailedTrialsError)
                or not limit
                or len(failed) < limit
            ):
                raise
            reasons = [(t.trial_id, failure_reason(t)) for t in failed[-limit:]]
            lines = "\n".join(f"- trial {tid}: {reason}" for tid, reason in reasons)
            raise TooManyFailedTrialsError(
                f"The search stopped: {limit} trials failed in a row "
                f"(max_consecutive_failed_trials={limit}).\n{lines}",
                reasons,
            ) from e

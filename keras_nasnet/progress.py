"""Progress of a search or a training run, as events for a pluggable callback.

`keras_nasnet.workflow.search` sends a `SearchBegin`, then an `EpochEnd` per
epoch and a `TrialEnd` per trial, a `ProcessEnd` when a chain of processes
hands over to a fresh one, and a `SearchEnd`, to a `SearchCallback`.
`PrintProgress` prints them as `keras-nasnet search` shows them; subclass
`SearchCallback` to send them elsewhere (a log, a dashboard, a test).

The events are frozen dataclasses of JSON-safe values, so that a chained
process can send them to its parent. Nothing here imports Keras.

Example:

>>> import io
>>> stream = io.StringIO()
>>> printer = PrintProgress(stream)
>>> for seconds, done in ((30.0, 1), (90.0, 2)):
...     printer.on_trial_end(TrialEnd(
...         trial_id=f"{done - 1:02d}", status="COMPLETED", score=0.5,
...         best_trial_id="00", best_score=0.5, done=done, max_trials=6,
...         seconds=seconds, start_time=0.0, end_time=seconds,
...         objective="val_accuracy"))
>>> print(stream.getvalue().splitlines()[-1].split("  eta ")[-1])
4m00s
"""

import dataclasses
import sys
import time

# Trial statuses of a trial that ended.
ENDED = ("COMPLETED", "FAILED", "INVALID", "STOPPED")


@dataclasses.dataclass(frozen=True)
class SearchBegin:
    """A search (or one process of a chain) starts. `done` trials had ended;
    `workers` trials run at once, each in a process of its own."""

    directory: str
    strategy: str
    dataset: str
    train_images: int
    validation_images: int
    max_trials: int
    done: int
    epochs: int
    steps_per_epoch: int
    batch_size: int
    cells_per_stack: int
    filters: int
    num_blocks: int
    objective: str
    resumed: bool
    workers: int = 1


@dataclasses.dataclass(frozen=True)
class EpochEnd:
    """An epoch of a trial (or of `keras-nasnet train`) ended.

    `epoch` counts from 1; `seconds` is this epoch's time, `elapsed` the
    time since training began; `logs` the epoch's metrics.
    """

    trial_id: str | None
    epoch: int
    epochs: int
    steps: int | None
    seconds: float
    elapsed: float
    logs: dict


@dataclasses.dataclass(frozen=True)
class TrialEnd:
    """A trial ended.

    `trial_id` is keras-tuner's, as in the trial's folder name (`trial_02`
    -> `"02"`); `done` counts the ended trials of the search (None on a
    distributed worker, which cannot see them); `seconds` is the trial's
    time from its start to its end, `start_time`/`end_time` wall-clock
    (`time.time()`); `reason` says why a FAILED or INVALID trial failed;
    `phases` is `{phase: seconds}` (the trial's metrics
    `seconds_<phase>`, see `tuner_plugins.phases`), or None when the tuner
    does not record them.
    """

    trial_id: str
    status: str
    score: float | None
    best_trial_id: str | None
    best_score: float | None
    done: int | None
    max_trials: int
    seconds: float
    start_time: float
    end_time: float
    objective: str
    reason: str | None = None
    phases: dict | None = None


@dataclasses.dataclass(frozen=True)
class ProcessEnd:
    """A process of a chain ran its `trials`; a fresh one goes on."""

    trials: int
    done: int
    max_trials: int


@dataclasses.dataclass(frozen=True)
class SearchEnd:
    """The search ended: its budget is spent (or the oracle stopped it)."""

    directory: str
    objective: str
    best_trial_id: str | None
    best_score: float | None
    genotype: str | None
    done: int
    max_trials: int


_EVENTS = {
    SearchBegin: "on_search_begin",
    EpochEnd: "on_epoch_end",
    TrialEnd: "on_trial_end",
    ProcessEnd: "on_process_end",
    SearchEnd: "on_search_end",
}
EVENT_TYPES = {cls.__name__: cls for cls in _EVENTS}


class SearchCallback:
    """Receives a search's progress; subclass it and override what you need.

    Each method receives one event (a frozen dataclass). In a chain of
    processes (`trials_per_process`), the events of every process reach the
    callback of the process that called `search`, in order.
    """

    def on_search_begin(self, event):
        """`SearchBegin`: before the first trial of a search or of a process."""

    def on_epoch_end(self, event):
        """`EpochEnd`: after each epoch of a trial."""

    def on_trial_end(self, event):
        """`TrialEnd`: after each trial, its score known."""

    def on_process_end(self, event):
        """`ProcessEnd`: a process of a chain handed over to a fresh one."""

    def on_search_end(self, event):
        """`SearchEnd`: the search is over."""

    def dispatch(self, event):
        """Calls the method that takes `event`."""
        getattr(self, _EVENTS[type(event)])(event)


def format_duration(seconds):
    """`75` -> `"1m15s"`, `3725` -> `"1h02m05s"`."""
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


def _format_score(score):
    return "-" if score is None else f"{score:.4f}"


def training_share(phases):
    """The fraction of a trial spent in training steps (`train` over
    `total`), or None if `phases` (a `TrialEnd.phases`) cannot tell."""
    total = (phases or {}).get("total")
    train = (phases or {}).get("train")
    if not total or train is None:
        return None
    return train / total


def _plural(n, word):
    return f"{n:,} {word}" + ("" if n == 1 else "s")


class PrintProgress(SearchCallback):
    """One line per event, the way `keras-nasnet search` shows a search.

    ```
    [search] evolution on fashion_mnist: 4,000 training / 1,000 validation images; proxy N=1, F=8, B=5
    [search] 20 trials to run, each 1 epoch x 125 steps of 32 images (2,500 training steps); results in runs/s1
    [search] trial 02 completed  score 0.7430  best 0.7800 (trial 01)  9 s (train 62%)  3/20 done  elapsed 0m28s  eta 2m41s
    ```

    A trial's line gives its time and the share of it spent in training
    steps (`training_share`), when the tuner records its phases.

    For `keras-nasnet train` (events without a trial), each epoch's line
    has the ETA of the run: the mean epoch time so far times the epochs left.

    Trials are named by keras-tuner's id, as their folders are (`trial_02/`
    -> "trial 02"). The ETA is the mean trial time so far times the trials
    left (divided by the workers of a search that runs several trials at a
    time). Epoch lines (with the ETA of the trial, or of the run for
    `keras-nasnet train`) are printed when a trial has more than one epoch.

    Args:
        stream: a text stream; None prints to `sys.stdout` as it is at each
            line (so redirections apply).
        prefix: the text each line starts with.
    """

    def __init__(self, stream=None, prefix="[search]"):
        self.stream = stream
        self.prefix = prefix
        self._workers = 1
        self._durations = []
        self._start = None
        self._begun = False

    def _write(self, text):
        stream = self.stream if self.stream is not None else sys.stdout
        for line in text.splitlines():
            print(f"{self.prefix} {line}", file=stream, flush=True)

    def _elapsed(self):
        if self._start is None:
            self._start = time.monotonic()
        return time.monotonic() - self._start

    def on_search_begin(self, event):
        self._elapsed()
        if self._begun:  # a fresh process of a chain: on_process_end said so
            return
        self._begun = True
        self._workers = event.workers
        if event.resumed:
            self._write(
                f"resuming the search in {event.directory}: "
                f"{event.done}/{event.max_trials} trials done"
            )
        self._write(
            f"{event.strategy} on {event.dataset}: {event.train_images:,} training "
            f"/ {event.validation_images:,} validation images; proxy "
            f"N={event.cells_per_stack}, F={event.filters}, B={event.num_blocks}"
        )
        todo = max(0, event.max_trials - event.done)
        steps = todo * event.epochs * event.steps_per_epoch
        self._write(
            f"{_plural(todo, 'trial')} to run, each {_plural(event.epochs, 'epoch')} "
            f"x {_plural(event.steps_per_epoch, 'step')} of {event.batch_size} "
            f"images ({_plural(steps, 'training step')}); results in "
            f"{event.directory}"
        )
        if event.workers > 1:
            self._write(f"{event.workers} trials at a time, each in a worker process")

    def on_epoch_end(self, event):
        if event.trial_id is not None and event.epochs <= 1:
            return  # the trial's line says it all
        eta = event.elapsed / event.epoch * (event.epochs - event.epoch)
        metrics = "  ".join(
            f"{name} {value:.4f}"
            for name, value in event.logs.items()
            if isinstance(value, (int, float))
        )
        who = "" if event.trial_id is None else f"  trial {event.trial_id} "
        self._write(
            f"{who}epoch {event.epoch}/{event.epochs}  {metrics}  "
            f"{event.seconds:.1f}s/epoch  elapsed {format_duration(event.elapsed)}  "
            f"eta {format_duration(eta)}"
        )

    def on_trial_end(self, event):
        self._durations.append(event.seconds)
        best = _format_score(event.best_score)
        if event.best_trial_id is not None:
            best += f" (trial {event.best_trial_id})"
        line = (
            f"trial {event.trial_id} {event.status.lower()}  "
            f"score {_format_score(event.score)}  best {best}  "
        )
        share = training_share(event.phases)
        if share is not None:
            line += f"{event.phases['total']:.0f} s (train {share:.0%})  "
        if event.done is not None:
            mean = sum(self._durations) / len(self._durations)
            eta = mean * max(0, event.max_trials - event.done) / self._workers
            line += f"{event.done}/{event.max_trials} done  "
        else:
            eta = None
        line += f"elapsed {format_duration(self._elapsed())}"
        if eta is not None:
            line += f"  eta {format_duration(eta)}"
        if event.status in ("FAILED", "INVALID"):
            line += (
                f"\n  reason: {event.reason or 'unknown'} (traceback in "
                f"trial_{event.trial_id}/trial.json)"
            )
        self._write(line)

    def on_process_end(self, event):
        self._write(
            f"{_plural(event.trials, 'trial')} in this process; going on in a "
            "fresh one (--trials-per-process), continuing the search exactly"
        )

    def on_search_end(self, event):
        if event.best_trial_id is None:
            self._write("no trial completed; see the messages above for why")
            return
        self._write(
            f"best {event.objective} {event.best_score:.4f} "
            f"(trial {event.best_trial_id}), {event.done}/{event.max_trials} "
            "trials done"
        )
        self._write("best genotype:")
        # Unprefixed, to copy as it is.
        stream = self.stream if self.stream is not None else sys.stdout
        print(event.genotype, file=stream, flush=True)

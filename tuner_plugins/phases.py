"""Where a trial's wall time goes, recorded in the trial's metrics.

`TrialPhasesMixin` (mixed into `NASTuner`, and by the workflow into
keras-tuner's `RandomSearch` and `BayesianOptimization`) times each trial
and records, as metrics of the trial (so that they are saved in its
`trial.json`, survive a resume and reach `keras_nasnet.report`), one metric
`seconds_<phase>` per phase of `keras_nasnet._phases.PHASES`:

- `data`: data preparation this process paid before the trial (the
  workflow loads and splits the data once per process and charges the first
  trial of the process; `record_data_seconds`);
- `build`: from the trial's `run_trial` to the first training step: the
  hypermodel's `build` (with `compile`), and `fit`'s set-up (a recompile,
  the optimizer's variables, wrapping the arrays);
- `trace`: what the first training step costs beyond a later one (tracing
  the train function, and compiling it with XLA), plus the same for the
  first validation batch (tracing the test function);
- `train`: the training steps, but for `trace`;
- `validation`: the validation passes, but for their `trace`;
- `save`: the per-epoch callbacks after an epoch's validation (keras-tuner's
  weight checkpoint, if any) and the trial's files (`trial.json`,
  `oracle.json`, the tuner's state) at its end;
- `decision`: the oracle's `create_trial` (the strategy's proposal);
- `total`: the trial's wall time, from the oracle's decision to its files
  written, plus its `data`.

The phases but `total` add up to at most `total`; the rest (seeding, a
callback's bookkeeping) is small. The metrics are keras-tuner metrics with
direction `"min"`; they are never the objective. A trial that fails records
the phases it reached. On a distributed worker the trial's metrics live on
the chief, which this mixin does not reach: the phases are then only in
`trial_phases(trial_id)` of the worker.
"""

import time

import keras
import numpy as np

from keras_nasnet._phases import PHASES, metric_name
from tuner_plugins import _keras_tuner as kt


def _clock():
    return time.perf_counter()


class PhaseTimer(keras.callbacks.Callback):
    """Times one `fit`: its first step, the later steps, the validation
    passes, and what the callbacks after this one do at each epoch's end.

    `phases()` splits `on_train_begin` to `on_train_end` into `trace`,
    `train`, `validation` and `save` seconds. Put it before the callbacks
    whose epoch-end work counts as `save` (keras-tuner's checkpoint).
    """

    def __init__(self):
        super().__init__()
        self._train = []  # per epoch: [epoch begin, batch ends...]
        self._tests = []  # per validation pass: [start, batch ends..., end]
        self._epoch_end = None
        self._save = 0.0
        self.began = self.ended = None

    def __deepcopy__(self, memo):
        # keras-tuner deep-copies a trial's callbacks; the tuner reads this one.
        return self

    def on_train_begin(self, logs=None):
        self.began = _clock()

    def on_epoch_begin(self, epoch, logs=None):
        now = _clock()
        self._close_save(now)
        self._train.append([now])

    def on_train_batch_end(self, batch, logs=None):
        if self._train:
            self._train[-1].append(_clock())

    def on_test_begin(self, logs=None):
        # From the epoch's last step: the validation data's iterator too.
        start = self._train[-1][-1] if self._train else _clock()
        self._tests.append([start])

    def on_test_batch_end(self, batch, logs=None):
        if self._tests:
            self._tests[-1].append(_clock())

    def on_test_end(self, logs=None):
        if self._tests:
            self._tests[-1].append(_clock())

    def on_epoch_end(self, epoch, logs=None):
        self._epoch_end = _clock()

    def on_train_end(self, logs=None):
        self.ended = _clock()
        self._close_save(self.ended)

    def _close_save(self, now):
        if self._epoch_end is not None:
            self._save += now - self._epoch_end
            self._epoch_end = None

    def phases(self):
        """`{"trace", "train", "validation", "save"}` seconds so far."""
        steps = [np.diff(epoch) for epoch in self._train if len(epoch) > 1]
        train = float(sum(s.sum() for s in steps))
        trace = _first_extra(steps)
        tests = [np.diff(test[:-1]) for test in self._tests if len(test) > 2]
        validation = float(sum(test[-1] - test[0] for test in self._tests))
        validation_trace = _first_extra(tests)
        return {
            "trace": trace + validation_trace,
            "train": train - trace,
            "validation": validation - validation_trace,
            "save": self._save,
        }


def _first_extra(runs):
    """What the first interval of the first run costs beyond the median of
    the others (0 without others): the tracing in a first step."""
    if not runs or not len(runs[0]):
        return 0.0
    later = np.concatenate([runs[0][1:], *(r for r in runs[1:])])
    typical = float(np.median(later)) if len(later) else 0.0
    return max(0.0, float(runs[0][0]) - typical)


class TrialPhasesMixin:
    """Records each trial's seconds per phase in its metrics (see the module).

    Mix it into any `keras_tuner.Tuner` (before the tuner class). The
    phases of the last run of a trial are also in `trial_phases(trial_id)`.
    """

    def __init__(self, *args, **kwargs):
        self._data_seconds = 0.0
        self._decision_began = None
        self._timing = {}
        self._trial_phases = {}
        super().__init__(*args, **kwargs)

    def record_data_seconds(self, seconds):
        """Counts `seconds` of data preparation in the next trial to start
        (its `seconds_data`, and its total)."""
        self._data_seconds += float(seconds)

    def trial_phases(self, trial_id):
        """`{phase: seconds}` of the last run of `trial_id` in this process,
        or None."""
        phases = self._trial_phases.get(trial_id)
        return None if phases is None else dict(phases)

    def pre_create_trial(self):
        super().pre_create_trial()
        self._decision_began = _clock()

    def on_trial_begin(self, trial):
        now = _clock()
        began = self._decision_began if self._decision_began is not None else now
        self._decision_began = None
        self._timing[trial.trial_id] = {
            "began": began,
            "data": self._data_seconds,
            "decision": now - began,
            "build": 0.0,
            "save": 0.0,
            "timer": None,
        }
        self._data_seconds = 0.0
        super().on_trial_begin(trial)

    def run_trial(self, trial, *args, **kwargs):
        timing = self._timing.get(trial.trial_id)
        if timing is None:  # run_trial called outside `search`
            return super().run_trial(trial, *args, **kwargs)
        timer = timing["timer"] = PhaseTimer()
        kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), timer]
        began = _clock()
        try:
            return super().run_trial(trial, *args, **kwargs)
        finally:
            ended = _clock()
            fit_began = timer.began if timer.began is not None else ended
            timing["build"] += fit_began - began
            if timer.ended is not None:
                timing["save"] += ended - timer.ended

    def on_trial_end(self, trial):
        timing = self._timing.pop(trial.trial_id, None)
        if timing is None:
            return super().on_trial_end(trial)
        phases = self._phases(timing, _clock())
        tracked = self._tracked_trial(trial)
        _put_metrics(tracked, phases)
        ending = _clock()
        try:
            super().on_trial_end(trial)  # writes trial.json with the metrics
        finally:
            # Writing the trial's files is saving too: counted, and the
            # trial's file written again with the figures.
            spent = _clock() - ending
            phases["save"] += spent
            phases["total"] += spent
            self._trial_phases[trial.trial_id] = phases
            if tracked is not None:
                _put_metrics(tracked, phases)
                kt.save_trial(self.oracle, tracked)

    def _phases(self, timing, now):
        timer = timing["timer"]
        fit = timer.phases() if timer is not None else {}
        phases = {
            "data": timing["data"],
            "build": timing["build"],
            "trace": fit.get("trace", 0.0),
            "train": fit.get("train", 0.0),
            "validation": fit.get("validation", 0.0),
            "save": timing["save"] + fit.get("save", 0.0),
            "decision": timing["decision"],
            "total": timing["data"] + now - timing["began"],
        }
        return {phase: phases[phase] for phase in PHASES}

    def _tracked_trial(self, trial):
        """The oracle's own copy of `trial` (None on a distributed worker)."""
        if kt.tuner_is_worker(self):
            return None
        return self.oracle.trials.get(trial.trial_id)


def _put_metrics(trial, phases):
    """Sets each phase's metric of `trial` to its value (replacing a former
    run's, so that a retried trial records its last run)."""
    if trial is None:
        return
    for phase, seconds in phases.items():
        name = metric_name(phase)
        trial.metrics.metrics.pop(name, None)
        trial.metrics.register(name, direction="min")
        trial.metrics.update(name, round(float(seconds), 4))

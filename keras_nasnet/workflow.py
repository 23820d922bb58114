"""The search workflow: data -> hypermodel -> tuner -> search -> best genotypes -> report.

One function, `search`, runs what `keras-nasnet search` runs, from Python:

- the settings are one validated value, `SearchSettings`, whose JSON form is
  what a search directory's `search.json` holds (`to_json`/`from_json`; files
  written before this form existed still load);
- the data are loaded and split (`load_splits`), the `NASNetHyperModel` is
  built from the settings (`make_hypermodel`), and the strategy's tuner from
  the strategy name and its options (`make_tuner`, the one place that maps a
  strategy name to a tuner);
- the search runs with the objective of the settings (default
  `val_accuracy`, maximized), each trial's training seeded from
  `(seed, trial id)` (`trial_seed`), so a re-run of a trial starts from the
  same weights and the same seed proposes the same trials;
- progress goes to a `keras_nasnet.progress.SearchCallback` (`PrintProgress`
  prints the CLI's lines; write your own to log elsewhere), across a chain
  of processes too: with `trials_per_process=K`, the search runs in fresh
  processes of K trials each, each continuing it exactly, and their events
  reach your callback; with `workers=N`, N trials run at once, each in a
  worker process (keras-tuner's chief/worker mode on this machine), and
  their events reach it as one search's;
- it returns a `SearchResult`: the trials, the best genotypes, and
  `write_report(...)` for the HTML/Markdown report.

After the search, `final_training` (what `keras-nasnet final` runs) enlarges
the best cells, trains them and NASNet-A identically, tests them and writes
`final.json`, which the report shows.

`make_hypermodel` and `make_tuner` are the building blocks, for a search run
in your own loop (the benchmarks use them for distributed workers).

Importing this module imports neither Keras nor keras-tuner: they are
imported when a search starts (so the CLI's `--help` and a chain's parent
process stay light).

Example:

>>> from keras_nasnet import workflow
>>> settings = workflow.SearchSettings(strategy="evolution", max_trials=6,
...                                    cells_per_stack=1, filters=8)
>>> settings.strategy_options
{'population_size': 8, 'sample_size': 3}
>>> workflow.SearchSettings.from_json(settings.to_json()) == settings
True
>>> result = workflow.search(settings, "runs/s1")  # doctest: +SKIP
>>> print(result.best_genotypes(1)[0])  # doctest: +SKIP
>>> result.write_report("runs/s1/report.html")  # doctest: +SKIP
"""

import contextlib
import dataclasses
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from keras_nasnet import _atomic
from keras_nasnet._validation import check_int, fail, is_int, is_real
from keras_nasnet.progress import (
    ENDED,
    EVENT_TYPES,
    PrintProgress,
    ProcessEnd,
    SearchBegin,
    SearchCallback,
    SearchEnd,
    format_duration,
)
from keras_nasnet.space import ops as ops_lib

SEARCH_FILE = "search.json"
# Version of the JSON form of `SearchSettings`. Files without it (version 1)
# were written by the CLI before the form existed, with every strategy's
# options as flat keys. Version 2 lacks the cost-aware fields (budgets,
# `costs`, `target_*`, `measure_latency`): they take their defaults.
SETTINGS_VERSION = 3

# `SearchSettings.objective`s that trade accuracy against cost
# (`tuner_plugins.objectives`), besides a metric's name.
COST_OBJECTIVES = ("pareto", "mnas")
# The metrics every trial of a search records (`NASNetHyperModel` compiles
# accuracy and fits with a validation split), by their better direction.
METRIC_DIRECTIONS = {
    "val_accuracy": "max",
    "val_loss": "min",
    "accuracy": "max",
    "loss": "min",
}
# What `SearchSettings.objective` may be: a metric a trial records, or a
# cost-aware objective.
OBJECTIVES = (*METRIC_DIRECTIONS, *COST_OBJECTIVES)
# The `SearchSettings` fields of budgets and cost-aware objectives (version 3).
COST_AWARE_FIELDS = (
    "max_params",
    "max_macs",
    "max_latency_ms",
    "measure_latency",
    "costs",
    "target_params",
    "target_macs",
    "target_latency_ms",
)
# `SearchSettings` target field -> the cost metric `objective="mnas"` scales by.
MNAS_TARGETS = {
    "target_params": "params",
    "target_macs": "macs",
    "target_latency_ms": "latency_ms",
}

# keras-tuner's own tuners over the same space, beside the strategies
# registered in `tuner_plugins.strategy` (`make_tuner` maps a name to a
# tuner). Bayesian optimization's `num_initial_points` is sized from the budget
# when the tuner is made (keras-tuner's default, 3 per hyperparameter, is over
# 100 on this space).
KERAS_TUNER_STRATEGIES = ("random", "bayesian")


def _registry():
    # The registry alone: no keras-tuner, Keras or backend.
    from tuner_plugins import strategy

    return strategy


def small_search_options(strategy):
    """The options of `strategy` for a search of tens of trials (its class's
    `small_search_options`; none for keras-tuner's tuners)."""
    if strategy in KERAS_TUNER_STRATEGIES:
        return {}
    return dict(_registry().get_strategy_class(strategy).small_search_options)


# `--ops` names -> the op lists of keras_nasnet.space.ops.
OP_SETS = {"nasnet": ops_lib.NASNET_OPS, "amoebanet": ops_lib.AMOEBANET_OPS}

# Exit status of a chained search process that ran its trials and leaves the
# rest to a fresh process (EX_TEMPFAIL), and of one stopped by the user.
_MORE_TRIALS = 75
# The signal `search(workers=...)` sends its chief once every worker has
# exited (`_workflow_keras.listen_for_stop_serving`).
_STOP_SERVING = getattr(signal, "SIGUSR1", None)
_INTERRUPTED = 130
# `trials_per_process` of the CLI when TensorFlow traces the children: it
# keeps ~30-60 MiB per traced child that no `clear_session()` frees
# (benchmarks/results/trial_memory_tensorflow.json); JAX and eager children
# do not.
DEFAULT_TRIALS_PER_PROCESS = 20


def strategy_names():
    """The strategy names `SearchSettings.strategy` takes: the registered
    strategies (`tuner_plugins.strategy_names()`), then `random` and
    `bayesian` (keras-tuner's RandomSearch and BayesianOptimization)."""
    return tuple(_registry().strategy_names()) + KERAS_TUNER_STRATEGIES


class SearchError(ValueError):
    """A search cannot start or go on as asked (bad settings, data or directory).

    Attributes:
        setting: the `SearchSettings` field at fault, if one is.
        differences: on a resume, `(field, given, stored)` for each given
            setting that differs from the stored search's.
    """

    def __init__(self, message, setting=None, differences=()):
        super().__init__(message)
        self.setting = setting
        self.differences = list(differences)


class SearchStoppedError(RuntimeError):
    """The search stopped: too many trials failed in a row.

    Attributes:
        reasons: `(trial_id, reason)` of the failed trials, oldest first.
    """

    def __init__(self, message, reasons=()):
        super().__init__(message)
        self.reasons = [tuple(r) for r in reasons]


# ---------------------------------------------------------------- settings


def _check_real(name, value, low, high, low_open=True):
    ok = is_real(value) and math.isfinite(value) and value <= high
    ok = ok and (value > low if low_open else value >= low)
    if not ok:
        bracket = "(" if low_open else "["
        fail(name, f"a number in {bracket}{low}, {high}]", value)
    return float(value)


def _check_text(name, value):
    if not isinstance(value, str) or not value:
        fail(name, "a non-empty string", value)
    return value


def _check_choice(name, value, choices):
    if value not in choices:
        fail(name, f"one of {', '.join(map(repr, choices))}", value)
    return value


def _check_bool(name, value):
    if not isinstance(value, bool):
        fail(name, "True or False", value)
    return value


def _check_options(options):
    if not isinstance(options, dict) or not all(
        isinstance(k, str) and (v is None or isinstance(v, (bool, int, float, str)))
        for k, v in options.items()
    ):
        fail(
            "strategy_options",
            "a dict of option name -> number, string, bool or None",
            options,
        )
    return dict(options)


@dataclasses.dataclass(frozen=True)
class SearchSettings:
    """Everything that defines a search, validated; its JSON form is `search.json`.

    The defaults are a search sized for a laptop CPU (the CLI's): 20 trials of
    a proxy with N = 1, F = 8, B = 5, one epoch on 4,000 training images,
    scored on 1,000 images held out from the training data.

    Args:
        dataset: `fashion_mnist`, `mnist` (IDX files), a tensorflow-datasets
            name, or an image folder (see `keras_nasnet.data.load`).
        data_dir: the folder holding the data, or None for the usual places.
        strategy: one of `strategy_names()`: a registered strategy
            (`evolution`, `controller`, `local_search`, ...; see
            `tuner_plugins.strategy`), `random` or `bayesian` (keras-tuner's
            RandomSearch and BayesianOptimization).
        strategy_options: the strategy's options, its constructor's
            arguments (e.g. `population_size`, `sample_size` for evolution;
            `batch_size`, `learning_rate`, ... for the controller;
            `num_initial_points` for bayesian). Options not given take the
            strategy's `small_search_options`, then its own defaults.
        max_trials: trials in all, the random ones included.
        objective: the metric each trial is scored by, as keras-tuner names
            it: `val_accuracy`, `val_loss`, `accuracy` or `loss` (the
            metrics a trial records); or `"pareto"`:
            `val_accuracy` against `costs`, a Pareto front (strategies
            `evolution`, `random`, `bayesian`); or `"mnas"`: MnasNet's reward
            `val_accuracy * (cost / target) ** -0.07`, the target one of
            `target_params`, `target_macs`, `target_latency_ms` (see
            docs/constrained-search.md).
        direction: `"max"` or `"min"`: which way the objective is better
            (`"max"` for accuracies, `"pareto"` and `"mnas"`; `"min"` for
            losses).
        max_params: the most parameters a trained child may have, or None.
        max_macs: the most multiply-adds of one inference on one image, or
            None. Both are known before the build: a registered strategy
            proposes again, keras-tuner's tuners fail the trial unbuilt.
        max_latency_ms: the most batch-1 latency (median ms per image on
            this device), measured on the built child before training, or
            None.
        measure_latency: record every trial's batch-1 latency as the metric
            `latency_ms` (about 10 s a trial on a CPU); on whenever a
            latency budget, cost or target is set.
        costs: with `objective="pareto"`, the costs `val_accuracy` is
            traded against: names among `"params"`, `"macs"`,
            `"latency_ms"` (default `("macs",)`).
        target_params: with `objective="mnas"`, the target parameter count.
        target_macs: with `objective="mnas"`, the target multiply-adds.
        target_latency_ms: with `objective="mnas"`, the target latency.
        cells_per_stack: the proxy's N.
        filters: the proxy's F.
        num_blocks: blocks per cell, B.
        ops: the op set, `"nasnet"` (13 ops) or `"amoebanet"` (8).
        search_combine: whether each block also chooses add or concat (the
            NASNet paper's 2 x 5 x 5 = 50 decisions); False: every block
            adds (AmoebaNet's space, 40 decisions).
        epochs: epochs per trial.
        batch_size: batch size per trial.
        train_images: training images per trial, a random subset.
        validation_images: images held out from the training data to score
            trials (the test split is never seen by the search).
        learning_rate: peak learning rate of the trials' schedule (the
            `SEARCH_PROXY` recipe's warmup, then cosine decay).
        drop_path_keep_prob: final drop-path keep probability (1.0: off).
        seed: the search's seed: the data subset, the strategy's proposals
            and each trial's initial weights follow from it.
        max_consecutive_failed_trials: failed trials in a row that stop the
            search.
        input_shape: `(height, width, channels)` of the images; filled in
            from the data when the search starts.
        num_classes: number of classes; filled in from the data likewise.

    Raises:
        ValueError: naming the first invalid argument.
    """

    dataset: str = "fashion_mnist"
    data_dir: str | None = None
    strategy: str = "evolution"
    strategy_options: dict = dataclasses.field(default_factory=dict)
    max_trials: int = 20
    objective: str = "val_accuracy"
    direction: str = "max"
    max_params: int | None = None
    max_macs: int | None = None
    max_latency_ms: float | None = None
    measure_latency: bool = False
    costs: tuple | None = None
    target_params: int | None = None
    target_macs: int | None = None
    target_latency_ms: float | None = None
    cells_per_stack: int = 1
    filters: int = 8
    num_blocks: int = 5
    ops: str = "nasnet"
    search_combine: bool = True
    epochs: int = 1
    batch_size: int = 32
    train_images: int = 4000
    validation_images: int = 1000
    learning_rate: float = 0.1
    drop_path_keep_prob: float = 1.0
    seed: int = 0
    max_consecutive_failed_trials: int = 3
    input_shape: tuple | None = None
    num_classes: int | None = None

    def __post_init__(self):
        def put(name, value):
            object.__setattr__(self, name, value)

        _check_text("dataset", self.dataset)
        if isinstance(self.data_dir, os.PathLike):
            put("data_dir", os.fspath(self.data_dir))
        if self.data_dir is not None:
            _check_text("data_dir", self.data_dir)
        _check_choice("strategy", self.strategy, strategy_names())
        options = _check_options(self.strategy_options)
        put("strategy_options", {**small_search_options(self.strategy), **options})
        for name, minimum in (
            ("max_trials", 1),
            ("cells_per_stack", 1),
            ("filters", 2),
            ("num_blocks", 1),
            ("epochs", 1),
            ("batch_size", 1),
            ("train_images", 1),
            ("validation_images", 1),
            ("seed", 0),
            ("max_consecutive_failed_trials", 1),
        ):
            put(name, check_int(name, getattr(self, name), minimum))
        _check_choice("objective", self.objective, OBJECTIVES)
        _check_choice("direction", self.direction, ("max", "min"))
        better = METRIC_DIRECTIONS.get(self.objective)
        if better is not None and self.direction != better:
            fail(
                "direction",
                f"{better!r} with objective {self.objective!r}",
                self.direction,
            )
        _check_choice("ops", self.ops, tuple(OP_SETS))
        _check_bool("search_combine", self.search_combine)
        put(
            "learning_rate",
            _check_real("learning_rate", self.learning_rate, 0, math.inf),
        )
        put(
            "drop_path_keep_prob",
            _check_real("drop_path_keep_prob", self.drop_path_keep_prob, 0, 1),
        )
        if self.input_shape is not None:
            shape = self.input_shape
            if not (
                isinstance(shape, (list, tuple))
                and len(shape) == 3
                and all(is_int(d) and d >= 1 for d in shape)
            ):
                fail("input_shape", "3 positive integers or None", shape)
            put("input_shape", tuple(int(d) for d in shape))
        if self.num_classes is not None:
            put("num_classes", check_int("num_classes", self.num_classes, 2))
        _check_cost_aware(self, put)

    def replace(self, **changes):
        """A copy with `changes` applied (and validated)."""
        return dataclasses.replace(self, **changes)

    def to_json(self):
        """The JSON-safe dict that `search.json` holds."""
        out = {field.name: getattr(self, field.name) for field in _FIELDS}
        out["strategy_options"] = dict(self.strategy_options)
        if self.costs is not None:
            out["costs"] = list(self.costs)
        if self.input_shape is not None:
            out["input_shape"] = list(self.input_shape)
        out["version"] = SETTINGS_VERSION
        return out

    @classmethod
    def from_json(cls, config):
        """Settings from `to_json()`'s dict, or from an older `search.json`.

        Raises:
            ValueError: on unknown keys or invalid values.
        """
        if not isinstance(config, dict):
            fail("config", "a dict (the content of search.json)", config)
        config = dict(config)
        version = config.pop("version", 1)
        if version == 1:
            config = _from_version_1(config)
        elif version not in range(2, SETTINGS_VERSION + 1):
            fail("version", f"1 to {SETTINGS_VERSION}", version)
        unknown = sorted(set(config) - {f.name for f in _FIELDS})
        if unknown:
            fail("config", f"only the keys {[f.name for f in _FIELDS]}", unknown)
        return cls(**config)

    def differences(self, given):
        """`(field, given value, this value)` where `given` differs from these.

        Args:
            given: a `SearchSettings` (every field counts but the budget and
                the data's shape) or a dict of some fields (only those count;
                `strategy_options` compares the options it names).
        """
        if isinstance(given, SearchSettings):
            given = {
                f.name: getattr(given, f.name)
                for f in _FIELDS
                if f.name not in ("max_trials", "input_shape", "num_classes")
            }
        out = []
        for name, value in given.items():
            if name == "strategy_options":
                for option, v in value.items():
                    stored = self.strategy_options.get(option)
                    if v != stored:
                        out.append((f"strategy_options.{option}", v, stored))
            elif name not in ("max_trials",) and value != getattr(self, name):
                out.append((name, value, getattr(self, name)))
        return out


_FIELDS = dataclasses.fields(SearchSettings)


def _check_cost_aware(settings, put):
    """Validates (and normalizes) the budgets and the cost-aware objective."""
    from tuner_plugins.constraints import Constraints

    budgets = Constraints(
        max_params=settings.max_params,
        max_macs=settings.max_macs,
        max_latency_ms=settings.max_latency_ms,
    )
    for name, value in budgets.get_config().items():
        put(name, value)
    _check_bool("measure_latency", settings.measure_latency)
    targets = [name for name in MNAS_TARGETS if getattr(settings, name) is not None]
    for name in targets:
        value = _check_real(name, getattr(settings, name), 0, math.inf)
        put(
            name,
            int(value) if value.is_integer() and name != "target_latency_ms" else value,
        )
    objective = settings.objective
    if objective in COST_OBJECTIVES and settings.direction != "max":
        fail("direction", f"'max' with objective {objective!r}", settings.direction)
    if objective == "mnas" and len(targets) != 1:
        fail(
            "objective",
            "'mnas' with exactly one of target_params, target_macs, "
            f"target_latency_ms (given: {', '.join(targets) or 'none'})",
            objective,
        )
    if objective != "mnas" and targets:
        fail(targets[0], "None unless objective='mnas'", getattr(settings, targets[0]))
    costs = settings.costs
    if costs is not None and objective != "pareto":
        fail("costs", "None unless objective='pareto'", costs)
    if objective == "pareto":
        if costs is None:
            costs = ("macs",)
        if isinstance(costs, str) or not isinstance(costs, (list, tuple)):
            fail("costs", "a list of cost names (params, macs, latency_ms)", costs)
        put("costs", tuple(costs))
        cost_objective(settings)  # the names: known, distinct


def cost_objective(settings):
    """The `tuner_plugins.objectives` objective of a cost-aware search:
    `Pareto(["val_accuracy", *costs])` for `objective="pareto"`,
    `MnasReward(target, cost)` for `"mnas"`; None for a metric's name."""
    from tuner_plugins import objectives

    if settings.objective == "pareto":
        return objectives.make_objective("pareto", costs=list(settings.costs))
    if settings.objective == "mnas":
        name = next(n for n in MNAS_TARGETS if getattr(settings, n) is not None)
        return objectives.make_objective(
            "mnas", target=getattr(settings, name), cost=MNAS_TARGETS[name]
        )
    return None


def latency_measured(settings):
    """Whether the search measures each child's latency: asked for, or a
    latency budget, Pareto cost or Mnas target."""
    return (
        settings.measure_latency
        or settings.max_latency_ms is not None
        or settings.target_latency_ms is not None
        or "latency_ms" in (settings.costs or ())
    )


def _from_version_1(config):
    """The CLI's search.json before `SearchSettings`: every strategy's
    options as flat keys; the controller's added later (the paper's values
    when absent)."""
    config = dict(config)
    flat = {
        "population_size": ("evolution", "population_size", None),
        "sample_size": ("evolution", "sample_size", None),
        "controller_batch_size": ("controller", "batch_size", 20),
        "controller_learning_rate": ("controller", "learning_rate", 0.00035),
    }
    options = {}
    for key, (strategy, option, default) in flat.items():
        value = config.pop(key, default)
        if strategy == config.get("strategy") and value is not None:
            options[option] = value
    config["strategy_options"] = options
    return config


def read_settings(directory):
    """The `SearchSettings` of the search in `directory`.

    Raises:
        SearchError: if `directory` does not exist, holds no search, or its
            `search.json` is damaged.
    """
    directory = os.fspath(directory)
    path = os.path.join(directory, SEARCH_FILE)
    if not os.path.isdir(directory):
        raise SearchError(
            f"search directory {directory!r} does not exist; pass the directory "
            "of an earlier search"
        )
    if not os.path.isfile(path):
        raise SearchError(
            f"{directory!r} is not a keras-nasnet search directory (it has no "
            f"{SEARCH_FILE}); pass the directory of an earlier search"
        )
    try:
        with open(path) as f:
            config = json.load(f)
        return SearchSettings.from_json(config)
    except (OSError, ValueError, TypeError) as e:
        raise SearchError(
            f"{path} is unreadable or corrupt ({e}); restore it from a backup or "
            "start a new search in another directory"
        ) from None


def _write_settings(directory, settings):
    # Durable: it is what a resume needs first.
    _atomic.write_json(
        os.path.join(directory, SEARCH_FILE),
        settings.to_json(),
        durable=True,
        indent=2,
        sort_keys=True,
    )


def _settings_of(given):
    """`given` as `SearchSettings`: itself, or a dict of fields over the defaults."""
    if isinstance(given, SearchSettings):
        return given
    if not isinstance(given, dict):
        fail("settings", "a SearchSettings, a dict of its fields, or None", given)
    unknown = sorted(set(given) - {f.name for f in _FIELDS})
    if unknown:
        fail("settings", f"only the fields {[f.name for f in _FIELDS]}", unknown)
    return SearchSettings(**given)


def _stored_json(directory):
    try:
        with open(os.path.join(directory, SEARCH_FILE)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _resolve(settings, directory, resume):
    """The settings a search in `directory` runs with, and whether it resumes.

    Refuses what would silently drop a request: a resume without a search to
    resume, a new search over an existing one or over foreign files, and
    given settings that differ from a resumed search's stored ones.
    """
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise SearchError(f"directory {directory!r} exists and is not a directory")
    exists = os.path.isfile(os.path.join(directory, SEARCH_FILE))
    if exists and not resume:
        raise SearchError(
            f"{directory!r} already holds a search; pass --resume (resume=True) "
            "to continue it, or choose another directory"
        )
    if not exists and resume:
        why = (
            "the directory does not exist"
            if not os.path.exists(directory)
            else f"it holds no {SEARCH_FILE}"
        )
        raise SearchError(
            f"there is no search to resume in {directory!r} ({why}); leave out "
            "--resume (resume=False) to start a new search there"
        )
    if not exists:
        if os.path.isdir(directory) and os.listdir(directory):
            raise SearchError(
                f"directory {directory!r} is not empty and holds no keras-nasnet "
                "search; choose a new or empty directory"
            )
        if settings is None:
            return SearchSettings(), False
        return _settings_of(settings), False
    stored = read_settings(directory)
    if settings is None:
        return stored, True
    if not isinstance(settings, SearchSettings):
        _settings_of(settings)  # validates the given fields
    differences = stored.differences(settings)
    if differences:
        listed = ", ".join(f"{n}={g!r} (stored: {s!r})" for n, g, s in differences)
        raise SearchError(
            f"a resumed search keeps its stored settings; these given ones differ "
            f"from them: {listed}. Leave them out, or start a new search in "
            "another directory",
            differences=differences,
        )
    budget = (
        settings.max_trials
        if isinstance(settings, SearchSettings)
        else settings.get("max_trials", stored.max_trials)
    )
    return stored.replace(max_trials=budget), True


def _progress_callback(progress):
    if progress is True:
        return PrintProgress()
    if progress is None or progress is False:
        return SearchCallback()
    if isinstance(progress, SearchCallback):
        return progress
    if hasattr(progress, "write"):
        return PrintProgress(progress)
    fail("progress", "True, False/None, a text stream or a SearchCallback", progress)


# ---------------------------------------------------------------- building blocks


def trial_seed(seed, trial_id):
    """The seed of a trial's training: a hash of `(seed, trial_id)` in [0, 2**32).

    Example:

    >>> trial_seed(0, "01") == trial_seed(0, "01") != trial_seed(0, "02")
    True
    """
    import zlib

    import numpy as np

    text = str(trial_id)
    key = int(text) if text.isdigit() else zlib.crc32(text.encode())
    return int(np.random.SeedSequence([int(seed), key]).generate_state(1)[0])


def load_splits(
    dataset, data_dir=None, *, validation_images, train_images=None, seed=0
):
    """`keras_nasnet.data.load` with its errors as `SearchError`s.

    Raises:
        SearchError: a missing data folder, an unknown dataset, damaged files.
    """
    if data_dir is not None and not os.path.isdir(data_dir):
        problem = "is not a directory" if os.path.exists(data_dir) else "does not exist"
        raise SearchError(
            f"data_dir {data_dir!r} {problem}; pass the folder holding the IDX "
            "files or tensorflow-datasets' data (create it first for a download)",
            setting="data_dir",
        )
    from keras_nasnet import data

    try:
        return data.load(
            dataset,
            data_dir=data_dir,
            validation_size=validation_images,
            subset=train_images,
            seed=seed,
        )
    except Exception as e:
        if type(e).__name__ == "DatasetNotFoundError":  # tensorflow-datasets'
            raise SearchError(
                f"unknown dataset {dataset!r}: it is not an image folder, not "
                "fashion_mnist/mnist, and tensorflow-datasets has no dataset of "
                "that name (e.g. cifar10, cifar100, svhn_cropped)",
                setting="dataset",
            ) from None
        if isinstance(e, (ValueError, OSError)):
            raise SearchError(str(e)) from None
        raise


def make_hypermodel(settings, *, jit_compile=False, run_eagerly=False):
    """The `tuner_plugins.NASNetHyperModel` that `settings` describe.

    `settings.input_shape` and `num_classes` must be set (`search` fills
    them in from the data).
    """
    from keras_nasnet import _workflow_keras

    return _workflow_keras.make_hypermodel(
        settings, jit_compile=jit_compile, run_eagerly=run_eagerly
    )


def make_tuner(
    settings,
    hypermodel,
    directory,
    *,
    callback=None,
    trials_per_process=0,
    overwrite=False,
    weight_checkpoints=False,
    **tuner_kwargs,
):
    """The tuner of `settings.strategy` over `hypermodel`, in `directory`.

    The one place that maps a strategy name to a tuner: `evolution` and
    `controller` are `tuner_plugins`' `AgingEvolution` and `RNNController`,
    `random` and `bayesian` keras-tuner's `RandomSearch` and
    `BayesianOptimization` (with `tuner_plugins.TrialFailureMixin`), each
    with `settings.strategy_options`, the objective, the budget and the seed.
    Every trial's training is seeded with `trial_seed(settings.seed, trial
    id)`, and `callback` (a `SearchCallback`) receives its epochs and its end.

    keras-tuner's own oracles replace a seed of 0 by a random one (`seed or
    random.randint(1, 10000)`): `random` and `bayesian` get `seed + 1`, so
    that every seed, 0 included, is a seed.

    Args:
        settings: a `SearchSettings`.
        hypermodel: a keras-tuner HyperModel (e.g. `make_hypermodel(...)`).
        directory: the search directory (keras-tuner's `directory` and
            `project_name` are its parent and its name).
        callback: a `SearchCallback`, or None.
        trials_per_process: if > 0, `search()` on the tuner stops (raising
            an internal exception) after that many trials; `search` (the
            function) hands the rest to a fresh process.
        overwrite: keras-tuner's `overwrite`; False reloads a search there.
        weight_checkpoints: write keras-tuner's per-epoch
            `trial_<id>/checkpoint.weights.h5` (for `tuner.get_best_models()`
            and `tuner.load_model(trial)`). Off by default: a resume reruns
            an unfinished trial from scratch, and the search keeps genotypes
            (`keras-nasnet train --from-search` trains them afresh).
        **tuner_kwargs: more `keras_tuner.Tuner` arguments
            (`executions_per_trial`, ...).

    Raises:
        ValueError: an unknown option of the strategy, or an invalid one.
    """
    from keras_nasnet import _workflow_keras

    return _workflow_keras.make_tuner(
        settings,
        hypermodel,
        directory,
        callback=callback or SearchCallback(),
        trials_per_process=trials_per_process,
        overwrite=overwrite,
        weight_checkpoints=weight_checkpoints,
        **tuner_kwargs,
    )


def default_trials_per_process(run_eagerly=False):
    """`DEFAULT_TRIALS_PER_PROCESS` when TensorFlow traces the children, else 0."""
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    return 0 if run_eagerly or backend != "tensorflow" else DEFAULT_TRIALS_PER_PROCESS


# ---------------------------------------------------------------- the result


@dataclasses.dataclass(frozen=True)
class SearchResult:
    """What a search directory holds, read back.

    Attributes:
        directory: the search directory.
        settings: its `SearchSettings`.
        trials: its trials (`keras_nasnet.report.TrialRecord`s: id, status,
            score, hyperparameter values, genotype), in trial-id order.
    """

    directory: str
    settings: SearchSettings
    trials: tuple

    @classmethod
    def from_directory(cls, directory):
        """Reads the search in `directory`.

        Raises:
            SearchError: if it holds no readable search.
        """
        from keras_nasnet import report

        settings = read_settings(directory)
        try:
            loaded = report.load_search(directory, direction=settings.direction)
        except ValueError as e:
            raise SearchError(str(e)) from None
        return cls(os.fspath(directory), settings, tuple(loaded.records))

    @property
    def done(self):
        """How many trials ended (completed, failed or invalid)."""
        return sum(t.status in ENDED for t in self.trials)

    def best_trials(self, k=None):
        """The `k` best scored trials with a genotype, best first.

        With `objective="pareto"` these are the Pareto front's trials (no
        other trial is as accurate and as cheap on every cost, and better on
        one; `keras_nasnet.report.pareto_records`), most accurate first.

        Args:
            k: how many (fewer if fewer scored); None: 1, or the whole front
                with `objective="pareto"`.
        """
        from keras_nasnet import report

        if self.settings.objective == "pareto":
            search = report.load_search(self.directory, direction="max")
            ranked = report.pareto_records(search, list(self.settings.costs))
        else:
            ranked = report.top_trials(
                self.trials, k=len(self.trials), direction=self.settings.direction
            )
            k = 1 if k is None else k
        return [t for t in ranked if t.genotype is not None][:k]

    def best_genotypes(self, k=None):
        """The genotypes of `best_trials(k)` (the Pareto front with
        `objective="pareto"`)."""
        return [t.genotype for t in self.best_trials(k)]

    def write_report(self, path, top_k=5, param_counts=None, **kwargs):
        """Writes the search report (`keras_nasnet.report.write_report`).

        Returns:
            What `write_report` returns (the files written, by kind).
        """
        from keras_nasnet import report

        return report.write_report(
            [self.directory], path, top_k=top_k, param_counts=param_counts, **kwargs
        )


# ---------------------------------------------------------------- search


def search(
    settings=None,
    directory="runs/search",
    *,
    resume=False,
    progress=True,
    trials_per_process=0,
    jit_compile=False,
    run_eagerly=False,
    splits=None,
    fit_callbacks=None,
    workers=1,
):
    """Runs a search: data -> hypermodel -> tuner -> search -> best genotypes.

    Each trial records its seconds per phase in its metrics
    (`tuner_plugins.phases`); the data are loaded once per process. On
    TensorFlow without a GPU, the search turns TensorFlow's graph optimizer
    off for its process (`keras_nasnet.training.configure_tensorflow(
    graph_optimization=False)`): it costs a trial's trace more than it saves.
    keras-tuner's per-epoch weight checkpoints are not written (see
    `make_tuner`).

    Args:
        settings: a `SearchSettings`; or a dict of some of its fields (the
            others take their defaults, or on a resume the stored values);
            None: the defaults, or on a resume the stored settings.
        directory: where the search lives: `search.json` (the settings),
            keras-tuner's `oracle.json` and a `trial_<id>/` per trial.
        resume: continue the search in `directory`. On a resume the stored
            settings win: given settings that differ from them (but the
            budget, `max_trials`, which may grow) are refused.
        progress: True prints lines to stdout (`PrintProgress`); a text
            stream prints there; a `SearchCallback` receives the events;
            False or None is silent.
        trials_per_process: if > 0 and the budget is larger, the search runs
            in a chain of fresh processes of this many trials each, each
            continuing it exactly, so that memory a backend keeps per trial
            goes back to the system (`default_trials_per_process()`).
        jit_compile: compile each child with XLA.
        run_eagerly: train each child eagerly.
        splits: optional `keras_nasnet.data.Splits` to search on instead of
            loading `settings.dataset` (not with a chain of processes).
        fit_callbacks: optional extra Keras callbacks for every trial's `fit`
            (not with a chain of processes).
        workers: how many trials run at once, each in a worker process of its
            own (keras-tuner's chief/worker mode on this machine: a chief
            process serves the oracle, each worker is a chain of processes of
            `trials_per_process` trials). Each worker gets an equal share of
            the cores as TensorFlow's threads, and on a GPU a share of its
            memory (JAX: `XLA_PYTHON_CLIENT_MEM_FRACTION` = 1 / (workers +
            0.5); TensorFlow: memory growth); environment variables you set
            win. On a 2-core CPU, 2 workers
            run about 1.6x the trials an hour of one process: a trial's build
            and trace keep one core busy in Python (`benchmarks/README.md`,
            workers). Not with `splits` or `fit_callbacks`.

    Returns:
        A `SearchResult`.

    Raises:
        SearchError: invalid settings or data, a directory holding something
            else, a resume without a search or with differing settings. It is
            raised before anything is written.
        SearchStoppedError: too many trials failed in a row; their reasons.
        KeyboardInterrupt: interrupted; finished trials are kept, `resume`
            continues.
    """
    callback = _progress_callback(progress)
    directory = os.fspath(directory)
    trials_per_process = check_int("trials_per_process", trials_per_process, 0)
    workers = check_int("workers", workers, 1)
    if workers > 1 and (splits is not None or fit_callbacks):
        fail(
            "workers",
            "1 when `splits` or `fit_callbacks` are given (they cannot cross "
            "to a worker process)",
            workers,
        )
    try:
        resolved, resumed = _resolve(settings, directory, resume)
    except SearchError:
        raise
    except ValueError as e:  # an invalid field of a settings dict
        raise SearchError(str(e)) from None
    if workers > 1:
        _run_workers(
            resolved, directory, resumed, callback, workers, trials_per_process,
            jit_compile, run_eagerly,
        )  # fmt: skip
    elif trials_per_process and resolved.max_trials > trials_per_process:
        if splits is not None or fit_callbacks:
            fail(
                "trials_per_process",
                "0 when `splits` or `fit_callbacks` are given (they cannot "
                "cross to a fresh process)",
                trials_per_process,
            )
        _run_chain(
            resolved, directory, resumed, callback, trials_per_process,
            jit_compile, run_eagerly,
        )  # fmt: skip
    else:
        _run_here(
            resolved, directory, resumed, callback, 0, jit_compile, run_eagerly,
            splits, fit_callbacks,
        )  # fmt: skip
    return SearchResult.from_directory(directory)


def _run_here(
    settings,
    directory,
    resumed,
    callback,
    trials_per_process,
    jit_compile,
    run_eagerly,
    splits=None,
    fit_callbacks=None,
):
    """Runs the search (or this process's share of it) in this process.

    Returns True when the budget is spent, False when `trials_per_process`
    trials ran and a fresh process should go on.
    """
    import_backend_quietly()
    from keras_nasnet import _workflow_keras

    _workflow_keras.configure_backend()
    role = _workflow_keras.distributed_role()
    if role == "chief":
        _workflow_keras.listen_for_stop_serving()
    try:
        _workflow_keras.check_strategy_options(settings)
    except ValueError as e:
        raise SearchError(str(e)) from None
    data_began = time.perf_counter()
    if splits is None:
        splits = load_splits(
            settings.dataset,
            settings.data_dir,
            validation_images=settings.validation_images,
            train_images=settings.train_images,
            seed=settings.seed,
        )
    data_seconds = time.perf_counter() - data_began
    settings = settings.replace(
        input_shape=tuple(splits.input_shape), num_classes=splits.num_classes
    )
    try:
        hypermodel = make_hypermodel(
            settings, jit_compile=jit_compile, run_eagerly=run_eagerly
        )
        # Reloading first: a resume that fails (a damaged state file) must
        # leave every file as it was, search.json included.
        tuner = make_tuner(
            settings,
            hypermodel,
            directory,
            callback=callback,
            trials_per_process=trials_per_process,
        )
    except SearchError:
        raise
    except ValueError as e:
        raise SearchError(str(e)) from None
    # The first trial of this process pays for its data (its `seconds_data`).
    tuner.record_data_seconds(data_seconds)
    if _stored_json(directory) != settings.to_json():
        # New, a grown budget, or a search.json of an older form.
        _write_settings(directory, settings)
    x, y = splits.train
    callback.on_search_begin(
        SearchBegin(
            directory=directory,
            strategy=settings.strategy,
            dataset=splits.name,
            train_images=len(x),
            validation_images=len(splits.validation[0]),
            max_trials=settings.max_trials,
            done=_workflow_keras.ended_trials(tuner),
            epochs=settings.epochs,
            steps_per_epoch=math.ceil(len(x) / settings.batch_size),
            batch_size=settings.batch_size,
            cells_per_stack=settings.cells_per_stack,
            filters=settings.filters,
            num_blocks=settings.num_blocks,
            objective=settings.objective,
            resumed=resumed,
        )
    )
    finished = _workflow_keras.run_search(
        tuner,
        x,
        y,
        validation_data=splits.validation,
        epochs=settings.epochs,
        batch_size=settings.batch_size,
        callbacks=list(fit_callbacks or []),
    )
    if not finished:
        callback.on_process_end(
            ProcessEnd(
                trials=trials_per_process,
                done=_workflow_keras.ended_trials(tuner),
                max_trials=settings.max_trials,
            )
        )
        return False
    if role == "worker":
        # The chief reports the end: this worker's oracle is a client of it,
        # which may already have stopped serving.
        return True
    best = _workflow_keras.best_trial(tuner)
    genotype = None
    if best is not None:
        from keras_nasnet.space import decisions

        try:
            genotype = str(decisions.decode(best.hyperparameters.values))
        except ValueError:  # a space that spells no cell
            genotype = None
    callback.on_search_end(
        SearchEnd(
            directory=directory,
            objective=settings.objective,
            best_trial_id=None if best is None else best.trial_id,
            best_score=None if best is None else float(best.score),
            genotype=genotype,
            done=_workflow_keras.ended_trials(tuner),
            max_trials=settings.max_trials,
        )
    )
    return True


# ---------------------------------------------------------------- the chain


class _PipeCallback(SearchCallback):
    """Sends each event as a JSON line to the parent of a chained process."""

    def __init__(self, stream):
        self.stream = stream

    def dispatch(self, event):
        self.send({"event": type(event).__name__, **dataclasses.asdict(event)})

    def send(self, message):
        self.stream.write(json.dumps(message) + "\n")
        self.stream.flush()

    def on_search_begin(self, event):
        self.dispatch(event)

    on_epoch_end = on_trial_end = on_process_end = on_search_end = on_search_begin


def _child_environment():
    # The child imports this very package, wherever it was imported from.
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (root, os.environ.get("PYTHONPATH")) if p
    )
    return env


def _run_chain(
    settings,
    directory,
    resumed,
    callback,
    trials_per_process,
    jit_compile,
    run_eagerly,
    env=None,
    on_start=None,
    more_trials=None,
):
    """Runs the search as a chain of processes of `trials_per_process`
    trials each; forwards their events to `callback`; raises their errors.
    `env`: the processes' environment variables, besides this process's;
    `on_start(process)` is called with each process started; `more_trials()`
    (if given) says whether a process that ran its trials has a successor."""
    spec = {
        "settings": settings.to_json(),
        "directory": directory,
        "resumed": resumed,
        "trials_per_process": trials_per_process,
        "jit_compile": jit_compile,
        "run_eagerly": run_eagerly,
    }
    while True:
        read_fd, write_fd = os.pipe()
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "keras_nasnet.workflow", str(write_fd)],
                stdin=subprocess.PIPE,
                pass_fds=(write_fd,),
                env={**_child_environment(), **(env or {})},
            )
        finally:
            os.close(write_fd)
        if on_start is not None:
            on_start(process)
        error = None
        try:
            process.stdin.write(json.dumps(spec).encode())
            process.stdin.close()
            with os.fdopen(read_fd) as events:
                for line in events:
                    message = json.loads(line)
                    kind = message.pop("event")
                    if kind == "error":
                        error = message
                    else:
                        callback.dispatch(EVENT_TYPES[kind](**message))
            code = process.wait()
        except BaseException:
            # Ctrl-C reaches the child too: let it save and exit, then go.
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=60)
            if process.poll() is None:
                process.kill()
                process.wait()
            raise
        if code == _MORE_TRIALS:
            if more_trials is not None and not more_trials():
                return
            spec["resumed"] = True
            continue
        if code == 0:
            return
        if code == _INTERRUPTED:
            raise KeyboardInterrupt
        if error is not None and error["kind"] == "SearchError":
            raise SearchError(
                error["message"], error.get("setting"), error.get("differences", [])
            )
        if error is not None and error["kind"] == "SearchStoppedError":
            raise SearchStoppedError(error["message"], error["reasons"])
        raise RuntimeError(
            f"the search process exited with status {code}; its error is above. "
            "Finished trials are kept: fix the cause and resume"
        )


class _WorkersRelay:
    """Passes on the events of a chief and its workers as those of one
    search: the chief's begin (with the count of workers) and end, the
    workers' epochs and trial ends (counted, since a worker cannot count the
    search's ended trials); one event at a time. Keeps each trial's phases
    for `_record_phases`."""

    def __init__(self, callback, workers):
        self.callback = callback
        self.workers = workers
        self.begun = threading.Event()
        self._lock = threading.Lock()
        self.done = 0
        self.phases = {}  # trial id -> the phases its worker timed

    def chief(self):
        relay = self

        class Chief(SearchCallback):
            def on_search_begin(self, event):
                with relay._lock:
                    relay.done = event.done
                    relay.callback.dispatch(
                        dataclasses.replace(event, workers=relay.workers)
                    )
                relay.begun.set()

            def on_search_end(self, event):
                with relay._lock:
                    relay.callback.dispatch(event)

        return Chief()

    def worker(self):
        relay = self

        class Worker(SearchCallback):
            def on_epoch_end(self, event):
                with relay._lock:
                    relay.callback.dispatch(event)

            def on_trial_end(self, event):
                with relay._lock:
                    if event.phases:
                        relay.phases[event.trial_id] = event.phases
                    relay.done = min(relay.done + 1, event.max_trials)
                    relay.callback.dispatch(dataclasses.replace(event, done=relay.done))

        return Worker()


def _free_port():
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_workers(
    settings, directory, resumed, callback, workers, trials_per_process, jit_compile,
    run_eagerly,
):  # fmt: skip
    """Runs the search in keras-tuner's chief/worker mode on this machine: a
    chief process serving the oracle on a free local port, then `workers`
    chains of worker processes; forwards their events to `callback` as one
    search's (`_WorkersRelay`), and writes the phases each worker timed
    into its trials' files (`_record_phases`); raises the first error (after
    every process has ended: the others finish their trials, the search
    resumes from there)."""
    relay = _WorkersRelay(callback, workers)
    common = {
        "KERASTUNER_ORACLE_IP": "127.0.0.1",
        "KERASTUNER_ORACLE_PORT": str(_free_port()),
    }
    threads = str(max(1, (os.cpu_count() or 1) // workers))
    processes = {}  # chain name -> its process now
    errors = {}
    stopping = threading.Event()  # no chain starts another process

    def chain(name, sink, per_process, env):
        def started(process):
            processes[name] = process

        try:
            _run_chain(
                settings, directory, resumed, sink, per_process, jit_compile,
                run_eagerly, env={**common, **env}, on_start=started,
                # A worker cannot tell whether trials are left: the trials
                # ended so far can.
                more_trials=lambda: (
                    not stopping.is_set() and relay.done < settings.max_trials
                ),
            )  # fmt: skip
        except BaseException as e:  # noqa: BLE001 - raised by the caller
            errors[name] = e

    def start(name, *args):
        thread = threading.Thread(target=chain, args=(name, *args), daemon=True)
        thread.start()
        return thread

    # The chief trains nothing: one thread, and never a GPU.
    chief = start(
        "chief",
        relay.chief(),
        0,
        {
            "KERASTUNER_TUNER_ID": "chief",
            "TF_NUM_INTRAOP_THREADS": "1",
            "TF_NUM_INTEROP_THREADS": "1",
            "CUDA_VISIBLE_DEVICES": "",
            "JAX_PLATFORMS": "cpu",
        },
    )
    chains = {}

    def serve_and_work():
        # Waits for the chief's begin, starts the workers, waits for them,
        # stops the chief; on any error stops them all.
        try:
            # Workers wait for the chief's server; one that fails first would
            # leave them waiting for ever.
            while not relay.begun.wait(0.1):
                if not chief.is_alive():
                    raise errors.pop("chief", None) or RuntimeError(
                        "the search's chief process ended before the search began"
                    )
            # The workers share this machine's cores and GPU: threads split
            # among them, and no worker takes a GPU's memory up front (JAX's
            # default is 75% of it, TensorFlow's all). What the user set wins.
            shared = {
                "TF_NUM_INTRAOP_THREADS": threads,
                "TF_NUM_INTEROP_THREADS": threads,
                "TF_FORCE_GPU_ALLOW_GROWTH": "true",
                "XLA_PYTHON_CLIENT_PREALLOCATE": "false",
                "XLA_PYTHON_CLIENT_MEM_FRACTION": f"{1 / (workers + 0.5):.3f}",
            }
            shared = {k: v for k, v in shared.items() if k not in os.environ}
            for i in range(workers):
                env = {"KERASTUNER_TUNER_ID": f"tuner{i}", **shared}
                chains[f"tuner{i}"] = start(
                    f"tuner{i}", relay.worker(), trials_per_process, env
                )
            while any(t.is_alive() for t in chains.values()):
                for t in chains.values():
                    t.join(0.1)
                if chief.is_alive():
                    continue
                if "chief" in errors:
                    raise errors.pop("chief")
                # The chief ended the search (every trial ended, every worker that
                # asked was told to stop): a worker still there has not asked
                # yet, and nothing to do.
                stopping.set()
                for name, t in chains.items():
                    while t.is_alive():  # (its chain may be starting a process)
                        processes[name].kill()
                        t.join(0.5)
                    errors.pop(name, None)
            # Every worker has exited, so every trial has ended (a worker's last
            # end_trial returns once the chief saved it); keras-tuner's chief
            # would notice only within 20 s.
            if chief.is_alive() and _STOP_SERVING is not None:
                with contextlib.suppress(ProcessLookupError):
                    processes["chief"].send_signal(_STOP_SERVING)
            chief.join()
        except BaseException:
            # Ctrl-C or the chief failed: stop the rest, each saving what it has.
            # A Ctrl-C in a terminal reached every process: a moment to exit on
            # it first, then the signal for those it did not reach.
            stopping.set()
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and any(
                p.poll() is None for p in list(processes.values())
            ):
                time.sleep(0.1)
            for process in list(processes.values()):
                if process.poll() is None:
                    with contextlib.suppress(ProcessLookupError):
                        process.send_signal(signal.SIGINT)
            for t in [chief, *chains.values()]:
                t.join(60)
            for process in list(processes.values()):
                if process.poll() is None:
                    process.kill()
            raise
        for name in ("chief", *chains):
            if name in errors:
                raise errors[name]

    try:
        serve_and_work()
    finally:
        _record_phases(directory, relay.phases)


def _record_phases(directory, phases):
    """Writes the phases the workers timed (`TrialEnd.phases`) into their
    trials' `trial.json`, as `tuner_plugins.phases` does in one process (a
    worker cannot: its trials' metrics live on the chief). Called once every
    process has ended, so nothing else writes these files."""
    from keras_nasnet._phases import metric_name

    for trial_id, by_phase in phases.items():
        path = os.path.join(directory, f"trial_{trial_id}", "trial.json")
        try:
            with open(path) as f:
                state = json.load(f)
        except (OSError, ValueError):
            continue
        metrics = state.setdefault("metrics", {}).setdefault("metrics", {})
        for phase, seconds in by_phase.items():
            metrics[metric_name(phase)] = {
                "direction": "min",
                "observations": [{"value": [round(float(seconds), 4)], "step": 0}],
            }
        _atomic.write_json(path, state)


def _child_main(argv):
    """One process of a chain: `python -m keras_nasnet.workflow FD`, the spec
    as JSON on stdin; events and errors as JSON lines to file descriptor FD."""
    spec = json.loads(sys.stdin.read())
    with os.fdopen(int(argv[0]), "w") as pipe:
        sink = _PipeCallback(pipe)
        try:
            finished = _run_here(
                SearchSettings.from_json(spec["settings"]),
                spec["directory"],
                spec["resumed"],
                sink,
                spec["trials_per_process"],
                spec["jit_compile"],
                spec["run_eagerly"],
            )
        except SearchError as e:
            sink.send(
                {
                    "event": "error",
                    "kind": "SearchError",
                    "message": str(e),
                    "setting": e.setting,
                    "differences": e.differences,
                }
            )
            return 2
        except SearchStoppedError as e:
            sink.send(
                {
                    "event": "error",
                    "kind": "SearchStoppedError",
                    "message": str(e),
                    "reasons": e.reasons,
                }
            )
            return 1
        except KeyboardInterrupt:
            return _INTERRUPTED
    return 0 if finished else _MORE_TRIALS


# ---------------------------------------------------------------- final training

# The published cells `FinalSettings.reference` may name -> their label in
# final.json.
REFERENCE_CELLS = {
    "nasnet_a": "NASNet-A",
    "amoebanet_a": "AmoebaNet-A",
    "amoebanet_c": "AmoebaNet-C",
}


@dataclasses.dataclass(frozen=True)
class FinalSettings:
    """The final training of a search's best cells: enlarge, train, test.

    The papers' last step (Zoph et al. 2018, section 4; Real et al. 2019,
    section 4): the best cells of the search are stacked into a larger
    network, trained from scratch, and evaluated on the test split, which
    the search never saw; a published cell trained identically is the
    reference point. Here the recipe is the search's own, `SEARCH_PROXY`
    (SGD-Nesterov, warmup, cosine), at the size and length given, on the
    search's training split minus its validation images (the same held-out
    images the trials were scored on): a short final run, not the papers'
    600 epochs (`keras-nasnet train --recipe nasnet_cifar` runs those).

    Args:
        cells_per_stack: N of the enlarged network.
        filters: F of the enlarged network.
        epochs: training epochs.
        batch_size: images per step.
        train_images: training images, a random subset of the training split
            without the search's validation images; None: all of them.
        learning_rate: peak learning rate of the warmup-then-cosine schedule.
        top_k: how many of the search's best trials to train.
        reference: the published cell trained identically beside them
            (`nasnet_a`, `amoebanet_a`, `amoebanet_c`), or None for none.

    Raises:
        ValueError: naming the first invalid argument.

    Example:

    >>> FinalSettings(filters=0)
    Traceback (most recent call last):
    ...
    ValueError: Invalid value received for argument `filters`. Expected an integer >= 2. Received: filters=0
    """

    cells_per_stack: int = 2
    filters: int = 16
    epochs: int = 1
    batch_size: int = 32
    train_images: int | None = None
    learning_rate: float = 0.1
    top_k: int = 1
    reference: str | None = "nasnet_a"

    def __post_init__(self):
        def put(name, value):
            object.__setattr__(self, name, value)

        for name, minimum in (
            ("cells_per_stack", 1),
            ("filters", 2),
            ("epochs", 1),
            ("batch_size", 1),
            ("top_k", 1),
        ):
            put(name, check_int(name, getattr(self, name), minimum))
        if self.train_images is not None:
            put("train_images", check_int("train_images", self.train_images, 1))
        put(
            "learning_rate",
            _check_real("learning_rate", self.learning_rate, 0, math.inf),
        )
        if self.reference is not None:
            _check_choice("reference", self.reference, tuple(REFERENCE_CELLS))

    def to_json(self):
        """These settings as a JSON-safe dict (what final.json's recipe holds)."""
        return dataclasses.asdict(self)


def _final_settings_of(given):
    if given is None:
        return FinalSettings()
    if isinstance(given, FinalSettings):
        return given
    names = [f.name for f in dataclasses.fields(FinalSettings)]
    if not isinstance(given, dict):
        fail("settings", "a FinalSettings, a dict of its fields, or None", given)
    unknown = sorted(set(given) - set(names))
    if unknown:
        fail("settings", f"only the fields {names}", unknown)
    return FinalSettings(**given)


def read_final(directory):
    """The content of the `final.json` in the search `directory`, or None.

    Raises:
        SearchError: if it is unreadable or not in the report's form.
    """
    from keras_nasnet import report

    path = os.path.join(os.fspath(directory), report.FINAL_FILE)
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            final = json.load(f)
    except (OSError, ValueError) as e:
        final, error = None, e
    else:
        error = "not a dict with a `recipe` dict and a `results` list"
    if not (
        isinstance(final, dict)
        and isinstance(final.get("recipe"), dict)
        and isinstance(final.get("results"), list)
        and all(isinstance(r, dict) for r in final["results"])
    ):
        raise SearchError(
            f"{path} is unreadable or corrupt ({error}); delete it, or pass "
            "--overwrite (overwrite=True) to train again"
        )
    return final


def _final_candidates(result, final):
    """`(label, genotype text)` of the models to train: the best trials,
    then the reference."""
    best = result.best_trials(final.top_k)
    if not best:
        raise SearchError(
            f"search {result.directory!r} has no completed trial yet; run or "
            "resume it first (`keras-nasnet search --resume`)"
        )
    candidates = [(f"trial {t.trial_id}", str(t.genotype)) for t in best]
    if final.reference is not None:
        from keras_nasnet import genotypes

        candidates.append(
            (REFERENCE_CELLS[final.reference], str(genotypes.get(final.reference)))
        )
    return candidates


def _accuracy_text(value):
    return "-" if value is None else format(value, ".4f")


def _final_summary(final, write):
    results = final["results"]
    width = max(len(r["label"]) for r in results)
    write("test accuracy of each model after the same final training:")
    for r in results:
        write(
            f"  {r['label']:<{width}}  test {_accuracy_text(r.get('test_accuracy'))}"
            f"  validation {_accuracy_text(r.get('validation_accuracy'))}  "
            f"{r['params']:,} parameters  {format_duration(r['seconds'])}"
        )


def final_training(
    directory, settings=None, *, overwrite=False, progress=True, run_eagerly=False
):
    """Enlarges the best cells of a search, trains them, tests them.

    Trains the `settings.top_k` best trials' genotypes and the reference
    cell (NASNet-A by default), each from the same seed with the same
    recipe (`FinalSettings`), evaluates each on the test split, and writes
    `final.json` in the search directory, the form `keras-nasnet report`
    shows (`keras_nasnet.report.Search.final`):
    `{"recipe": {...}, "results": [{"label", "genotype", "params",
    "test_accuracy", "validation_accuracy", "seconds"}, ...]}`; the recipe
    holds the settings, the search's proxy size, the recipe preset and the
    number of images of each split.

    `final.json` is rewritten after each model, so that a run stopped half
    way keeps what it trained: a rerun with the same settings trains only
    the models missing (a new best trial, after a resumed search, is one),
    and one with nothing missing trains nothing and says so.

    Args:
        directory: a search directory (`search`'s).
        settings: a `FinalSettings`, a dict of some of its fields, or None
            for the defaults.
        overwrite: train everything again, replacing a `final.json` (needed
            when it holds a final training with other settings).
        progress: True prints lines to stdout, a text stream prints there,
            False or None is silent.
        run_eagerly: train eagerly (for tiny models, where tracing costs
            more than it saves).

    Returns:
        The content of `final.json`.

    Raises:
        SearchError: no search or no completed trial in `directory`, invalid
            settings, or a `final.json` that is corrupt or holds other
            settings (without `overwrite`). Raised before anything is
            trained or written.
    """
    from keras_nasnet import report

    directory = os.fspath(directory)
    if progress is True:
        stream = sys.stdout
    elif progress is None or progress is False:
        stream = None
    elif hasattr(progress, "write"):
        stream = progress
    else:
        fail("progress", "True, False/None or a text stream", progress)
    printer = None if stream is None else PrintProgress(stream, prefix="[final]")

    def write(text):
        for line in text.splitlines() if stream is not None else ():
            print(f"[final] {line}", file=stream, flush=True)

    search_settings = read_settings(directory)
    try:
        final = _final_settings_of(settings)
    except ValueError as e:
        raise SearchError(str(e)) from None
    try:
        stored = read_final(directory)
    except SearchError:
        if not overwrite:
            raise
        # Damaged, and to be replaced: the search's report cannot read it.
        os.remove(os.path.join(directory, report.FINAL_FILE))
    if overwrite:
        stored = None
    result = SearchResult.from_directory(directory)
    candidates = _final_candidates(result, final)
    if stored is not None:
        kept = {k: stored["recipe"].get(k) for k in final.to_json()}
        if kept != final.to_json():
            listed = ", ".join(
                f"{k}={v!r} (stored: {kept[k]!r})"
                for k, v in final.to_json().items()
                if kept[k] != v
            )
            raise SearchError(
                f"{os.path.join(directory, report.FINAL_FILE)} holds a final "
                f"training with other settings: {listed}. Pass --overwrite "
                "(overwrite=True) to train again with these"
            )
    done = {}
    for entry in (stored or {}).get("results", []):
        done[(entry.get("label"), entry.get("genotype"))] = entry
    todo = [c for c in candidates if c not in done]
    if not todo:
        write(
            f"already trained ({os.path.join(directory, report.FINAL_FILE)}); "
            "nothing to retrain (pass --overwrite to train again)"
        )
        _final_summary(stored, write)
        return stored
    import_backend_quietly()
    splits = load_splits(
        search_settings.dataset,
        search_settings.data_dir,
        validation_images=search_settings.validation_images,
        train_images=final.train_images,
        seed=search_settings.seed,
    )
    from keras_nasnet import _workflow_keras

    recipe = _workflow_keras.final_recipe(final, run_eagerly=run_eagerly)
    images = len(splits.train[0])
    steps = recipe.steps_per_epoch(images)
    record = {
        "recipe": {
            **final.to_json(),
            "preset": "search_proxy",
            "search_cells_per_stack": search_settings.cells_per_stack,
            "search_filters": search_settings.filters,
            "dataset": splits.name,
            # The images used (`train_images` is the request; None: all).
            "training_images": images,
            "validation_images": len(splits.validation[0]),
            "test_images": None if splits.test is None else len(splits.test[0]),
            "seed": search_settings.seed,
        },
        "results": [],
    }
    epochs = "epoch" if final.epochs == 1 else "epochs"
    write(
        f"{len(todo)} of {len(candidates)} models to train from scratch, enlarged "
        f"from the search's N={search_settings.cells_per_stack}, "
        f"F={search_settings.filters} to N={final.cells_per_stack}, "
        f"F={final.filters}: each {final.epochs} {epochs} x {steps:,} steps of "
        f"{final.batch_size} images ({images:,} training images), then the test "
        "split; a line per epoch with the time left"
    )
    trained = {}
    for number, (label, genotype) in enumerate(todo, start=1):
        write(f"{label} ({number}/{len(todo)}): {genotype}")
        entry = _workflow_keras.train_final(
            genotype,
            splits,
            recipe,
            seed=search_settings.seed,
            on_epoch_end=None if printer is None else printer.on_epoch_end,
        )
        entry = trained[label, genotype] = {"label": label, **entry}
        write(
            f"{label}: test accuracy {_accuracy_text(entry['test_accuracy'])}, "
            f"validation {_accuracy_text(entry['validation_accuracy'])}, "
            f"{entry['params']:,} parameters, {format_duration(entry['seconds'])}"
        )
        record["results"] = [
            done.get(c) or trained[c] for c in candidates if c in done or c in trained
        ]
        _atomic.write_json(
            os.path.join(directory, report.FINAL_FILE),
            record,
            durable=True,
            indent=2,
        )
    _final_summary(record, write)
    return record


# ---------------------------------------------------------------- quiet startup

# What TensorFlow prints on stderr while it starts, whatever
# TF_CPP_MIN_LOG_LEVEL says. Two of its native libraries
# (libtensorflow_framework.so.2 and the profiler plugin
# _pywrap_profiler_plugin.so, both loaded by `import tensorflow`) each carry
# their own copy of absl logging and of the CUDA stub loader, and log before
# absl is initialized, so each line comes twice.
_STARTUP_NOISE = re.compile(
    r"All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|cudart_stub\.cc:\d+\] Could not find cuda drivers"
    r"|cuda_platform\.cc:\d+\] failed call to cuInit"
    r"|cuda_executor\.cc:\d+\] .*(NUMA node|failed call to cuInit)"
    r"|cpu_feature_guard\.cc:\d+\]"
    r"|^To enable the following instructions: .* rebuild TensorFlow"
    r"|oneDNN custom operations are on"
    r"|Unable to register cu(DNN|FFT|BLAS) factory"
    r"|computation_placer\.cc:\d+\] computation placer already registered"
    r"|TF-TRT Warning: Could not find TensorRT"
)


def filter_startup_noise(text):
    """`text` without TensorFlow's start-up lines (see `import_backend_quietly`)."""
    return "".join(
        line
        for line in text.splitlines(keepends=True)
        if not _STARTUP_NOISE.search(line)
    )


@contextlib.contextmanager
def _native_stderr_filtered():
    """Captures file descriptor 2 (native libraries write there directly),
    then writes back what `filter_startup_noise` keeps."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = filter_startup_noise(captured.read().decode(errors="replace"))
            if kept:
                sys.stderr.write(kept)
                sys.stderr.flush()


def import_backend_quietly():
    """Imports TensorFlow (the Keras backend) without its start-up noise.

    TensorFlow prints "Could not find cuda drivers", the absl pre-init
    warning, a CPU-feature note and a failed `cuInit` on every start of a
    CPU-only machine, each start-up line twice (see `_STARTUP_NOISE`), and
    TF_CPP_MIN_LOG_LEVEL cannot hide them. They are dropped; anything else it
    prints is kept. A no-op with another backend or once TensorFlow is
    imported.
    """
    if os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
        return
    if "tensorflow" in sys.modules:
        return
    with _native_stderr_filtered():
        try:
            import tensorflow as tf
        except ImportError:
            return
        # The device query is where cuInit fails on a machine without a GPU.
        tf.config.list_physical_devices("GPU")


if __name__ == "__main__":
    # Run as `python -m keras_nasnet.workflow`, this file is `__main__`, a
    # second copy of the module: use the imported one, whose classes the
    # rest of the package raises and sends.
    from keras_nasnet import workflow as _workflow

    sys.exit(_workflow._child_main(sys.argv[1:]))

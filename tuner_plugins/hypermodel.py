"""`NASNetHyperModel`: the NASNet search space as a keras-tuner `HyperModel`.

Any keras-tuner tuner can search it unchanged (`RandomSearch`,
`BayesianOptimization`, `Hyperband`, or this package's `AgingEvolution` and
`RNNController`). Each trial's hyperparameters spell one genotype (the 50
cell decisions, named as in `keras_nasnet.space.decisions`) plus the proxy size and
training settings; `build` turns them into a compiled
`keras_nasnet.models.NASNet` and `fit` trains it with the scheduled drop path
and a cosine learning rate over the trial's steps.

Proxy and training settings (`cells_per_stack`, `filters`, `epochs`,
`batch_size`, `learning_rate`, `drop_path_keep_prob`, `weight_decay`) each
accept:

- a single value: declared as `hp.Fixed(name, value)` (not searched);
- a list or tuple of values: declared as `hp.Choice(name, values)`;
- a keras-tuner hyperparameter object, e.g.
  `keras_tuner.engine.hyperparameters.Int("filters", 8, 32, step=8)`: declared
  as given, under the argument's name (the object's own name is not used);
- `None` (only `epochs` and `batch_size`): not declared; `fit` uses what
  `tuner.search(...)` passes.

Every declared setting is named after its argument (`"filters"`,
`"learning_rate"`, ...), so `best_hp.values["filters"]` is the trial's width.

Reference: Zoph et al. 2018, "Learning Transferable Architectures for Scalable
Image Recognition", sections 3 and 4 (the space, the proxy: N = 2, cosine
learning rate, 20 epochs); Real et al. 2019, "Regularized Evolution for Image
Classifier Architecture Search" (proxy N = 3, F = 24, 25 epochs).
"""

import math

import keras
import keras_tuner
import numpy as np
from keras_tuner.engine import hyperparameters as hp_module

from keras_nasnet import training
from keras_nasnet._validation import check_int as _check_int
from keras_nasnet._validation import is_int as _is_int
from keras_nasnet._validation import is_real as _is_real
from keras_nasnet.callbacks import DropPathScheduler
from keras_nasnet.models.nasnet import NASNet
from keras_nasnet.space import decisions
from keras_nasnet.space import ops as ops_lib

# The search-time recipe: SGD with momentum 0.9, gradients clipped to a global
# norm of 5. Its compile-time cosine schedule needs the steps per epoch, which
# a HyperModel does not know when it builds (and Hyperband changes a trial's
# epochs), so `fit` applies the same cosine per step with a callback instead.
_RECIPE = training.NASNET_SEARCH


# name -> (check(value) -> bool, what a valid value is, may be None, the
# Python type values are stored as: NumPy scalars would reach the model builder
# and keras-tuner's JSON files otherwise).
_SETTINGS = {
    "cells_per_stack": (lambda v: _is_int(v) and v >= 1, "an integer >= 1", False, int),
    "filters": (lambda v: _is_int(v) and v >= 2, "an integer >= 2", False, int),
    "epochs": (lambda v: _is_int(v) and v >= 1, "an integer >= 1", True, int),
    "batch_size": (lambda v: _is_int(v) and v >= 1, "an integer >= 1", True, int),
    "learning_rate": (
        lambda v: _is_real(v) and 0 < v < math.inf,
        "a finite number > 0",
        False,
        float,
    ),
    "drop_path_keep_prob": (
        lambda v: _is_real(v) and 0 < v <= 1,
        "a number in (0, 1]",
        False,
        float,
    ),
    "weight_decay": (
        lambda v: _is_real(v) and 0 <= v < math.inf,
        "a finite number >= 0",
        False,
        float,
    ),
}


def _setting_error(name, value, what, may_be_none):
    none = " or None" if may_be_none else ""
    return ValueError(
        f"Invalid value received for argument `{name}`. Expected {what}, a "
        "non-empty list of such values, or a keras_tuner hyperparameter "
        f"(Int, Float, Choice, Fixed) over them{none}. Received: {name}={value!r}"
    )


def _check_setting(name, value):
    """Validates one setting; returns it with lists turned into tuples."""
    check, what, may_be_none, convert = _SETTINGS[name]
    if value is None:
        if may_be_none:
            return None
        raise _setting_error(name, value, what, may_be_none)
    if isinstance(value, hp_module.HyperParameter):
        if isinstance(value, hp_module.Boolean) or value.conditions:
            raise _setting_error(name, value, what, may_be_none)
        if isinstance(value, hp_module.Fixed):
            bounds = [value.value]
        elif isinstance(value, hp_module.Choice):
            bounds = list(value.values)
        else:  # Int or Float: an interval, so its ends are enough.
            bounds = [value.min_value, value.max_value]
        if not all(check(v) for v in bounds):
            raise _setting_error(name, value, what, may_be_none)
        return value
    if isinstance(value, (list, tuple)):
        if not value or not all(check(v) for v in value):
            raise _setting_error(name, value, what, may_be_none)
        return tuple(convert(v) for v in value)
    if not check(value):
        raise _setting_error(name, value, what, may_be_none)
    return convert(value)


def _declare_setting(hp, name, spec):
    """Declares one setting on `hp` and returns its current value."""
    if spec is None:
        return None
    if isinstance(spec, hp_module.HyperParameter):
        config = spec.get_config()
        config.pop("conditions", None)
        config["name"] = name
        # HyperParameters has one method per type with the config's keywords.
        return getattr(hp, type(spec).__name__)(**config)
    if isinstance(spec, tuple):
        return hp.Choice(name, list(spec))
    return hp.Fixed(name, spec)


class _CosineLearningRate(keras.callbacks.Callback):
    """Sets the optimizer's learning rate to a single cosine decay.

    The per-step value of `keras_nasnet.training.learning_rate_schedule`
    (final rate 0), for a run whose length is only known once `fit` starts.
    The decay runs from `initial` at the trial's first step to 0 at its last,
    counting `initial_epoch` (so a Hyperband continuation resumes mid-curve).
    When the number of steps per epoch is unknown, the rate changes per epoch.
    """

    def __init__(self, initial):
        super().__init__()
        self.initial = float(initial)

    def _set(self, epoch, batch):
        epochs = self.params.get("epochs") or 1
        steps = self.params.get("steps")
        if steps:
            progress = (epoch * steps + batch) / (epochs * steps)
        else:
            progress = epoch / epochs
        progress = min(max(progress, 0.0), 1.0)
        rate = 0.5 * self.initial * (1.0 + math.cos(math.pi * progress))
        self.model.optimizer.learning_rate = rate

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._set(epoch, 0)

    def on_train_batch_begin(self, batch, logs=None):
        self._set(self._epoch, batch)


class _FailOnNonFiniteLoss(keras.callbacks.Callback):
    """Ends the trial as FAILED as soon as the training loss is NaN or inf.

    Keras's `TerminateOnNaN` would only stop training and let the trial
    complete with a meaningless score. A diverged child fails the same way
    every time it is trained, so it is a FAILED trial, not a retried one.
    """

    def __init__(self, learning_rate):
        super().__init__()
        self.learning_rate = learning_rate
        self._epoch = 0

    def _check(self, logs, key, where):
        value = (logs or {}).get(key)
        if value is None:
            return
        value = float(np.asarray(value))
        if not math.isfinite(value):
            label = "NaN" if math.isnan(value) else f"{value:+}"
            raise keras_tuner.errors.FailedTrialError(
                f"Training diverged: the {key} became {label} {where} "
                f"(learning_rate={self.learning_rate:g}). Use a smaller "
                "learning_rate; a genotype whose loss diverges at a sane rate "
                "is unfit."
            )

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self._check(logs, "loss", f"at epoch {self._epoch + 1}, batch {batch + 1}")

    def on_epoch_end(self, epoch, logs=None):
        self._check(logs, "val_loss", f"at the end of epoch {epoch + 1}")


class NASNetHyperModel(keras_tuner.HyperModel):
    """The NASNet cell search space, searchable by any keras-tuner tuner.

    Declares the cell decisions with `tuner_plugins.decisions.declare_cells`
    (2 cells x `num_blocks` blocks x 4 or 5 decisions, named like
    `normal/block_0/input_a`) and the proxy settings, builds a compiled
    `keras_nasnet.models.NASNet` from them and trains it with the paper's proxy
    recipe: SGD with momentum 0.9 (global gradient norm clipped to 5), a single
    cosine learning-rate decay over the trial's steps, scheduled drop path and
    sparse categorical cross-entropy with accuracy as metric. The defaults
    are `keras_nasnet.training.NASNET_SEARCH`'s (N = 2, F = 32, learning rate
    0.025, weight decay 5e-4, no drop path).

    Args:
        num_classes: number of classes (labels are integers, not one-hot).
        input_shape: `(height, width, channels)` of the images.
        ops: the op names each op decision chooses from (default: the 13
            NASNet ops; `keras_nasnet.space.AMOEBANET_OPS` for AmoebaNet's).
        num_blocks: blocks per cell (the paper's B = 5).
        search_combine: whether each block also chooses add or concat. If
            `False`, every block adds.
        cells_per_stack: normal cells per stack (N); a value, a list of
            choices, or a keras-tuner hyperparameter (see the module docstring).
        filters: the first stack's width (F); same forms.
        epochs: epochs per trial; same forms, or `None` (default) to use the
            `epochs` given to `tuner.search()`. When declared, it is the
            trial's epochs and `search(epochs=...)` must agree with it or be
            left out. `Hyperband` sets epochs itself and always wins.
        batch_size: batch size per trial; same forms, or `None` (default) to
            use the `batch_size` given to `tuner.search()` (same rule).
        learning_rate: initial learning rate of the cosine decay.
        drop_path_keep_prob: keep probability of the last cell's drop path
            (1.0 turns drop path off).
        weight_decay: L2 weight decay of the model's weights.
        jit_compile: passed to `model.compile` (`True`, `False` or `"auto"`);
            not searched.
        run_eagerly: passed to `model.compile`; not searched. On a CPU, tiny
            proxies trained for a few steps run faster eagerly than traced.
        name: optional name of the hypermodel.
        tunable: whether the declared hyperparameters join the tuner's search
            space (keras-tuner's meaning). If `False`, the tuner's own
            `hyperparameters` must declare them, or their defaults are used.

    Raises:
        ValueError: on an invalid argument, naming it.

    Example:

    >>> hypermodel = NASNetHyperModel(
    ...     num_classes=10, input_shape=(32, 32, 3), filters=[16, 24, 32]
    ... )
    >>> space = hypermodel.search_space()
    >>> len([hp for hp in space.space if "/block_" in hp.name])
    40
    >>> space.get("filters")
    16
    >>> hypermodel.genotype(space).normal.num_blocks
    5

    Reference: Zoph et al. 2018, "Learning Transferable Architectures for
    Scalable Image Recognition", arXiv 1707.07012, sections 3-4.
    """

    def __init__(
        self,
        num_classes,
        input_shape,
        ops=ops_lib.NASNET_OPS,
        num_blocks=5,
        search_combine=False,
        cells_per_stack=2,
        filters=32,
        epochs=None,
        batch_size=None,
        learning_rate=0.025,
        drop_path_keep_prob=1.0,
        weight_decay=5e-4,
        jit_compile="auto",
        run_eagerly=False,
        name=None,
        tunable=True,
    ):
        if name is not None and not isinstance(name, str):
            raise ValueError(
                "Invalid value received for argument `name`. Expected a string "
                f"or None. Received: name={name!r}"
            )
        if not isinstance(tunable, bool):
            raise ValueError(
                "Invalid value received for argument `tunable`. Expected a "
                f"bool. Received: tunable={tunable!r}"
            )
        super().__init__(name=name, tunable=tunable)
        self.num_classes = _check_int("num_classes", num_classes, 2)
        if (
            not isinstance(input_shape, (list, tuple))
            or len(input_shape) != 3
            or not all(_is_int(d) and d >= 1 for d in input_shape)
        ):
            raise ValueError(
                "Invalid value received for argument `input_shape`. Expected a "
                "tuple of 3 positive integers (height, width, channels). "
                f"Received: input_shape={input_shape!r}"
            )
        self.input_shape = tuple(int(d) for d in input_shape)
        if isinstance(ops, str) or not isinstance(ops, (list, tuple)) or not ops:
            raise ValueError(
                "Invalid value received for argument `ops`. Expected a "
                f"non-empty list of op names. Received: ops={ops!r}"
            )
        for op in ops:
            if op not in ops_lib.ALL_OPS:
                raise ValueError(
                    "Invalid value received for argument `ops`. Unknown op "
                    f"{op!r}; expected names from: {', '.join(ops_lib.ALL_OPS)}. "
                    f"Received: ops={ops!r}"
                )
        if len(set(ops)) != len(ops):
            raise ValueError(
                "Invalid value received for argument `ops`. Expected distinct "
                f"op names. Received: ops={ops!r}"
            )
        self.ops = tuple(ops)
        self.num_blocks = _check_int("num_blocks", num_blocks, 1)
        if not isinstance(search_combine, bool):
            raise ValueError(
                "Invalid value received for argument `search_combine`. Expected "
                f"a bool. Received: search_combine={search_combine!r}"
            )
        self.search_combine = search_combine
        self.cells_per_stack = _check_setting("cells_per_stack", cells_per_stack)
        self.filters = _check_setting("filters", filters)
        self.epochs = _check_setting("epochs", epochs)
        self.batch_size = _check_setting("batch_size", batch_size)
        self.learning_rate = _check_setting("learning_rate", learning_rate)
        self.drop_path_keep_prob = _check_setting(
            "drop_path_keep_prob", drop_path_keep_prob
        )
        self.weight_decay = _check_setting("weight_decay", weight_decay)
        # Not `in (True, False, "auto")`: 1 == True and 0.0 == False.
        if not (isinstance(jit_compile, bool) or jit_compile == "auto"):
            raise ValueError(
                "Invalid value received for argument `jit_compile`. Expected "
                f"True, False or 'auto'. Received: jit_compile={jit_compile!r}"
            )
        self.jit_compile = jit_compile
        if not isinstance(run_eagerly, bool):
            raise ValueError(
                "Invalid value received for argument `run_eagerly`. Expected a "
                f"bool. Received: run_eagerly={run_eagerly!r}"
            )
        self.run_eagerly = run_eagerly

    def _settings(self, hp):
        # setting name -> its value in `hp` (declared there if absent).
        return {
            name: _declare_setting(hp, name, getattr(self, name)) for name in _SETTINGS
        }

    def _declare(self, hp):
        genotype = self.genotype(hp)
        return genotype, self._settings(hp)

    def declare_hyperparameters(self, hp):
        """Declares the whole space on `hp` (keras-tuner calls this first).

        Honors `tunable=False` by declaring nothing, as keras-tuner expects.
        """
        if self.tunable:
            self._declare(hp)

    def search_space(self):
        """Returns a `keras_tuner.HyperParameters` with every decision declared.

        Builds no model. The values are the defaults (each decision's first
        choice); pass it as a tuner's `hyperparameters` to pin some of them.
        """
        hp = keras_tuner.HyperParameters()
        self._declare(hp)
        return hp

    def genotype(self, hp):
        """Returns the `Genotype` that `hp`'s cell decisions spell.

        Args:
            hp: a `keras_tuner.HyperParameters` (decisions it lacks are
                declared on it with their defaults) or a dict of values.

        Returns:
            A `keras_nasnet.Genotype` with derived concat lists.
        """
        if isinstance(hp, keras_tuner.HyperParameters):
            return decisions.declare_cells(
                hp,
                ops=self.ops,
                num_blocks=self.num_blocks,
                search_combine=self.search_combine,
            )
        return decisions.decode(dict(hp))

    def build(self, hp):
        """Builds and compiles the `NASNet` that `hp` describes.

        Args:
            hp: a `keras_tuner.HyperParameters`.

        Returns:
            A compiled `keras_nasnet.models.NASNet`.
        """
        genotype, settings = self._declare(hp)
        model = NASNet(
            genotype,
            cells_per_stack=settings["cells_per_stack"],
            filters=settings["filters"],
            num_classes=self.num_classes,
            input_shape=self.input_shape,
            drop_path_keep_prob=settings["drop_path_keep_prob"],
            weight_decay=settings["weight_decay"],
        )
        model.compile(
            optimizer=keras.optimizers.SGD(
                learning_rate=settings["learning_rate"],
                momentum=_RECIPE.momentum,
                global_clipnorm=_RECIPE.clipnorm,
            ),
            loss=keras.losses.SparseCategoricalCrossentropy(),
            metrics=["accuracy"],
            jit_compile=self.jit_compile,
            run_eagerly=self.run_eagerly,
        )
        return model

    def fit(self, hp, model, *args, **kwargs):
        """Trains `model` with the trial's epochs, drop path and cosine decay.

        Args:
            hp: the trial's `keras_tuner.HyperParameters`.
            model: the model `build(hp)` returned.
            *args: passed to `model.fit` (e.g. `x, y`).
            **kwargs: passed to `model.fit`; `callbacks` are kept and the
                drop-path and learning-rate callbacks appended.

        Returns:
            The `History` of `model.fit`.

        Raises:
            keras_tuner.errors.FailedTrialError: as soon as the training loss
                (after a batch) or the validation loss (after an epoch) is NaN
                or infinite; keras-tuner then records the trial as FAILED with
                that reason and the search goes on.
            keras_tuner.errors.FatalValueError: if `epochs` or `batch_size` is
                declared here and `search()` was given a different one.
        """
        if not self.tunable:
            hp = hp.copy()
        settings = self._settings(hp)
        hyperband = "tuner/epochs" in hp.values
        for name in ("epochs", "batch_size"):
            value = settings[name]
            if value is None or (name == "epochs" and hyperband):
                continue
            if kwargs.get(name) is not None and kwargs[name] != value:
                raise keras_tuner.errors.FatalValueError(
                    f"`{name}` is both declared by the NASNetHyperModel "
                    f"({name}={getattr(self, name)!r}, this trial: {value}) and "
                    f"passed to `search()` ({name}={kwargs[name]!r}). Give it "
                    "in one place only."
                )
            kwargs[name] = value
        callbacks = list(kwargs.pop("callbacks", None) or [])
        callbacks.append(DropPathScheduler())
        callbacks.append(_CosineLearningRate(settings["learning_rate"]))
        callbacks.append(_FailOnNonFiniteLoss(settings["learning_rate"]))
        return model.fit(*args, callbacks=callbacks, **kwargs)

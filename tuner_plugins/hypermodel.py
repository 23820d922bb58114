"""`NASNetHyperModel`: the NASNet search space as a keras-tuner `HyperModel`.

Any keras-tuner tuner can search it unchanged (`RandomSearch`,
`BayesianOptimization`, `Hyperband`, or this package's `AgingEvolution` and
`RNNController`). Each trial's hyperparameters spell one genotype (by default
the paper's 50 cell decisions, named as in `keras_nasnet.space.decisions`)
plus the proxy size and training settings; `build` turns them into a
compiled `keras_nasnet.models.NASNet` and `fit` trains it with the trial's
`keras_nasnet.training.Recipe`: the same optimizer, schedule (warmup and
cosine over the run's real length), precision and drop path as
`keras_nasnet.training.train`. The default recipe is
`keras_nasnet.training.SEARCH_PROXY`.

Proxy and training settings (`cells_per_stack`, `filters`, `epochs`,
`batch_size`, `learning_rate`, `drop_path_keep_prob`, `weight_decay`) each
accept:

- a single value: declared as `hp.Fixed(name, value)` (not searched);
- a list or tuple of values: declared as `hp.Choice(name, values)`;
- a keras-tuner hyperparameter object, e.g.
  `keras_tuner.engine.hyperparameters.Int("filters", 8, 32, step=8)`: declared
  as given, under the argument's name (the object's own name is not used);
- `None` (the default): the recipe's value, declared fixed; except `epochs`
  and `batch_size`, which are then not declared: `fit` uses what
  `tuner.search(...)` passes, or else the recipe's.

Every declared setting is named after its argument (`"filters"`,
`"learning_rate"`, ...), so `best_hp.values["filters"]` is the trial's width.

Reference: Zoph et al. 2018, "Learning Transferable Architectures for Scalable
Image Recognition", sections 3 and 4 (the space, the proxy: N = 2, cosine
learning rate, 20 epochs); Real et al. 2019, "Regularized Evolution for Image
Classifier Architecture Search" (proxy N = 3, F = 24, 25 epochs).
"""

import dataclasses
import math
import weakref

import keras
import keras_tuner
import numpy as np
from keras_tuner.engine import hyperparameters as hp_module

from keras_nasnet import training
from keras_nasnet._validation import check_int as _check_int
from keras_nasnet._validation import fail as _fail
from keras_nasnet._validation import is_int as _is_int
from keras_nasnet._validation import is_real as _is_real
from keras_nasnet.callbacks import DropPathScheduler
from keras_nasnet.data import feeding
from keras_nasnet.space import decisions
from keras_nasnet.space import ops as ops_lib

# name -> (check(value) -> bool, what a valid value is, whether it is left
# undeclared when None (else None declares the recipe's value), the Python
# type values are stored as: NumPy scalars would reach the model builder and
# keras-tuner's JSON files otherwise).
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


def _reject(name, value, what, may_be_none):
    default = "the search's or the recipe's" if may_be_none else "the recipe's"
    _fail(
        name,
        f"{what}, a non-empty list of such values, a keras_tuner "
        "hyperparameter (Int, Float, Choice, Fixed) over them, or None "
        f"({default})",
        value,
    )


def _check_setting(name, value):
    """Validates one setting; returns it with lists turned into tuples."""
    check, what, may_be_none, convert = _SETTINGS[name]
    if value is None:
        return None
    if isinstance(value, hp_module.HyperParameter):
        if isinstance(value, hp_module.Boolean) or value.conditions:
            _reject(name, value, what, may_be_none)
        if isinstance(value, hp_module.Fixed):
            bounds = [value.value]
        elif isinstance(value, hp_module.Choice):
            bounds = list(value.values)
        else:  # Int or Float: an interval, so its ends are enough.
            bounds = [value.min_value, value.max_value]
        if not all(check(v) for v in bounds):
            _reject(name, value, what, may_be_none)
        return value
    if isinstance(value, (list, tuple)):
        if not value or not all(check(v) for v in value):
            _reject(name, value, what, may_be_none)
        return tuple(convert(v) for v in value)
    if not check(value):
        _reject(name, value, what, may_be_none)
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


def _fit_arrays(args, kwargs):
    """The array leaves of the data `model.fit(*args, **kwargs)` trains on, or
    None when it is a dataset or a generator (which batch themselves)."""
    x = args[0] if args else kwargs.get("x")
    if x is None:
        return None
    leaves = keras.tree.flatten(x)
    if leaves and all(hasattr(leaf, "shape") for leaf in leaves):
        return leaves
    return None


def _steps_per_epoch(args, kwargs):
    """The optimizer steps per epoch of `model.fit(*args, **kwargs)`, or None."""
    if kwargs.get("steps_per_epoch"):
        return int(kwargs["steps_per_epoch"])
    arrays = _fit_arrays(args, kwargs)
    if arrays is not None:
        num_examples = int(arrays[0].shape[0])
        split = kwargs.get("validation_split") or 0.0
        # Keras trains on the first ceil(n * (1 - split)) examples.
        num_examples = math.ceil(num_examples * (1.0 - split))
        return max(1, math.ceil(num_examples / (kwargs.get("batch_size") or 32)))
    x = args[0] if args else kwargs.get("x")
    cardinality = getattr(x, "cardinality", None)
    if callable(cardinality):  # a batched tf.data.Dataset
        steps = int(cardinality())
        return steps if steps > 0 else None
    if hasattr(x, "__len__"):  # a keras.utils.PyDataset or a Sequence
        return len(x) or None
    return None


class NASNetHyperModel(keras_tuner.HyperModel):
    """The NASNet cell search space, searchable by any keras-tuner tuner.

    Declares the cell decisions with `keras_nasnet.space.decisions.declare_cells`
    (2 cells x `num_blocks` blocks x 5 decisions, named like
    `normal/block_0/input_a`; 4 without the combine decision) and the proxy
    settings, builds a `keras_nasnet.models.NASNet` from them with
    `keras_nasnet.training.build_model`, and trains it with the trial's recipe
    (`recipe` with the trial's settings) exactly as
    `keras_nasnet.training.train` would: `make_optimizer`'s SGD, its warmup
    and cosine schedule over the trial's steps, mixed precision, scheduled
    drop path, sparse categorical cross-entropy with accuracy as metric. The
    defaults are `keras_nasnet.training.SEARCH_PROXY`'s, ours for short
    searches (measured in `benchmarks/results/proxy_recipe.json`); pass
    `recipe=keras_nasnet.training.NASNET_SEARCH` for the paper's proxy.

    `fit` does not apply the recipe's augmentation or normalization: it
    trains on the arrays or datasets `search()` is given.

    The search space: with `search_combine=True` (the default) each block
    also chooses add or concat, the NASNet paper's 2 x 5 x 5 = 50 decisions
    (Zoph et al. 2018, section 3); `search_combine=False` makes every block
    add, AmoebaNet's space (Real et al. 2019, with
    `ops=keras_nasnet.space.AMOEBANET_OPS`).

    Args:
        num_classes: number of classes (labels are integers, not one-hot).
        input_shape: `(height, width, channels)` of the images.
        ops: the op names each op decision chooses from (default: the 13
            NASNet ops; `keras_nasnet.space.AMOEBANET_OPS` for AmoebaNet's).
        num_blocks: blocks per cell (the paper's B = 5).
        search_combine: whether each block also chooses add or concat
            (NASNet's space). If `False`, every block adds (AmoebaNet's).
        cells_per_stack: normal cells per stack (N); a value, a list of
            choices, a keras-tuner hyperparameter (see the module docstring),
            or None for the recipe's.
        filters: the first stack's width (F); same forms.
        epochs: epochs per trial; same forms, or `None` (default) to use the
            `epochs` given to `tuner.search()`, else the recipe's. When
            declared, it is the trial's epochs and `search(epochs=...)` must
            agree with it or be left out. `Hyperband` sets epochs itself and
            always wins.
        batch_size: batch size per trial; same forms, or `None` (default) to
            use the `batch_size` given to `tuner.search()`, else the recipe's
            (same rule).
        learning_rate: peak learning rate of the recipe's schedule; same
            forms.
        drop_path_keep_prob: keep probability of the last cell's drop path
            (1.0 turns drop path off); same forms.
        weight_decay: L2 weight decay of the model's weights; same forms.
        jit_compile: passed to `model.compile` (`True`, `False` or `"auto"`),
            or None for the recipe's; not searched.
        run_eagerly: passed to `model.compile`, or None for the recipe's; not
            searched.
        name: optional name of the hypermodel.
        tunable: whether the declared hyperparameters join the tuner's search
            space (keras-tuner's meaning). If `False`, the tuner's own
            `hyperparameters` must declare them, or their defaults are used.
        recipe: the `keras_nasnet.training.Recipe` each trial trains with
            (default `SEARCH_PROXY`); the settings above override its
            fields.

    Raises:
        ValueError: on an invalid argument, naming it.

    Example:

    >>> hypermodel = NASNetHyperModel(
    ...     num_classes=10, input_shape=(32, 32, 3), filters=[16, 24, 32]
    ... )
    >>> space = hypermodel.search_space()
    >>> len([hp for hp in space.space if "/block_" in hp.name])
    50
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
        search_combine=True,
        cells_per_stack=None,
        filters=None,
        epochs=None,
        batch_size=None,
        learning_rate=None,
        drop_path_keep_prob=None,
        weight_decay=None,
        jit_compile=None,
        run_eagerly=None,
        name=None,
        tunable=True,
        recipe=None,
    ):
        if name is not None and not isinstance(name, str):
            _fail("name", "a string or None", name)
        if not isinstance(tunable, bool):
            _fail("tunable", "a bool", tunable)
        super().__init__(name=name, tunable=tunable)
        self.num_classes = _check_int("num_classes", num_classes, 2)
        if (
            not isinstance(input_shape, (list, tuple))
            or len(input_shape) != 3
            or not all(_is_int(d) and d >= 1 for d in input_shape)
        ):
            _fail(
                "input_shape",
                "a tuple of 3 positive integers (height, width, channels)",
                input_shape,
            )
        self.input_shape = tuple(int(d) for d in input_shape)
        if isinstance(ops, str) or not isinstance(ops, (list, tuple)) or not ops:
            _fail("ops", "a non-empty list of op names", ops)
        for op in ops:
            if op not in ops_lib.ALL_OPS:
                _fail(
                    "ops",
                    f"names from: {', '.join(ops_lib.ALL_OPS)}. Unknown op {op!r}",
                    ops,
                )
        if len(set(ops)) != len(ops):
            _fail("ops", "distinct op names", ops)
        self.ops = tuple(ops)
        self.num_blocks = _check_int("num_blocks", num_blocks, 1)
        if not isinstance(search_combine, bool):
            _fail("search_combine", "a bool", search_combine)
        self.search_combine = search_combine
        if recipe is None:
            recipe = training.SEARCH_PROXY
        if not isinstance(recipe, training.Recipe):
            _fail("recipe", "a keras_nasnet.training.Recipe or None", recipe)
        self.recipe = recipe
        self.cells_per_stack = _check_setting(
            "cells_per_stack",
            recipe.cells_per_stack if cells_per_stack is None else cells_per_stack,
        )
        self.filters = _check_setting(
            "filters", recipe.filters if filters is None else filters
        )
        self.epochs = _check_setting("epochs", epochs)
        self.batch_size = _check_setting("batch_size", batch_size)
        self.learning_rate = _check_setting(
            "learning_rate",
            recipe.learning_rate if learning_rate is None else learning_rate,
        )
        self.drop_path_keep_prob = _check_setting(
            "drop_path_keep_prob",
            recipe.drop_path_keep_prob
            if drop_path_keep_prob is None
            else drop_path_keep_prob,
        )
        self.weight_decay = _check_setting(
            "weight_decay",
            recipe.weight_decay if weight_decay is None else weight_decay,
        )
        if jit_compile is None:
            jit_compile = recipe.jit_compile
        # Not `in (True, False, "auto")`: 1 == True and 0.0 == False.
        if not (isinstance(jit_compile, bool) or jit_compile == "auto"):
            _fail("jit_compile", "True, False or 'auto'", jit_compile)
        self.jit_compile = jit_compile
        if run_eagerly is None:
            run_eagerly = recipe.run_eagerly
        if not isinstance(run_eagerly, bool):
            _fail("run_eagerly", "a bool", run_eagerly)
        self.run_eagerly = run_eagerly
        # model -> its compile config as `build` left it: `fit` compiles
        # again, with the run's real length, only a model the tuner did not
        # recompile with its own optimizer, loss or metrics.
        self._compiled_by_build = weakref.WeakKeyDictionary()

    def _settings(self, hp):
        # setting name -> its value in `hp` (declared there if absent).
        return {
            name: _declare_setting(hp, name, getattr(self, name)) for name in _SETTINGS
        }

    def _declare(self, hp):
        genotype = self.genotype(hp)
        return genotype, self._settings(hp)

    def trial_recipe(self, hp, epochs=None, batch_size=None):
        """The `Recipe` a trial trains with: `recipe` with the trial's settings.

        Args:
            hp: the trial's `keras_tuner.HyperParameters` (settings it lacks
                are declared on it with their defaults).
            epochs: the run's epochs, if known (else the trial's or the
                recipe's).
            batch_size: the run's batch size, if known (same rule).

        Returns:
            A `keras_nasnet.training.Recipe`.
        """
        settings = self._settings(hp)
        learning_rate = settings["learning_rate"]
        return dataclasses.replace(
            self.recipe,
            epochs=epochs or settings["epochs"] or self.recipe.epochs,
            batch_size=batch_size or settings["batch_size"] or self.recipe.batch_size,
            cells_per_stack=settings["cells_per_stack"],
            filters=settings["filters"],
            learning_rate=learning_rate,
            # The floor cannot exceed a searched peak.
            final_learning_rate=min(self.recipe.final_learning_rate, learning_rate),
            drop_path_keep_prob=settings["drop_path_keep_prob"],
            weight_decay=settings["weight_decay"],
            jit_compile=self.jit_compile,
            run_eagerly=self.run_eagerly,
        )

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

        The model is built by `keras_nasnet.training.build_model` and compiled
        by `keras_nasnet.training.compile_model` with the trial's recipe; the
        schedule's length is provisional until `fit` knows the run's steps.

        Args:
            hp: a `keras_tuner.HyperParameters`.

        Returns:
            A compiled `keras_nasnet.models.NASNet`.
        """
        genotype = self.genotype(hp)
        recipe = self.trial_recipe(hp)
        model = training.build_model(
            genotype, (self.input_shape, self.num_classes), recipe
        )
        training.compile_model(model, recipe, steps_per_epoch=1)
        self._compiled_by_build[model] = model.get_compile_config()
        return model

    def fit(self, hp, model, *args, **kwargs):
        """Trains `model` with the trial's recipe over the run's real length.

        Compiles `model` again with `keras_nasnet.training.compile_model`,
        now that the run's epochs and steps are known (the schedule's warmup
        and cosine span them; a Hyperband continuation from `initial_epoch`
        resumes mid-curve), creates the training state before the first step
        (`keras_nasnet.training.build_training_state`: the step is traced
        once, not twice), and adds the drop-path schedule and a divergence
        check to the callbacks. On TensorFlow, numpy arrays are batched by
        `keras_nasnet.data.feeding.as_datasets` (Keras's own pipeline for
        them made `fit` return seconds late on busy cores). A model the tuner
        compiled again with its own `optimizer`, `loss` or `metrics`
        (keras-tuner's overrides) is trained as the tuner compiled it.

        Args:
            hp: the trial's `keras_tuner.HyperParameters`.
            model: the model `build(hp)` returned.
            *args: passed to `model.fit` (e.g. `x, y`).
            **kwargs: passed to `model.fit`; `callbacks` are kept and the
                drop-path and divergence callbacks appended.

        Returns:
            The `History` of `model.fit`.

        Raises:
            keras_tuner.errors.FailedTrialError: as soon as the training loss
                (after a batch) or the validation loss (after an epoch) is NaN
                or infinite; keras-tuner then records the trial as FAILED with
                that reason and the search goes on.
            keras_tuner.errors.FatalValueError: if `epochs` or `batch_size` is
                declared here and `search()` was given a different one, or if
                the number of steps per epoch cannot be told from the data
                (pass `steps_per_epoch` to `search()`).
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
        recipe = self.trial_recipe(hp, kwargs.get("epochs"), kwargs.get("batch_size"))
        kwargs["epochs"] = recipe.epochs
        # Datasets and generators batch themselves.
        if _fit_arrays(args, kwargs) is not None:
            kwargs["batch_size"] = recipe.batch_size
        built = self._compiled_by_build.get(model)
        if built is not None and built == model.get_compile_config():
            steps = _steps_per_epoch(args, kwargs)
            if steps is None:
                raise keras_tuner.errors.FatalValueError(
                    "NASNetHyperModel.fit cannot tell the number of steps per "
                    "epoch from the data (the schedule spans the run): pass "
                    "`steps_per_epoch` to `search()`."
                )
            training.compile_model(model, recipe, steps)
            initial_epoch = kwargs.get("initial_epoch") or 0
            if initial_epoch:
                model.optimizer.iterations.assign(initial_epoch * steps)
            training.build_training_state(model)
        callbacks = list(kwargs.pop("callbacks", None) or [])
        callbacks.append(DropPathScheduler())
        callbacks.append(_FailOnNonFiniteLoss(recipe.learning_rate))
        # Arrays: batched without tf.data's autotuning, whose thread made
        # `fit` return seconds late on busy cores.
        args, kwargs = feeding.as_datasets(args, kwargs)
        with training.unread_cells_explained(model):
            return model.fit(*args, callbacks=callbacks, **kwargs)

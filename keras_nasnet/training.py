"""Training recipes of NASNet and AmoebaNet, and the functions that apply them.

A `Recipe` is a frozen value holding every setting a training run needs: the
optimizer (SGD, momentum 0.9, optionally Nesterov, single cosine decay after
an optional linear warmup, gradient clipping by global norm), the
regularization handed to the model builder (weight decay, auxiliary head
weight, scheduled drop path and its schedule), the augmentation, and the model
size (`cells_per_stack` N, `filters` F, the stem's stride). Presets carry the
papers' values, and `SEARCH_PROXY` ours for short searches;
`dataclasses.replace(recipe, epochs=...)` derives variants.

Reference: Zoph et al. 2018, "Learning Transferable Architectures for Scalable
Image Recognition" (arXiv 1707.07012), appendix A; Real et al. 2019,
"Regularized Evolution for Image Classifier Architecture Search"
(arXiv 1802.01548), section 4 and appendix. See `docs/data.md`.
"""

import contextlib
import dataclasses
import math
import warnings

import keras
import numpy as np

from keras_nasnet._validation import check_int
from keras_nasnet._validation import fail as _fail
from keras_nasnet._validation import is_int as _is_int
from keras_nasnet._validation import is_real as _is_real
from keras_nasnet.data import augment as augment_lib
from keras_nasnet.data import feeding
from keras_nasnet.layers.aux_head import AuxiliaryLossMixin
from keras_nasnet.layers.drop_path import check_schedule as _check_schedule
from keras_nasnet.models._steps import SingleTraceMixin

_PRECISIONS = (None, "mixed_float16", "mixed_bfloat16")


@dataclasses.dataclass(frozen=True)
class Recipe:
    """Every setting of one training run, validated on construction.

    Attributes:
        epochs: training epochs.
        batch_size: examples per step.
        learning_rate: initial learning rate of the single cosine decay.
        final_learning_rate: the learning rate the cosine reaches at the last
            step (0 in the papers).
        momentum: SGD momentum.
        nesterov: Nesterov momentum (ours; the papers use plain momentum).
        warmup_fraction: the fraction of the run's steps over which the
            learning rate rises linearly from 0 to `learning_rate` before the
            cosine decay (ours; 0 in the papers).
        clipnorm: clip gradients to this global norm (`global_clipnorm`), or
            None.
        weight_decay: L2 weight decay, applied by the model builder as
            regularizers (`L2(weight_decay / 2)`, slim's convention), not by
            the optimizer.
        aux_weight: loss weight of the auxiliary head; 0 builds none.
        drop_path_keep_prob: keep probability of ScheduledDropPath at the last
            cell and the last step; 1 disables drop path.
        drop_path_schedule: `"nasnet"` (scaled by depth and time, TF-slim's
            "v3") or `"amoebanet"` (by time only, tensorflow/tpu's "v1"); see
            `keras_nasnet.layers.drop_path_keep_prob`.
        cells_per_stack: N, normal cells per stack.
        filters: F, the first stack's filters (penultimate width 24 F).
        stem_strides: stride of the CIFAR stem's conv: 1 (the papers') or 2
            (ours: a 4x cheaper network on small images such as 28x28).
        pad: zero padding of the random crop; 0 for no crop.
        flip: random horizontal flips (only where the dataset allows them:
            `Splits.horizontal_flip`).
        cutout: side of the cutout square, or None.
        normalize: standardize inputs with the training split's per-channel
            mean and standard deviation.
        mixed_precision: None, `"mixed_float16"` (with loss scaling) or
            `"mixed_bfloat16"`; the model's computations run in that type,
            its variables stay float32.
        jit_compile: passed to `model.compile`: True, False or `"auto"`.
        run_eagerly: run without tracing (`model.compile(run_eagerly=True)`):
            for debugging, and faster for a handful of steps of a tiny model,
            where tracing costs more than it saves.
        source: where the values come from.
    """

    epochs: int
    batch_size: int
    learning_rate: float
    weight_decay: float
    aux_weight: float
    drop_path_keep_prob: float
    cells_per_stack: int
    filters: int
    final_learning_rate: float = 0.0
    momentum: float = 0.9
    nesterov: bool = False
    warmup_fraction: float = 0.0
    clipnorm: float | None = 5.0
    drop_path_schedule: str = "nasnet"
    stem_strides: int = 1
    pad: int = 4
    flip: bool = True
    cutout: int | None = None
    normalize: bool = True
    mixed_precision: str | None = None
    jit_compile: bool | str = "auto"
    run_eagerly: bool = False
    source: str = ""

    def __post_init__(self):
        for name in ("epochs", "batch_size", "cells_per_stack", "filters"):
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                _fail(name, "an integer >= 1", value)
        if not _is_real(self.learning_rate) or self.learning_rate <= 0:
            _fail("learning_rate", "a number > 0", self.learning_rate)
        if not _is_real(self.final_learning_rate) or not (
            0 <= self.final_learning_rate <= self.learning_rate
        ):
            _fail(
                "final_learning_rate",
                f"a number in [0, learning_rate] = [0, {self.learning_rate}]",
                self.final_learning_rate,
            )
        for name in ("weight_decay", "aux_weight"):
            value = getattr(self, name)
            if not _is_real(value) or value < 0:
                _fail(name, "a number >= 0", value)
        if not _is_real(self.momentum) or not 0 <= self.momentum < 1:
            _fail("momentum", "a number in [0, 1)", self.momentum)
        if not isinstance(self.nesterov, bool):
            _fail("nesterov", "True or False", self.nesterov)
        if not _is_real(self.warmup_fraction) or not 0 <= self.warmup_fraction < 1:
            _fail("warmup_fraction", "a number in [0, 1)", self.warmup_fraction)
        _check_schedule(self.drop_path_schedule, "drop_path_schedule")
        if not _is_int(self.stem_strides) or self.stem_strides not in (1, 2):
            _fail("stem_strides", "1 or 2", self.stem_strides)
        if self.clipnorm is not None and (
            not _is_real(self.clipnorm) or self.clipnorm <= 0
        ):
            _fail("clipnorm", "None or a number > 0", self.clipnorm)
        if not _is_real(self.drop_path_keep_prob) or not (
            0 < self.drop_path_keep_prob <= 1
        ):
            _fail("drop_path_keep_prob", "a number in (0, 1]", self.drop_path_keep_prob)
        if not _is_int(self.pad) or self.pad < 0:
            _fail("pad", "an integer >= 0", self.pad)
        if self.cutout is not None and (not _is_int(self.cutout) or self.cutout < 1):
            _fail("cutout", "None or an integer >= 1", self.cutout)
        if self.mixed_precision not in _PRECISIONS:
            _fail(
                "mixed_precision", f"one of {list(_PRECISIONS)}", self.mixed_precision
            )
        if self.jit_compile not in (True, False, "auto"):
            _fail("jit_compile", "True, False or 'auto'", self.jit_compile)
        if not isinstance(self.run_eagerly, bool):
            _fail("run_eagerly", "True or False", self.run_eagerly)

    def steps_per_epoch(self, num_examples):
        """Optimizer steps in one epoch over `num_examples` (last batch partial)."""
        return math.ceil(num_examples / self.batch_size)


NASNET_CIFAR = Recipe(
    epochs=600,
    batch_size=32,
    learning_rate=0.025,
    weight_decay=5e-4,
    aux_weight=0.4,
    drop_path_keep_prob=0.6,
    cells_per_stack=6,
    filters=32,
    clipnorm=5.0,
    source="Zoph et al. 2018, appendix A: NASNet-A 6@768 on CIFAR-10 "
    "(3.41% test error; 2.65% with cutout=16); NASNet's drop-path schedule "
    "(TF-slim 'v3', by depth and time)",
)
AMOEBANET_CIFAR = Recipe(
    epochs=600,
    batch_size=128,
    learning_rate=0.024,
    weight_decay=5e-4,
    aux_weight=0.4,
    drop_path_keep_prob=0.7,
    drop_path_schedule="amoebanet",
    cells_per_stack=6,
    filters=36,
    clipnorm=5.0,
    source="Real et al. 2019: AmoebaNet-A (N=6, F=36) on CIFAR-10 (3.34% test "
    "error); AmoebaNet's drop-path schedule and auxiliary weight from its "
    "released code (tensorflow/tpu models/official/amoeba_net: "
    "network_utils.py `_apply_drop_path` 'v1', by time only, ramped over "
    "the run as amoeba_net_model.py sets drop_path_burn_in_steps; "
    "model_builder.py `_build_loss` weighs the aux loss 0.4); the global-norm "
    "clip is NASNet's (not given for AmoebaNet)",
)
NASNET_SEARCH = dataclasses.replace(
    NASNET_CIFAR,
    epochs=20,
    cells_per_stack=2,
    aux_weight=0.0,
    drop_path_keep_prob=1.0,
    source="Zoph et al. 2018, section 4: search-time child networks, 20 epochs, "
    "N=2, cosine schedule; F, batch and regularization assumed from the final "
    "recipe without aux head and drop path",
)
AMOEBANET_SEARCH = dataclasses.replace(
    AMOEBANET_CIFAR,
    epochs=25,
    cells_per_stack=3,
    filters=24,
    aux_weight=0.0,
    drop_path_keep_prob=1.0,
    source="Real et al. 2019, section 4: search-time child networks, 25 epochs, "
    "N=3, F=24; the rest assumed from the final recipe without aux head and "
    "drop path",
)
PROXY = Recipe(
    epochs=8,
    batch_size=64,
    learning_rate=0.05,
    weight_decay=5e-4,
    aux_weight=0.0,
    drop_path_keep_prob=1.0,
    cells_per_stack=1,
    filters=16,
    clipnorm=5.0,
    source="keras-nasnet's default search proxy, about 16x cheaper than "
    "NASNET_SEARCH: 8 epochs instead of 20, N=1 instead of 2 (5 cells, not 8), "
    "F=16 instead of 32 (1/4 of the FLOPs); batch 64 with the learning rate "
    "scaled linearly from 0.025 at 32",
)
SEARCH_PROXY = Recipe(
    epochs=1,
    # Twice the updates of batch 64 for the same images at 1.1x the CPU
    # time: 0.82 against 0.80 validation accuracy after 6,000 images.
    batch_size=32,
    learning_rate=0.1,
    nesterov=True,
    warmup_fraction=0.1,
    # A one-epoch proxy does not overfit, and the regularization loss is a
    # fifth of the traced graph.
    weight_decay=0.0,
    aux_weight=0.0,
    drop_path_keep_prob=1.0,
    cells_per_stack=1,
    filters=8,
    stem_strides=2,
    pad=0,
    flip=False,
    jit_compile=False,
    source="ours, not the papers': the default child training of "
    "`NASNetHyperModel` and `make search`, chosen by measurement on "
    "Fashion-MNIST (benchmarks/proxy_recipe.py, "
    "benchmarks/results/proxy_recipe.json)",
)
# name -> Recipe, for command lines and configs.
RECIPES = {
    "nasnet_cifar": NASNET_CIFAR,
    "amoebanet_cifar": AMOEBANET_CIFAR,
    "nasnet_search": NASNET_SEARCH,
    "amoebanet_search": AMOEBANET_SEARCH,
    "proxy": PROXY,
    "search_proxy": SEARCH_PROXY,
}


def learning_rate_schedule(recipe, steps_per_epoch):
    """The recipe's learning rate per step: optional linear warmup, then a
    single cosine decay over the rest of the run, without restarts.

    With `warmup_fraction = w` over `T = epochs * steps_per_epoch` steps, the
    rate rises linearly from 0 to `learning_rate` over the first
    `round(w * T)` steps (at most `T - 1`), then decays along a half cosine
    to `final_learning_rate` at step `T`; without warmup the decay starts at
    step 0 (the papers' schedule).

    Args:
        recipe: a `Recipe`.
        steps_per_epoch: optimizer steps per epoch.

    Returns:
        A `keras.optimizers.schedules.CosineDecay`: a callable from step to
        learning rate, `final_learning_rate` from step `T` on.

    Example:

    >>> schedule = learning_rate_schedule(NASNET_CIFAR, steps_per_epoch=10)
    >>> [round(float(schedule(step)), 5) for step in (0, 3000, 6000)]
    [0.025, 0.0125, 0.0]
    >>> import dataclasses
    >>> warm = dataclasses.replace(NASNET_CIFAR, epochs=1, warmup_fraction=0.2)
    >>> [round(float(learning_rate_schedule(warm, 10)(s)), 5) for s in (0, 1, 2, 6, 10)]
    [0.0, 0.0125, 0.025, 0.0125, 0.0]
    """
    if not _is_int(steps_per_epoch) or steps_per_epoch < 1:
        _fail("steps_per_epoch", "an integer >= 1", steps_per_epoch)
    total = recipe.epochs * int(steps_per_epoch)
    warmup = min(round(recipe.warmup_fraction * total), total - 1)
    alpha = recipe.final_learning_rate / recipe.learning_rate
    if not warmup:
        return keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=recipe.learning_rate, decay_steps=total, alpha=alpha
        )
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0,
        decay_steps=total - warmup,
        alpha=alpha,
        warmup_target=recipe.learning_rate,
        warmup_steps=warmup,
    )


@keras.saving.register_keras_serializable(package="keras_nasnet")
class FusedSGD(keras.optimizers.SGD):
    """`keras.optimizers.SGD` whose TensorFlow update is one op per variable.

    The same algorithm and settings as `keras.optimizers.SGD` (a subclass:
    `get_config`, saving and every other backend are Keras's own). On
    TensorFlow, with momentum and dense gradients, and without a distribution
    strategy, gradient accumulation, EMA or per-variable clipping, each
    variable's update is TensorFlow's fused `ResourceApplyKerasMomentum`
    (Keras's momentum and Nesterov formulas: `m = momentum * m - lr * g`,
    then `w += m`, or `w += momentum * m - lr * g`), and global-norm
    clipping scales the learning rate instead of each gradient
    (`lr * scale` for every `g * scale`: the same update, rounded
    differently). Keras builds about ten graph ops per variable for the same
    step, plus three for the clipping: for a NASNet search child (246
    variables) tracing the first training step took 10.4-12.4 s a trial
    instead of 17.3-23.8 (`benchmarks/README.md`, trial_overhead). Anything
    else is Keras's path.
    """

    def _fuses(self, grads):
        if keras.backend.backend() != "tensorflow" or not self.momentum:
            return False
        import tensorflow as tf

        return not (
            tf.distribute.has_strategy()
            or self.gradient_accumulation_steps
            or self.use_ema
            or self.clipnorm
            or self.clipvalue
            # Sparse gradients (an embedding's): the fused op takes dense ones.
            or any(isinstance(g, tf.IndexedSlices) for g in grads)
        )

    def _backend_apply_gradients(self, grads, trainable_variables):
        if not self._fuses(grads):
            return super()._backend_apply_gradients(grads, trainable_variables)
        import tensorflow as tf

        learning_rate = self.learning_rate
        if self.global_clipnorm:
            # Keras's `clip_by_global_norm`, applied through the rate; its
            # `norm - norm` turns an infinite or NaN norm into a NaN update.
            norm = tf.sqrt(2.0 * tf.add_n([tf.nn.l2_loss(g) for g in grads]))
            clip = self.global_clipnorm
            scale = clip * tf.minimum(1.0 / norm, 1.0 / clip) + (norm - norm)
            learning_rate = learning_rate * scale
        self._apply_weight_decay(trainable_variables)
        constants = {}
        for grad, variable in zip(grads, trainable_variables, strict=True):
            var = variable.value if isinstance(variable, keras.Variable) else variable
            dtype = var.dtype.base_dtype
            if dtype not in constants:
                constants[dtype] = (
                    tf.cast(learning_rate, dtype),
                    tf.constant(self.momentum, dtype),
                )
            rate, momentum = constants[dtype]
            accumulator = self.momentums[self._get_variable_index(variable)]
            tf.raw_ops.ResourceApplyKerasMomentum(
                var=var.handle,
                accum=accumulator.value.handle,
                lr=rate,
                grad=tf.cast(grad, dtype),
                momentum=momentum,
                use_nesterov=self.nesterov,
            )


def make_optimizer(recipe, steps_per_epoch):
    """SGD with (Nesterov) momentum, the recipe's schedule and global-norm clipping.

    A `FusedSGD`: Keras's SGD with a cheaper TensorFlow graph.

    With `mixed_precision="mixed_float16"` it is wrapped in a
    `keras.optimizers.LossScaleOptimizer`, so small float16 gradients do not
    underflow.

    Args:
        recipe: a `Recipe`.
        steps_per_epoch: optimizer steps per epoch.

    Returns:
        A Keras optimizer.
    """
    optimizer = FusedSGD(
        learning_rate=learning_rate_schedule(recipe, steps_per_epoch),
        momentum=recipe.momentum,
        nesterov=recipe.nesterov,
        global_clipnorm=recipe.clipnorm,
    )
    if recipe.mixed_precision == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def _is_logits(model):
    """Whether the model's (main) output is logits rather than probabilities."""
    if hasattr(model, "classifier_activation"):  # a NASNet
        return model.classifier_activation in (None, "linear")
    output = model.outputs[0]
    history = getattr(output, "_keras_history", None)
    layer = history.operation if history is not None else None
    if isinstance(layer, keras.layers.Softmax):
        return False
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", "") != "softmax"


def compile_model(
    model, recipe, steps_per_epoch, *, from_logits=None, metrics=("accuracy",)
):
    """Compiles `model` with the recipe's optimizer, loss and execution settings.

    The optimizer is `make_optimizer(recipe, steps_per_epoch)`; the loss,
    sparse categorical cross-entropy on integer labels, applies to the main
    output. A `NASNet` with an auxiliary head adds its own weighted auxiliary
    loss (`NASNet(aux_weight=...)`, set from the recipe by `build_model`).

    Args:
        model: a Keras classifier with one output (or a `NASNet`).
        recipe: a `Recipe`.
        steps_per_epoch: optimizer steps per epoch (for the cosine schedule).
        from_logits: whether the output is logits rather than probabilities;
            None reads it from the model (a softmax activation on its output
            layer, or a NASNet's `classifier_activation`, means probabilities).
        metrics: metrics of the main output.

    Returns:
        `model`, compiled.
    """
    if from_logits is None:
        from_logits = _is_logits(model)
    model.compile(
        optimizer=make_optimizer(recipe, steps_per_epoch),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=bool(from_logits)),
        metrics=list(metrics),
        # XLA compiles traced functions; an eager run has none.
        jit_compile=False if recipe.run_eagerly else recipe.jit_compile,
        run_eagerly=recipe.run_eagerly,
    )
    return model


def build_training_state(model, input_shape=None):
    """Creates the optimizer's, the loss's and the metrics' state before `fit`.

    On the TensorFlow backend, Keras creates them inside the first traced
    training step, and a `tf.function` that creates variables is traced
    twice. Creating them first (as Keras itself does under a distribution
    strategy, and always on JAX) halves the cost of the first step: the
    trace is most of a short search trial's time. For a `NASNet`, whose
    predictions' spec is known, the compiled metrics and loss are built from
    it, without the trace of the forward pass that Keras's pre-build makes.

    Does nothing for a model compiled with `run_eagerly=True` (nothing is
    traced).

    Args:
        model: a model compiled with `compile_model` (or `model.compile`).
        input_shape: the input shape without the batch axis; defaults to the
            model's own (a Functional model's `input_shape`). Needed for a
            subclassed model that is not built yet.

    Returns:
        `model`.
    """
    if model.run_eagerly:
        return model
    if input_shape is None:
        input_shape = tuple(model.input_shape[1:])
    x = keras.KerasTensor((None, *input_shape), dtype="float32")
    y = keras.KerasTensor((None,), dtype="int32")
    predictions = _inference_outputs(model)
    if predictions is not None:
        # Keras's pre-build traces the model's forward pass (1-2 s for a
        # search child) for one thing, the predictions' spec, which builds
        # the compiled metrics and loss; a NASNet knows it. Built, they make
        # the pre-build skip the trace.
        for compiled in (
            getattr(model, "_compile_metrics", None),
            getattr(model, "_compile_loss", None),
        ):
            if compiled is not None and not compiled.built:
                compiled.build(y, predictions)
    # Keras's own pre-build (what `fit` runs under a distribution strategy):
    # the model, the compiled loss and metrics (unless built), then the
    # optimizer.
    model._symbolic_build(data_batch=(x, y))
    return model


def _inference_outputs(model):
    """A `NASNet`'s predictions at inference as a `KerasTensor`, else None."""
    from keras_nasnet.models import NASNet

    if not isinstance(model, NASNet):
        return None
    # With an auxiliary head, the outputs are [logits, aux_logits] and a
    # call at inference returns the logits alone.
    return model.outputs[0]


def configure_tensorflow(*, threads=None, graph_optimization=None):
    """Process-wide TensorFlow settings for many short trainings on a CPU.

    Call it once, before any model is built (TensorFlow fixes its thread
    pools at first use). Does nothing on other backends, or for arguments
    left None.

    - `threads`: intra- and inter-op threads. On a 2-core machine, two
      search workers of one thread each train more trials per hour than one
      worker of two threads: a trial's first step, its trace, runs in
      Python on one core anyway.
    - `graph_optimization=False` turns Grappler (TensorFlow's graph
      optimizer) off. On a CPU it saves about 6 of the 21 CPU-seconds of the
      first step of a NASNet search trial without slowing later steps (see
      `benchmarks/README.md`, proxy_recipe); keep it on a GPU, where its
      layout and fusion passes pay.

    Args:
        threads: a positive integer or None.
        graph_optimization: True, False or None.

    Returns:
        A dict of the settings applied.
    """
    if threads is not None:
        threads = check_int("threads", threads, 1)
    if graph_optimization not in (None, True, False):
        _fail("graph_optimization", "True, False or None", graph_optimization)
    applied = {}
    if keras.backend.backend() != "tensorflow":
        return applied
    import tensorflow as tf

    if threads is not None:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
        applied["threads"] = threads
    if graph_optimization is not None:
        tf.config.optimizer.set_experimental_options(
            {"disable_meta_optimizer": not graph_optimization}
        )
        applied["graph_optimization"] = graph_optimization
    return applied


def build_model(genotype, splits, recipe, **kwargs):
    """A `keras_nasnet.models.NASNet` sized and regularized by `recipe`.

    Sets `cells_per_stack`, `filters`, `stem_strides`, `weight_decay`,
    `drop_path_keep_prob` and `drop_path_schedule`, the auxiliary head
    (`auxiliary_head=aux_weight > 0`, `aux_weight`), and builds under the
    recipe's mixed-precision dtype policy (restoring the previous global
    policy afterwards).

    Args:
        genotype: anything `NASNet` accepts (a `Genotype`, its text or JSON
            form, or a published name such as `"nasnet_a"`).
        splits: a `Splits` (for `input_shape` and `num_classes`) or a pair
            `(input_shape, num_classes)`.
        recipe: a `Recipe`.
        **kwargs: further `NASNet` arguments (e.g. `dropout`, `stem`); they
            override the recipe's.

    Returns:
        A `NASNet`, not compiled.
    """
    from keras_nasnet.models import NASNet

    if isinstance(splits, tuple):
        input_shape, num_classes = splits
    else:
        input_shape, num_classes = splits.input_shape, splits.num_classes
    arguments = dict(
        cells_per_stack=recipe.cells_per_stack,
        filters=recipe.filters,
        stem_strides=recipe.stem_strides,
        num_classes=num_classes,
        input_shape=tuple(input_shape),
        auxiliary_head=recipe.aux_weight > 0,
        aux_weight=recipe.aux_weight,
        drop_path_keep_prob=recipe.drop_path_keep_prob,
        drop_path_schedule=recipe.drop_path_schedule,
        weight_decay=recipe.weight_decay,
    )
    arguments.update(kwargs)
    previous = keras.config.dtype_policy()
    if recipe.mixed_precision is not None:
        keras.config.set_dtype_policy(recipe.mixed_precision)
    try:
        return NASNet(genotype, **arguments)
    finally:
        keras.config.set_dtype_policy(previous)


def input_pipeline(splits, recipe, *, seed=None, training=True):
    """The layers put in front of the network by `train`.

    `rescale (uint8 inputs) -> pad-crop -> flip -> normalize -> cutout`, each
    step only where the recipe (and, for flips, the dataset) asks for it.

    Args:
        splits: the `Splits` to train on (array form), for the input shape,
            dtype, flip permission and normalization statistics.
        recipe: a `Recipe`.
        seed: optional seed of the random layers.
        training: include the augmentation layers; False gives the
            deterministic part only (for inference).

    Returns:
        A list of Keras layers (possibly empty).
    """
    layers = []
    if splits.train[0].dtype == np.uint8:
        layers.append(keras.layers.Rescaling(1.0 / 255.0, name="rescale"))
    flip = recipe.flip and splits.horizontal_flip
    if training and (recipe.pad or flip):
        layers.append(
            augment_lib.augmentation(
                splits.input_shape, pad=recipe.pad, flip=flip, cutout=None, seed=seed
            )
        )
    if recipe.normalize:
        mean, std = splits.mean_std()
        # A constant channel would divide by zero.
        layers.append(augment_lib.normalization(mean, np.maximum(std, 1e-3)))
    if training and recipe.cutout is not None:
        cutout_seed = None if seed is None else seed + 2
        layers.append(
            augment_lib.Cutout(recipe.cutout, seed=cutout_seed, name="cutout")
        )
    return layers


class _Trainer(AuxiliaryLossMixin, SingleTraceMixin, keras.Model):
    """The input pipeline followed by the network, trained as one model.

    A subclassed model rather than a Functional one: a `NASNet` with an
    auxiliary head returns its two outputs only when called with
    `training=True`, which a Functional graph traced once cannot follow. The
    auxiliary loss is weighted by the network's `aux_weight`, as a `NASNet`
    trained alone weighs it.
    """

    def __init__(self, network, pipeline, **kwargs):
        super().__init__(**kwargs)
        self.network = network
        self.pipeline = pipeline

    def call(self, inputs, training=None):
        x = inputs
        for layer in self.pipeline:
            x = layer(x, training=training)
        return self.network(x, training=training)

    def auxiliary_loss_weight(self):
        return getattr(self.network, "aux_weight", 0.0)


@dataclasses.dataclass
class TrainResult:
    """What `train` returns.

    Attributes:
        history: `keras.callbacks.History.history`: metric name -> one value
            per epoch (`loss`, `accuracy`, and `val_loss`, `val_accuracy`
            when there is a validation split).
        test: test metrics (`{"loss": ..., "accuracy": ...}`), or None when
            the splits have no test split.
        model: a Functional inference model, the deterministic input pipeline
            (rescaling, normalization) then the trained network, that takes
            images as `load` returns them and can be saved as `.keras`. It
            shares its weights with the network passed to `train`.
    """

    history: dict
    test: dict | None
    model: keras.Model


# Keras's warning, once per traced step, naming every weight without a
# gradient (about 3 KB for one unread cell).
_NO_GRADIENT_WARNING = "Gradients do not exist for variables"


@contextlib.contextmanager
def unread_cells_explained(model):
    """Trains `model` with one line about its unread cells instead of Keras's.

    A searched genotype may leave a whole cell unread (see
    `keras_nasnet.models.NASNet.unread_cells`): legal in the NASNet space,
    and the released code builds those cells too, but their weights get no
    gradient, and Keras warns about each of them by name. Inside this block
    that warning is replaced by one `UserWarning` naming the cells. A model
    without unread cells is trained as it is.

    Args:
        model: the model about to be trained (a `NASNet`, or any model).

    Example:

    >>> import keras_nasnet
    >>> model = keras_nasnet.models.NASNet(
    ...     "nasnet_a", cells_per_stack=1, filters=4, input_shape=(8, 8, 1),
    ...     num_classes=2)
    >>> with unread_cells_explained(model):  # NASNet-A reads every cell
    ...     pass
    """
    unread = tuple(getattr(model, "unread_cells", ()))
    if not unread:
        yield
        return
    weights = sum(model.get_layer(name).count_params() for name in unread)
    whose = "its" if len(unread) == 1 else "their"
    warnings.warn(
        f"{', '.join(unread)}: no later cell reads {whose} output (legal in the "
        f"NASNet space), so {weights:,} weights get no gradient and keep their "
        "initial values.",
        UserWarning,
        stacklevel=3,
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_NO_GRADIENT_WARNING)
        yield


def train(model, splits, recipe, *, callbacks=None, verbose="auto", seed=None):
    """Trains `model` on `splits` with `recipe`, then evaluates on the test split.

    Puts `input_pipeline(splits, recipe)` in front of `model`, compiles the
    whole with `compile_model`, adds a `DropPathScheduler` when the model has
    drop path, fits on the training split for `recipe.epochs` with the
    validation split (if any) as `validation_data`, and evaluates on the test
    split (if any).

    Args:
        model: the network, typically `build_model(genotype, splits, recipe)`;
            any Keras classifier with one output also works.
        splits: a `keras_nasnet.data.Splits` of numpy arrays.
        recipe: a `Recipe`.
        callbacks: extra Keras callbacks.
        verbose: passed to `fit`; `evaluate` is silent.
        seed: optional seed of the augmentation layers.

    Returns:
        A `TrainResult`.

    Raises:
        TypeError: if the splits hold `tf.data` datasets instead of arrays.
    """
    # Imported here: keras_nasnet.callbacks imports the layers package, which
    # importing keras_nasnet.training alone does not need.
    from keras_nasnet.callbacks import DropPathScheduler, drop_path_layers

    if not isinstance(splits.train, tuple):
        raise TypeError(
            "`train` needs numpy-array splits (the augmentation runs inside the "
            f"model); received {type(splits.train).__name__}. Load with "
            "`as_dataset=False`."
        )
    pipeline = input_pipeline(splits, recipe, seed=seed)
    for layer in pipeline:
        # Build now, outside any traced function: Normalization makes its
        # constants when built, and would leave them in a scratch graph.
        layer.build((None, *splits.input_shape))
    trainer = _Trainer(model, pipeline, name=f"{model.name}_trainer")
    x_train, y_train = splits.train
    compile_model(
        trainer,
        recipe,
        recipe.steps_per_epoch(len(x_train)),
        from_logits=_is_logits(model),
    )
    build_training_state(trainer, splits.input_shape)
    callbacks = list(callbacks or [])
    has_drop_path = any(
        layer.drop_path_keep_prob < 1 for layer in drop_path_layers(model)
    )
    if has_drop_path and not any(isinstance(c, DropPathScheduler) for c in callbacks):
        callbacks.append(DropPathScheduler())
    # Arrays batched without tf.data's autotuning (`feeding`): Keras's own
    # pipeline for them made `fit` return seconds late on busy cores.
    fit_args, fit_kwargs = feeding.as_datasets(
        (x_train, y_train),
        dict(
            batch_size=recipe.batch_size,
            epochs=recipe.epochs,
            validation_data=splits.validation,
            shuffle=True,
            callbacks=callbacks,
            verbose=verbose,
        ),
    )
    with unread_cells_explained(model):
        history = trainer.fit(*fit_args, **fit_kwargs)
    test = None
    if splits.test is not None:
        test_args, test_kwargs = feeding.as_datasets(
            splits.test, dict(batch_size=recipe.batch_size), method="evaluate"
        )
        test = trainer.evaluate(*test_args, **test_kwargs, return_dict=True, verbose=0)
    inputs = keras.Input(splits.input_shape, name="images")
    x = inputs
    for layer in input_pipeline(splits, recipe, training=False):
        x = layer(x)
    inference = keras.Model(inputs, model(x), name=f"{model.name}_inference")
    return TrainResult(history=dict(history.history), test=test, model=inference)

"""Tests for keras_nasnet.training: recipes, schedule, optimizer, compile and train."""

import dataclasses
import math
import os

import keras
import numpy as np
import pytest

from keras_nasnet import data, training
from keras_nasnet.training import (
    AMOEBANET_CIFAR,
    AMOEBANET_SEARCH,
    NASNET_CIFAR,
    NASNET_SEARCH,
    PROXY,
    SEARCH_PROXY,
)

SUBSET_DIR = os.path.join(os.path.dirname(__file__), "data", "fashion-mnist")


@pytest.fixture(scope="module")
def splits():
    return data.load("fashion_mnist", data_dir=SUBSET_DIR, validation_size=100)


def _tiny_classifier(input_shape=(28, 28, 1), logits=True, aux=False):
    inputs = keras.Input(input_shape)
    h = keras.layers.Conv2D(4, 3, strides=2, activation="relu")(inputs)
    h = keras.layers.GlobalAveragePooling2D()(h)
    activation = None if logits else "softmax"
    main = keras.layers.Dense(10, activation=activation, name="main")(h)
    if not aux:
        return keras.Model(inputs, main)
    return keras.Model(inputs, [main, keras.layers.Dense(10, name="aux")(h)])


def _numpy(variable):
    # `variable * 1` is a tensor: NumPy 2 converts it without the
    # `__array__(copy=...)` deprecation that Keras variables trip on some
    # backends.
    return keras.ops.convert_to_numpy(variable * 1)


# --- recipes -----------------------------------------------------------------


def test_presets_follow_the_papers():
    nasnet = NASNET_CIFAR
    assert (nasnet.epochs, nasnet.batch_size, nasnet.learning_rate) == (600, 32, 0.025)
    assert (nasnet.weight_decay, nasnet.aux_weight, nasnet.clipnorm) == (5e-4, 0.4, 5.0)
    assert (nasnet.drop_path_keep_prob, nasnet.momentum) == (0.6, 0.9)
    assert (nasnet.cells_per_stack, nasnet.filters) == (6, 32)  # 6@768
    assert (nasnet.pad, nasnet.flip, nasnet.cutout) == (4, True, None)
    assert nasnet.drop_path_schedule == "nasnet"
    amoeba = AMOEBANET_CIFAR
    # The released code weighs the aux loss 0.4 (tensorflow/tpu amoeba_net
    # model_builder._build_loss) and ramps drop path by time only ('v1').
    assert (amoeba.batch_size, amoeba.learning_rate, amoeba.aux_weight) == (
        128,
        0.024,
        0.4,
    )
    assert amoeba.drop_path_schedule == "amoebanet"
    assert (amoeba.drop_path_keep_prob, amoeba.filters) == (0.7, 36)
    # The papers train without warmup, Nesterov or a strided stem.
    for paper in (NASNET_CIFAR, AMOEBANET_CIFAR, NASNET_SEARCH, AMOEBANET_SEARCH):
        assert (paper.warmup_fraction, paper.nesterov, paper.stem_strides) == (
            0.0,
            False,
            1,
        )
    assert (NASNET_SEARCH.epochs, NASNET_SEARCH.cells_per_stack) == (20, 2)
    assert (AMOEBANET_SEARCH.epochs, AMOEBANET_SEARCH.cells_per_stack) == (25, 3)
    assert AMOEBANET_SEARCH.filters == 24
    # Our proxy is cheaper than the paper's, as documented.
    assert PROXY.epochs < NASNET_SEARCH.epochs
    assert PROXY.cells_per_stack < NASNET_SEARCH.cells_per_stack
    assert PROXY.filters < NASNET_SEARCH.filters
    assert set(training.RECIPES.values()) == {
        NASNET_CIFAR,
        AMOEBANET_CIFAR,
        NASNET_SEARCH,
        AMOEBANET_SEARCH,
        PROXY,
        SEARCH_PROXY,
    }
    assert all(recipe.source for recipe in training.RECIPES.values())
    assert SEARCH_PROXY.source.startswith("ours")
    assert "benchmarks/results/proxy_recipe.json" in SEARCH_PROXY.source


@pytest.mark.parametrize(
    "field, value",
    [
        ("epochs", 0),
        ("batch_size", 2.5),
        ("learning_rate", 0),
        ("final_learning_rate", 1.0),
        ("weight_decay", -1e-4),
        ("aux_weight", -0.4),
        ("momentum", 1.0),
        ("clipnorm", 0),
        ("drop_path_keep_prob", 0.0),
        ("drop_path_keep_prob", 1.5),
        ("cutout", 0),
        ("pad", -4),
        ("mixed_precision", "float16"),
        ("jit_compile", "yes"),
        ("run_eagerly", 1),
        ("cells_per_stack", True),
        ("nesterov", 1),
        ("warmup_fraction", 1.0),
        ("warmup_fraction", -0.1),
        ("drop_path_schedule", "v3"),
        ("stem_strides", 3),
        ("stem_strides", 2.0),
    ],
)
def test_recipe_validation_names_the_field(field, value):
    with pytest.raises(ValueError, match=f"argument `{field}`.*Received: {field}="):
        dataclasses.replace(NASNET_CIFAR, **{field: value})


def test_steps_per_epoch_counts_the_partial_batch():
    assert NASNET_CIFAR.steps_per_epoch(45000) == 1407  # 45000 / 32 = 1406.25
    assert NASNET_CIFAR.steps_per_epoch(64) == 2


# --- schedule and optimizer -------------------------------------------------------------


def test_cosine_schedule_start_middle_end():
    steps = NASNET_CIFAR.steps_per_epoch(45000)
    schedule = training.learning_rate_schedule(NASNET_CIFAR, steps)
    total = 600 * steps

    def lr(step):
        return float(keras.ops.convert_to_numpy(schedule(step)))

    assert lr(0) == pytest.approx(0.025)
    assert lr(total // 2) == pytest.approx(0.0125, rel=1e-4)
    assert lr(total) == pytest.approx(0.0, abs=1e-9)
    assert lr(total + 1000) == pytest.approx(0.0, abs=1e-9)  # single decay, no restart
    quarter = 0.025 * 0.5 * (1 + math.cos(math.pi / 4))
    assert lr(total // 4) == pytest.approx(quarter, rel=1e-4)
    floor = dataclasses.replace(NASNET_CIFAR, final_learning_rate=0.001)
    end = training.learning_rate_schedule(floor, steps)(total)
    assert float(keras.ops.convert_to_numpy(end)) == pytest.approx(0.001, rel=1e-4)
    with pytest.raises(ValueError, match="`steps_per_epoch`"):
        training.learning_rate_schedule(NASNET_CIFAR, 0)


def test_warmup_rises_linearly_then_the_cosine_spans_the_rest():
    recipe = dataclasses.replace(
        NASNET_CIFAR, epochs=2, learning_rate=0.1, warmup_fraction=0.1
    )
    schedule = training.learning_rate_schedule(recipe, steps_per_epoch=50)

    def lr(step):
        return float(keras.ops.convert_to_numpy(schedule(step)))

    # 100 steps: 10 of warmup from 0, then 90 of cosine from the peak to 0.
    assert [lr(s) for s in (0, 5, 10)] == pytest.approx([0.0, 0.05, 0.1])
    assert lr(55) == pytest.approx(0.05, rel=1e-4)
    assert lr(100) == pytest.approx(0.0, abs=1e-9)
    # A run too short for a whole warmup step still decays over its last.
    one = dataclasses.replace(recipe, epochs=1, warmup_fraction=0.9)
    short = training.learning_rate_schedule(one, steps_per_epoch=1)
    assert float(keras.ops.convert_to_numpy(short(0))) == pytest.approx(0.1)


def test_compile_model_sets_momentum_clipping_schedule_and_loss():
    model = training.compile_model(_tiny_classifier(), NASNET_CIFAR, steps_per_epoch=10)
    optimizer = model.optimizer
    assert isinstance(optimizer, keras.optimizers.SGD)
    assert optimizer.momentum == 0.9 and optimizer.global_clipnorm == 5.0
    assert optimizer.clipnorm is None and optimizer.weight_decay is None
    schedule = optimizer._learning_rate
    assert isinstance(schedule, keras.optimizers.schedules.CosineDecay)
    assert schedule.decay_steps == 600 * 10
    assert model.loss.get_config()["from_logits"] is True
    softmax = training.compile_model(_tiny_classifier(logits=False), PROXY, 10)
    assert softmax.loss.get_config()["from_logits"] is False
    no_clip = dataclasses.replace(PROXY, clipnorm=None, jit_compile=False)
    plain = training.compile_model(_tiny_classifier(), no_clip, 10)
    assert plain.optimizer.global_clipnorm is None and plain.jit_compile is False
    eager = dataclasses.replace(PROXY, run_eagerly=True, jit_compile=True)
    eager_model = training.compile_model(_tiny_classifier(), eager, 10)
    assert eager_model.run_eagerly and not eager_model.jit_compile


def test_nesterov_from_the_recipe():
    recipe = dataclasses.replace(PROXY, nesterov=True)
    assert training.make_optimizer(recipe, steps_per_epoch=5).nesterov is True
    assert training.make_optimizer(PROXY, steps_per_epoch=5).nesterov is False


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="TensorFlow's tracing"
)
def test_build_training_state_traces_the_first_step_once():
    x = np.zeros((8, 28, 28, 1), "float32")
    y = np.zeros((8,), "int32")

    def traces(prebuild):
        model = training.compile_model(_tiny_classifier(), PROXY, steps_per_epoch=2)
        if prebuild:
            training.build_training_state(model)
            assert model.optimizer.built
        calls = []
        step = model.train_step

        def counted(data):
            calls.append(1)  # runs once per trace
            return step(data)

        model.train_step = counted
        model.fit(x, y, batch_size=4, epochs=1, verbose=0)
        return len(calls)

    # Keras creates the optimizer and metric variables inside the first
    # traced step, and a tf.function that creates variables traces twice.
    assert traces(prebuild=True) == 1 < traces(prebuild=False)


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="TensorFlow's tracing"
)
def test_build_training_state_builds_a_nasnet_without_tracing_its_forward_pass():
    recipe = dataclasses.replace(PROXY, cells_per_stack=1, filters=4, aux_weight=0.4)
    model = training.build_model("nasnet_a", ((28, 28, 1), 10), recipe)
    training.compile_model(model, recipe, steps_per_epoch=2)
    forward, steps = [], []
    call, step = model.call, model.train_step
    model.call = lambda *a, **k: forward.append(1) or call(*a, **k)
    model.train_step = lambda data: steps.append(1) or step(data)
    training.build_training_state(model)
    assert forward == [] and model.optimizer.built
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 28, 28, 1)).astype("float32")
    y = rng.integers(0, 10, 8)
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert set(history.history) == {"loss", "accuracy"}
    assert len(steps) == 1  # nothing left to create: one trace
    # "accuracy" resolved as Keras resolves it for integer labels and logits.
    _, accuracy = model.evaluate(x, y, verbose=0)
    predicted = np.argmax(model.predict(x, verbose=0), axis=-1)
    assert accuracy == pytest.approx(np.mean(predicted == y))


def test_configure_tensorflow_turns_the_graph_optimizer_off():
    with pytest.raises(ValueError, match="`threads`"):
        training.configure_tensorflow(threads=0)
    with pytest.raises(ValueError, match="`graph_optimization`"):
        training.configure_tensorflow(graph_optimization="off")
    if keras.backend.backend() != "tensorflow":
        assert training.configure_tensorflow(graph_optimization=False) == {}
        return
    import tensorflow as tf

    key = "disable_meta_optimizer"
    before = tf.config.optimizer.get_experimental_options().get(key, False)
    try:
        applied = training.configure_tensorflow(graph_optimization=False)
        assert applied == {"graph_optimization": False}
        assert tf.config.optimizer.get_experimental_options()[key] is True
        training.configure_tensorflow(graph_optimization=True)
        assert tf.config.optimizer.get_experimental_options()[key] is False
    finally:
        tf.config.optimizer.set_experimental_options({key: before})


def test_float16_gets_loss_scaling():
    recipe = dataclasses.replace(PROXY, mixed_precision="mixed_float16")
    optimizer = training.make_optimizer(recipe, steps_per_epoch=5)
    assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
    assert optimizer.inner_optimizer.global_clipnorm == 5.0
    bf16 = dataclasses.replace(PROXY, mixed_precision="mixed_bfloat16")
    assert isinstance(training.make_optimizer(bf16, 5), keras.optimizers.SGD)


# --- the model builder --------------------------------------------------------------


def test_build_model_passes_the_recipe_to_nasnet(splits):
    recipe = dataclasses.replace(NASNET_CIFAR, cells_per_stack=1, filters=4)
    model = training.build_model("nasnet_a", splits, recipe)
    assert (model.cells_per_stack, model.filters, model.num_classes) == (1, 4, 10)
    assert model.input_shape == (None, 28, 28, 1)
    assert model.auxiliary_head and model.aux_weight == 0.4
    assert model.drop_path_keep_prob == 0.6 and model.weight_decay == 5e-4
    assert model.drop_path_schedule == "nasnet" and model.stem_strides == 1
    amoeba = dataclasses.replace(AMOEBANET_CIFAR, cells_per_stack=1, filters=4)
    amoeba_model = training.build_model("amoebanet_a", splits, amoeba)
    assert amoeba_model.drop_path_schedule == "amoebanet"
    assert amoeba_model.aux_weight == 0.4
    strided = training.build_model("nasnet_a", splits, SEARCH_PROXY)
    assert strided.get_layer("stem_conv").strides == (2, 2)
    assert strided.get_layer("stem_bn").output.shape[1:3] == (14, 14)
    proxy = training.build_model("nasnet_a", ((32, 32, 3), 100), PROXY, dropout=0.1)
    assert not proxy.auxiliary_head and proxy.num_classes == 100
    assert proxy.drop_path_keep_prob == 1.0 and proxy.dropout == 0.1


def test_build_model_mixed_precision_leaves_the_global_policy_alone():
    before = keras.config.dtype_policy().name
    recipe = dataclasses.replace(
        PROXY, cells_per_stack=1, filters=4, mixed_precision="mixed_bfloat16"
    )
    model = training.build_model("nasnet_a", ((16, 16, 3), 10), recipe)
    assert keras.config.dtype_policy().name == before
    conv = model.get_layer("stem_conv")
    assert conv.compute_dtype == "bfloat16" and conv.variable_dtype == "float32"


# --- the input pipeline and train() --------------------------------------------------


def test_input_pipeline_respects_recipe_and_dataset(splits):
    recipe = dataclasses.replace(PROXY, cutout=8)
    names = [layer.name for layer in training.input_pipeline(splits, recipe)]
    assert names == ["augmentation", "normalization", "cutout"]
    aug = training.input_pipeline(splits, recipe)[0]
    assert [layer.name for layer in aug.layers] == ["random_pad_crop", "random_flip"]
    digits = dataclasses.replace(splits, horizontal_flip=False)
    aug = training.input_pipeline(digits, recipe)[0]
    assert [layer.name for layer in aug.layers] == ["random_pad_crop"]
    raw = data.load(
        "fashion_mnist", data_dir=SUBSET_DIR, validation_size=0, dtype="uint8"
    )
    inference = training.input_pipeline(raw, recipe, training=False)
    assert [layer.name for layer in inference] == ["rescale", "normalization"]
    plain = dataclasses.replace(PROXY, pad=0, flip=False, normalize=False)
    assert training.input_pipeline(splits, plain) == []


def test_train_weighs_the_auxiliary_output(splits):
    model = _tiny_classifier(aux=True)
    model.aux_weight = 0.5
    small = dataclasses.replace(
        splits,
        train=(splits.train[0][:64], splits.train[1][:64]),
        validation=None,
        test=(splits.test[0][:50], splits.test[1][:50]),
    )
    recipe = dataclasses.replace(PROXY, epochs=1, run_eagerly=True)
    result = training.train(model, small, recipe, verbose=0, seed=0)
    assert set(result.history) == {"loss", "accuracy"}
    main, aux = result.model.predict(small.test[0], verbose=0)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    expected = float(loss(small.test[1], main)) + 0.5 * float(loss(small.test[1], aux))
    assert result.test["loss"] == pytest.approx(expected, rel=1e-4)
    accuracy = np.mean(np.argmax(main, axis=1) == small.test[1])
    assert result.test["accuracy"] == pytest.approx(accuracy)


def test_train_rejects_datasets(splits):
    as_dataset = dataclasses.replace(splits, train=object())
    with pytest.raises(TypeError, match="as_dataset=False"):
        training.train(_tiny_classifier(), as_dataset, PROXY)


@pytest.mark.slow
def test_tiny_nasnet_trains_one_epoch_on_real_fashion_mnist(splits):
    """The whole recipe: aux head, drop path, cutout, clipping, cosine decay."""
    from keras_nasnet.callbacks import drop_path_layers

    small = dataclasses.replace(
        splits,
        train=(splits.train[0][:128], splits.train[1][:128]),
        validation=(splits.validation[0][:64], splits.validation[1][:64]),
        test=(splits.test[0][:64], splits.test[1][:64]),
    )
    recipe = dataclasses.replace(
        NASNET_CIFAR,
        epochs=1,
        batch_size=64,
        cells_per_stack=1,
        filters=4,
        cutout=8,
        # Two steps: tracing would cost more than running them eagerly.
        run_eagerly=True,
    )
    model = training.build_model("nasnet_a", small, recipe)
    before = [_numpy(w) for w in model.trainable_weights]
    result = training.train(model, small, recipe, verbose=0, seed=0)
    assert set(result.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(np.isfinite(v[0]) for v in result.history.values())
    assert set(result.test) == {"loss", "accuracy"} and np.isfinite(result.test["loss"])
    assert any(
        not np.array_equal(a, b)
        for a, b in zip(before, map(_numpy, model.trainable_weights), strict=True)
    )
    # Two steps: the DropPathScheduler set progress to 1/2 before the second.
    assert float(_numpy(drop_path_layers(model)[0].progress)) == 0.5
    probabilities = result.model.predict(small.test[0][:4], verbose=0)
    assert probabilities.shape == (4, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


# Keras's TensorFlow backend trips NumPy 2's `__array__(copy=...)` deprecation
# when saving; not ours.
@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
def test_trained_model_takes_raw_images_and_saves(tmp_path):
    raw = data.load(
        "fashion_mnist",
        data_dir=SUBSET_DIR,
        validation_size=0,
        dtype="uint8",
        subset=64,
    )
    raw = dataclasses.replace(raw, test=(raw.test[0][:32], raw.test[1][:32]))
    recipe = dataclasses.replace(PROXY, epochs=1, run_eagerly=True)
    result = training.train(_tiny_classifier(), raw, recipe, verbose=0)
    assert [layer.name for layer in result.model.layers[1:3]] == [
        "rescale",
        "normalization",
    ]
    predictions = result.model.predict(raw.test[0], verbose=0)
    accuracy = np.mean(np.argmax(predictions, axis=1) == raw.test[1])
    assert result.test["accuracy"] == pytest.approx(accuracy)
    path = tmp_path / "trained.keras"
    result.model.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_allclose(
        reloaded.predict(raw.test[0], verbose=0), predictions, rtol=1e-5
    )


def _train_steps(optimizer, steps=6, jit_compile=False, clip_to=None):
    """Weights of `_tiny_classifier` after `steps` steps of `optimizer` on
    fixed data, seeded alike for every optimizer."""
    keras.utils.set_random_seed(0)
    model = _tiny_classifier(input_shape=(8, 8, 1))
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit_compile,
    )
    rng = np.random.RandomState(1)
    x = rng.rand(16 * steps, 8, 8, 1).astype("float32") * 10
    y = rng.randint(0, 10, 16 * steps)
    model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    return [_numpy(w) for w in model.trainable_weights]


def _optimizers(**settings):
    return (
        keras.optimizers.SGD(learning_rate=0.1, momentum=0.9, **settings),
        training.FusedSGD(learning_rate=0.1, momentum=0.9, **settings),
    )


@pytest.mark.parametrize(
    "settings",
    [
        # Global-norm clipping active at every step (the gradients' norm is
        # far above 1e-3), with and without Nesterov; and none.
        dict(nesterov=True, global_clipnorm=1e-3),
        dict(nesterov=False, global_clipnorm=1e-3),
        dict(nesterov=True),
        # Keras's own path: per-variable clipping, no momentum.
        dict(nesterov=True, clipnorm=1e-3),
    ],
)
def test_fused_sgd_updates_as_keras_sgd(settings):
    keras_weights, fused_weights = (
        _train_steps(optimizer) for optimizer in _optimizers(**settings)
    )
    start = _train_steps(keras.optimizers.SGD(learning_rate=0.0))
    for reference, fused, initial in zip(
        keras_weights, fused_weights, start, strict=True
    ):
        assert not np.allclose(reference, initial)  # it trained
        np.testing.assert_allclose(fused, reference, rtol=1e-5, atol=1e-6)


def test_fused_sgd_without_momentum_is_keras_sgd():
    keras_weights, fused_weights = (
        _train_steps(optimizer)
        for optimizer in (
            keras.optimizers.SGD(learning_rate=0.1),
            training.FusedSGD(learning_rate=0.1),
        )
    )
    for reference, fused in zip(keras_weights, fused_weights, strict=True):
        np.testing.assert_array_equal(fused, reference)


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="the fused op is TensorFlow's"
)
def test_fused_sgd_is_one_op_per_variable_and_compiles_with_xla():
    import tensorflow as tf

    optimizer = training.FusedSGD(
        learning_rate=0.1, momentum=0.9, nesterov=True, global_clipnorm=5.0
    )
    weights = _train_steps(optimizer, steps=2, jit_compile=True)
    assert all(np.isfinite(w).all() for w in weights)
    model = _tiny_classifier(input_shape=(8, 8, 1))
    optimizer = training.FusedSGD(learning_rate=0.1, momentum=0.9, global_clipnorm=5.0)
    optimizer.build(model.trainable_variables)
    variables = model.trainable_variables

    def ops_of_a_step(optimizer):
        optimizer.build(variables)
        grads = [tf.ones_like(v.value) for v in variables]
        pairs = list(zip(grads, variables, strict=True))
        step = tf.function(lambda: optimizer.apply_gradients(pairs))
        graph = step.get_concrete_function().graph
        return [op.type for op in graph.get_operations()]

    fused = ops_of_a_step(optimizer)
    assert fused.count("ResourceApplyKerasMomentum") == len(variables)
    # No assignment per variable: only the step counter's.
    assigns = ("AssignVariableOp", "AssignAddVariableOp", "AssignSubVariableOp")
    assert sum(fused.count(op) for op in assigns) == 1
    reference = ops_of_a_step(
        keras.optimizers.SGD(learning_rate=0.1, momentum=0.9, global_clipnorm=5.0)
    )
    # Keras: about 13 ops per variable (clipping, momentum, update); fused: 3.
    assert len(reference) - len(fused) >= 8 * len(variables)


def test_make_optimizer_is_fused_sgd_and_a_compiled_model_reloads(tmp_path):
    optimizer = training.make_optimizer(SEARCH_PROXY, steps_per_epoch=3)
    assert isinstance(optimizer, training.FusedSGD)
    assert isinstance(optimizer, keras.optimizers.SGD)
    model = _tiny_classifier(input_shape=(8, 8, 1))
    training.compile_model(model, SEARCH_PROXY, steps_per_epoch=3)
    x = np.random.RandomState(0).rand(8, 8, 8, 1).astype("float32")
    model.fit(x, np.arange(8) % 10, batch_size=4, verbose=0)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded.optimizer) is training.FusedSGD
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert int(loaded.optimizer.iterations) == 2


def test_fused_sgd_with_sparse_gradients_is_keras_sgd():
    # An embedding's gradient (tf.IndexedSlices on TensorFlow) takes Keras's
    # path; the dense layer's too, in the same step.
    def weights_after(optimizer):
        keras.utils.set_random_seed(0)
        model = keras.Sequential(
            [keras.Input((3,), dtype="int32"), keras.layers.Embedding(20, 4),
             keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(2)]
        )  # fmt: skip
        model.compile(
            optimizer=optimizer,
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        rng = np.random.RandomState(2)
        x, y = rng.randint(0, 20, (32, 3)), rng.randint(0, 2, 32)
        model.fit(x, y, batch_size=8, shuffle=False, verbose=0)
        return [_numpy(w) for w in model.trainable_weights]

    settings = dict(learning_rate=0.1, momentum=0.9, global_clipnorm=1e-3)
    reference = weights_after(keras.optimizers.SGD(**settings))
    fused = weights_after(training.FusedSGD(**settings))
    for a, b in zip(reference, fused, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)

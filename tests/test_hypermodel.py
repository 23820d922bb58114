"""Tests of `NASNetHyperModel`: the space it declares, decoding, build, fit."""

import dataclasses

import keras
import keras_tuner
import numpy as np
import pytest
from keras_tuner.engine import hyperparameters as hp_module

from keras_nasnet import genotypes, training
from keras_nasnet.models import NASNet
from keras_nasnet.space import AMOEBANET_OPS, NASNET_OPS, Cell, Genotype, decisions
from tuner_plugins import hypermodel as hypermodel_module
from tuner_plugins.hypermodel import NASNetHyperModel

CELL_DECISIONS = [
    decisions.hp_name(cell, b, slot)
    for cell in ("normal", "reduction")
    for b in range(5)
    for slot in ("input_a", "input_b", "op_a", "op_b", "combine")
]


def _cell_names(hp):
    return [h.name for h in hp.space if decisions.parse_hp_name(h.name)]


def _without_concat(genotype):
    return Genotype(Cell(genotype.normal.blocks), Cell(genotype.reduction.blocks))


def test_declares_50_decisions_with_stable_names_in_paper_order():
    space = NASNetHyperModel(10, (32, 32, 3), search_combine=True).search_space()
    assert _cell_names(space) == CELL_DECISIONS
    assert len(CELL_DECISIONS) == 50
    by_name = {h.name: h for h in space.space}
    for b in range(5):
        assert list(by_name[f"reduction/block_{b}/input_b"].values) == list(
            range(2 + b)
        )
    assert list(by_name["normal/block_3/op_a"].values) == list(NASNET_OPS)
    assert list(by_name["normal/block_0/combine"].values) == ["add", "concat"]


def test_default_space_is_the_papers_50_decisions():
    # Zoph et al. 2018, section 3: 2 cells x 5 blocks x 5 decisions, the
    # combine op searched.
    space = NASNetHyperModel(10, (32, 32, 3)).search_space()
    assert _cell_names(space) == CELL_DECISIONS


def test_without_combine_search_blocks_add_and_declare_40():
    hm = NASNetHyperModel(
        10, (32, 32, 3), ops=AMOEBANET_OPS, num_blocks=3, search_combine=False
    )
    space = hm.search_space()
    names = _cell_names(space)
    assert len(names) == 2 * 3 * 4
    assert not any(n.endswith("/combine") for n in names)
    assert list(space.space[2].values) == list(AMOEBANET_OPS)
    assert all(b.combine == "add" for b in hm.genotype(space).normal.blocks)


def test_search_space_declares_everything_without_building(monkeypatch):
    def no_build(*args, **kwargs):
        raise AssertionError("search_space() must not build a model")

    monkeypatch.setattr(hypermodel_module.training, "build_model", no_build)
    hm = NASNetHyperModel(10, (32, 32, 3), epochs=3, batch_size=[16, 32])
    space = hm.search_space()
    assert set(space.values) >= {
        "cells_per_stack",
        "filters",
        "epochs",
        "batch_size",
        "learning_rate",
        "drop_path_keep_prob",
        "weight_decay",
    }
    # keras-tuner's own hook declares the same space.
    hp = keras_tuner.HyperParameters()
    hm.declare_hyperparameters(hp)
    assert [h.name for h in hp.space] == [h.name for h in space.space]


def test_not_tunable_declares_nothing_in_the_tuners_hook():
    hm = NASNetHyperModel(10, (32, 32, 3), tunable=False)
    hp = keras_tuner.HyperParameters()
    hm.declare_hyperparameters(hp)
    assert hp.space == []
    assert len(_cell_names(hm.search_space())) == 50


@pytest.mark.parametrize("name", sorted(genotypes.KNOWN_GENOTYPES))
def test_genotype_round_trips_through_encode(name):
    genotype = genotypes.KNOWN_GENOTYPES[name]
    hm = NASNetHyperModel(10, (32, 32, 3), ops=list(NASNET_OPS) + ["dil_sep_conv_3x3"])
    hp = hm.search_space()
    hp.values.update(decisions.encode(genotype))
    # The explicit concat lists are not decisions of the space: dropped.
    assert hm.genotype(hp) == _without_concat(genotype)
    assert hm.genotype(dict(hp.values)) == _without_concat(genotype)
    assert decisions.encode(hm.genotype(hp)) == decisions.encode(genotype)


def test_genotype_declares_missing_decisions_with_defaults():
    hm = NASNetHyperModel(10, (32, 32, 3), num_blocks=2)
    hp = keras_tuner.HyperParameters()
    genotype = hm.genotype(hp)
    assert len(_cell_names(hp)) == 20
    assert genotype.normal.blocks[1].inputs == (0, 0)
    assert genotype.normal.blocks[1].ops == ("identity", "identity")


def test_fixed_settings_are_declared_fixed():
    hm = NASNetHyperModel(10, (32, 32, 3), cells_per_stack=3, filters=16)
    by_name = {h.name: h for h in hm.search_space().space}
    assert isinstance(by_name["cells_per_stack"], hp_module.Fixed)
    assert by_name["cells_per_stack"].value == 3
    assert by_name["filters"].value == 16
    # Unset settings are the recipe's, declared fixed too.
    assert by_name["learning_rate"].value == training.SEARCH_PROXY.learning_rate
    assert by_name["weight_decay"].value == training.SEARCH_PROXY.weight_decay
    # None means "whatever search() gets": not declared at all.
    assert "epochs" not in by_name and "batch_size" not in by_name


def test_numpy_settings_are_stored_as_python_numbers():
    hm = NASNetHyperModel(
        10, (32, 32, 3), filters=np.int64(16), learning_rate=[np.float32(0.5), 1]
    )
    values = hm.search_space().values
    assert type(values["filters"]) is int
    assert [type(v) for v in hm.learning_rate] == [float, float]


def test_searchable_settings_lists_and_hyperparameter_objects():
    hm = NASNetHyperModel(
        10,
        (32, 32, 3),
        cells_per_stack=[1, 2],
        filters=hp_module.Int("width", 8, 32, step=8),
        learning_rate=hp_module.Float("lr", 1e-3, 0.1, sampling="log"),
        drop_path_keep_prob=hp_module.Choice("keep", [0.6, 1.0]),
        epochs=(1, 3),
    )
    by_name = {h.name: h for h in hm.search_space().space}
    assert isinstance(by_name["cells_per_stack"], hp_module.Choice)
    assert list(by_name["cells_per_stack"].values) == [1, 2]
    # A hyperparameter object is declared under the argument's name.
    assert isinstance(by_name["filters"], hp_module.Int)
    assert (by_name["filters"].min_value, by_name["filters"].max_value) == (8, 32)
    assert by_name["filters"].step == 8
    assert "width" not in by_name
    assert by_name["learning_rate"].sampling == "log"
    assert list(by_name["drop_path_keep_prob"].values) == [0.6, 1.0]
    assert list(by_name["epochs"].values) == [1, 3]


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (
            dict(num_blocks=0),
            r"argument `num_blocks`. Expected an integer >= 1. "
            r"Received: num_blocks=0",
        ),
        (dict(num_blocks=2.0), r"Received: num_blocks=2.0"),
        (dict(num_classes=1), r"`num_classes`. Expected an integer >= 2"),
        (dict(input_shape=(32, 32)), r"`input_shape`. Expected a tuple of 3"),
        (dict(input_shape=(32, 0, 3)), r"Received: input_shape=\(32, 0, 3\)"),
        (dict(ops=[]), r"`ops`. Expected a non-empty list"),
        (dict(ops="identity"), r"`ops`. Expected a non-empty list"),
        (dict(ops=["identity", "conv_9x9"]), r"Unknown op 'conv_9x9'"),
        (dict(ops=["identity", "identity"]), r"Expected distinct op names"),
        (dict(search_combine="yes"), r"`search_combine`. Expected a bool"),
        (dict(cells_per_stack=0), r"`cells_per_stack`. Expected an integer >= 1"),
        (dict(cells_per_stack=[]), r"Received: cells_per_stack=\[\]"),
        (dict(filters=[8, 0]), r"`filters`. Expected an integer >= 2"),
        (dict(filters=hp_module.Int("f", 0, 8)), r"Received: filters=Int"),
        (dict(filters=hp_module.Float("f", 8.0, 16.0)), r"`filters`"),
        (dict(filters=hp_module.Boolean("f")), r"`filters`"),
        (dict(filters=1), r"`filters`. Expected an integer >= 2"),
        (dict(recipe="proxy"), r"`recipe`. Expected a keras_nasnet.training.Recipe"),
        (dict(epochs=0), r"`epochs`. Expected an integer >= 1.*or None"),
        (dict(batch_size=True), r"Received: batch_size=True"),
        (dict(learning_rate=0), r"`learning_rate`. Expected a finite number > 0"),
        (dict(learning_rate=float("inf")), r"Received: learning_rate=inf"),
        (dict(learning_rate=[0.1, float("nan")]), r"`learning_rate`"),
        (dict(drop_path_keep_prob=1.5), r"Expected a number in \(0, 1\]"),
        (dict(drop_path_keep_prob=[0.6, 0.0]), r"`drop_path_keep_prob`"),
        (dict(weight_decay=-1e-4), r"`weight_decay`. Expected a finite number >= 0"),
        (dict(weight_decay=float("inf")), r"Received: weight_decay=inf"),
        (dict(weight_decay="5e-4"), r"Received: weight_decay='5e-4'"),
        (dict(jit_compile="xla"), r"`jit_compile`. Expected True, False or 'auto'"),
        (dict(jit_compile=1), r"Received: jit_compile=1"),
        (dict(jit_compile=0.0), r"Received: jit_compile=0.0"),
        (dict(run_eagerly=1), r"`run_eagerly`. Expected a bool"),
        (dict(tunable="yes"), r"`tunable`. Expected a bool"),
        (dict(name=5), r"`name`. Expected a string or None"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, match):
    args = dict(num_classes=10, input_shape=(32, 32, 3))
    args.update(kwargs)
    with pytest.raises(ValueError, match=r"Invalid value received for argument"):
        NASNetHyperModel(**args)
    with pytest.raises(ValueError, match=match):
        NASNetHyperModel(**args)


def test_build_gives_the_nasnet_that_the_values_spell():
    hm = NASNetHyperModel(
        10,
        (16, 16, 1),
        num_blocks=2,
        cells_per_stack=[1, 2],
        filters=[4, 8],
        learning_rate=0.05,
        drop_path_keep_prob=0.7,
        weight_decay=1e-4,
        jit_compile=False,
    )
    hp = hm.search_space()
    hp.values.update(
        {
            "filters": 8,
            "normal/block_1/input_a": 2,
            "normal/block_1/op_a": "sep_conv_3x3",
            "reduction/block_0/op_b": "max_pool_3x3",
        }
    )
    model = hm.build(hp)
    assert isinstance(model, NASNet)
    assert model.genotype == hm.genotype(hp)
    assert (
        model.genotype.normal.blocks[1] == decisions.decode(hp.values).normal.blocks[1]
    )
    assert (model.cells_per_stack, model.filters) == (1, 8)
    assert model.drop_path_keep_prob == 0.7
    assert model.weight_decay == 1e-4
    assert model.output_shape == (None, 10)
    # The trial's recipe, built and compiled by keras_nasnet.training.
    recipe = training.SEARCH_PROXY
    assert hm.trial_recipe(hp) == dataclasses.replace(
        recipe,
        cells_per_stack=1,
        filters=8,
        learning_rate=0.05,
        drop_path_keep_prob=0.7,
        weight_decay=1e-4,
    )
    assert model.get_layer("stem_conv").strides == (recipe.stem_strides,) * 2
    optimizer = model.optimizer
    assert isinstance(optimizer, keras.optimizers.SGD)
    assert optimizer.momentum == recipe.momentum
    assert optimizer.nesterov == recipe.nesterov
    assert optimizer.global_clipnorm == recipe.clipnorm
    assert model.jit_compile is False


def test_build_without_a_prepared_space_uses_the_defaults():
    hm = NASNetHyperModel(10, (8, 8, 3), num_blocks=1, filters=2, cells_per_stack=1)
    hp = keras_tuner.HyperParameters()
    model = hm.build(hp)
    assert model.genotype == hm.genotype(hp)
    assert hp.values["filters"] == 2
    assert model.predict(np.zeros((2, 8, 8, 3)), verbose=0).shape == (2, 10)


class _RecordingModel:
    """Stands in for a model: records what `fit` receives."""

    def fit(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs
        return "history"


def test_fit_adds_epochs_batch_size_and_callbacks():
    hm = NASNetHyperModel(10, (32, 32, 3), epochs=[2, 3], batch_size=16)
    hp = hm.search_space()
    hp.values["epochs"] = 3
    model = _RecordingModel()
    user_callback = keras.callbacks.Callback()
    assert hm.fit(hp, model, "x", "y", callbacks=[user_callback]) == "history"
    assert model.args == ("x", "y")
    assert model.kwargs["epochs"] == 3
    assert model.kwargs["batch_size"] == 16
    callbacks = model.kwargs["callbacks"]
    assert callbacks[0] is user_callback
    assert isinstance(callbacks[1], hypermodel_module.DropPathScheduler)
    assert isinstance(callbacks[2], hypermodel_module._FailOnNonFiniteLoss)


def test_fit_leaves_epochs_to_search_when_not_declared():
    hm = NASNetHyperModel(10, (32, 32, 3))
    model = _RecordingModel()
    hm.fit(hm.search_space(), model, epochs=4)
    assert model.kwargs["epochs"] == 4
    assert "batch_size" not in model.kwargs


def test_fit_refuses_conflicting_epochs_but_lets_hyperband_set_them():
    hm = NASNetHyperModel(10, (32, 32, 3), epochs=2)
    hp = hm.search_space()
    with pytest.raises(keras_tuner.errors.FatalValueError, match="`epochs` is both"):
        hm.fit(hp, _RecordingModel(), epochs=5)
    model = _RecordingModel()
    hm.fit(hp, model, epochs=2)
    assert model.kwargs["epochs"] == 2
    hp.Fixed("tuner/epochs", 5)
    model = _RecordingModel()
    hm.fit(hp, model, epochs=5, initial_epoch=2)
    assert model.kwargs["epochs"] == 5


class _RecordLearningRate(keras.callbacks.Callback):
    """Records the learning rate of every step, before the step runs."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def on_train_batch_begin(self, batch, logs=None):
        rate = keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)
        self.seen.append(float(rate))


def _tiny_hypermodel(**kwargs):
    return NASNetHyperModel(
        10, (8, 8, 1), num_blocks=1, cells_per_stack=1, filters=2, **kwargs
    )


def _tiny_data(n=16):
    x = np.random.default_rng(0).random((n, 8, 8, 1)).astype("float32")
    return x, np.arange(n) % 10


def test_fit_trains_with_the_recipes_warmup_and_cosine_over_the_run():
    # The schedule spans the run that fit() is given (2 epochs of 16 / 4 = 4
    # steps), with the recipe's warmup: keras_nasnet.training's, not a copy.
    recipe = dataclasses.replace(training.SEARCH_PROXY, warmup_fraction=0.25)
    hm = _tiny_hypermodel(learning_rate=0.05, run_eagerly=True, recipe=recipe)
    hp = hm.search_space()
    x, y = _tiny_data()
    record = _RecordLearningRate()
    hm.fit(
        hp, hm.build(hp), x, y, epochs=2, batch_size=4, verbose=0, callbacks=[record]
    )
    run = dataclasses.replace(recipe, epochs=2, batch_size=4, learning_rate=0.05)
    schedule = training.learning_rate_schedule(run, steps_per_epoch=4)
    expected = [float(schedule(step)) for step in range(8)]
    np.testing.assert_allclose(record.seen, expected, rtol=1e-5, atol=1e-9)
    assert record.seen[0] == 0.0 and record.seen[2] == pytest.approx(0.05)
    # A Hyperband continuation resumes mid-curve: epoch 1 of 3 starts at step 4.
    hp.Fixed("tuner/epochs", 3)
    record = _RecordLearningRate()
    hm.fit(
        hp,
        hm.build(hp),
        x,
        y,
        epochs=3,
        initial_epoch=1,
        batch_size=4,
        verbose=0,
        callbacks=[record],
    )
    schedule = training.learning_rate_schedule(
        dataclasses.replace(run, epochs=3), steps_per_epoch=4
    )
    expected = [float(schedule(step)) for step in range(4, 12)]
    np.testing.assert_allclose(record.seen, expected, rtol=1e-5, atol=1e-9)


def test_fit_uses_the_recipes_epochs_and_batch_when_search_gives_none():
    recipe = dataclasses.replace(training.SEARCH_PROXY, epochs=2, batch_size=8)
    hm = _tiny_hypermodel(run_eagerly=True, recipe=recipe)
    hp = hm.search_space()
    x, y = _tiny_data()
    history = hm.fit(hp, hm.build(hp), x, y, verbose=0)
    assert history.params["epochs"] == 2 and history.params["steps"] == 2


def test_fit_keeps_a_model_the_tuner_compiled_itself():
    # keras-tuner's `optimizer=`/`loss=`/`metrics=` overrides recompile the
    # model after build(); fit() must not undo them.
    hm = _tiny_hypermodel(run_eagerly=True)
    hp = hm.search_space()
    model = hm.build(hp)
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        run_eagerly=True,
    )
    optimizer = model.optimizer
    x, y = _tiny_data(8)
    hm.fit(hp, model, x, y, epochs=1, batch_size=8, verbose=0)
    assert model.optimizer is optimizer


def test_fit_needs_the_step_count_of_a_generator():
    hm = _tiny_hypermodel(run_eagerly=True)
    hp = hm.search_space()
    model = hm.build(hp)
    batches = ((x, y) for x, y in [_tiny_data(4)])
    with pytest.raises(keras_tuner.errors.FatalValueError, match="steps_per_epoch"):
        hm.fit(hp, model, batches, epochs=1)


def test_defaults_are_the_search_proxy_recipe():
    hm = NASNetHyperModel(10, (32, 32, 3))
    recipe = training.SEARCH_PROXY
    assert hm.recipe is recipe
    assert hm.cells_per_stack == recipe.cells_per_stack
    assert hm.filters == recipe.filters
    assert hm.learning_rate == recipe.learning_rate
    assert hm.weight_decay == recipe.weight_decay
    assert hm.drop_path_keep_prob == recipe.drop_path_keep_prob
    assert (hm.jit_compile, hm.run_eagerly) == (recipe.jit_compile, recipe.run_eagerly)
    paper = NASNetHyperModel(10, (32, 32, 3), recipe=training.NASNET_SEARCH)
    assert (paper.cells_per_stack, paper.filters) == (2, 32)
    assert paper.learning_rate == 0.025
    assert paper.trial_recipe(paper.search_space()) == training.NASNET_SEARCH


def test_bayesian_optimization_proposes_over_the_space(tmp_path):
    # keras-tuner's Gaussian-process tuner, driven without training: it
    # encodes all 16 cell decisions and proposes legal values after its
    # random initial points. It needs keras-tuner's `bayesian` extra.
    pytest.importorskip("sklearn", reason="keras-tuner[bayesian] not installed")
    hm = NASNetHyperModel(
        10, (8, 8, 1), num_blocks=2, cells_per_stack=1, filters=[2, 4]
    )
    tuner = keras_tuner.BayesianOptimization(
        hm,
        objective="val_accuracy",
        max_trials=5,
        num_initial_points=2,
        seed=0,
        directory=tmp_path,
    )
    for score in (0.1, 0.5, 0.3, 0.4):
        trial = tuner.oracle.create_trial(tuner.tuner_id)
        assert trial.status == "RUNNING"
        genotype = hm.genotype(trial.hyperparameters)
        assert genotype == decisions.decode(trial.hyperparameters.values)
        assert trial.hyperparameters.values["filters"] in (2, 4)
        tuner.oracle.update_trial(trial.trial_id, {"val_accuracy": score})
        trial.status = "COMPLETED"
        tuner.oracle.end_trial(trial)
    assert tuner.get_best_hyperparameters()[0].values == _trial_values(tuner, 0.5)


def _trial_values(tuner, score):
    (trial,) = [t for t in tuner.oracle.trials.values() if t.score == score]
    return trial.hyperparameters.values

"""Real tiny searches: every tuner over `NASNetHyperModel` on Fashion-MNIST.

The data is the committed subset of real Fashion-MNIST under
tests/data/fashion-mnist, loaded with `keras_nasnet.data.load`: 128 training
images and 32 validation images held out from the training file. The
proxy is tiny (one cell per stack, 8 filters, one block per cell: a child's
cost is its layers' eager variable creation and steps, which grow with the
blocks, not the filters) and each trial trains one epoch.
"""

import os

import keras
import keras_tuner
import pytest

from keras_nasnet import data
from keras_nasnet.space import Genotype, decisions
from tuner_plugins import (
    AgingEvolution,
    EvolutionStrategy,
    LocalSearch,
    NASNetHyperModel,
    NASOracle,
    NASTuner,
    RNNController,
)

DATA_DIR = os.path.join(os.path.dirname(__file__), "data")


@pytest.fixture(scope="module")
def fashion():
    splits = data.load(
        "fashion_mnist",
        data_dir=DATA_DIR,
        validation_size=32,
        subset=128,
        download=False,
    )
    return splits.train, splits.validation


def _hypermodel(**kwargs):
    args = dict(
        num_classes=10,
        input_shape=(28, 28, 1),
        num_blocks=1,
        cells_per_stack=1,
        filters=8,
        # Tracing the train step costs more than 2 eager steps on a CPU.
        run_eagerly=True,
    )
    args.update(kwargs)
    return NASNetHyperModel(**args)


def _search(tuner, fashion, **kwargs):
    (x, y), validation = fashion
    kwargs.setdefault("epochs", 1)
    tuner.search(x, y, validation_data=validation, batch_size=128, verbose=0, **kwargs)
    return tuner


def _check_results(tuner, fashion, num_trials):
    trials = tuner.oracle.trials.values()
    assert len(trials) == num_trials
    assert all(t.status == "COMPLETED" for t in trials)
    (_, _), (x_val, _) = fashion
    model = tuner.get_best_models(1)[0]
    assert model.predict(x_val[:5], verbose=0).shape == (5, 10)
    best_hp = tuner.get_best_hyperparameters(1)[0]
    assert tuner.oracle.get_best_trials(1)[0].score == max(t.score for t in trials)
    assert isinstance(tuner.hypermodel.genotype(best_hp), Genotype)
    if isinstance(tuner, NASTuner):
        genotype = tuner.best_genotypes()[0]
        assert genotype == decisions.decode(best_hp.values)
        assert genotype == tuner.hypermodel.genotype(best_hp)
        assert len(tuner.best_genotypes(num_trials + 5)) == num_trials


@pytest.mark.slow
def test_aging_evolution_search(tmp_path, fashion):
    tuner = AgingEvolution(
        _hypermodel(),
        objective="val_accuracy",
        max_trials=3,
        population_size=2,
        sample_size=2,
        seed=1,
        directory=tmp_path,
        project_name="evolution",
    )
    _search(tuner, fashion)
    _check_results(tuner, fashion, 3)
    # Past the random population, the child is one mutation from a member.
    trials = sorted(tuner.oracle.trials.values(), key=lambda t: t.trial_id)
    child = decisions.encode(decisions.decode(trials[2].hyperparameters.values))
    parents = [
        decisions.encode(decisions.decode(t.hyperparameters.values)) for t in trials[:2]
    ]
    # An add-combining block spells no `combine` value: compare every name.
    assert (
        min(sum(child.get(k) != p.get(k) for k in {*child, *p}) for p in parents) <= 1
    )


@pytest.mark.slow
def test_rnn_controller_search(tmp_path, fashion):
    tuner = RNNController(
        _hypermodel(),
        objective="val_accuracy",
        max_trials=2,
        seed=2,
        # Small and updated after the two trials: the search trains it once.
        units=16,
        batch_size=2,
        directory=tmp_path,
        project_name="controller",
    )
    _search(tuner, fashion)
    _check_results(tuner, fashion, 2)


@pytest.mark.slow
def test_random_search_searches_the_hypermodel_unchanged(tmp_path, fashion):
    tuner = keras_tuner.RandomSearch(
        _hypermodel(filters=[4, 8]),
        objective="val_accuracy",
        max_trials=1,
        seed=3,
        directory=tmp_path,
        project_name="random",
    )
    _search(tuner, fashion)
    _check_results(tuner, fashion, 1)
    assert tuner.get_best_hyperparameters()[0].values["filters"] in (4, 8)


@pytest.mark.slow
def test_hyperband_sets_the_epochs_and_continues_a_trial(tmp_path, fashion):
    tuner = keras_tuner.Hyperband(
        _hypermodel(),
        objective="val_accuracy",
        max_epochs=2,
        factor=2,
        hyperband_iterations=1,
        seed=4,
        directory=tmp_path,
        project_name="hyperband",
    )
    # Hyperband takes no max_trials: stop after its first round of two
    # 1-epoch trials and the best of them continued to epoch 2.
    tuner.oracle.max_trials = 3
    _search(tuner, fashion, epochs=None)
    trials = sorted(tuner.oracle.trials.values(), key=lambda t: t.trial_id)
    assert [t.status for t in trials] == ["COMPLETED"] * 3
    values = [t.hyperparameters.values for t in trials]
    assert [v["tuner/epochs"] for v in values] == [1, 1, 2]
    assert values[2]["tuner/initial_epoch"] == 1
    # The continued trial is the best first-round trial, same architecture.
    parent = tuner.oracle.get_trial(values[2]["tuner/trial_id"])
    assert decisions.decode(values[2]) == decisions.decode(
        parent.hyperparameters.values
    )
    _check_results(tuner, fashion, 3)


def _cells_only(hp):
    # A user's own build function over a cell space: no NASNet, no training.
    decisions.declare_cells(hp, num_blocks=2)
    return keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])


def _drive(tuner, scores):
    """Runs trials by hand: create -> update(score) -> end, no training."""
    for score in scores:
        trial = tuner.oracle.create_trial(tuner.tuner_id)
        tuner.oracle.update_trial(trial.trial_id, {"val_accuracy": score})
        trial.status = "COMPLETED"
        tuner.oracle.end_trial(trial)


def test_aging_evolution_builds_its_oracle_like_keras_tuners(tmp_path):
    tuner = AgingEvolution(
        _cells_only,
        objective="val_accuracy",
        max_trials=7,
        population_size=4,
        sample_size=2,
        identity_prob=0.0,
        seed=5,
        max_consecutive_failed_trials=5,
        directory=tmp_path,
        project_name="p",
        executions_per_trial=2,
    )
    assert isinstance(tuner, keras_tuner.Tuner)
    assert isinstance(tuner.oracle, NASOracle)
    strategy = tuner.oracle.strategy
    assert strategy.name == "evolution"
    assert (strategy.population_size, strategy.sample_size) == (4, 2)
    assert strategy.identity_prob == 0.0
    assert tuner.oracle.seed == 5
    assert tuner.oracle.max_trials == 7
    assert tuner.oracle.max_consecutive_failed_trials == 5
    assert tuner.executions_per_trial == 2
    assert tuner.project_dir == os.path.join(tmp_path, "p")
    assert decisions.is_cell_space(tuner.oracle.get_space())


def test_best_genotypes_decode_the_best_trials_in_order(tmp_path):
    tuner = AgingEvolution(
        _cells_only,
        objective="val_accuracy",
        max_trials=6,
        population_size=3,
        sample_size=2,
        seed=6,
        directory=tmp_path,
    )
    _drive(tuner, [0.2, 0.9, 0.5, 0.7])
    best_hps = tuner.get_best_hyperparameters(3)
    genotypes = tuner.best_genotypes(3)
    assert [decisions.decode(hp.values) for hp in best_hps] == genotypes
    by_score = sorted(tuner.oracle.trials.values(), key=lambda t: -t.score)
    assert genotypes[0] == decisions.decode(by_score[0].hyperparameters.values)
    assert by_score[0].score == 0.9
    assert len(tuner.best_genotypes(10)) == 4


def test_rnn_controller_forwards_controller_options(tmp_path):
    tuner = RNNController(
        _cells_only,
        objective="val_accuracy",
        max_trials=4,
        seed=7,
        units=16,
        batch_size=2,
        update="reinforce",
        directory=tmp_path,
    )
    assert isinstance(tuner.oracle, NASOracle)
    strategy = tuner.oracle.strategy
    assert strategy.name == "controller"
    assert (strategy.units, strategy.batch_size) == (16, 2)
    assert strategy.update == "reinforce"
    _drive(tuner, [0.1, 0.3, 0.2])
    assert len(tuner.best_genotypes(2)) == 2


@pytest.mark.parametrize(
    "make,match",
    [
        (
            lambda d: AgingEvolution(
                _cells_only, population_size=4, sample_size=5, directory=d
            ),
            "`sample_size`",
        ),
        (lambda d: AgingEvolution(_cells_only, seed=1.5, directory=d), "`seed`"),
        (
            lambda d: RNNController(_cells_only, update="sgd", directory=d),
            "`update`",
        ),
        (
            lambda d: AgingEvolution(_cells_only, strategy="controller", directory=d),
            "`strategy`",
        ),
        (
            lambda d: NASTuner(_cells_only, strategy="annealing", directory=d),
            "`strategy`",
        ),
        (
            lambda d: AgingEvolution(_cells_only, executions_per_trial=0, directory=d),
            "`executions_per_trial`",
        ),
        (
            lambda d: RNNController(_cells_only, max_model_size=-5, directory=d),
            "`max_model_size`",
        ),
    ],
)
def test_bad_options_raise_clear_errors(tmp_path, make, match):
    with pytest.raises(
        ValueError, match="Invalid value received for argument " + match
    ):
        make(tmp_path)


def test_best_genotypes_needs_a_cell_space(tmp_path):
    def no_cells(hp):
        hp.Int("units", 1, 4)
        return keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])

    tuner = AgingEvolution(
        no_cells,
        objective="val_accuracy",
        max_trials=2,
        population_size=2,
        sample_size=1,
        seed=8,
        directory=tmp_path,
    )
    _drive(tuner, [0.5])
    with pytest.raises(ValueError, match="spell no cell"):
        tuner.best_genotypes()


def test_a_search_resumes_with_the_same_tuner_only(tmp_path):
    def make(cls, **kwargs):
        return cls(
            _cells_only,
            objective="val_accuracy",
            max_trials=6,
            seed=9,
            directory=tmp_path,
            project_name="resume",
            **kwargs,
        )

    evolution = dict(population_size=3, sample_size=2)
    tuner = make(AgingEvolution, **evolution)
    _drive(tuner, [0.3, 0.8, 0.6])
    tuner.save()
    best = tuner.best_genotypes(3)

    resumed = make(AgingEvolution, **evolution)
    assert len(resumed.oracle.trials) == 3
    assert resumed.best_genotypes(3) == best
    assert resumed.remaining_trials == 3
    with pytest.raises(ValueError, match="strategy='evolution'"):
        make(RNNController)


def test_nas_tuner_takes_any_strategy_by_name_or_object(tmp_path):
    by_name = NASTuner(
        _cells_only,
        strategy="local_search",
        objective="val_accuracy",
        max_trials=8,
        num_initial=2,
        max_neighbours=3,
        seed=0,
        directory=tmp_path,
        project_name="by_name",
    )
    assert by_name.oracle.strategy.get_config() == {
        "num_initial": 2,
        "max_neighbours": 3,
    }
    assert by_name.oracle.seed == 0
    _drive(by_name, [0.1, 0.4, 0.2, 0.3])
    # Past the two random starts, the neighbours of the best one.
    notes = [by_name.oracle.trial_note(t) for t in sorted(by_name.oracle.trials)]
    assert notes[:2] == [{"run": 0}, {"run": 0}]
    assert notes[2:] == [{"run": 0, "center": "1"}] * 2

    evolution = EvolutionStrategy(population_size=3, sample_size=2)
    by_object = AgingEvolution(
        _cells_only,
        strategy=evolution,
        objective="val_accuracy",
        max_trials=4,
        directory=tmp_path,
        project_name="by_object",
    )
    assert by_object.oracle.strategy is evolution
    local = LocalSearch(
        _cells_only, objective="val_accuracy", directory=tmp_path, project_name="ls"
    )
    assert local.oracle.strategy.name == "local_search"


def test_tuner_arguments_are_not_taken_for_strategy_options(tmp_path):
    # An option of another strategy is no strategy option here: keras-tuner
    # rejects it as it rejects any unknown argument.
    with pytest.raises(ValueError, match=r"Unrecognized arguments \['units'\]"):
        AgingEvolution(_cells_only, units=16, directory=tmp_path)

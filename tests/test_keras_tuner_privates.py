"""The keras-tuner private names this project relies on, all present.

`tuner_plugins/_keras_tuner.py` is the only module that touches keras-tuner's
internals; this test names each of them, so that a keras-tuner release that
renames one fails here, with the name and why it is needed, rather than as a
search that silently stops resuming exactly.
"""

import keras_tuner
import pytest

from tuner_plugins import _keras_tuner as kt

# Each private relied on, by owner. Keep in step with `kt.PRIVATES`.
EXPECTED = {
    "module:keras_tuner.src.backend.io": {"glob", "exists"},
    "module:keras_tuner.src.utils": {"save_json", "load_json"},
    "module:keras_tuner.src.config": {"DEBUG"},
    "module:keras_tuner.src.engine.oracle": {"LOCKS", "THREADS"},
    "module:keras_tuner.src.engine.tuner_utils": {"SaveBestEpoch"},
    "oracle": {
        "_retry_queue",
        "_run_times",
        "_id_to_hash",
        "_tried_so_far",
        "_display",
        "_directory",
    },
    "Oracle": {
        "_duplicate",
        "_compute_values_hash",
        "_check_objective_found",
        "_set_project_dir",
        "_project_dir",
        "_get_oracle_fname",
        "_get_trial_dir",
        "_save_trial",
        "_check_consecutive_failures",
    },
    "BaseTuner": {"_is_worker", "_get_tuner_fname"},
    "Tuner": {"_try_build", "_build_and_fit_model"},
    "hyperparameters": {"_hps", "_space"},
}


def test_the_list_of_privates_is_the_one_this_test_names():
    listed = {}
    for owner, name, why in kt.PRIVATES:
        assert why, f"{owner}.{name} needs a reason"
        listed.setdefault(owner, set()).add(name)
    assert listed == EXPECTED


@pytest.mark.parametrize(
    "owner, name",
    sorted((owner, name) for owner, names in EXPECTED.items() for name in names),
)
def test_the_installed_keras_tuner_has_each_private(owner, name):
    missing = [m for m in kt.missing_privates() if m.startswith(f"{owner}.{name} ")]
    assert not missing, (
        f"keras-tuner {keras_tuner.__version__} lacks {missing[0]}: "
        f"tuner_plugins/_keras_tuner.py needs updating for it (supported: "
        f"keras-tuner{kt.SUPPORTED_VERSIONS})."
    )


def test_a_missing_private_is_named_with_its_reason(monkeypatch):
    monkeypatch.delattr(keras_tuner.Oracle, "_duplicate")
    assert kt.missing_privates() == [
        "Oracle._duplicate (reject a proposal already tried or running)"
    ]


def test_the_supported_range_is_the_one_pyproject_pins():
    import os
    import re

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "pyproject.toml")) as f:
        text = f.read()
    pins = re.findall(r'"keras-tuner\[bayesian\]([^"]*)"', text)
    assert kt.SUPPORTED_VERSIONS in pins


def test_the_oracles_quick_copy_of_a_space_is_keras_tuners(tmp_path):
    from keras_nasnet.space import decisions
    from tuner_plugins.oracle import NASOracle

    space = keras_tuner.HyperParameters()
    decisions.declare_cells(space, num_blocks=2, search_combine=True)
    space.Int("filters", 4, 16, step=4)
    with space.conditional_scope("filters", [8]):
        space.Float("lr", 0.01, 0.1, sampling="log")
    oracle = NASOracle("val_accuracy", max_trials=5, hyperparameters=space)
    kt.set_project_dir(oracle, str(tmp_path), "oracle")
    # The caller's object, now copying itself quickly.
    assert oracle.hyperparameters is space
    trial = oracle.create_trial("tuner0")
    values = trial.hyperparameters.values
    expected = keras_tuner.HyperParameters.from_config(space.get_config())
    expected.values = dict(values)
    assert trial.hyperparameters.get_config() == expected.get_config()
    # Conditions and activity behave as in keras-tuner's copy.
    assert trial.hyperparameters.is_active("lr") == expected.is_active("lr")
    # Its own values and hyperparameters: the oracle's space is untouched.
    before = dict(space.values)
    trial.hyperparameters.values["filters"] = values["filters"] + 1
    trial.hyperparameters.space[-1].conditions.clear()
    assert space.values == before
    assert space.space[-1].conditions
    # A reloaded oracle reads its space back as a quick-copying one too.
    oracle.set_state(oracle.get_state())
    assert type(oracle.hyperparameters).copy is type(space).copy

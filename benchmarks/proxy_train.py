"""One timed child training, shared by `proxy_recipe.py` and `proxy_fidelity.py`.

`train_child(genotype, splits, recipe)` trains a genotype exactly as
`NASNetHyperModel` trains a search trial (`training.build_model`,
`training.compile_model` over the run's real length,
`training.build_training_state`, `model.fit` with the validation split and a
`DropPathScheduler`), and returns its accuracies and where its time went, in
CPU seconds of this process (what a trial costs a core, whatever the load)
and wall seconds (what it took on the shared machine).

`run_isolated(payload)` runs one training in a fresh Python process (its own
thread settings, no memory kept from earlier traces) and returns its result;
the scripts call it so that each measurement starts the same way a trial of
a fresh search process does.
"""

import dataclasses
import json
import os
import subprocess
import sys
import time

import _common

# The child training both proxy benchmarks start from: overrides of
# `training.SEARCH_PROXY`'s fields, written out in full so that each record
# says what was measured.
BASE_RECIPE = dict(
    cells_per_stack=1,
    filters=8,
    stem_strides=2,
    batch_size=64,
    learning_rate=0.1,
    nesterov=True,
    warmup_fraction=0.1,
    weight_decay=5e-4,
    clipnorm=5.0,
    epochs=1,
)


def _now():
    return time.process_time(), time.perf_counter()


def _since(mark):
    now = _now()
    return now[0] - mark[0], now[1] - mark[1]


def _phase_timer():
    """A Keras callback recording `(cpu, wall)` seconds of each training step
    and each validation pass of one `fit` (Keras is imported here: the parent
    process of `run_isolated` never needs it)."""
    import keras

    class PhaseTimer(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.mark = _now()
            self.steps = []
            self.validation = []

        def on_train_batch_end(self, batch, logs=None):
            self.steps.append(_since(self.mark))
            self.mark = _now()

        def on_test_begin(self, logs=None):
            self.test_mark = _now()

        def on_test_end(self, logs=None):
            self.validation.append(_since(self.test_mark))
            # The next step's time starts after validation.
            self.mark = _now()

    return PhaseTimer()


def _warm_up():
    """Traces one tiny model, so that one-time costs of the process (op
    registration, the first graph optimization) are not charged to the child."""
    import keras
    import numpy as np

    from keras_nasnet import training

    recipe = dataclasses.replace(training.SEARCH_PROXY, filters=2, epochs=1)
    model = training.build_model("nasnet_a", ((8, 8, 1), 2), recipe)
    training.compile_model(model, recipe, 1)
    training.build_training_state(model)
    x = np.zeros((2, 8, 8, 1), "float32")
    model.fit(x, np.zeros(2, "int32"), batch_size=2, epochs=1, verbose=0)
    model.evaluate(x, np.zeros(2, "int32"), verbose=0)
    del model
    keras.backend.clear_session()


def train_child(genotype, splits, recipe, *, test=None, seed=0):
    """Trains `genotype` on `splits` as a search trial does; returns a dict.

    Args:
        genotype: anything `NASNet` accepts.
        splits: a `keras_nasnet.data.Splits` of arrays, with a validation
            split.
        recipe: the child's `Recipe`.
        test: optional `(x, y)` evaluated after training (outside the timed
            trial).
        seed: Keras's global seed (initial weights, shuffling).

    Returns:
        `val_accuracy`, `val_loss`, `test_accuracy` (or None), `steps`, and
        CPU (`cpu_*`) and wall (`wall_*`) seconds of: `build` (build, compile,
        training state), `first_step` (it traces), `later_steps` (sum),
        `step` (median of the later steps), `validation` (all of it; its
        first pass traces), `trial` (all of these), plus `params`.
    """
    import keras
    import numpy as np

    from keras_nasnet import training
    from keras_nasnet.callbacks import DropPathScheduler

    keras.utils.set_random_seed(seed)
    (x, y), validation = splits.train, splits.validation
    steps_per_epoch = recipe.steps_per_epoch(len(x))
    start = _now()
    model = training.build_model(genotype, splits, recipe)
    training.compile_model(model, recipe, steps_per_epoch)
    training.build_training_state(model)
    build = _since(start)
    timer = _phase_timer()
    history = model.fit(
        x,
        y,
        batch_size=recipe.batch_size,
        epochs=recipe.epochs,
        validation_data=validation,
        callbacks=[timer, DropPathScheduler()],
        verbose=0,
    )
    trial = _since(start)
    result = {
        "val_accuracy": float(history.history["val_accuracy"][-1]),
        "val_loss": float(history.history["val_loss"][-1]),
        "train_loss": float(history.history["loss"][-1]),
        "steps": len(timer.steps),
        "params": int(model.count_params()),
    }
    later = timer.steps[1:]
    for index, kind in enumerate(("cpu", "wall")):
        result[f"{kind}_build"] = build[index]
        result[f"{kind}_first_step"] = timer.steps[0][index]
        result[f"{kind}_later_steps"] = float(sum(s[index] for s in later))
        result[f"{kind}_step"] = (
            float(np.median([s[index] for s in later])) if later else None
        )
        result[f"{kind}_validation"] = float(sum(v[index] for v in timer.validation))
        result[f"{kind}_trial"] = trial[index]
    result["test_accuracy"] = None
    if test is not None:
        scores = model.evaluate(*test, batch_size=500, verbose=0, return_dict=True)
        result["test_accuracy"] = float(scores["accuracy"])
    return result


def run_payload(payload):
    """Loads the data a payload names and trains it here; returns the dict
    of `train_child` with the load average at its start and end. A
    `threads` of None leaves the process's thread pools as they are (the
    smoke runs train in their caller's process)."""
    from keras_nasnet import data, training

    training.configure_tensorflow(
        threads=payload.get("threads", 1),
        graph_optimization=payload.get("graph_optimization"),
    )

    splits = data.load(
        payload.get("dataset", "fashion_mnist"),
        data_dir=payload.get("data_dir"),
        validation_size=payload["validation_images"],
        subset=payload["train_images"],
        seed=payload.get("data_seed", 0),
        download=False,
    )
    test = None
    if payload.get("test_images"):
        n = payload["test_images"]
        test = (splits.test[0][:n], splits.test[1][:n])
    if payload.get("normalize_inputs"):
        # Standardized with the training images' per-channel statistics, as a
        # search could feed its children (the CLI feeds them [0, 1] pixels).
        mean, std = splits.mean_std()

        def standardize(pair):
            return None if pair is None else ((pair[0] - mean) / std, pair[1])

        splits = dataclasses.replace(
            splits,
            train=standardize(splits.train),
            validation=standardize(splits.validation),
        )
        test = standardize(test)
    recipe = dataclasses.replace(training.SEARCH_PROXY, **payload["recipe"])
    if payload.get("unfused_batch_norm"):
        # Keras's own batch normalization, for comparison (see proxy_recipe.py).
        from keras_nasnet.layers import ops

        ops.FusedBatchNormalization._fuses = lambda *args: False
    if payload.get("warm_up", True):
        _warm_up()
    load = os.getloadavg()
    result = train_child(
        payload["genotype"], splits, recipe, test=test, seed=payload.get("seed", 0)
    )
    result["load_average"] = [load[0], os.getloadavg()[0]]
    result["fused_batch_norm"] = not payload.get("unfused_batch_norm", False)
    result["graph_optimization"] = payload.get("graph_optimization", True)
    return result


def run_isolated(payload, timeout=3600):
    """Runs one `train_child` in a fresh Python process; returns its dict.

    Args:
        payload: a JSON-able dict: `genotype` (its text form or a name),
            `recipe` (overrides of `training.SEARCH_PROXY`), `train_images`,
            `validation_images`, optional `test_images`, `threads` (1),
            `seed`, `data_seed`, `dataset`, `data_dir`, `warm_up`,
            `normalize_inputs` (standardize the images first),
            `unfused_batch_norm` (Keras's batch normalization instead of
            `FusedBatchNormalization`), `graph_optimization` (False: Grappler
            off, `training.configure_tensorflow`).
        timeout: seconds before the child is stopped.

    Raises:
        RuntimeError: with the child's last output if it failed.
    """
    env = _common.child_env(
        TF_CPP_MIN_LOG_LEVEL="3",
        **_common.thread_variables(payload.get("threads", 1)),
    )
    completed = subprocess.run(
        [sys.executable, os.path.abspath(__file__), json.dumps(payload)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    result = _common.result_of(completed.stdout)
    if result is not None:
        return result
    raise RuntimeError(
        f"child training failed (exit {completed.returncode}): "
        f"{completed.stderr[-3000:]}"
    )


if __name__ == "__main__":
    _common.print_result(run_payload(json.loads(sys.argv[1])))

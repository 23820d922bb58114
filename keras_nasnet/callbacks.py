"""Training callbacks: `DropPathScheduler` feeds training progress to drop path.

Reference: Zoph et al. 2018, "Learning Transferable Architectures for Scalable
Image Recognition", section 4.1 (ScheduledDropPath).
"""

import keras

from keras_nasnet._validation import check_int
from keras_nasnet.layers.drop_path import ScheduledDropPath


def drop_path_layers(model):
    """Every `ScheduledDropPath` layer in `model`, nested layers included."""
    return [
        layer
        for layer in model._flatten_layers(include_self=False, recursive=True)
        if isinstance(layer, ScheduledDropPath)
    ]


class DropPathScheduler(keras.callbacks.Callback):
    """Sets every `ScheduledDropPath`'s `progress` to `step / total_steps`.

    Before each training batch, `progress = min(1, step / total_steps)` where
    `step` counts batches from the start of training (`initial_epoch`
    included, so resumed runs continue the schedule). Drop path keeps
    everything at step 0 and reaches its final keep probability at
    `total_steps`. How each layer turns `progress` into a keep probability
    (by depth and time, or by time only) is its `schedule`.

    Both papers' released code ramp over the whole run, the default here:
    NASNet's over its training steps, AmoebaNet's over
    `drop_path_burn_in_steps`, which its training sets to the run's total
    steps (tensorflow/tpu `amoeba_net_model.py`,
    `AmoebaNetEstimatorModel._build_network`).

    On the JAX backend the trainer holds the variables as arrays between
    steps; this callback syncs them back to the model before writing
    `progress` (`model.jax_state_sync()`), which costs a pass over the
    variables each batch.

    Args:
        total_steps: the step at which the schedule ends. Defaults to
            `epochs * steps_per_epoch` of the `fit` call; give it when `fit`
            does not know the number of steps per epoch.

    Example:

    >>> import numpy as np
    >>> from keras_nasnet.layers import ScheduledDropPath
    >>> inputs = keras.Input((4, 4, 2))
    >>> x = ScheduledDropPath(0.6)(keras.layers.Conv2D(2, 3)(inputs))
    >>> model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(x))
    >>> model.compile("sgd", "mse", jit_compile=False)
    >>> x, y = np.zeros((4, 4, 4, 2)), np.zeros((4, 2))
    >>> _ = model.fit(x, y, batch_size=2, epochs=2, verbose=0,
    ...               callbacks=[DropPathScheduler()])
    >>> float(drop_path_layers(model)[0].progress.numpy())  # last step: 3 of 4
    0.75
    """

    def __init__(self, total_steps=None):
        super().__init__()
        if total_steps is not None:
            total_steps = check_int("total_steps", total_steps, 1)
        self.total_steps = total_steps
        self._layers = []
        self._steps_per_epoch = None
        self._total = None
        self._epoch_start = 0
        self._seen = 0

    def on_train_begin(self, logs=None):
        self._layers = drop_path_layers(self.model)
        self._steps_per_epoch = self.params.get("steps")
        self._total = self.total_steps
        self._seen = 0
        if self._total is None:
            epochs = self.params.get("epochs")
            if not self._steps_per_epoch or not epochs:
                raise ValueError(
                    "DropPathScheduler cannot tell the number of training "
                    "steps: `fit` did not report `steps` per epoch. Pass "
                    "`DropPathScheduler(total_steps=...)`."
                )
            self._total = epochs * self._steps_per_epoch

    def on_epoch_begin(self, epoch, logs=None):
        # With a known epoch length, count from `initial_epoch`; else count
        # the batches seen.
        if self._steps_per_epoch:
            self._epoch_start = epoch * self._steps_per_epoch
        else:
            self._epoch_start = self._seen

    def on_train_batch_begin(self, batch, logs=None):
        if not self._layers:
            return
        progress = min(1.0, (self._epoch_start + batch) / self._total)
        sync = getattr(self.model, "jax_state_sync", None)
        if sync is not None:
            # JAX keeps the state outside the variables during `fit`; bring it
            # back so that the trainer re-reads it, with the new progress.
            sync()
        for layer in self._layers:
            layer.progress.assign(progress)

    def on_train_batch_end(self, batch, logs=None):
        self._seen = self._epoch_start + batch + 1

"""ScheduledDropPath: drop whole op outputs per example, more as training goes on.

Two pure functions do the work, and a thin layer holds the state:

- `drop_path(x, keep_prob, seed_generator)` zeroes each example's `x` with
  probability `1 - keep_prob` and scales the survivors by `1 / keep_prob`.
- `drop_path_keep_prob(cell_index, total_cells, progress, final_keep,
  schedule)` is the schedule, after one of its two sources:
  `"nasnet"` (deeper cells and later training keep less) or `"amoebanet"`
  (later training keeps less, every cell alike).
- `ScheduledDropPath` reads the training progress from its own non-trainable
  `progress` variable; `keras_nasnet.callbacks.DropPathScheduler` writes it each
  batch. Without the callback, progress stays 0 and nothing is ever dropped.

Reference: Zoph et al. 2018, "Learning Transferable Architectures for Scalable
Image Recognition", section 4.1 (ScheduledDropPath); `"nasnet"` is the
released code's "v3" (tensorflow/models research/slim/nets/nasnet). Real et
al. 2019, "Regularized Evolution for Image Classifier Architecture Search";
`"amoebanet"` is the released code's default "v1" (tensorflow/tpu
models/official/amoeba_net/network_utils.py, `BaseCell._apply_drop_path(...,
drop_connect_version='v1')`), ramped over `drop_path_burn_in_steps`, which
`amoeba_net_model.py` (`AmoebaNetEstimatorModel._build_network`) sets to the
run's total steps.
"""

import keras
from keras import ops

from keras_nasnet._validation import fail as _fail

# name -> whether the keep probability is scaled by the cell's depth.
DROP_PATH_SCHEDULES = {
    # TF-slim NASNet "v3": by depth and by time.
    "nasnet": True,
    # tensorflow/tpu AmoebaNet "v1": by time only.
    "amoebanet": False,
}


def check_schedule(schedule, name="schedule"):
    """Returns `schedule` if it names a drop-path schedule, else raises."""
    if not isinstance(schedule, str) or schedule not in DROP_PATH_SCHEDULES:
        _fail(name, f"one of {sorted(DROP_PATH_SCHEDULES)}", schedule)
    return schedule


def drop_path_keep_prob(
    cell_index, total_cells, progress, final_keep, schedule="nasnet"
):
    """The keep probability of a cell's op outputs at a point in training.

    `schedule="nasnet"` (TF-slim's "v3"): `keep_L = 1 - (cell_index + 1) /
    total_cells * (1 - final_keep)` is the cell's keep probability at the end
    of training (the last cell reaches `final_keep`), and `keep = 1 -
    min(1, progress) * (1 - keep_L)` falls linearly from 1 at `progress = 0`
    to `keep_L` at `progress = 1`.

    `schedule="amoebanet"` (tensorflow/tpu AmoebaNet's "v1"): every cell
    alike, `keep = 1 - min(1, progress) * (1 - final_keep)`; `cell_index` and
    `total_cells` are not used.

    Args:
        cell_index: 0-based index of the cell, counting every cell (stem
            cells and reduction cells included).
        total_cells: number of cells in the network.
        progress: fraction of training done, `step / total_steps`; a Python
            number or a scalar tensor. Values above 1 count as 1.
        final_keep: the keep probability the last cell reaches (`p`).
        schedule: `"nasnet"` or `"amoebanet"`, as above.

    Returns:
        A Python float when `progress` is a Python number, else a scalar
        tensor.

    Example:

    >>> drop_path_keep_prob(0, 1, progress=0.0, final_keep=0.6)
    1.0
    >>> round(drop_path_keep_prob(1, 4, progress=1.0, final_keep=0.6), 6)
    0.8
    >>> round(drop_path_keep_prob(1, 4, 1.0, 0.6, schedule="amoebanet"), 6)
    0.6
    """
    if DROP_PATH_SCHEDULES[check_schedule(schedule)]:
        layer_keep = 1.0 - (cell_index + 1) / total_cells * (1.0 - final_keep)
    else:
        layer_keep = final_keep
    if isinstance(progress, (int, float)):
        return 1.0 - min(1.0, float(progress)) * (1.0 - layer_keep)
    progress = ops.minimum(ops.cast(progress, "float32"), 1.0)
    return 1.0 - progress * (1.0 - layer_keep)


def drop_path(x, keep_prob, seed_generator):
    """Drops each example of `x` with probability `1 - keep_prob`.

    `out = x / keep_prob * floor(keep_prob + U)` with `U ~ Uniform[0, 1)` drawn
    once per example (shape `[batch, 1, ..., 1]`). When `keep_prob` is 1 the
    output equals `x` exactly.

    Args:
        x: a tensor whose first axis is the batch.
        keep_prob: a Python number or scalar tensor in (0, 1].
        seed_generator: a `keras.random.SeedGenerator` (or a seed) for `U`.

    Returns:
        A tensor like `x`.

    Example:

    >>> import numpy as np
    >>> x = np.ones((4, 2, 2, 3), "float32")
    >>> y = drop_path(x, 1.0, keras.random.SeedGenerator(0))
    >>> bool(np.all(keras.ops.convert_to_numpy(y) == x))
    True
    """
    noise_shape = (ops.shape(x)[0],) + (1,) * (len(x.shape) - 1)
    keep = ops.cast(keep_prob, "float32")
    noise = keras.random.uniform(noise_shape, dtype="float32", seed=seed_generator)
    mask = ops.floor(keep + noise)
    return ops.divide(x, ops.cast(keep, x.dtype)) * ops.cast(mask, x.dtype)


@keras.saving.register_keras_serializable(package="keras_nasnet")
class ScheduledDropPath(keras.layers.Layer):
    """Drop path whose keep probability follows the ScheduledDropPath schedule.

    In training, applies `drop_path` with
    `drop_path_keep_prob(cell_index, total_cells, progress, drop_path_keep_prob,
    schedule)`;
    at inference (and whenever `drop_path_keep_prob` is 1) it returns its input
    unchanged. `progress` is a non-trainable scalar variable of the layer,
    starting at 0 (so nothing is dropped at step 0); the `DropPathScheduler`
    callback sets it to `step / total_steps` before every batch.

    Args:
        drop_path_keep_prob: the keep probability the network's last cell
            reaches at the end of training (the paper's `p`; 1 disables).
        cell_index: 0-based index of the cell this op belongs to, counting
            every cell.
        total_cells: number of cells in the network.
        seed: optional integer seed for the per-example noise.
        schedule: `"nasnet"` (NASNet's: scaled by the cell's depth and by
            time) or `"amoebanet"` (AmoebaNet's: by time only); see
            `drop_path_keep_prob`.
        **kwargs: forwarded to `keras.layers.Layer`.

    Call arguments:
        inputs: the op output, `[batch, height, width, channels]`.
        training: drop only when true.

    Reference: Zoph et al. 2018, "Learning Transferable Architectures for
    Scalable Image Recognition", section 4.1; Real et al. 2019, "Regularized
    Evolution for Image Classifier Architecture Search" (released code).

    Example:

    >>> import numpy as np
    >>> layer = ScheduledDropPath(0.5, cell_index=0, total_cells=1, seed=1)
    >>> x = np.ones((8, 1, 1, 1), "float32")
    >>> _ = layer.progress.assign(1.0)  # end of training: keep = 0.5
    >>> y = keras.ops.convert_to_numpy(layer(x, training=True))
    >>> sorted(set(y.ravel().tolist())) in ([0.0, 2.0], [0.0], [2.0])
    True
    >>> bool(np.all(keras.ops.convert_to_numpy(layer(x)) == x))
    True
    """

    def __init__(
        self,
        drop_path_keep_prob=1.0,
        cell_index=0,
        total_cells=1,
        seed=None,
        schedule="nasnet",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not 0.0 < drop_path_keep_prob <= 1.0:
            raise ValueError(
                "Invalid value received for argument `drop_path_keep_prob`. "
                "Expected a probability in (0, 1]. Received: "
                f"drop_path_keep_prob={drop_path_keep_prob!r}"
            )
        if not 0 <= cell_index < total_cells:
            raise ValueError(
                "Invalid value received for argument `cell_index`. Expected "
                f"an integer in [0, total_cells) = [0, {total_cells}). "
                f"Received: cell_index={cell_index!r}"
            )
        self.schedule = check_schedule(schedule)
        self.drop_path_keep_prob = float(drop_path_keep_prob)
        self.cell_index = int(cell_index)
        self.total_cells = int(total_cells)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        # Created here, not in build(), so that the callback can set it before
        # the first call.
        self.progress = self.add_weight(
            name="progress",
            shape=(),
            initializer="zeros",
            trainable=False,
            dtype="float32",
            autocast=False,
        )
        self.supports_masking = True
        self.built = True

    def keep_prob(self):
        """The keep probability now, from the `progress` variable."""
        return drop_path_keep_prob(
            self.cell_index,
            self.total_cells,
            self.progress.value,
            self.drop_path_keep_prob,
            self.schedule,
        )

    def call(self, inputs, training=None):
        if not training or self.drop_path_keep_prob >= 1.0:
            return inputs
        return drop_path(inputs, self.keep_prob(), self.seed_generator)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "drop_path_keep_prob": self.drop_path_keep_prob,
            "cell_index": self.cell_index,
            "total_cells": self.total_cells,
            "seed": self.seed,
            "schedule": self.schedule,
        }

"""Keras layers that build NASNet cells: ops, cells, drop path, auxiliary head."""

# Keras first, before any submodule: importing it registers this package's
# classes (keras_nasnet._registration), which must find no submodule of ours
# half-imported.
import keras  # noqa: F401

from keras_nasnet.layers.aux_head import AuxiliaryHead
from keras_nasnet.layers.cell import NASNetCell
from keras_nasnet.layers.drop_path import (
    DROP_PATH_SCHEDULES,
    ScheduledDropPath,
    drop_path,
    drop_path_keep_prob,
)
from keras_nasnet.layers.ops import (
    BottleneckConv,
    FactorizedReduction,
    FusedBatchNormalization,
    IdentityOp,
    PoolOp,
    ReLUConvBN,
    SeparableConvStack,
    make_op,
)

__all__ = [
    "DROP_PATH_SCHEDULES",
    "AuxiliaryHead",
    "BottleneckConv",
    "FactorizedReduction",
    "FusedBatchNormalization",
    "IdentityOp",
    "NASNetCell",
    "PoolOp",
    "ReLUConvBN",
    "ScheduledDropPath",
    "SeparableConvStack",
    "drop_path",
    "drop_path_keep_prob",
    "make_op",
]

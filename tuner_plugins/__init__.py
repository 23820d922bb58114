"""keras-tuner plugins: how a NASNet architecture is SEARCHED.

- `NASNetHyperModel`: the NASNet cell space as a `keras_tuner.HyperModel`;
  any keras-tuner tuner can search it.
- `NASOracle`: a `keras_tuner.Oracle` with the papers' strategies (aging
  evolution, RNN controller); works with your own HyperModel too.
- `AgingEvolution`, `RNNController`: `keras_tuner.Tuner`s with a `NASOracle`.
- `failures`: failing trials end FAILED with a one-line reason
  (`TrialFailureMixin`, `failure_reason`, `TooManyFailedTrialsError`).

How a genotype is spelled as hyperparameters, and back, is part of the search
space: `keras_nasnet.space.decisions` (re-exported here as `declare_cells`,
`decode`, `encode`, `hp_name`).
"""

from keras_nasnet.space.decisions import declare_cells, decode, encode, hp_name
from tuner_plugins import failures
from tuner_plugins.failures import (
    TooManyFailedTrialsError,
    TrialFailureMixin,
    failure_reason,
)
from tuner_plugins.hypermodel import NASNetHyperModel
from tuner_plugins.oracle import NASOracle
from tuner_plugins.tuners import AgingEvolution, RNNController

__all__ = [
    "AgingEvolution",
    "NASNetHyperModel",
    "NASOracle",
    "RNNController",
    "TooManyFailedTrialsError",
    "TrialFailureMixin",
    "declare_cells",
    "decode",
    "encode",
    "failure_reason",
    "failures",
    "hp_name",
]

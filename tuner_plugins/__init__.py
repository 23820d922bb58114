"""keras-tuner plugins: how a NASNet architecture is SEARCHED.

- `NASNetHyperModel`: the NASNet cell space as a `keras_tuner.HyperModel`;
  any keras-tuner tuner can search it.
- `NASOracle`: a `keras_tuner.Oracle` whose search is a `Strategy` object:
  aging evolution, the RNN controller, local search, or your own (see
  `tuner_plugins.strategy`); works with your own HyperModel too.
- `NASTuner` (any strategy) and `AgingEvolution`, `RNNController`,
  `LocalSearch`: `keras_tuner.Tuner`s with a `NASOracle`.
- `failures`: failing trials end FAILED with a one-line reason
  (`TrialFailureMixin`, `failure_reason`, `TooManyFailedTrialsError`).
- Cost-aware search: budgets (`Constraints`, priced by a `CostModel` before
  anything is built), `CostAwareMixin` for any keras-tuner tuner, and
  objectives that trade accuracy against cost (`MnasReward`, `Pareto`).

How a genotype is spelled as hyperparameters, and back, is part of the search
space: `keras_nasnet.space.decisions` (re-exported here as `declare_cells`,
`decode`, `encode`, `hp_name`).
"""

from keras_nasnet.space.decisions import declare_cells, decode, encode, hp_name
from tuner_plugins import failures
from tuner_plugins.constraints import (
    Constraints,
    CostModel,
    InfeasibleSearchError,
    InfeasibleTrialError,
)
from tuner_plugins.controller import ControllerStrategy
from tuner_plugins.cost_aware import CostAwareMixin
from tuner_plugins.evolution import EvolutionStrategy
from tuner_plugins.failures import (
    TooManyFailedTrialsError,
    TrialFailureMixin,
    failure_reason,
)
from tuner_plugins.hypermodel import NASNetHyperModel
from tuner_plugins.local_search import LocalSearchStrategy
from tuner_plugins.objectives import MnasReward, Pareto
from tuner_plugins.oracle import NASOracle
from tuner_plugins.strategy import (
    STRATEGIES,
    Strategy,
    get_strategy_class,
    make_strategy,
    strategy_names,
)
from tuner_plugins.tuners import AgingEvolution, LocalSearch, NASTuner, RNNController

__all__ = [
    "STRATEGIES",
    "AgingEvolution",
    "Constraints",
    "ControllerStrategy",
    "CostAwareMixin",
    "CostModel",
    "EvolutionStrategy",
    "InfeasibleSearchError",
    "InfeasibleTrialError",
    "LocalSearch",
    "LocalSearchStrategy",
    "MnasReward",
    "NASNetHyperModel",
    "NASOracle",
    "NASTuner",
    "Pareto",
    "RNNController",
    "Strategy",
    "TooManyFailedTrialsError",
    "TrialFailureMixin",
    "declare_cells",
    "decode",
    "encode",
    "failure_reason",
    "failures",
    "get_strategy_class",
    "hp_name",
    "make_strategy",
    "strategy_names",
]

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

from keras_nasnet import _lazy
from keras_nasnet.space.decisions import declare_cells, decode, encode, hp_name

# name -> the module that defines it. Imported on first access (PEP 562):
# `tuner_plugins.strategy` (the registry) and `tuner_plugins.constraints`
# (budgets) check a search's settings without keras-tuner, Keras or the
# backend; the tuners, the oracle and the hypermodel import them.
_EXPORTS = {
    "STRATEGIES": "tuner_plugins.strategy",
    "Strategy": "tuner_plugins.strategy",
    "get_strategy_class": "tuner_plugins.strategy",
    "make_strategy": "tuner_plugins.strategy",
    "strategy_names": "tuner_plugins.strategy",
    "Constraints": "tuner_plugins.constraints",
    "CostModel": "tuner_plugins.constraints",
    "InfeasibleSearchError": "tuner_plugins.constraints",
    "InfeasibleTrialError": "tuner_plugins.cost_aware",
    "CostAwareMixin": "tuner_plugins.cost_aware",
    "ControllerStrategy": "tuner_plugins.controller",
    "EvolutionStrategy": "tuner_plugins.evolution",
    "LocalSearchStrategy": "tuner_plugins.local_search",
    "TooManyFailedTrialsError": "tuner_plugins.failures",
    "TrialFailureMixin": "tuner_plugins.failures",
    "failure_reason": "tuner_plugins.failures",
    "NASNetHyperModel": "tuner_plugins.hypermodel",
    "MnasReward": "tuner_plugins.objectives",
    "Pareto": "tuner_plugins.objectives",
    "NASOracle": "tuner_plugins.oracle",
    "AgingEvolution": "tuner_plugins.tuners",
    "LocalSearch": "tuner_plugins.tuners",
    "NASTuner": "tuner_plugins.tuners",
    "RNNController": "tuner_plugins.tuners",
    "failures": "tuner_plugins.failures",
}

__getattr__, __dir__ = _lazy.exports(__name__, _EXPORTS)


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

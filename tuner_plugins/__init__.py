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

# name -> the module that defines it. Imported on first access (PEP 562):
# `tuner_plugins.strategy` (the registry) and `tuner_plugins.constraints`
# (budgets) check a search's settings without keras-tuner, Keras or the
# backend; the tuners, the oracle and the hypermodel import them.
_EXPORTS = {
    "STRATEGIES": "strategy",
    "Strategy": "strategy",
    "get_strategy_class": "strategy",
    "make_strategy": "strategy",
    "strategy_names": "strategy",
    "Constraints": "constraints",
    "CostModel": "constraints",
    "InfeasibleSearchError": "constraints",
    "InfeasibleTrialError": "cost_aware",
    "CostAwareMixin": "cost_aware",
    "ControllerStrategy": "controller",
    "EvolutionStrategy": "evolution",
    "LocalSearchStrategy": "local_search",
    "TooManyFailedTrialsError": "failures",
    "TrialFailureMixin": "failures",
    "failure_reason": "failures",
    "NASNetHyperModel": "hypermodel",
    "MnasReward": "objectives",
    "Pareto": "objectives",
    "NASOracle": "oracle",
    "AgingEvolution": "tuners",
    "LocalSearch": "tuners",
    "NASTuner": "tuners",
    "RNNController": "tuners",
}
_SUBMODULES = ("failures",)


def __getattr__(name):
    import importlib

    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))


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

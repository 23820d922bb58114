"""Budgets on a child's cost, and what a child costs before it is built.

- `CostModel`: the size settings a genotype alone does not give (input
  shape, classes, stem, and N and F when the trial does not choose them),
  so that a trial's hyperparameter values have a cost: `cost(values)` is
  `keras_nasnet.space.cost.network_cost` of the child they spell (about
  0.3 ms, no Keras). `CostModel.from_hypermodel` reads them from a
  `NASNetHyperModel`.
- `Constraints`: `max_params`, `max_macs` (known before the build) and
  `max_latency_ms` (measured on the built child); `violations` says which
  are broken, in one line each.
- `InfeasibleSearchError`: `NASTuner.search` stopped for want of a child
  within budget.

`NASOracle` uses both to never start a child over a before-build budget
(the strategy proposes again); `CostAwareMixin` (`tuner_plugins.cost_aware`)
checks every budget in the tuner, for keras-tuner's own tuners too, and
fails a child over budget with its `InfeasibleTrialError`. This module
imports neither keras-tuner nor Keras: a search's settings are checked with
it before anything heavy is imported.

Reference: Zoph et al. 2018, "Learning Transferable Architectures for
Scalable Image Recognition" (NASNet-A mobile: under 600M mult-adds); Tan et
al. 2019, "MnasNet: Platform-Aware Neural Architecture Search for Mobile"
(latency as a search constraint).
"""

import dataclasses
import math

from keras_nasnet import _validation
from keras_nasnet.genotypes import NASNET_A
from keras_nasnet.space import cost as cost_lib
from keras_nasnet.space import decisions

# Hyperparameter names of the size settings a trial may choose
# (`NASNetHyperModel` declares them).
CELLS_PER_STACK = "cells_per_stack"
FILTERS = "filters"
# Constraint name -> the trial metric it bounds.
BUDGETS = {
    "max_params": "params",
    "max_macs": "macs",
    "max_latency_ms": "latency_ms",
}
# The budgets known before a child is built.
BEFORE_BUILD = ("max_params", "max_macs")


class InfeasibleSearchError(RuntimeError):
    """The search stopped: no proposal for a trial was within budget."""


@dataclasses.dataclass(frozen=True)
class CostModel:
    """What a trial's child costs, from its hyperparameter values.

    The genotype comes from the cell decisions (`keras_nasnet.space.
    decisions`); N and F from the trial's `cells_per_stack` and `filters`
    values when it has them, else from this model's; the rest of the size
    from this model. Nothing is built.

    Args:
        input_shape: `(height, width, channels)` of the images.
        num_classes: number of classes.
        stem: `"cifar"` or `"imagenet"`.
        stem_multiplier: the stem's width factor (None: the stem's default).
        cells_per_stack: N, for trials that do not choose it.
        filters: F, for trials that do not choose it.
        stem_strides: the CIFAR stem's stride, 1 or 2 (the search proxy's,
            `keras_nasnet.training.SEARCH_PROXY`).

    The child is priced as deployed: without an auxiliary head, which a
    recipe with `aux_weight > 0` adds to the trained model.

    Raises:
        ValueError: on an invalid argument, naming it.

    Example:

    >>> from keras_nasnet.genotypes import NASNET_A
    >>> model = CostModel((28, 28, 1), 10, cells_per_stack=1, filters=8)
    >>> model.cost(decisions.encode(NASNET_A)).params
    70914
    """

    input_shape: tuple
    num_classes: int
    stem: str = "cifar"
    stem_multiplier: float = None
    cells_per_stack: int = None
    filters: int = None
    stem_strides: int = 1

    def __post_init__(self):
        shape = self.input_shape
        if not isinstance(shape, (list, tuple)) or len(shape) != 3:
            _validation.fail(
                "input_shape", "(height, width, channels) as positive integers", shape
            )
        for dim in shape:
            _validation.check_int("input_shape", dim, 1)
        object.__setattr__(self, "input_shape", tuple(int(d) for d in shape))
        _validation.check_int("num_classes", self.num_classes, 1)
        _validation.check_choice("stem", self.stem, cost_lib.STEMS)
        for name in (CELLS_PER_STACK, FILTERS):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, _validation.check_int(name, value, 1))
        if _validation.check_int("stem_strides", self.stem_strides, 1) > 2:
            _validation.fail("stem_strides", "1 or 2", self.stem_strides)
        object.__setattr__(self, "stem_strides", int(self.stem_strides))
        if self.stem_multiplier is not None:
            _validation.check_real(
                "stem_multiplier", self.stem_multiplier, 0, closed=(False, True)
            )
        # The whole size is checked once, as `network_cost` will see it.
        if self.cells_per_stack is not None and self.filters is not None:
            self.size_cost(NASNET_A, self.cells_per_stack, self.filters)

    @classmethod
    def from_hypermodel(cls, hypermodel):
        """The cost model of a `NASNetHyperModel` (or any hypermodel with
        `input_shape` and `num_classes` attributes and the same
        hyperparameter names); N and F come from each trial's values.

        Raises:
            ValueError: if the hypermodel lacks `input_shape` or
                `num_classes`.
        """
        shape = getattr(hypermodel, "input_shape", None)
        classes = getattr(hypermodel, "num_classes", None)
        if shape is None or classes is None:
            _validation.fail(
                "cost_model",
                "a CostModel, for a hypermodel without `input_shape` and "
                "`num_classes` (NASNetHyperModel has them)",
                None,
            )
        return cls(
            tuple(shape),
            int(classes),
            stem=getattr(hypermodel, "stem", "cifar"),
            stem_multiplier=getattr(hypermodel, "stem_multiplier", None),
            # NASNetHyperModel's recipe (SEARCH_PROXY: a stride-2 stem).
            stem_strides=getattr(
                getattr(hypermodel, "recipe", None),
                "stem_strides",
                getattr(hypermodel, "stem_strides", 1),
            ),
        )

    def size_cost(self, genotype, cells_per_stack, filters):
        """`network_cost` of `genotype` at N = `cells_per_stack`, F =
        `filters` and this model's size."""
        return cost_lib.network_cost(
            genotype,
            cells_per_stack,
            filters=filters,
            stem=self.stem,
            stem_multiplier=self.stem_multiplier,
            num_classes=self.num_classes,
            input_shape=self.input_shape,
            stem_strides=self.stem_strides,
        )

    def cost(self, values):
        """The `keras_nasnet.space.cost.Cost` of the child `values` spell.

        Raises:
            ValueError: if the values spell no genotype, or N or F is known
                neither from them nor from this model.
        """
        genotype = decisions.decode(values)
        size = {}
        for name in (CELLS_PER_STACK, FILTERS):
            size[name] = values.get(name, getattr(self, name))
            if size[name] is None:
                raise ValueError(
                    f"The trial's values have no `{name}` and the CostModel "
                    f"sets none: give CostModel({name}=...)."
                )
        return self.size_cost(genotype, int(size[CELLS_PER_STACK]), int(size[FILTERS]))

    def get_config(self):
        config = dataclasses.asdict(self)
        config["input_shape"] = list(self.input_shape)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@dataclasses.dataclass(frozen=True)
class Constraints:
    """Budgets a child must meet to be trained.

    Args:
        max_params: the most parameters (as Keras's `count_params()`), or
            None.
        max_macs: the most multiply-adds of one inference on one image, or
            None.
        max_latency_ms: the most batch-1 inference latency, median ms per
            image measured on the built child (`keras_nasnet.models.measure.
            measure_latency`), or None. A measurement: see its noise in
            `docs/cost.md`.

    Raises:
        ValueError: for a budget that is not a number > 0.

    Example:

    >>> budget = Constraints(max_params=100_000)
    >>> budget.violations(params=120_000, macs=5e6)
    ['120,000 params > max_params=100,000']
    """

    max_params: float = None
    max_macs: float = None
    max_latency_ms: float = None

    def __post_init__(self):
        for name in BUDGETS:
            value = getattr(self, name)
            if value is None:
                continue
            _validation.check_real(
                name, value, 0, math.inf, closed=(False, False), allow_none=True
            )
            if _validation.is_int(value) or float(value).is_integer():
                value = int(value) if name != "max_latency_ms" else float(value)
            object.__setattr__(self, name, value)

    @classmethod
    def make(cls, value=None, **budgets):
        """`Constraints` from one, a dict of budgets, or keyword budgets.

        Raises:
            ValueError: for anything else, or a budget given twice.
        """
        if isinstance(value, Constraints):
            if any(v is not None for v in budgets.values()):
                _validation.fail(
                    "constraints",
                    "the budgets either in a Constraints or as keywords, not both",
                    value,
                )
            return value
        if value is None:
            value = {}
        if not isinstance(value, dict):
            _validation.fail(
                "constraints", "a Constraints, a dict of budgets, or None", value
            )
        _validation.check_known_options("Constraints", value, list(BUDGETS))
        merged = dict(value)
        for name, budget in budgets.items():
            if budget is None:
                continue
            if merged.get(name) is not None:
                _validation.fail(name, "one value (it was given twice)", budget)
            merged[name] = budget
        return cls(**merged)

    @property
    def active(self):
        """`{name: budget}` of the budgets that are set."""
        return {n: getattr(self, n) for n in BUDGETS if getattr(self, n) is not None}

    @property
    def before_build(self):
        """Whether a budget is known before the build (params or MACs)."""
        return any(getattr(self, n) is not None for n in BEFORE_BUILD)

    def ratio(self, params=None, macs=None):
        """The largest `cost / budget` over the before-build budgets (<= 1:
        within all of them); 0 when none is set."""
        ratios = [0.0]
        for name, value in (("max_params", params), ("max_macs", macs)):
            budget = getattr(self, name)
            if budget is not None and value is not None:
                ratios.append(float(value) / budget)
        return max(ratios)

    def violations(self, params=None, macs=None, latency_ms=None):
        """One line per budget the given costs exceed (costs left None are not
        checked)."""
        costs = {"max_params": params, "max_macs": macs, "max_latency_ms": latency_ms}
        out = []
        for name, budget in self.active.items():
            value = costs[name]
            if value is not None and value > budget:
                out.append(
                    f"{_format(value)} {BUDGETS[name]} > {name}={_format(budget)}"
                )
        return out

    def get_config(self):
        return dataclasses.asdict(self)

    def __str__(self):
        return ", ".join(f"{n}={_format(v)}" for n, v in self.active.items()) or "none"


def _format(value):
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.3g}"
    return f"{int(value):,}"

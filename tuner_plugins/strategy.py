"""`Strategy`: how `NASOracle` chooses trials, and the registry of strategies.

A strategy is an object with a small interface; `NASOracle` does all the
keras-tuner bookkeeping around it (trial ids, duplicates, retries, failures,
files, the chief/worker lock) and passes itself to every call, so a strategy
imports nothing from the oracle:

- `propose(oracle, rng)`: the values of one new trial, or `None`.
- `on_trial_begin(oracle, trial_id, values)`: optional note kept with a trial
  the strategy proposed.
- `on_trial_end(oracle)`: learn from the finished trials.
- `get_config()` / `from_config(config)`: its options.
- `get_state()` / `set_state(state)`, `save_files(dir)` / `load_files(dir)`:
  what it learned that the trials cannot give back.

Strategies are registered by name in `STRATEGIES`, as lazy `"module:Class"`
strings (the controller imports Keras only when chosen). Adding one is a new
module and one line there; the oracle, the tuners, the CLI and the benchmarks
read the registry.

Reference: see each strategy's module.
"""

import importlib
import inspect
import re
import types
import typing

from keras_nasnet import _validation

# name -> "module:Class". The one list of the strategies a name can select.
STRATEGIES = {
    "evolution": "tuner_plugins.evolution:EvolutionStrategy",
    "controller": "tuner_plugins.controller:ControllerStrategy",
    "local_search": "tuner_plugins.local_search:LocalSearchStrategy",
}

# A Google-style `Args:` entry: `    name: text` (continued on deeper lines).
_ARG_RE = re.compile(r"^(\s*)(\w+)(?:\s*\([^)]*\))?:\s*(.*)$")


class Strategy:
    """The interface of a `NASOracle` search strategy.

    Subclass it, set `name`, and implement `propose`; every other method has a
    default that suits a strategy whose progress is all in the trials. Its
    options are the keyword arguments of `__init__`, with a type annotation,
    a default (the paper's), checked there and documented once in the class
    docstring's `Args:`; each is kept as an attribute of the same name (that
    is what `get_config` returns). A strategy takes no seed: its randomness
    comes from the `rng` the oracle passes (seeded by the oracle's seed and
    the trial id), or from `oracle.seed`.

    Every method is called under the oracle's lock (one call at a time, also
    on a distributed chief), so it must be quick and must not block.

    Class attributes:
        name: the registry name (`"evolution"`); recorded in `oracle.json`,
            where a resumed search must find the same one.
        small_search_options: option values for a search of tens of trials
            (the CLI's defaults), where the papers' are sized for thousands.
        max_attempts: how many times the oracle calls `propose` for one trial
            before it samples a random trial instead; `None`: 20.
        supports_pareto: whether it can search for a Pareto front
            (`tuner_plugins.objectives.Pareto`, through
            `oracle.objective_vector`); the oracle refuses a Pareto
            objective for a strategy without it.

    Example:

    >>> class RandomStrategy(Strategy):
    ...     '''Uniform random search.'''
    ...     name = "random"
    ...     def propose(self, oracle, rng):
    ...         return oracle.random_values(rng)
    >>> RandomStrategy().get_config()
    {}
    """

    name = None
    small_search_options = {}
    max_attempts = None
    supports_pareto = False

    def propose(self, oracle, rng):
        """Returns the values of one new trial, or `None`.

        Args:
            oracle: the `NASOracle`; read `oracle.trials`, `oracle.end_order`,
                `oracle.finished_trials()`, `oracle.hyperparameters`, and use
                its helpers (`random_values`, `complete_values`, `reward`,
                `objective_vector`, `is_duplicate`, `is_feasible`,
                `trial_note`). Do not change its state.
            rng: a `numpy.random.Generator` seeded by the oracle's seed and
                the trial id: the same for the same trial in a resumed search.

        Returns:
            A dict over the active hyperparameters. The oracle rejects a
            duplicate of a tried or running trial, or a child over a
            before-build budget (`oracle.is_feasible`), and asks again (up
            to `max_attempts` times, the same `rng` going on), then samples
            a random trial; `None` skips straight to the next attempt.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement `propose`.")

    def on_trial_begin(self, oracle, trial_id, values):
        """Called when a trial starts with values `propose` just returned (not
        for random fallbacks, nor retries).

        Returns:
            `None`, or a JSON-safe dict kept with the trial (in its
            `trial.json`, written with it) and returned by
            `oracle.trial_note(trial_id)`, also after a resume. For what a
            strategy must know about a trial from the moment it starts.
        """
        return None

    def on_trial_end(self, oracle):
        """Called after every trial ends (and once after a resume).

        Returns:
            Whether `save_files` must run now.
        """
        return False

    def get_config(self):
        """The options, as `{name: value}`: what `from_config` takes."""
        return {name: getattr(self, name) for name in self.option_names()}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def get_state(self):
        """JSON-safe progress that cannot be derived from the trials; saved in
        `oracle.json` after every trial."""
        return {}

    def set_state(self, state):
        """Restores `get_state()`'s value on resume (before `load_files`)."""

    def save_files(self, project_dir):
        """Writes what is not JSON (e.g. weights) under `project_dir`,
        atomically. Called when `on_trial_end` returned True, and with every
        `oracle.json` write."""

    def load_files(self, project_dir):
        """Reads what `save_files` wrote, if anything, on resume."""

    # ----------------------------------------------------------- introspection

    @classmethod
    def option_names(cls):
        """The options: `__init__`'s keyword arguments, in order."""
        return [spec[0] for spec in cls.option_specs()]

    @classmethod
    def option_specs(cls):
        """`(name, default, type, help)` of each option, read from `__init__`'s
        signature and annotations and from the class docstring's `Args:`.

        `type` is the annotation without `None` (`int`, `float`, `str`);
        `help` the option's `Args:` text on one line.

        Raises:
            TypeError: if an option has no default, no annotation or no
                `Args:` entry (an undocumented option is a bug).
        """
        if cls.__init__ is object.__init__:
            return []
        docs = _args_section(inspect.getdoc(cls) or "")
        specs = []
        signature = inspect.signature(cls.__init__)
        hints = typing.get_type_hints(cls.__init__)
        for name, param in list(signature.parameters.items())[1:]:
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            if param.default is param.empty or name not in hints:
                raise TypeError(
                    f"{cls.__name__} option `{name}` needs a default and a type "
                    "annotation."
                )
            if name not in docs:
                raise TypeError(
                    f"{cls.__name__} option `{name}` is not documented in the "
                    "class docstring's `Args:`."
                )
            specs.append((name, param.default, _base_type(hints[name]), docs[name]))
        return specs


def _base_type(annotation):
    """`float` for `float | None` or `Optional[float]`; the annotation else."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) in (
        typing.Union,
    ):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _args_section(doc):
    """`{name: text}` of a Google-style docstring's `Args:` section."""
    out, current, indent, in_args = {}, None, None, False
    for line in doc.splitlines():
        if not in_args:
            in_args = line.strip() == "Args:"
            continue
        if not line.strip():
            continue
        match = _ARG_RE.match(line)
        depth = len(line) - len(line.lstrip())
        if indent is None and match:
            indent = depth
        if depth < (indent or 0) or (depth == indent and not match):
            break  # the next section
        if match and depth == indent:
            current = match.group(2)
            out[current] = match.group(3).strip()
        elif current is not None:
            out[current] += " " + line.strip()
    return {name: " ".join(text.split()) for name, text in out.items()}


def strategy_names():
    """The registered strategy names, in registry order.

    Example:

    >>> strategy_names()
    ['evolution', 'controller', 'local_search']
    """
    return list(STRATEGIES)


def get_strategy_class(name):
    """The `Strategy` subclass registered as `name` (imported on first use).

    Raises:
        ValueError: for a name that is not registered.
    """
    if not isinstance(name, str) or name not in STRATEGIES:
        _validation.fail(
            "strategy",
            "one of " + ", ".join(repr(n) for n in STRATEGIES) + " or a Strategy",
            name,
        )
    module_name, _, class_name = STRATEGIES[name].partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def make_strategy(strategy, **options):
    """A `Strategy` from a registered name (or a `Strategy` class) and its
    options, or `strategy` itself when it is already a `Strategy` instance.

    Raises:
        ValueError: for an unknown name, an option the strategy does not take
            (or any option with an instance), or an option out of range.

    Example:

    >>> make_strategy("evolution", population_size=8, sample_size=3).sample_size
    3
    """
    if isinstance(strategy, Strategy):
        _validation.check_known_options(
            type(strategy).__name__,
            options,
            (),
            hint="Options go to the strategy's constructor when you pass a "
            "Strategy instance.",
        )
        return strategy
    if isinstance(strategy, type) and issubclass(strategy, Strategy):
        cls = strategy
    else:
        cls = get_strategy_class(strategy)
    _validation.check_known_options(cls.__name__, options, cls.option_names())
    return cls(**options)


def strategy_class_of(strategy):
    """The class `make_strategy(strategy)` would build (no options checked)."""
    if isinstance(strategy, Strategy):
        return type(strategy)
    if isinstance(strategy, type) and issubclass(strategy, Strategy):
        return strategy
    return get_strategy_class(strategy)

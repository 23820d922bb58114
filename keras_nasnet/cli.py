"""The `keras-nasnet` command: search -> train -> export, plus show and report.

The paper's workflow, one command each:

    keras-nasnet search --dataset fashion_mnist --strategy evolution --directory runs/s1
    keras-nasnet show --from-search runs/s1 --output runs/s1/diagrams
    keras-nasnet report runs/s1 --output runs/s1/report.html
    keras-nasnet final runs/s1 --cells-per-stack 2 --filters 16
    keras-nasnet train --from-search runs/s1 --cells-per-stack 2 --filters 16 --epochs 5 --output best.keras
    keras-nasnet export best.keras --saved-model exported/best/1

This module parses arguments; the search itself is `keras_nasnet.workflow`.
Bad input exits with status 2 and one line saying what is wrong and how to fix
it, before anything is written. Importing it imports no Keras, so `--help` and
`--version` answer at once.
"""

import argparse
import dataclasses
import json
import os
import re
import sys

import keras_nasnet
from keras_nasnet import progress, workflow

OP_SETS = tuple(workflow.OP_SETS)
# The presets of keras_nasnet.training.RECIPES, named here so that --help needs no Keras.
RECIPES = (
    "nasnet_cifar",
    "amoebanet_cifar",
    "nasnet_search",
    "amoebanet_search",
    "proxy",
)
# The defaults of a search: `workflow.SearchSettings`'s fields', shown in
# --help (making one would import the strategy registry, and keras-tuner).
_DEFAULTS = argparse.Namespace(
    **{f.name: f.default for f in dataclasses.fields(workflow.SearchSettings)}
)
# Strategy-option flags: dest -> (strategy, option of `strategy_options`).
_OPTION_FLAGS = {
    "population_size": ("evolution", "population_size"),
    "sample_size": ("evolution", "sample_size"),
    "controller_batch_size": ("controller", "batch_size"),
    "controller_learning_rate": ("controller", "learning_rate"),
}
# The `SearchSettings` fields that `search` has a flag for (named after them).
_SETTING_FLAGS = (
    "dataset",
    "data_dir",
    "strategy",
    "max_trials",
    "cells_per_stack",
    "filters",
    "num_blocks",
    "ops",
    "search_combine",
    "epochs",
    "batch_size",
    "train_images",
    "validation_images",
    "learning_rate",
    "drop_path_keep_prob",
    "seed",
    # Budgets and cost-aware objectives (docs/constrained-search.md).
    "objective",
    *workflow.COST_AWARE_FIELDS,
)
# `--objective`: the default metric, or one that trades it against cost.
OBJECTIVES = ("val_accuracy", *workflow.COST_OBJECTIVES)


class CLIError(Exception):
    """A user error: printed as one line, exit status 2."""


class _ArgumentParser(argparse.ArgumentParser):
    """An argparse parser whose errors are one line, like `CLIError`'s."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


# ---------------------------------------------------------------- helpers


def _argument_type(convert, accept, expected):
    """An argparse type: `convert` the text, then check it with `accept`."""

    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not accept(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return parse


def _strategy_option(text):
    """`NAME=VALUE` -> `(name, value)`, the value read as JSON when it is a
    number, bool or quoted string (`8`, `0.5`, `true`), else as text."""
    name, sep, value = text.partition("=")
    if not sep or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = value
    if not (parsed is None or isinstance(parsed, (bool, int, float, str))):
        parsed = value
    return name, parsed


_positive_int = _argument_type(int, lambda v: v >= 1, "a positive integer")
_non_negative_int = _argument_type(int, lambda v: v >= 0, "an integer >= 0")
_probability = _argument_type(float, lambda v: 0.0 < v <= 1.0, "a number in (0, 1]")
_positive_float = _argument_type(float, lambda v: v > 0, "a positive number")


def _int_or_float(text):
    try:
        return int(text)
    except ValueError:
        return float(text)


# Budgets and targets: any number (200000, 8e6); the settings refuse <= 0.
_number = _argument_type(_int_or_float, lambda v: True, "a number")


def _cost_names(text):
    """`macs,params` -> `("macs", "params")`; the settings check the names."""
    return tuple(name.strip() for name in text.split(","))


def _flag(name):
    """The flag of a `SearchSettings` field or a strategy option."""
    if name.startswith("strategy_options."):
        option = name.split(".", 1)[1]
        for dest, (_, opt) in _OPTION_FLAGS.items():
            if opt == option:
                return "--" + dest.replace("_", "-")
        return None
    for dest in (*_SETTING_FLAGS, *_OPTION_FLAGS):
        if dest == name:
            return "--" + dest.replace("_", "-")
    return None


def _flag_and_value(name, value):
    flag = _flag(name) or name
    if isinstance(value, bool):
        return flag if value else flag.replace("--", "--no-", 1)
    return f"{flag} {value}"


def _search_error(error):
    """A `workflow.SearchError` in the CLI's words: flags, not field names."""
    if error.differences:
        listed = ", ".join(
            f"{_flag_and_value(name, given)} (stored: "
            f"{_flag_and_value(name, stored) if isinstance(stored, bool) else stored})"
            for name, given, stored in error.differences
        )
        return CLIError(
            "--resume continues the search with its stored settings, and these "
            f"flags differ from them: {listed}. Leave them out, or start a new "
            "search in another --directory"
        )
    message = str(error)
    if error.setting and message.startswith(error.setting) and _flag(error.setting):
        message = _flag(error.setting) + message[len(error.setting) :]

    def with_flag(match):
        flag = _flag(match.group(1))
        return match.group(0) + (f" ({flag})" if flag else "")

    return CLIError(re.sub(r"argument `(\w+)`", with_flag, message))


def _given_search_settings(args):
    """The settings the user gave as flags (a flag left out is no choice)."""
    given = {
        name: getattr(args, name)
        for name in _SETTING_FLAGS
        if getattr(args, name) is not None
    }
    strategy = given.get("strategy")
    if strategy is None and args.resume:
        try:
            strategy = workflow.read_settings(args.directory).strategy
        except workflow.SearchError:
            strategy = None  # the search refuses, saying why
    elif strategy is None:
        strategy = _DEFAULTS.strategy
    options = dict(args.strategy_option or [])
    for dest, (owner, option) in _OPTION_FLAGS.items():
        value = getattr(args, dest)
        if value is None:
            continue
        if strategy is not None and owner != strategy:
            raise CLIError(
                f"{_flag(dest)} is an option of --strategy {owner}, and this "
                f"search's strategy is {strategy}; leave it out"
            )
        if option in options:
            raise CLIError(
                f"{_flag(dest)} and --strategy-option {option}=... both give "
                f"{option}; give it once"
            )
        options[option] = value
    if options:
        given["strategy_options"] = options
    return given


def _load_splits(dataset, data_dir, validation_images, train_images, seed):
    workflow.import_backend_quietly()
    try:
        return workflow.load_splits(
            dataset,
            data_dir,
            validation_images=validation_images,
            train_images=train_images,
            seed=seed,
        )
    except workflow.SearchError as e:
        raise _search_error(e) from None


def _genotype_from_argument(text):
    """A genotype from a published name, a text form, or a .json/.txt file."""
    from keras_nasnet import genotypes
    from keras_nasnet.space import Genotype

    if text.lower().replace("-", "_") in genotypes.KNOWN_GENOTYPES:
        return genotypes.get(text)
    if os.path.isdir(text):
        raise CLIError(f"genotype file {text!r} is a directory")
    if os.path.isfile(text):
        try:
            with open(text, encoding="utf-8") as f:
                content = f.read()
        except (OSError, UnicodeDecodeError) as e:
            raise CLIError(f"{text}: cannot read the genotype file ({e})") from None
        try:
            if content.lstrip().startswith("{"):
                return Genotype.from_json(content)
            return Genotype.parse(content)
        except ValueError as e:
            raise CLIError(f"{text}: not a valid genotype: {e}") from None
    if ":" not in text:
        raise CLIError(
            f"genotype {text!r} is not a published name "
            f"({', '.join(genotypes.KNOWN_GENOTYPES)}), an existing file, or "
            "genotype text (`normal: ...; reduction: ...`)"
        )
    try:
        return Genotype.parse(text)
    except ValueError as e:
        raise CLIError(f"not a valid genotype: {e}") from None


def _search_result(directory):
    try:
        return workflow.SearchResult.from_directory(directory)
    except workflow.SearchError as e:
        raise _search_error(e) from None


def _best_trials(result, top_k):
    """The best `top_k` trials of a search with their genotypes."""
    best = result.best_trials(top_k)
    if not best:
        raise CLIError(
            f"search {result.directory!r} has no completed trial yet; run or "
            "resume it with `keras-nasnet search --resume`"
        )
    return best


def _refuse_overwrite(path, overwrite, what):
    if os.path.exists(path) and not overwrite:
        raise CLIError(
            f"{what} {path!r} already exists; pass --overwrite or choose another path"
        )


# ---------------------------------------------------------------- search


def cmd_search(args):
    given = _given_search_settings(args)
    per_process = args.trials_per_process
    if per_process is None:
        per_process = workflow.default_trials_per_process(args.eager)
    try:
        result = workflow.search(
            given,
            args.directory,
            resume=args.resume,
            progress=progress.PrintProgress(),
            trials_per_process=per_process,
            jit_compile=args.xla,
            run_eagerly=args.eager,
            workers=args.workers,
        )
    except workflow.SearchError as e:
        raise _search_error(e) from None
    except workflow.SearchStoppedError as e:
        reasons = "; ".join(f"trial {tid}: {reason}" for tid, reason in e.reasons)
        raise CLIError(
            f"the search stopped after {len(e.reasons)} failed trials in a row; "
            f"fix the cause and continue with --resume. {reasons}"
        ) from None
    if not result.best_trials(1):
        raise CLIError("no trial completed; see the messages above for why")
    return 0


# ---------------------------------------------------------------- train


def cmd_train(args):
    if bool(args.genotype) == bool(args.from_search):
        raise CLIError("give exactly one of GENOTYPE or --from-search DIR")
    _refuse_overwrite(args.output, args.overwrite, "--output")
    if args.from_search:
        candidates = [
            (f"trial {r.trial_id}", r.genotype)
            for r in _best_trials(_search_result(args.from_search), args.top_k)
        ]
    else:
        candidates = [(args.genotype, _genotype_from_argument(args.genotype))]
    stem, ext = os.path.splitext(args.output)
    if ext != ".keras":
        raise CLIError(f"--output must end in .keras, got {args.output!r}")
    splits = _load_splits(
        args.dataset,
        args.data_dir,
        args.validation_images,
        args.train_images,
        args.seed,
    )
    from keras_nasnet import _workflow_keras, training

    try:
        recipe = dataclasses.replace(
            training.RECIPES[args.recipe],
            cells_per_stack=args.cells_per_stack,
            filters=args.filters,
            jit_compile=args.xla,
            run_eagerly=args.eager,
            **{
                name: value
                for name, value in (
                    ("epochs", args.epochs),
                    ("batch_size", args.batch_size),
                )
                if value is not None
            },
        )
    except ValueError as e:
        raise CLIError(str(e)) from None
    outputs = [
        args.output if len(candidates) == 1 else f"{stem}-rank{rank}{ext}"
        for rank in range(1, len(candidates) + 1)
    ]
    for output in outputs:
        _refuse_overwrite(output, args.overwrite, "output")
    steps = recipe.steps_per_epoch(len(splits.train[0]))
    printer = progress.PrintProgress(prefix="[train]")
    for (label, genotype), output in zip(candidates, outputs, strict=True):
        print(
            f"[train] {label} with the {args.recipe} recipe: N={recipe.cells_per_stack}, "
            f"F={recipe.filters}, {recipe.epochs:,} epochs x {steps:,} steps of "
            f"{recipe.batch_size} images ({recipe.epochs * steps:,} training steps); "
            f"a line per epoch with the time left\n{genotype}",
            flush=True,
        )
        network = training.build_model(genotype, splits, recipe)
        result = training.train(
            network,
            splits,
            recipe,
            callbacks=[_workflow_keras.EpochEvents(printer.on_epoch_end)],
            verbose=2 if args.verbose else 0,
            seed=args.seed,
        )
        result.model.save(output)
        accuracy = result.test["accuracy"] if result.test else float("nan")
        print(
            f"[train] {label}: {network.count_params():,} parameters, "
            f"test accuracy {accuracy:.4f}, saved {output}",
            flush=True,
        )
    return 0


# ---------------------------------------------------------------- final


def cmd_final(args):
    given = {
        name: getattr(args, name)
        for name in (
            "cells_per_stack",
            "filters",
            "epochs",
            "batch_size",
            "train_images",
            "learning_rate",
            "top_k",
        )
        if getattr(args, name) is not None
    }
    if args.reference is not None:
        given["reference"] = None if args.reference == "none" else args.reference
    try:
        workflow.final_training(
            args.directory,
            given,
            overwrite=args.overwrite,
            progress=True,
            run_eagerly=args.eager,
        )
    except workflow.SearchError as e:
        raise _search_error(e) from None
    return 0


# ---------------------------------------------------------------- export


def cmd_export(args):
    if not os.path.isfile(args.model):
        raise CLIError(f"model file {args.model!r} does not exist")
    if not args.model.endswith(".keras"):
        raise CLIError(f"expected a .keras model file, got {args.model!r}")
    if not (args.saved_model or args.keras):
        raise CLIError("nothing to export: give --saved-model DIR and/or --keras FILE")
    if args.saved_model:
        _refuse_overwrite(args.saved_model, args.overwrite, "--saved-model")
    if args.keras:
        _refuse_overwrite(args.keras, args.overwrite, "--keras")
    workflow.import_backend_quietly()
    import keras

    if args.saved_model and keras.backend.backend() != "tensorflow":
        raise CLIError(
            "a SavedModel needs the TensorFlow backend; unset KERAS_BACKEND or set "
            "it to tensorflow"
        )
    import keras_nasnet.models  # noqa: F401  (registers the custom layers)

    try:
        model = keras.saving.load_model(args.model)
    except Exception as e:  # a foreign or corrupt file: say which
        raise CLIError(f"cannot load {args.model!r}: {e}") from None
    if args.saved_model:
        model.export(args.saved_model, format="tf_saved_model", verbose=False)
        print(
            f"[export] SavedModel written to {args.saved_model} (signature serving_default)"
        )
    if args.keras:
        model.save(args.keras)
        print(f"[export] Keras model written to {args.keras}")
    return 0


# ---------------------------------------------------------------- show


def cmd_show(args):
    if bool(args.genotype) == bool(args.from_search):
        raise CLIError("give exactly one of GENOTYPE or --from-search DIR")
    if args.from_search:
        result = _search_result(args.from_search)
        record = _best_trials(result, 1)[0]
        genotype, stem = record.genotype, f"trial_{record.trial_id}"
        print(
            f"[show] best of {args.from_search}: trial {record.trial_id}, "
            f"{result.settings.objective} {record.score:.4f} "
            f"({result.done}/{result.settings.max_trials} trials done)"
        )
    else:
        genotype, stem = _genotype_from_argument(args.genotype), "genotype"
    from keras_nasnet import viz

    print(viz.genotype_summary(genotype))
    if args.output:
        if os.path.exists(args.output) and not os.path.isdir(args.output):
            raise CLIError(f"--output {args.output!r} exists and is not a directory")
        targets = [
            os.path.join(args.output, f"{stem}_{cell}.{fmt}")
            for cell in ("normal", "reduction")
            for fmt in ("png", "svg")
        ]
        for path in targets:
            _refuse_overwrite(path, args.overwrite, "diagram")
        os.makedirs(args.output, exist_ok=True)
        paths = viz.save_genotype_diagrams(genotype, args.output, stem)
        for by_format in paths.values():
            for path in by_format.values():
                print(f"[show] wrote {path}")
    return 0


# ---------------------------------------------------------------- report


def _param_counter(settings):
    """The parameters of a search's child from its genotype, at the search's
    size: `keras_nasnet.space.cost` (exact, nothing built; building the top
    trials' models took about 10 s of a report)."""
    from keras_nasnet.space import cost

    def count(genotype):
        return cost.params(
            genotype,
            settings.cells_per_stack,
            filters=settings.filters,
            input_shape=settings.input_shape,
            num_classes=settings.num_classes,
        )

    return count


def cmd_report(args):
    from keras_nasnet import report

    for directory in args.directories:
        if not os.path.isdir(directory):
            raise CLIError(f"search directory {directory!r} does not exist")
    _refuse_overwrite(args.output, args.overwrite, "--output")
    if not args.output.endswith((".html", ".md")):
        raise CLIError(f"--output must end in .html or .md, got {args.output!r}")
    param_counts = None
    first = args.directories[0]
    if os.path.isfile(os.path.join(first, workflow.SEARCH_FILE)) and not args.no_params:
        try:
            settings = workflow.read_settings(first)
        except workflow.SearchError as e:
            raise _search_error(e) from None
        if settings.input_shape is not None and settings.num_classes is not None:
            param_counts = _param_counter(settings)
    try:
        path = report.write_report(
            args.directories, args.output, top_k=args.top_k, param_counts=param_counts
        )
    except ValueError as e:
        raise CLIError(str(e)) from None
    # write_report returns every file it wrote; the page is what a user opens.
    print(f"[report] wrote {path['page']}")
    return 0


# ---------------------------------------------------------------- parser


def _default(text, value):
    return f"{text} (default: {value})" if text else f"(default: {value})"


def build_parser():
    parser = _ArgumentParser(
        prog="keras-nasnet",
        description="Neural architecture search for Keras, NASNet and AmoebaNet style: "
        "search cells on a small proxy, enlarge the best, train it, export it.",
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"%(prog)s {keras_nasnet.__version__}",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    d = _DEFAULTS
    small = "sized for tens of trials: the strategy's small_search_options"
    p = sub.add_parser(
        "search",
        help="search normal and reduction cells on a small proxy network",
        description="Search NASNet cells with aging evolution, the RNN controller, "
        "random search or Bayesian optimization. Each trial trains a small proxy "
        "network and scores it by validation accuracy on images held out from "
        "the training data. Flags left out take the defaults shown, or on "
        "--resume the search's stored settings.",
    )
    # Every setting flag defaults to None: a flag left out is not a choice
    # (on --resume, the stored settings win and only given flags are checked).
    p.add_argument(
        "--dataset",
        help=_default(
            "TFDS name, fashion_mnist/mnist (offline IDX files) or an image folder",
            d.dataset,
        ),
    )
    p.add_argument(
        "--data-dir", help="folder with the IDX files, or TFDS's data directory"
    )
    p.add_argument(
        "--strategy",
        help=_default(
            "search algorithm: a registered strategy (evolution, controller, "
            "local_search; see docs/strategies.md) or keras-tuner's random or "
            "bayesian",
            d.strategy,
        ),
    )
    p.add_argument(
        "--max-trials",
        type=_positive_int,
        help=_default(
            "trials in all, the random ones included; on --resume it may grow",
            d.max_trials,
        ),
    )
    p.add_argument(
        "--cells-per-stack",
        type=_positive_int,
        help=_default("proxy N", d.cells_per_stack),
    )
    p.add_argument("--filters", type=_positive_int, help=_default("proxy F", d.filters))
    p.add_argument(
        "--num-blocks",
        type=_positive_int,
        help=_default("blocks per cell, B", d.num_blocks),
    )
    p.add_argument(
        "--ops",
        choices=OP_SETS,
        help=_default("op set: NASNet's 13 or AmoebaNet's 8", d.ops),
    )
    p.add_argument(
        "--search-combine",
        action=argparse.BooleanOptionalAction,
        help=_default(
            "each block also chooses add or concat: the NASNet paper's 50 "
            "decisions; --no-search-combine: every block adds (AmoebaNet's 40)",
            "searched" if d.search_combine else "add",
        ),
    )
    p.add_argument(
        "--epochs", type=_positive_int, help=_default("epochs per trial", d.epochs)
    )
    p.add_argument("--batch-size", type=_positive_int, help=_default("", d.batch_size))
    p.add_argument(
        "--train-images",
        type=_positive_int,
        help=_default("training images per trial, a random subset", d.train_images),
    )
    p.add_argument(
        "--validation-images",
        type=_positive_int,
        help=_default(
            "images held out from the training data to score trials",
            d.validation_images,
        ),
    )
    p.add_argument(
        "--learning-rate",
        type=_positive_float,
        help=_default("initial cosine learning rate", d.learning_rate),
    )
    p.add_argument(
        "--drop-path-keep-prob",
        type=_probability,
        help=_default(
            "final drop-path keep probability (1.0: off)", d.drop_path_keep_prob
        ),
    )
    p.add_argument(
        "--population-size",
        type=_positive_int,
        help=_default("evolution: P (paper 100)", small),
    )
    p.add_argument(
        "--sample-size",
        type=_positive_int,
        help=_default("evolution: S (paper 25)", small),
    )
    p.add_argument(
        "--controller-batch-size",
        type=_positive_int,
        help=_default(
            "controller: finished trials per policy update (paper 20, for "
            "thousands of trials; a search of tens of trials updates the policy "
            "several times with the default)",
            small,
        ),
    )
    p.add_argument(
        "--controller-learning-rate",
        type=_positive_float,
        help=_default(
            "controller: Adam's learning rate (paper 0.00035; the default is 10x "
            "the paper's, since a short search makes few updates)",
            small,
        ),
    )
    p.add_argument(
        "--strategy-option",
        type=_strategy_option,
        action="append",
        metavar="NAME=VALUE",
        help="an option of the chosen strategy, repeatable (e.g. "
        "--strategy-option identity_prob=0.05): the strategy's constructor "
        "arguments, the papers' defaults unless given (see docs/user-guide.md)",
    )
    budgets = p.add_argument_group(
        "budgets and cost-aware objectives",
        "a child over a budget is never trained (see docs/constrained-search.md)",
    )
    budgets.add_argument(
        "--max-params",
        type=_number,
        help="the most parameters a child may have (known before the build)",
    )
    budgets.add_argument(
        "--max-macs",
        type=_number,
        help="the most multiply-adds of one inference on one image (known "
        "before the build)",
    )
    budgets.add_argument(
        "--max-latency-ms",
        type=_number,
        help="the most batch-1 latency, median ms per image on this device, "
        "measured on the built child before training (noisy on a shared CPU)",
    )
    budgets.add_argument(
        "--measure-latency",
        action=argparse.BooleanOptionalAction,
        help="record every trial's batch-1 latency as the metric latency_ms "
        "(about 10 s a trial on a CPU; on with any latency budget, cost or "
        "target)",
    )
    budgets.add_argument(
        "--objective",
        choices=OBJECTIVES,
        help=_default(
            "pareto: val_accuracy against --costs, a Pareto front (evolution, "
            "random, bayesian); mnas: MnasNet's reward val_accuracy * (cost / "
            "target) ** -0.07 with one --target-*",
            d.objective,
        ),
    )
    budgets.add_argument(
        "--costs",
        type=_cost_names,
        metavar="COST[,COST]",
        help="with --objective pareto: what accuracy is traded against, among "
        "params, macs, latency_ms (default: macs)",
    )
    for cost, unit in (
        ("params", "parameters"),
        ("macs", "multiply-adds"),
        ("latency_ms", "ms per image"),
    ):
        budgets.add_argument(
            "--target-" + cost.replace("_", "-"),
            type=_number,
            help=f"with --objective mnas: the target cost, in {unit}",
        )
    p.add_argument(
        "--directory",
        default="runs/search",
        help="where the search lives (default: %(default)s)",
    )
    p.add_argument(
        "--seed",
        type=_non_negative_int,
        help=_default(
            "the same seed proposes the same trials and starts each trial from "
            "the same weights",
            d.seed,
        ),
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the search in --directory with its stored settings; "
        "flags that differ from them are refused, --max-trials may grow the budget",
    )
    p.add_argument(
        "--xla",
        action="store_true",
        help="compile each child with XLA (pays off on a GPU; on a CPU compiling costs more than it saves)",
    )
    p.add_argument(
        "--eager",
        action="store_true",
        help="train children eagerly (faster for a handful of steps of a tiny proxy)",
    )
    p.add_argument(
        "--trials-per-process",
        type=_non_negative_int,
        default=None,
        help="run the search in a chain of processes of this many trials each, "
        "resuming exactly, so that memory the backend keeps per trial goes back to "
        f"the system; 0: one process (default: {workflow.DEFAULT_TRIALS_PER_PROCESS} "
        "with TensorFlow, which keeps 30-60 MiB per traced child; 0 with --eager "
        "or another backend)",
    )
    p.add_argument(
        "--workers",
        type=_positive_int,
        default=1,
        help="trials run at once, each in a worker process of its own "
        "(keras-tuner's chief/worker mode on this machine; with TensorFlow each "
        "worker gets an equal share of the cores as threads). On a 2-core CPU "
        "2 workers run about 1.6x the trials an hour of one (default: 1)",
    )
    p.set_defaults(func=cmd_search)

    p = sub.add_parser(
        "train",
        help="train a genotype, enlarged, from scratch and evaluate it on the test split",
        description="Train a genotype with the final training recipe (SGD, cosine "
        "decay, auxiliary head, drop path) at the given size, evaluate it on the "
        "test split and save it as .keras.",
    )
    p.add_argument(
        "genotype",
        nargs="?",
        help="a published name (nasnet_a, amoebanet_a, amoebanet_c), genotype text, or a .json/.txt file",
    )
    p.add_argument(
        "--from-search",
        metavar="DIR",
        help="train the best genotype(s) of a search directory instead",
    )
    p.add_argument(
        "--top-k",
        type=_positive_int,
        default=1,
        help="with --from-search: train the K best (default: %(default)s)",
    )
    p.add_argument("--dataset", default="fashion_mnist", help="(default: %(default)s)")
    p.add_argument("--data-dir", default=None)
    p.add_argument(
        "--cells-per-stack",
        type=_positive_int,
        default=2,
        help="N (paper: 6; default: %(default)s)",
    )
    p.add_argument(
        "--filters",
        type=_positive_int,
        default=16,
        help="F (paper: 32; default: %(default)s)",
    )
    p.add_argument(
        "--epochs", type=_positive_int, default=None, help="(default: the recipe's)"
    )
    p.add_argument(
        "--batch-size", type=_positive_int, default=None, help="(default: the recipe's)"
    )
    p.add_argument(
        "--recipe",
        choices=RECIPES,
        default="nasnet_cifar",
        help="training recipe preset; N, F, epochs and batch size given here override it (default: %(default)s)",
    )
    p.add_argument(
        "--train-images",
        type=_positive_int,
        default=None,
        help="use a random subset of the training images",
    )
    p.add_argument(
        "--validation-images",
        type=_non_negative_int,
        default=0,
        help="hold out images for validation (default: %(default)s, train on all)",
    )
    p.add_argument("--seed", type=_non_negative_int, default=0)
    p.add_argument(
        "--xla",
        action="store_true",
        help="compile with XLA (pays off on a GPU; on a CPU compiling costs more than it saves)",
    )
    p.add_argument(
        "--eager",
        action="store_true",
        help="train eagerly (faster for a handful of steps of a tiny model)",
    )
    p.add_argument(
        "--output",
        default="model.keras",
        help="the .keras file to write (default: %(default)s)",
    )
    p.add_argument(
        "--overwrite", action="store_true", help="replace existing output files"
    )
    p.add_argument("--verbose", action="store_true", help="Keras's per-epoch output")
    p.set_defaults(func=cmd_train)

    f = workflow.FinalSettings()
    p = sub.add_parser(
        "final",
        help="enlarge the best cells of a search, train them and NASNet-A "
        "identically, print their test accuracy side by side",
        description="The search's last step, as the papers do it: stack the best "
        "cells of a search into a larger network, train it from scratch on the "
        "training split (without the search's validation images) with the "
        "search's own short recipe (SGD-Nesterov, warmup, cosine), evaluate it on "
        "the test split, and train a published cell identically as the reference "
        "point. Writes final.json in the search directory, which `keras-nasnet "
        "report` shows. A rerun trains only what is missing.",
    )
    p.add_argument("directory", metavar="DIR", help="a search directory")
    p.add_argument(
        "--cells-per-stack",
        type=_positive_int,
        help=_default("N of the enlarged network", f.cells_per_stack),
    )
    p.add_argument(
        "--filters",
        type=_positive_int,
        help=_default("F of the enlarged network", f.filters),
    )
    p.add_argument("--epochs", type=_positive_int, help=_default("", f.epochs))
    p.add_argument("--batch-size", type=_positive_int, help=_default("", f.batch_size))
    p.add_argument(
        "--train-images",
        type=_positive_int,
        help=_default(
            "a random subset of the training images; the search's validation "
            "images are never among them",
            "all",
        ),
    )
    p.add_argument(
        "--learning-rate",
        type=_positive_float,
        help=_default("peak learning rate", f.learning_rate),
    )
    p.add_argument(
        "--top-k",
        type=_positive_int,
        help=_default("train the K best trials", f.top_k),
    )
    p.add_argument(
        "--reference",
        choices=(*workflow.REFERENCE_CELLS, "none"),
        help=_default("the published cell trained identically", f.reference),
    )
    p.add_argument(
        "--eager",
        action="store_true",
        help="train eagerly (faster for a handful of steps of a tiny model)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="train everything again, replacing final.json",
    )
    p.set_defaults(func=cmd_final)

    p = sub.add_parser(
        "export",
        help="export a trained .keras model as a SavedModel (TF Serving) and/or .keras",
        description="Export a trained model for serving.",
    )
    p.add_argument(
        "model", help="a .keras file written by `keras-nasnet train` or model.save()"
    )
    p.add_argument(
        "--saved-model", metavar="DIR", help="write a TensorFlow SavedModel here"
    )
    p.add_argument("--keras", metavar="FILE", help="write a .keras copy here")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser(
        "show",
        help="print a genotype and draw its cells",
        description="Print a genotype and draw its normal and reduction cells as PNG and SVG.",
    )
    p.add_argument(
        "genotype",
        nargs="?",
        help="a published name, genotype text, or a .json/.txt file",
    )
    p.add_argument(
        "--from-search",
        metavar="DIR",
        help="show the best genotype of a search directory",
    )
    p.add_argument(
        "--output", metavar="DIR", help="write the diagrams into this folder"
    )
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser(
        "report",
        help="a page with progress plots and the top genotypes of one or more searches",
        description="Write an HTML or Markdown report of one or more search directories.",
    )
    p.add_argument("directories", nargs="+", metavar="DIR")
    p.add_argument(
        "--output", default="report.html", help=".html or .md (default: %(default)s)"
    )
    p.add_argument("--top-k", type=_positive_int, default=5)
    p.add_argument(
        "--no-params",
        action="store_true",
        help="skip the parameter counts of the top trials",
    )
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=cmd_report)
    return parser


def _is_dataset_error(error):
    # `keras_nasnet.data` imports Keras: not imported for the check, and not
    # needed when nothing loaded data.
    errors = sys.modules.get("keras_nasnet.data.errors")
    return errors is not None and isinstance(error, errors.DatasetError)


def main(argv=None):
    # TensorFlow's C++ INFO/WARNING lines drown the progress lines; a user's
    # own setting wins.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except Exception as e:
        # One line, whatever a library put in the message. A dataset that
        # cannot be had (a missing package, no network) is the user's to fix,
        # not a traceback.
        if not isinstance(e, CLIError) and not _is_dataset_error(e):
            raise
        message = " ".join(str(e).split())
        print(f"keras-nasnet {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            f"keras-nasnet {args.command}: interrupted; finished trials are saved, "
            "continue with --resume",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())

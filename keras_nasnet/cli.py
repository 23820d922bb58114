"""The `keras-nasnet` command: search -> train -> export, plus show and report.

The paper's workflow, one command each:

    keras-nasnet search --dataset fashion_mnist --strategy evolution --directory runs/s1
    keras-nasnet show --from-search runs/s1 --output runs/s1/diagrams
    keras-nasnet report runs/s1 --output runs/s1/report.html
    keras-nasnet train --from-search runs/s1 --cells-per-stack 6 --filters 32 --output best.keras
    keras-nasnet export best.keras --saved-model exported/best

Bad input exits with status 2 and one line saying what is wrong and how to fix
it, before anything is written.
"""

import argparse
import dataclasses
import json
import os
import sys
import time

from keras_nasnet import _atomic

SEARCH_FILE = "search.json"
STRATEGIES = ("evolution", "controller", "random", "bayesian")
OP_SETS = ("nasnet", "amoebanet")
# The presets of keras_nasnet.training.RECIPES, named here so that --help needs no Keras.
RECIPES = (
    "nasnet_cifar",
    "amoebanet_cifar",
    "nasnet_search",
    "amoebanet_search",
    "proxy",
)
# The settings a resumed search takes from its directory, not from flags.
_SEARCH_SETTINGS = (
    "dataset",
    "data_dir",
    "strategy",
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
    "population_size",
    "sample_size",
    "controller_batch_size",
    "controller_learning_rate",
    "seed",
)
# Searches written before these settings existed ran keras-tuner's and the
# paper's defaults.
_SETTING_DEFAULTS = {"controller_batch_size": 20, "controller_learning_rate": 0.00035}


# --max-trials of a new search when not given.
_DEFAULT_MAX_TRIALS = 20
# Exit status of a search process that spent its --trials-per-process and
# leaves the rest to a fresh process (EX_TEMPFAIL).
_MORE_TRIALS = 75
# --trials-per-process when not given: TensorFlow keeps ~30-60 MiB per traced
# child after `clear_session()` (benchmarks/results/trial_memory_tensorflow.json),
# JAX and eager children do not.
_DEFAULT_TRIALS_PER_PROCESS = 20


class CLIError(Exception):
    """A user error: printed as one line, exit status 2."""


class _ProcessBudgetSpent(Exception):
    """This process ran its --trials-per-process; a fresh one goes on."""


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


_positive_int = _argument_type(int, lambda v: v >= 1, "a positive integer")
_non_negative_int = _argument_type(int, lambda v: v >= 0, "an integer >= 0")
_probability = _argument_type(float, lambda v: 0.0 < v <= 1.0, "a number in (0, 1]")
_positive_float = _argument_type(float, lambda v: v > 0, "a positive number")


def _read_search_settings(directory):
    path = os.path.join(directory, SEARCH_FILE)
    if not os.path.isdir(directory):
        raise CLIError(
            f"search directory {directory!r} does not exist; pass the --directory "
            "of an earlier `keras-nasnet search`"
        )
    if not os.path.isfile(path):
        raise CLIError(
            f"{directory!r} is not a keras-nasnet search directory (it has no "
            f"{SEARCH_FILE}); pass the --directory of an earlier `keras-nasnet search`"
        )
    try:
        with open(path) as f:
            settings = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise CLIError(
            f"{path} is unreadable or corrupt ({e}); restore it from a backup or "
            "start a new search in another --directory"
        ) from None
    if not isinstance(settings, dict) or "strategy" not in settings:
        raise CLIError(f"{path} is not a keras-nasnet search file")
    return settings


def _load_data(dataset, data_dir, validation_images, train_images, seed):
    if data_dir is not None and not os.path.isdir(data_dir):
        problem = "is not a directory" if os.path.exists(data_dir) else "does not exist"
        raise CLIError(
            f"--data-dir {data_dir!r} {problem}; pass the folder holding the IDX "
            "files or tensorflow-datasets' data (create it first for a download)"
        )
    from keras_nasnet import data

    try:
        return data.load(
            dataset,
            data_dir=data_dir,
            validation_size=validation_images,
            subset=train_images,
            seed=seed,
        )
    except Exception as e:
        if type(e).__name__ == "DatasetNotFoundError":  # tensorflow-datasets'
            raise CLIError(
                f"unknown dataset {dataset!r}: it is not an image folder, not "
                "fashion_mnist/mnist, and tensorflow-datasets has no dataset of "
                "that name (e.g. cifar10, cifar100, svhn_cropped)"
            ) from None
        if isinstance(e, (ValueError, OSError)):
            raise CLIError(str(e)) from None
        raise


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


def _search_genotypes(directory, top_k):
    """The best `top_k` genotypes of a search directory, with their scores."""
    from keras_nasnet import report

    settings = _read_search_settings(directory)
    del settings
    try:
        search = report.load_search(directory)
    except ValueError as e:
        raise CLIError(str(e)) from None
    best = report.top_trials(search.records, k=top_k, direction=search.direction)
    best = [r for r in best if r.genotype is not None]
    if not best:
        raise CLIError(
            f"search {directory!r} has no completed trial yet; run or resume it "
            "with `keras-nasnet search --resume`"
        )
    return best


def _refuse_overwrite(path, overwrite, what):
    if os.path.exists(path) and not overwrite:
        raise CLIError(
            f"{what} {path!r} already exists; pass --overwrite or choose another path"
        )


def _format_duration(seconds):
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


# ---------------------------------------------------------------- search


def _progress_tuner_class(base, max_trials, stream, trials_per_process=0):
    """`base` with a one-line progress report after every trial, which stops
    (`_ProcessBudgetSpent`) after `trials_per_process` trials if not 0."""

    class ProgressTuner(base):
        def pre_create_trial(self):
            super().pre_create_trial()
            done = self._ended_trials()
            if (
                trials_per_process
                and done - self._progress_done_at_start >= trials_per_process
                and done < max_trials
            ):
                raise _ProcessBudgetSpent()

        def on_search_begin(self):
            super().on_search_begin()
            self._progress_start = time.time()
            self._progress_done_at_start = self._ended_trials()

        def _ended_trials(self):
            return sum(
                1
                for t in self.oracle.trials.values()
                if t.status in ("COMPLETED", "INVALID", "FAILED", "STOPPED")
            )

        def on_trial_end(self, trial):
            try:
                super().on_trial_end(trial)
            finally:
                # Also for the trial that stops the search.
                self._print_progress(trial)

        def _print_progress(self, trial):
            from tuner_plugins import failure_reason

            done = self._ended_trials()
            elapsed = time.time() - self._progress_start
            this_run = max(1, done - self._progress_done_at_start)
            eta = elapsed / this_run * max(0, max_trials - done)
            best = self.oracle.get_best_trials(1)
            best_score = best[0].score if best else None
            score = trial.score
            line = (
                f"[search] trial {done}/{max_trials}  "
                f"status {trial.status.lower()}  "
                f"score {'-' if score is None else f'{score:.4f}'}  "
                f"best {'-' if best_score is None else f'{best_score:.4f}'}  "
                f"elapsed {_format_duration(elapsed)}  eta {_format_duration(eta)}"
            )
            if trial.status in ("FAILED", "INVALID"):
                line += (
                    f"\n[search]   reason: {failure_reason(trial) or 'unknown'} "
                    f"(traceback in trial_{trial.trial_id}/trial.json)"
                )
            print(line, file=stream, flush=True)

    ProgressTuner.__name__ = f"Progress{base.__name__}"
    return ProgressTuner


def _make_tuner(settings, hypermodel, directory, max_trials, trials_per_process=0):
    import keras_tuner

    import tuner_plugins

    parent, project = os.path.split(os.path.abspath(directory))
    common = dict(
        objective="val_accuracy",
        max_trials=max_trials,
        seed=settings["seed"],
        directory=parent,
        project_name=project,
        overwrite=False,
        max_consecutive_failed_trials=settings.get("max_consecutive_failed_trials", 3),
    )
    strategy = settings["strategy"]
    if strategy == "evolution":
        base = tuner_plugins.AgingEvolution
        extra = dict(
            population_size=settings["population_size"],
            sample_size=settings["sample_size"],
        )
    elif strategy == "controller":
        base = tuner_plugins.RNNController
        extra = dict(
            controller_batch_size=settings.get(
                "controller_batch_size", _SETTING_DEFAULTS["controller_batch_size"]
            ),
            controller_learning_rate=settings.get(
                "controller_learning_rate",
                _SETTING_DEFAULTS["controller_learning_rate"],
            ),
        )
    elif strategy == "random":
        base, extra = keras_tuner.RandomSearch, {}
    else:
        # keras-tuner starts with 3 random points per hyperparameter: over
        # 100 on a NASNet space, so a CLI-sized budget would be all random.
        base = keras_tuner.BayesianOptimization
        extra = dict(num_initial_points=max(2, max_trials // 4))
    if not issubclass(base, tuner_plugins.TrialFailureMixin):
        # Build errors, NaN and out-of-memory fail a trial with its reason.
        base = type(base.__name__, (tuner_plugins.TrialFailureMixin, base), {})
    cls = _progress_tuner_class(base, max_trials, sys.stdout, trials_per_process)
    return cls(hypermodel=hypermodel, **common, **extra)


def _trials_per_process(args):
    if args.trials_per_process is not None:
        return args.trials_per_process
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    return 0 if args.eager or backend != "tensorflow" else _DEFAULT_TRIALS_PER_PROCESS


def _supervise(args):
    """Runs the search as a chain of processes of --trials-per-process trials
    each, so memory a backend keeps per trial is returned to the system; each
    continues the search exactly (--resume)."""
    import subprocess

    command = [sys.executable, "-m", "keras_nasnet.cli", *args.argv, "--worker-process"]
    while True:
        code = subprocess.call(command)
        if code != _MORE_TRIALS:
            return code
        print(
            f"[search] {_trials_per_process(args)} trials in this process; "
            "going on in a fresh one (--trials-per-process)",
            flush=True,
        )
        if "--resume" not in command:
            command.append("--resume")


def _search_budget(args):
    """The number of trials this command will have run: --max-trials, else a
    resumed search's own, else the default."""
    if args.max_trials:
        return args.max_trials
    try:
        return int(_read_search_settings(args.directory)["max_trials"])
    except (CLIError, KeyError, TypeError, ValueError):
        return _DEFAULT_MAX_TRIALS  # the search itself reports what is wrong


def cmd_search(args):
    per_process = _trials_per_process(args)
    if per_process and not args.worker_process and _search_budget(args) > per_process:
        return _supervise(args)
    directory = args.directory
    search_file = os.path.join(directory, SEARCH_FILE)
    if os.path.exists(directory):
        if not os.path.isdir(directory):
            raise CLIError(f"--directory {directory!r} exists and is not a directory")
        if os.path.isfile(search_file):
            if not args.resume:
                raise CLIError(
                    f"{directory!r} already holds a search; pass --resume to "
                    "continue it, or choose another --directory"
                )
            settings = _read_search_settings(directory)
            # A resumed search keeps its own settings; only the budget may grow.
            settings["max_trials"] = args.max_trials or settings["max_trials"]
            print(f"[search] resuming the search in {directory}", flush=True)
        elif os.listdir(directory):
            raise CLIError(
                f"--directory {directory!r} is not empty and holds no keras-nasnet "
                "search; choose a new or empty directory"
            )
        else:
            settings = None
    else:
        settings = None
    if settings is None:
        settings = {name: getattr(args, name) for name in _SEARCH_SETTINGS}
        settings["max_trials"] = args.max_trials or _DEFAULT_MAX_TRIALS
        if settings["sample_size"] > settings["population_size"]:
            raise CLIError(
                f"--sample-size ({settings['sample_size']}) must be at most "
                f"--population-size ({settings['population_size']})"
            )
    # Validate everything that can be before writing anything.
    splits = _load_data(
        settings["dataset"],
        settings["data_dir"],
        settings["validation_images"],
        settings["train_images"],
        settings["seed"],
    )
    settings["input_shape"] = list(splits.input_shape)
    settings["num_classes"] = splits.num_classes
    from keras_nasnet.space import ops as ops_lib
    from tuner_plugins import NASNetHyperModel

    ops = ops_lib.NASNET_OPS if settings["ops"] == "nasnet" else ops_lib.AMOEBANET_OPS
    try:
        hypermodel = NASNetHyperModel(
            num_classes=splits.num_classes,
            input_shape=splits.input_shape,
            ops=ops,
            num_blocks=settings["num_blocks"],
            search_combine=settings["search_combine"],
            cells_per_stack=settings["cells_per_stack"],
            filters=settings["filters"],
            learning_rate=settings["learning_rate"],
            drop_path_keep_prob=settings["drop_path_keep_prob"],
            jit_compile=args.xla,
            run_eagerly=args.eager,
        )
        os.makedirs(directory, exist_ok=True)
        # Reloading first: a resume that fails (a damaged state file) must
        # leave every file as it was, search.json included.
        tuner = _make_tuner(
            settings,
            hypermodel,
            directory,
            settings["max_trials"],
            _trials_per_process(args) if args.worker_process else 0,
        )
        if not os.path.isfile(search_file) or args.max_trials:
            # Written once per search: durable, since it is what --resume
            # needs first.
            _atomic.write_json(
                search_file, settings, durable=True, indent=2, sort_keys=True
            )
    except ValueError as e:
        raise CLIError(str(e)) from None
    x, y = splits.train
    print(
        f"[search] {settings['strategy']} on {splits.name}: "
        f"{len(x)} training / {len(splits.validation[0])} validation images, "
        f"{settings['max_trials']} trials of N={settings['cells_per_stack']}, "
        f"F={settings['filters']}, {settings['epochs']} epoch(s); "
        f"results in {directory}",
        flush=True,
    )
    from keras_tuner.src import config as keras_tuner_config

    from tuner_plugins import TooManyFailedTrialsError

    # keras-tuner prints the traceback of every failed trial; the progress
    # line gives its reason, and trial.json keeps the traceback.
    debug, keras_tuner_config.DEBUG = keras_tuner_config.DEBUG, False
    try:
        tuner.search(
            x,
            y,
            validation_data=splits.validation,
            epochs=settings["epochs"],
            batch_size=settings["batch_size"],
            verbose=0,
        )
    except _ProcessBudgetSpent:
        return _MORE_TRIALS
    except TooManyFailedTrialsError as e:
        reasons = "; ".join(f"trial {tid}: {reason}" for tid, reason in e.reasons)
        raise CLIError(
            f"the search stopped after {len(e.reasons)} failed trials in a row; "
            f"fix the cause and continue with --resume. {reasons}"
        ) from None
    finally:
        keras_tuner_config.DEBUG = debug
    best = tuner.oracle.get_best_trials(1)
    if not best:
        raise CLIError("no trial completed; see the messages above for why")
    from keras_nasnet.space import decisions

    genotype = decisions.decode(best[0].hyperparameters.values)
    print(
        f"[search] best validation accuracy {best[0].score:.4f} (trial {best[0].trial_id})"
    )
    print(f"[search] best genotype:\n{genotype}", flush=True)
    return 0


# ---------------------------------------------------------------- train


def cmd_train(args):
    if bool(args.genotype) == bool(args.from_search):
        raise CLIError("give exactly one of GENOTYPE or --from-search DIR")
    _refuse_overwrite(args.output, args.overwrite, "--output")
    if args.from_search:
        candidates = [
            (f"trial {r.trial_id}", r.genotype)
            for r in _search_genotypes(args.from_search, args.top_k)
        ]
    else:
        candidates = [(args.genotype, _genotype_from_argument(args.genotype))]
    splits = _load_data(
        args.dataset,
        args.data_dir,
        args.validation_images,
        args.train_images,
        args.seed,
    )
    from keras_nasnet import training

    stem, ext = os.path.splitext(args.output)
    if ext != ".keras":
        raise CLIError(f"--output must end in .keras, got {args.output!r}")
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
    for (label, genotype), output in zip(candidates, outputs, strict=True):
        print(
            f"[train] {label} with the {args.recipe} recipe: N={recipe.cells_per_stack}, "
            f"F={recipe.filters}, {recipe.epochs} epochs, batch {recipe.batch_size}\n{genotype}",
            flush=True,
        )
        network = training.build_model(genotype, splits, recipe)
        result = training.train(
            network, splits, recipe, verbose=2 if args.verbose else 0, seed=args.seed
        )
        result.model.save(output)
        accuracy = result.test["accuracy"] if result.test else float("nan")
        print(
            f"[train] {label}: {network.count_params():,} parameters, "
            f"test accuracy {accuracy:.4f}, saved {output}",
            flush=True,
        )
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
        record = _search_genotypes(args.from_search, 1)[0]
        genotype, stem = record.genotype, f"trial_{record.trial_id}"
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


def _param_counter(input_shape, num_classes):
    def count(genotype, cells_per_stack, filters):
        import keras

        from keras_nasnet.models import NASNet

        model = NASNet(
            genotype,
            cells_per_stack=cells_per_stack,
            filters=filters,
            input_shape=input_shape,
            num_classes=num_classes,
        )
        params = model.count_params()
        del model
        keras.backend.clear_session()
        return params

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
    settings = (
        _read_search_settings(args.directories[0])
        if os.path.isfile(os.path.join(args.directories[0], SEARCH_FILE))
        else None
    )
    if settings and not args.no_params:
        counter = _param_counter(
            tuple(settings["input_shape"]), settings["num_classes"]
        )

        def param_counts(genotype):
            return counter(genotype, settings["cells_per_stack"], settings["filters"])

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


def build_parser():
    parser = _ArgumentParser(
        prog="keras-nasnet",
        description="Neural architecture search for Keras, NASNet and AmoebaNet style: "
        "search cells on a small proxy, enlarge the best, train it, export it.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser(
        "search",
        help="search normal and reduction cells on a small proxy network",
        description="Search NASNet cells with aging evolution, the RNN controller, "
        "random search or Bayesian optimization. Each trial trains a small proxy "
        "network and scores it by validation accuracy on images held out from "
        "the training data.",
    )
    p.add_argument(
        "--dataset",
        default="fashion_mnist",
        help="TFDS name, fashion_mnist/mnist (offline IDX files) or an image folder (default: %(default)s)",
    )
    p.add_argument(
        "--data-dir",
        default=None,
        help="folder with the IDX files, or TFDS's data directory",
    )
    p.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default="evolution",
        help="search algorithm (default: %(default)s)",
    )
    p.add_argument(
        "--max-trials",
        type=_positive_int,
        default=None,
        help=f"trials in all, the random ones included (default: {_DEFAULT_MAX_TRIALS}; on --resume, the stored budget)",
    )
    p.add_argument(
        "--cells-per-stack",
        type=_positive_int,
        default=1,
        help="proxy N (default: %(default)s)",
    )
    p.add_argument(
        "--filters",
        type=_positive_int,
        default=8,
        help="proxy F (default: %(default)s)",
    )
    p.add_argument(
        "--num-blocks",
        type=_positive_int,
        default=5,
        help="blocks per cell, B (default: %(default)s)",
    )
    p.add_argument(
        "--ops",
        choices=OP_SETS,
        default="nasnet",
        help="op set: NASNet's 13 or AmoebaNet's 8 (default: %(default)s)",
    )
    p.add_argument(
        "--search-combine",
        action="store_true",
        help="also search add vs concat per block",
    )
    p.add_argument(
        "--epochs",
        type=_positive_int,
        default=1,
        help="epochs per trial (default: %(default)s)",
    )
    p.add_argument(
        "--batch-size", type=_positive_int, default=64, help="(default: %(default)s)"
    )
    p.add_argument(
        "--train-images",
        type=_positive_int,
        default=3000,
        help="training images per trial, a random subset (default: %(default)s)",
    )
    p.add_argument(
        "--validation-images",
        type=_positive_int,
        default=1000,
        help="images held out from the training data to score trials (default: %(default)s)",
    )
    p.add_argument(
        "--learning-rate",
        type=_positive_float,
        default=0.05,
        help="initial cosine learning rate (default: %(default)s)",
    )
    p.add_argument(
        "--drop-path-keep-prob",
        type=_probability,
        default=1.0,
        help="final drop-path keep probability (default: %(default)s, off)",
    )
    p.add_argument(
        "--population-size",
        type=_positive_int,
        default=8,
        help="evolution: P (paper 100; default: %(default)s)",
    )
    p.add_argument(
        "--sample-size",
        type=_positive_int,
        default=3,
        help="evolution: S (paper 25; default: %(default)s)",
    )
    p.add_argument(
        "--controller-batch-size",
        type=_positive_int,
        default=5,
        help="controller: finished trials per policy update (paper 20, for thousands of trials; default: %(default)s, so that a search of tens of trials updates the policy several times)",
    )
    p.add_argument(
        "--controller-learning-rate",
        type=_positive_float,
        default=0.0035,
        help="controller: Adam's learning rate (paper 0.00035; default: %(default)s, 10x the paper's, since a short search makes few updates)",
    )
    p.add_argument(
        "--directory",
        default="runs/search",
        help="where the search lives (default: %(default)s)",
    )
    p.add_argument(
        "--seed", type=_non_negative_int, default=0, help="(default: %(default)s)"
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the search in --directory if there is one, with its stored settings",
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
        help=f"run the search in a chain of processes of this many trials each, resuming exactly, so that memory the backend keeps per trial goes back to the system; 0: one process (default: {_DEFAULT_TRIALS_PER_PROCESS} with TensorFlow, which keeps 30-60 MiB per traced child; 0 with --eager or another backend)",
    )
    p.add_argument("--worker-process", action="store_true", help=argparse.SUPPRESS)
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
        help="skip the parameter counts (they build each model)",
    )
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=cmd_report)
    return parser


def main(argv=None):
    # TensorFlow's C++ INFO/WARNING lines drown the progress lines; a user's
    # own setting wins.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    args.argv = argv
    try:
        return args.func(args)
    except CLIError as e:
        # One line, whatever a library put in the message.
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

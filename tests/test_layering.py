"""The package's layers import one way: no module imports a layer above its own.

    0 space     keras_nasnet.space, genotypes, _validation, _atomic, _lazy (no Keras)
    1 viz       keras_nasnet.viz: drawings of genotypes               (no Keras)
    2 builder   keras_nasnet.layers, models, callbacks, training, data (Keras, no keras-tuner)
    3 tuner     tuner_plugins                                          (keras-tuner)
    4 workflow  keras_nasnet.workflow, progress, _workflow_keras, cli, report

and, within the workflow layer, the report needs neither Keras nor
keras-tuner, and the workflow, progress and CLI modules import them only when
a search or training starts (so `--help` and a chain's parent stay light):
a search's settings (strategies, their options, budgets) are checked with
neither.
TensorFlow and tensorflow-datasets are imported only inside the functions
that need them, everywhere.

Two checks, so that neither a module-level nor a lazy import slips through:
every import statement of every module, wherever it is (inside a function
too), is read from its source against its layer's rules; and each layer is
imported in a fresh interpreter with what it must not import blocked by a
meta-path finder. A third test shows that each check catches an upward
arrow. See docs/architecture.md.
"""

import ast
import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("keras_nasnet", "tuner_plugins")

SPACE = (
    "keras_nasnet",
    "keras_nasnet.space",
    "keras_nasnet.genotypes",
    "keras_nasnet._validation",
    "keras_nasnet._atomic",
    "keras_nasnet._lazy",
)
VIZ = ("keras_nasnet.viz",)
BUILDER = (
    "keras_nasnet.layers",
    "keras_nasnet.models",
    "keras_nasnet.callbacks",
    "keras_nasnet.training",
    "keras_nasnet.data",
)
TUNER = ("tuner_plugins",)
WORKFLOW = (
    "keras_nasnet.workflow",
    "keras_nasnet.progress",
    "keras_nasnet._workflow_keras",
    "keras_nasnet.cli",
    "keras_nasnet.report",
)
LAYERS = (SPACE, VIZ, BUILDER, TUNER, WORKFLOW)
BACKENDS = ("keras", "tensorflow", "tensorflow_datasets", "jax", "torch")
KERAS_TUNER = ("keras_tuner",)
# Imported only inside functions, everywhere.
LAZY_ONLY = ("tensorflow", "tensorflow_datasets")


def _matches(name, prefixes):
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _layer(module):
    """The index in LAYERS of a module of ours (the longest prefix wins)."""
    best = None
    for index, members in enumerate(LAYERS):
        for member in members:
            if _matches(module, (member,)) and (
                best is None or len(member) > len(best[1])
            ):
                best = (index, member)
    return best[0]


def _forbidden(module):
    """What `module` must not import, wherever the import statement is."""
    layer = _layer(module)
    above = tuple(m for members in LAYERS[layer + 1 :] for m in members)
    forbidden = above
    if layer <= 1:
        forbidden += BACKENDS + KERAS_TUNER
    elif layer == 2:
        forbidden += KERAS_TUNER
    if _matches(module, ("keras_nasnet.report",)):
        forbidden += BACKENDS + KERAS_TUNER + TUNER + BUILDER
    return forbidden


def _modules():
    """module name -> source path, for every module of both packages."""
    out = {}
    for package in PACKAGES:
        for folder, _, files in os.walk(os.path.join(ROOT, package)):
            for name in files:
                if not name.endswith(".py"):
                    continue
                path = os.path.join(folder, name)
                parts = os.path.relpath(path, ROOT)[: -len(".py")].split(os.sep)
                if parts[-1] == "__init__":
                    parts = parts[:-1]
                out[".".join(parts)] = path
    return out


def _imports(module, source, known):
    """`(imported module, line, at module level)` for each import in `source`."""
    is_package = (
        source is not None and module in known and known[module].endswith("__init__.py")
    )
    tree = ast.parse(source)
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module if is_package else module.rpartition(".")[0]
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                base = f"{package}.{base}" if base else package
            # `from package import submodule` imports the submodule.
            names = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        else:
            continue
        found += [(name, node.lineno, id(node) in top_level) for name in names]
    return found


def _violations(module, source, known):
    forbidden = _forbidden(module)
    out = []
    for name, line, top in _imports(module, source, known):
        if _matches(name, forbidden):
            out.append(f"{module}:{line} imports {name} (a layer above it)")
        elif top and _matches(name, LAZY_ONLY):
            out.append(f"{module}:{line} imports {name} at module level")
    return out


def test_no_import_statement_points_upward():
    known = _modules()
    assert len(known) > 30 and "keras_nasnet.space.decisions" in known
    violations = []
    for module, path in sorted(known.items()):
        with open(path, encoding="utf-8") as f:
            violations += _violations(module, f.read(), known)
    assert violations == []


# What each layer is imported with, and what is blocked meanwhile. The
# workflow modules and the CLI import Keras and keras-tuner only when a search
# or training starts.
_RUNTIME = {
    "space": (SPACE, BACKENDS + KERAS_TUNER + VIZ + BUILDER + TUNER + WORKFLOW),
    "viz": (VIZ, BACKENDS + KERAS_TUNER + BUILDER + TUNER + WORKFLOW),
    "report": (
        ("keras_nasnet.report",),
        BACKENDS + KERAS_TUNER + BUILDER + TUNER + WORKFLOW[:-1],
    ),
    "workflow and cli": (
        ("keras_nasnet.workflow", "keras_nasnet.progress", "keras_nasnet.cli"),
        BACKENDS + KERAS_TUNER + BUILDER + TUNER + ("keras_nasnet._workflow_keras",),
    ),
    "builder": (BUILDER, KERAS_TUNER + TUNER + WORKFLOW),
    "tuner_plugins": (TUNER, WORKFLOW),
}
# The layers imported one after another in one fresh interpreter, each with
# its own block list (a fresh interpreter per layer costs a Keras import each
# for the two upper ones). Valid as long as each block list holds the next
# one: whatever an earlier layer imported was imported with the next layer's
# blocked modules blocked too, so it imports none of them; and the script
# checks that none of them is imported when its layer starts. The builder
# needs a second interpreter: the workflow layer, imported before it, is
# what the builder must not import.
_CHAINS = (
    ("space", "viz", "report", "workflow and cli"),
    ("builder", "tuner_plugins"),
)
_BLOCKER = textwrap.dedent(
    """
    import importlib, importlib.abc, pkgutil, sys

    BLOCKED = []

    def blocked(name):
        return any(name == b or name.startswith(b + ".") for b in BLOCKED)

    class Blocker(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if blocked(name):
                raise ImportError(f"layering: {{name}} is imported by this layer")
            return None

    sys.meta_path.insert(0, Blocker())
    """
)
_IMPORT_SCRIPT = _BLOCKER + textwrap.dedent(
    """
    for layer, modules, blocked_now in {phases!r}:
        BLOCKED[:] = blocked_now
        already = sorted(name for name in sys.modules if blocked(name))
        assert not already, f"{{layer}}: blocked but already imported: {{already}}"
        for name in modules:
            module = importlib.import_module(name)
            if name == "keras_nasnet":  # the package itself, not all of it
                continue
            for info in pkgutil.walk_packages(
                getattr(module, "__path__", []), name + "."
            ):
                importlib.import_module(info.name)
        print("imported", layer)
    """
)


def _import_layers(phases):
    """Imports each `(layer, modules, blocked)` of `phases` in turn, in one
    fresh interpreter, with `blocked` blocked by a meta-path finder."""
    phases = [
        (layer, list(modules), list(blocked)) for layer, modules, blocked in phases
    ]
    return _run_blocked(_IMPORT_SCRIPT.format(phases=phases))


def _run_blocked(script):
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": ROOT},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_each_chain_blocks_less_and_less_and_covers_every_layer():
    assert sorted(layer for chain in _CHAINS for layer in chain) == sorted(_RUNTIME)
    for chain in _CHAINS:
        for earlier, later in zip(chain, chain[1:], strict=False):
            assert set(_RUNTIME[later][1]) <= set(_RUNTIME[earlier][1]), later


@pytest.mark.parametrize(
    "chain",
    [
        _CHAINS[0],
        # Imports Keras and keras-tuner: 10-30 s on a busy 2-core machine.
        pytest.param(_CHAINS[1], marks=pytest.mark.slow),
    ],
    ids=", ".join,
)
def test_each_layer_imports_without_the_layers_above(chain):
    result = _import_layers([(layer, *_RUNTIME[layer]) for layer in chain])
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines() == [f"imported {layer}" for layer in chain]


_SETTINGS_SCRIPT = _BLOCKER + textwrap.dedent(
    """
    BLOCKED[:] = {blocked!r}
    import tuner_plugins
    from keras_nasnet import workflow

    for strategy in workflow.strategy_names():
        workflow.SearchSettings(strategy=strategy)
        workflow.small_search_options(strategy)
    workflow.SearchSettings(
        strategy="controller", max_params=10**6, max_macs=10**8,
        objective="mnas", target_params=10**5,
    )
    print(tuner_plugins.Constraints(max_params=5).violations(params=6))
    """
)


def test_a_search_s_settings_are_checked_without_keras_or_keras_tuner():
    # Every strategy's name and options, budgets and a cost-aware objective:
    # what `show`, `report` and a search's parent read, with no backend.
    result = _run_blocked(_SETTINGS_SCRIPT.format(blocked=[*BACKENDS, *KERAS_TUNER]))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "max_params" in result.stdout


def test_both_checks_catch_an_upward_arrow():
    # A lazy import of keras-tuner inside a function of the builder.
    source = "import keras\n\ndef f():\n    import tuner_plugins\n    return 1\n"
    known = _modules()
    assert _violations("keras_nasnet.training", source, known) == [
        "keras_nasnet.training:4 imports tuner_plugins (a layer above it)"
    ]
    assert _violations("keras_nasnet.space.x", "from keras_nasnet import cli\n", known)
    assert _violations("keras_nasnet.data.y", "import tensorflow as tf\n", known) == [
        "keras_nasnet.data.y:1 imports tensorflow at module level"
    ]
    # The builder imports Keras: blocked, it cannot be imported.
    result = _import_layers([("builder", ("keras_nasnet.layers",), ("keras",))])
    assert result.returncode != 0
    assert "layering: keras is imported by this layer" in result.stderr

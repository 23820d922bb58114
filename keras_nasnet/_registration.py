"""Makes `import keras_nasnet` enough for `keras.models.load_model`.

A `.keras` file names its custom classes ("keras_nasnet>NASNet"), and Keras
finds them only in its registry, filled by `register_keras_serializable` when
the module defining each class runs. Keras imports a class's module by itself
only for its own allow-list of packages (keras, keras_hub, keras_cv,
keras_nlp: `serialization_lib._retrieve_class_or_fn` in Keras 3), so loading
with no import at all is not possible for a third-party package.

Importing those modules costs a Keras (and backend) import, which
`import keras_nasnet` avoids for its space-only uses (an oracle process, the
CLI's `--help`, the report). So `install()` registers the classes as soon as
Keras is imported, whichever comes first: now if Keras is already imported,
else right after the import of `keras` finishes, through a one-shot import
hook (the post-import hook of PEP 369, as `wrapt.when_imported` does it).
"""

import importlib
import importlib.util
import sys

# The modules whose classes a saved model can name: the layers and NASNet,
# the augmentation layers that `training.train`'s models put in front, and
# their optimizer.
_MODULES = (
    "keras_nasnet.layers",
    "keras_nasnet.models",
    "keras_nasnet.data.augment",
    "keras_nasnet.training",  # FusedSGD, the optimizer of compiled models
)


def register_keras_objects():
    """Imports every module that registers a class with Keras's serialization."""
    for name in _MODULES:
        importlib.import_module(name)


class _RegisterAfterLoading:
    """Wraps the loader of `keras` to register our classes once it has run."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        register_keras_objects()

    def __getattr__(self, name):
        # Everything else (resource readers, get_source, ...) is the original's.
        return getattr(self._loader, name)


class _KerasImportHook:
    """A `sys.meta_path` finder that wraps the loader of `keras`, once."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras":
            return None
        # One shot: leave `sys.meta_path` before asking the other finders.
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _RegisterAfterLoading(spec.loader)
        return spec


def install():
    """Registers the classes now if Keras is imported, else after its import."""
    # `sys.modules["keras"] = None` blocks Keras (as if not installed).
    if sys.modules.get("keras") is not None:
        register_keras_objects()
    elif not any(isinstance(f, _KerasImportHook) for f in sys.meta_path):
        sys.meta_path.insert(0, _KerasImportHook())

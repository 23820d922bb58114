"""A package's names imported on first access (PEP 562), written once.

`keras_nasnet` and `tuner_plugins` keep their Keras-dependent names out of
`import`: an oracle process, the CLI's `--help`, a search's settings and the
report import no backend.
"""

import importlib
import sys


def exports(package, names):
    """The module `__getattr__` and `__dir__` of `package`.

    Args:
        package: the package's `__name__`.
        names: name -> the module that defines it (its full name); a name
            that is that module's own last part is the module itself.

    Returns:
        `(__getattr__, __dir__)`; the first import of a name keeps it in the
        package's namespace.
    """

    def __getattr__(name):
        if name not in names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(names[name])
        value = (
            module if module.__name__.endswith("." + name) else getattr(module, name)
        )
        setattr(sys.modules[package], name, value)
        return value

    def __dir__():
        return sorted(set(vars(sys.modules[package])) | set(names))

    return __getattr__, __dir__

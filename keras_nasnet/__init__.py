"""keras-nasnet: neural architecture search for Keras, NASNet and AmoebaNet style.

The search space (`Genotype`, `random_genotype`, ...) imports no Keras. The
Keras-dependent names (`NASNet`, `DropPathScheduler`, the `layers`, `models`,
`data` and `training` modules) and the search workflow (`search`,
`SearchSettings`, the `workflow` module) are imported on first use, so that
`import keras_nasnet` stays cheap for an oracle process or the CLI's `--help`.

`import keras_nasnet` is still enough for `keras.models.load_model` to find the
package's layers and models in a `.keras` file: they are registered with Keras
as soon as Keras itself is imported (see `keras_nasnet._registration`).
"""

from keras_nasnet import _lazy, _registration, genotypes
from keras_nasnet.space import (
    Block,
    Cell,
    Genotype,
    mutate,
    random_genotype,
    search_space_size,
)

__version__ = "0.1.0"

# name -> module that defines it; imported lazily (PEP 562).
_LAZY = {
    "NASNet": "keras_nasnet.models",
    "DropPathScheduler": "keras_nasnet.callbacks",
    "callbacks": "keras_nasnet.callbacks",
    "data": "keras_nasnet.data",
    "layers": "keras_nasnet.layers",
    "models": "keras_nasnet.models",
    "progress": "keras_nasnet.progress",
    "report": "keras_nasnet.report",
    "search": "keras_nasnet.workflow",
    "SearchSettings": "keras_nasnet.workflow",
    "training": "keras_nasnet.training",
    "viz": "keras_nasnet.viz",
    "workflow": "keras_nasnet.workflow",
}


__getattr__, __dir__ = _lazy.exports(__name__, _LAZY)


__all__ = [
    "Block",
    "Cell",
    "DropPathScheduler",
    "Genotype",
    "NASNet",
    "callbacks",
    "data",
    "genotypes",
    "layers",
    "models",
    "mutate",
    "progress",
    "random_genotype",
    "report",
    "search",
    "search_space_size",
    "SearchSettings",
    "training",
    "viz",
    "workflow",
]

# Last, once the names above exist: registering imports the Keras modules,
# which import them.
_registration.install()

"""keras-nasnet: neural architecture search for Keras, NASNet and AmoebaNet style."""

from keras_nasnet import genotypes
from keras_nasnet.space import (
    Block,
    Cell,
    Genotype,
    mutate,
    random_genotype,
    search_space_size,
)

__version__ = "0.1.0"

__all__ = [
    "Block",
    "Cell",
    "Genotype",
    "genotypes",
    "mutate",
    "random_genotype",
    "search_space_size",
]

"""The NASNet search space: what an architecture is. Imports no Keras."""

from keras_nasnet.space.genotype import Block, Cell, Genotype
from keras_nasnet.space.mutations import mutate, mutate_hidden_state, mutate_op
from keras_nasnet.space.ops import (
    ADD,
    ALL_OPS,
    AMOEBANET_OPS,
    COMBINES,
    CONCAT,
    NASNET_OPS,
)
from keras_nasnet.space.sampling import random_cell, random_genotype, search_space_size

__all__ = [
    "ADD",
    "ALL_OPS",
    "AMOEBANET_OPS",
    "Block",
    "COMBINES",
    "CONCAT",
    "Cell",
    "Genotype",
    "NASNET_OPS",
    "mutate",
    "mutate_hidden_state",
    "mutate_op",
    "random_cell",
    "random_genotype",
    "search_space_size",
]

"""Published genotypes, exactly as the authors' released code wires them.

State 0 is h_i (the previous cell's output), state 1 is h_{i-1}. Do not copy
genotypes from DARTS-style code, which swaps the two.

Sources: tensorflow/models research/slim/nets/nasnet (NASNet-A) and
tensorflow/tpu models/official/amoeba_net (AmoebaNet-A and -C).
"""

from keras_nasnet.space.genotype import Genotype

NASNET_A = Genotype.parse(
    "normal: sep_conv_5x5(0) + sep_conv_3x3(1), sep_conv_5x5(1) + sep_conv_3x3(1), "
    "avg_pool_3x3(0) + identity(1), avg_pool_3x3(1) + avg_pool_3x3(1), "
    "sep_conv_3x3(0) + identity(0) -> [1, 2, 3, 4, 5, 6]\n"
    "reduction: sep_conv_5x5(0) + sep_conv_7x7(1), max_pool_3x3(0) + sep_conv_7x7(1), "
    "avg_pool_3x3(0) + sep_conv_5x5(1), identity(3) + avg_pool_3x3(2), "
    "sep_conv_3x3(2) + max_pool_3x3(0) -> [3, 4, 5, 6]"
)

AMOEBANET_A = Genotype.parse(
    "normal: avg_pool_3x3(0) + max_pool_3x3(0), sep_conv_3x3(1) + identity(1), "
    "identity(0) + avg_pool_3x3(1), sep_conv_3x3(0) + sep_conv_5x5(2), "
    "avg_pool_3x3(5) + sep_conv_3x3(0) -> [1, 3, 4, 6]\n"
    "reduction: sep_conv_3x3(1) + avg_pool_3x3(0), max_pool_3x3(0) + sep_conv_7x7(2), "
    "max_pool_3x3(1) + max_pool_3x3(0), sep_conv_3x3(4) + conv_1x7_7x1(0), "
    "avg_pool_3x3(1) + sep_conv_7x7(0) -> [2, 3, 4, 5, 6]"
)

AMOEBANET_C = Genotype.parse(
    "normal: avg_pool_3x3(0) + sep_conv_3x3(0), identity(0) + sep_conv_3x3(0), "
    "avg_pool_3x3(2) + sep_conv_3x3(1), identity(0) + sep_conv_3x3(1), "
    "avg_pool_3x3(3) + sep_conv_3x3(0) -> [1, 2, 4, 5, 6]\n"
    "reduction: max_pool_3x3(0) + max_pool_3x3(0), sep_conv_7x7(2) + sep_conv_3x3(0), "
    "sep_conv_7x7(0) + max_pool_3x3(1), sep_conv_5x5(4) + sep_conv_5x5(4), "
    "max_pool_3x3(1) + sep_conv_3x3(1) -> [0, 2, 3, 4, 5, 6]"
)

# name -> Genotype; the names the CLI and `get` accept.
KNOWN_GENOTYPES = {
    "nasnet_a": NASNET_A,
    "amoebanet_a": AMOEBANET_A,
    "amoebanet_c": AMOEBANET_C,
}


def get(name):
    """Returns a published genotype by name (case-insensitive, `-` or `_`).

    Raises:
        ValueError: if no genotype has that name.
    """
    key = str(name).lower().replace("-", "_")
    if key not in KNOWN_GENOTYPES:
        raise ValueError(
            f"Unknown genotype name {name!r}. Expected one of: "
            f"{', '.join(KNOWN_GENOTYPES)}."
        )
    return KNOWN_GENOTYPES[key]


# The published ImageNet NASNet-A models as `NASNet` size arguments (also
# `keras_nasnet.space.cost.network_cost`'s): `NASNet(NASNET_A,
# **NASNET_A_MOBILE)` is `keras.applications.NASNetMobile` (4@1056,
# 5,326,716 parameters), `**NASNET_A_LARGE` is `NASNetLarge` (6@4032,
# 88,949,818).
NASNET_A_MOBILE = {
    "cells_per_stack": 4,
    "penultimate_filters": 1056,
    "stem": "imagenet",
    "stem_multiplier": 1,
    "input_shape": (224, 224, 3),
    "num_classes": 1000,
}
NASNET_A_LARGE = {
    "cells_per_stack": 6,
    "penultimate_filters": 4032,
    "stem": "imagenet",
    "stem_multiplier": 3,
    "skip_reduction_layer_input": True,
    "input_shape": (331, 331, 3),
    "num_classes": 1000,
}

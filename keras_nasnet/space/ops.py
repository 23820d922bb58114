"""The op vocabulary and combine methods of the NASNet search space.

This module knows nothing of Keras: it only names things. The Keras layers that
implement each op live in `keras_nasnet.layers.ops`.

Reference: Zoph et al. 2018, "Learning Transferable Architectures for Scalable
Image Recognition", section 3; Real et al. 2019, "Regularized Evolution for
Image Classifier Architecture Search", section 3.
"""

# Stable names, in the order of the NASNet paper's list. These strings are part
# of the genotype text and JSON formats: never rename one.
IDENTITY = "identity"
CONV_1X3_3X1 = "conv_1x3_3x1"
CONV_1X7_7X1 = "conv_1x7_7x1"
DIL_CONV_3X3 = "dil_conv_3x3"
AVG_POOL_3X3 = "avg_pool_3x3"
MAX_POOL_3X3 = "max_pool_3x3"
MAX_POOL_5X5 = "max_pool_5x5"
MAX_POOL_7X7 = "max_pool_7x7"
CONV_1X1 = "conv_1x1"
CONV_3X3 = "conv_3x3"
SEP_CONV_3X3 = "sep_conv_3x3"
SEP_CONV_5X5 = "sep_conv_5x5"
SEP_CONV_7X7 = "sep_conv_7x7"
# AmoebaNet adds a dilated separable conv that NASNet's list does not have.
DIL_SEP_CONV_3X3 = "dil_sep_conv_3x3"

# The 13 ops of the NASNet search space (paper, section 3).
NASNET_OPS = (
    IDENTITY,
    CONV_1X3_3X1,
    CONV_1X7_7X1,
    DIL_CONV_3X3,
    AVG_POOL_3X3,
    MAX_POOL_3X3,
    MAX_POOL_5X5,
    MAX_POOL_7X7,
    CONV_1X1,
    CONV_3X3,
    SEP_CONV_3X3,
    SEP_CONV_5X5,
    SEP_CONV_7X7,
)

# The 8 ops of the AmoebaNet search space (Real et al. 2019, section 3).
AMOEBANET_OPS = (
    IDENTITY,
    SEP_CONV_3X3,
    SEP_CONV_5X5,
    SEP_CONV_7X7,
    AVG_POOL_3X3,
    MAX_POOL_3X3,
    DIL_SEP_CONV_3X3,
    CONV_1X7_7X1,
)

# Every op any genotype may name.
ALL_OPS = NASNET_OPS + (DIL_SEP_CONV_3X3,)

ADD = "add"
CONCAT = "concat"
COMBINES = (ADD, CONCAT)

# Ops without weights when stride is 1 and channels already match.
POOLING_OPS = frozenset({AVG_POOL_3X3, MAX_POOL_3X3, MAX_POOL_5X5, MAX_POOL_7X7})


def check_op(name):
    """Returns `name` if it is a known op, else raises a ValueError naming it."""
    if name not in ALL_OPS:
        raise ValueError(f"Unknown op {name!r}. Expected one of: {', '.join(ALL_OPS)}.")
    return name


def check_combine(name):
    """Returns `name` if it is a known combine method, else raises ValueError."""
    if name not in COMBINES:
        raise ValueError(
            f"Unknown combine method {name!r}. Expected one of: {', '.join(COMBINES)}."
        )
    return name

"""Model builders: `NASNet` for any genotype."""

# Keras first, before any submodule: importing it registers this package's
# classes (keras_nasnet._registration), which must find no submodule of ours
# half-imported.
import keras  # noqa: F401

from keras_nasnet.models.nasnet import NASNet, penultimate_multiplier

__all__ = ["NASNet", "penultimate_multiplier"]

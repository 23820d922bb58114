"""Model builders: `NASNet` for any genotype."""

from keras_nasnet.models.nasnet import NASNet, penultimate_multiplier

__all__ = ["NASNet", "penultimate_multiplier"]

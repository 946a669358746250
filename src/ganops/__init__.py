"""ganops: train, judge, register and police GANs."""

__version__ = "0.1.0"

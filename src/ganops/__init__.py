"""ganops: train, judge, register and police GANs."""

from ganops._moved import install as _install_moved_modules

__version__ = "0.2.0"

_install_moved_modules()  # pre-0.2 module paths, for pyfunc models registered before the package layout

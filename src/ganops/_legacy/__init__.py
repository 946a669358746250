"""The 0.1 functions whose signatures changed, for pyfunc code registered before the package layout."""

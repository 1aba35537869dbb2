"""The ``drg`` command line. Each sub-command parses arguments and calls one documented API function."""

"""Tests of the ``agea-xr`` command line, one module per group of commands."""

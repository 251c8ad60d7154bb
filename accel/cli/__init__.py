"""Command lines: argument parsing and output, over the library.

:mod:`accel.cli.registry` lists every command once; :mod:`accel.cli.patchinr` is the one
``patchinr`` command over them, and each command's ``main(argv)`` is also what
``python -m ENTRY`` runs. No library module imports these.
"""

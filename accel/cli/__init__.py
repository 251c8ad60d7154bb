"""Command lines: argument parsing and output, over the library.

Each module's ``main(argv)`` is what ``python -m accel.<name>`` and the console script of
the same job run. No library module imports these.
"""

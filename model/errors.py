"""Errors a user can cause, and the command-line wrapper that reports them in one line."""

import argparse
import functools
import sys

__all__ = ["UserError", "ArgumentParser", "cli_entry", "EXIT_USAGE"]

#: Exit status for bad input (argparse uses the same).
EXIT_USAGE = 2


class UserError(ValueError):
    """Bad input from the user: reported as one line on stderr, exit status 2.

    A ``ValueError``, so that library callers that validate with ``except ValueError``
    see it too."""


class ArgumentParser(argparse.ArgumentParser):
    """``argparse`` whose usage errors are :class:`UserError`: one line from
    :func:`cli_entry` instead of the usage text and a second line."""

    def error(self, message):
        raise UserError(message)


def cli_entry(prog):
    """Decorate a ``main(argv) -> int`` so that user errors end in one line and exit 2.

    Only :class:`UserError` and ``ValueError`` raised while validating input are turned into
    a message; anything else is a bug and keeps its traceback.
    """
    def decorator(main):
        @functools.wraps(main)
        def wrapper(argv=None):
            try:
                return main(argv)
            except UserError as exc:
                print(f"{prog}: error: {exc}", file=sys.stderr)
                return EXIT_USAGE
            except KeyboardInterrupt:
                print(f"{prog}: interrupted", file=sys.stderr)
                return 130
        return wrapper
    return decorator

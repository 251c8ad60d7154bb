"""Errors a user can cause, and the command-line wrapper that reports them in one line."""

import argparse
import functools
import os
import sys
import warnings

__all__ = ["UserError", "ArgumentParser", "cli_entry", "EXIT_USAGE", "EXIT_INTERRUPT"]

#: Exit status for bad input (argparse uses the same).
EXIT_USAGE = 2
#: Exit status after an interrupt (128 + SIGINT, as shells report it).
EXIT_INTERRUPT = 130


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
    """Decorate a ``main(argv) -> int`` so that every failure a user can cause ends in one
    line on stderr and a documented exit status.

    ======  ==============================================================================
    status  meaning
    ======  ==============================================================================
    0       success
    1       the job ran and found a fault (mismatching pixels, a failed check)
    2       bad input or an environment that cannot do the job (:class:`UserError`, an
            ``OSError`` reading or writing a file, not enough memory), said before any
            output file is replaced
    130     interrupted (Ctrl-C / SIGINT): outputs already on disk are left as they were
    ======  ==============================================================================

    Anything else is a bug and keeps its traceback; ``PATCHINR_DEBUG=1`` keeps it for
    every error.
    """
    def decorator(main):
        @functools.wraps(main)
        def wrapper(argv=None):
            debug = os.environ.get("PATCHINR_DEBUG") not in (None, "", "0")
            try:
                return main(argv)
            except UserError as exc:
                if debug:
                    raise
                return _fail(prog, exc)
            except OSError as exc:
                if debug:
                    raise
                where = f" {exc.filename!r}" if exc.filename else ""
                return _fail(prog, f"cannot use{where}: {exc.strerror or exc}")
            except MemoryError:
                if debug:
                    raise
                return _fail(prog, "not enough memory for this job (try a smaller size, "
                                   "batch or model)")
            except KeyboardInterrupt:
                print(f"{prog}: interrupted", file=sys.stderr, flush=True)
                # Objects torn down after an interrupt (the simulator's coroutines, torch's
                # workers) may complain while the interpreter exits; the line above is all
                # there is to say.
                sys.unraisablehook = lambda unraisable: None
                warnings.simplefilter("ignore")
                return EXIT_INTERRUPT
        return wrapper
    return decorator


def _fail(prog, message):
    text = " ".join(str(message).split())          # one line, whatever the message holds
    print(f"{prog}: error: {text}", file=sys.stderr, flush=True)
    return EXIT_USAGE

"""Writing output files so that a failed or interrupted run loses nothing.

Every output goes through :func:`atomic_writer`: the data is written to a temporary file in
the target's own folder, flushed to disk, and only then renamed over the target
(``os.replace``, atomic on POSIX). A run that fails, runs out of disk or is interrupted
leaves the previous file as it was, and never a truncated one.
"""

import contextlib
import json
import os
import tempfile

from .errors import UserError

__all__ = ["atomic_writer", "write_json", "write_bytes", "check_output"]


def check_output(path, *, inputs=()):
    """Raise :class:`UserError` unless ``path`` can be written as an output file: its
    folder exists (or can be made) and is writable, it is not a folder, and it is none of
    ``inputs`` (files the run reads)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise UserError(f"output {path!r} is a directory")
    for other in inputs:
        if other is not None and os.path.exists(os.fspath(other)) and os.path.exists(path) \
                and os.path.samefile(path, os.fspath(other)):
            raise UserError(f"output {path!r} is also an input of this run")
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise UserError(f"cannot write {path!r}: {exc.strerror or exc}") from None


@contextlib.contextmanager
def atomic_writer(path, mode="w"):
    """Open a temporary file beside ``path`` for writing; on success it replaces ``path``.

    An error inside the ``with`` block (or on flushing) removes the temporary file and
    leaves ``path`` untouched; an ``OSError`` becomes a one-line :class:`UserError`.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.",
                                   suffix=".tmp")
    except OSError as exc:
        raise UserError(f"cannot write {path!r}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        _remove(tmp)
        raise UserError(f"cannot write {path!r}: {exc.strerror or exc}") from None
    except BaseException:
        _remove(tmp)
        raise


def _remove(tmp):
    with contextlib.suppress(OSError):
        os.unlink(tmp)


def write_json(path, data):
    """``data`` as indented JSON at ``path``, atomically."""
    with atomic_writer(path) as f:
        json.dump(data, f, indent=2)


def write_bytes(path, data):
    """``data`` at ``path``, atomically."""
    with atomic_writer(path, "wb") as f:
        f.write(data)

"""Writing output files so that a failed or interrupted run loses nothing.

Every output goes through :func:`atomic_writer` or an :class:`OutputSet`: the data is
written to a temporary file in the target's own folder, flushed to disk, and only then
renamed over the target (``os.replace``, atomic on POSIX). A run that fails, runs out of
disk or is interrupted leaves the previous file as it was, and never a truncated one. An
:class:`OutputSet` does that for several files at once: all are written before any
replaces its target, so a failure on the last leaves the first untouched too.

A target that exists and is not a regular file (``/dev/null``, ``/dev/full``, a FIFO) is
written in place: renaming over a device node would replace it.

:func:`check_output` is the check a command makes before its long work starts.
"""

import contextlib
import io
import json
import os
import stat
import tempfile

from .errors import UserError

__all__ = ["atomic_writer", "write_json", "write_bytes", "json_bytes", "check_output",
           "OutputSet"]


def _special(path):
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:                 # missing, or not reachable: written (or failed) as usual
        return False


def _cannot(path, exc):
    return UserError(f"cannot write {os.fspath(path)!r}: {exc.strerror or exc}")


def check_output(path, *, inputs=(), suffixes=None):
    """Raise :class:`UserError` unless ``path`` can be written as an output file: it is not
    a folder, not one of ``inputs`` (files the run reads), ends in one of ``suffixes``
    (when given), and its folder exists (or can be made) and is writable."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise UserError(f"output {path!r} is a directory")
    if suffixes and not path.lower().endswith(tuple(suffixes)) and not _special(path):
        raise UserError(f"output {path!r} must end in {' or '.join(suffixes)}")
    for other in inputs:
        if other is None:
            continue
        other = os.fspath(other)
        same = (os.path.abspath(other) == os.path.abspath(path)
                or (os.path.exists(other) and os.path.exists(path)
                    and os.path.samefile(path, other)))
        if same:
            raise UserError(f"output {path!r} is also an input of this run")
    if _special(path):
        if not os.access(path, os.W_OK):
            raise UserError(f"cannot write {path!r}: permission denied")
        return
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise _cannot(path, exc) from None


def _remove(tmp):
    with contextlib.suppress(OSError):
        os.unlink(tmp)


def _stage(path, data):
    """Write ``data`` to a temporary file beside ``path``; return its name."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.",
                                   suffix=".tmp")
    except OSError as exc:
        raise _cannot(path, exc) from None
    try:
        # mkstemp makes the file private (0600); an output gets the mode a plain open()
        # would give it, or keeps the one of the file it replaces.
        os.chmod(tmp, _mode_for(path))
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        _remove(tmp)
        raise _cannot(path, exc) from None
    except BaseException:
        _remove(tmp)
        raise
    return tmp


def _mode_for(path):
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _write_in_place(path, data):
    try:
        with open(path, "wb") as f:
            f.write(data)
            f.flush()
    except OSError as exc:
        raise _cannot(path, exc) from None


class OutputSet:
    """Files written together: :meth:`add` each, then :meth:`commit`.

    ``commit`` first writes every file's data beside its target (special files, which
    cannot be replaced, are written in place first of all), and only when all of them are
    on disk renames them over their targets. A failure or an interrupt before that point
    removes the temporary files and changes no target.
    """

    def __init__(self):
        self._files = []

    def add(self, path, data):
        """Queue ``data`` (``bytes``, or ``str`` as UTF-8) for ``path``; adding a path again
        replaces what was queued for it."""
        if isinstance(data, str):
            data = data.encode()
        path = os.fspath(path)
        self._files = [(p, d) for p, d in self._files if p != path] + [(path, bytes(data))]

    @property
    def paths(self):
        """The queued paths, in order."""
        return [p for p, _ in self._files]

    def content(self, path):
        """What is queued for ``path``."""
        return dict(self._files)[os.fspath(path)]

    def commit(self):
        special = [(p, d) for p, d in self._files if _special(p)]
        regular = [(p, d) for p, d in self._files if not _special(p)]
        for path, data in special:
            _write_in_place(path, data)
        staged = []
        try:
            for path, data in regular:
                staged.append((_stage(path, data), path))
        except BaseException:
            for tmp, _ in staged:
                _remove(tmp)
            raise
        for tmp, path in staged:
            try:
                os.replace(tmp, path)
            except OSError as exc:
                _remove(tmp)
                raise _cannot(path, exc) from None
        self._files = []


@contextlib.contextmanager
def atomic_writer(path, mode="w"):
    """Open a file object whose contents replace ``path`` when the ``with`` block ends
    without an error; an error (or an interrupt) leaves ``path`` untouched. An
    ``OSError`` becomes a one-line :class:`UserError`."""
    buffer = io.BytesIO() if "b" in mode else io.StringIO()
    yield buffer
    data = buffer.getvalue()
    write_bytes(path, data.encode() if isinstance(data, str) else data)


def json_bytes(data):
    """``data`` as indented JSON (UTF-8, newline at the end)."""
    return (json.dumps(data, indent=2) + "\n").encode()


def write_json(path, data):
    """``data`` as indented JSON at ``path``, atomically."""
    write_bytes(path, json_bytes(data))


def write_bytes(path, data):
    """``data`` at ``path``, atomically."""
    out = OutputSet()
    out.add(path, data)
    out.commit()

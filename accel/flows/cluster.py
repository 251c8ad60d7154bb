"""Independent tasks (sweep points, regression cases) on Ray, or one after another.

:func:`run_tasks` runs a function over a list of items and yields each outcome as it
finishes. With Ray installed (``pip install -e ".[cluster]"``) each item is one Ray task:
on a local single-node Ray sized to this machine's cores by default, or on a running
cluster given by ``address`` (or ``RAY_ADDRESS``). Without Ray, or with
``sequential=True``, the items run in this process, one after another, with one line
saying so. Either way one failing item (an exception, or a worker process that died)
fails only itself: the others finish, and the caller reports what failed.

Ray's usage statistics stay off, and nothing leaves this machine unless an address is
given. A task is not retried when its worker dies: the sweeps keep what a task finished
on disk (point files, checkpoints), so running the command again does only what is
missing.
"""

import os
import socket
import sys
import time
from dataclasses import dataclass

__all__ = ["Outcome", "have_ray", "run_tasks", "cluster_address", "check_reachable"]


@dataclass
class Outcome:
    """One item's end: ``result`` (what the function returned) or ``error`` (one line:
    the exception, or that the worker died), and the wall seconds from submission."""

    item: object
    result: object = None
    error: str | None = None
    seconds: float = 0.0

    @property
    def ok(self):
        return self.error is None


def have_ray():
    """Whether Ray can be imported (the ``cluster`` extra)."""
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def cluster_address(address=None):
    """The cluster to join: ``address``, else ``RAY_ADDRESS``, else ``None`` (a local Ray)."""
    return address or os.environ.get("RAY_ADDRESS") or None


def run_tasks(fn, items, *, describe=str, cpus=1, gpus=0, address=None, sequential=False,
              local_cpus=None, progress=True, log=print, what="tasks"):
    """Run ``fn(item)`` for every item; yield an :class:`Outcome` per item as it finishes.

    Parameters
    ----------
    fn : callable
        A module-level function (Ray sends it to its workers by reference or by value).
    describe : callable
        ``describe(item)``: the item's name in progress and log lines.
    cpus, gpus : number
        What one task asks of Ray (a GPU task waits for a node with one).
    address : str or None
        A running Ray cluster (``ray start --head`` prints it); ``None``: ``RAY_ADDRESS``,
        else a local Ray of ``local_cpus`` (default: this machine's cores).
    sequential : bool
        Run in this process, one item after another, even with Ray installed.
    """
    items = list(items)
    if not items:
        return
    if sequential or not have_ray():
        if not sequential:
            log(f"{what}: Ray is not installed (pip install -e \".[cluster]\"): running "
                f"{len(items)} one after another")
        yield from _sequential(fn, items, describe, progress, what)
        return
    yield from _on_ray(fn, items, describe, cpus, gpus, cluster_address(address), local_cpus,
                       progress, log, what)


def _bar(total, what, enabled):
    from tqdm.auto import tqdm
    return tqdm(total=total, desc=what, disable=not enabled, file=sys.stderr,
                dynamic_ncols=True, leave=False)


def _sequential(fn, items, describe, progress, what):
    bar = _bar(len(items), what, progress)
    try:
        for item in items:
            bar.set_postfix_str(describe(item), refresh=True)
            t0 = time.perf_counter()
            try:
                result = fn(item)
            except Exception as exc:            # one item's failure is its own
                yield Outcome(item, error=_one_line(exc), seconds=time.perf_counter() - t0)
            else:
                yield Outcome(item, result=result, seconds=time.perf_counter() - t0)
            bar.update(1)
    finally:
        bar.close()


def _on_ray(fn, items, describe, cpus, gpus, address, local_cpus, progress, log, what):
    # Before Ray is imported: no usage report leaves the machine.
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    import ray
    started = not ray.is_initialized()
    if started:
        if address:
            check_reachable(address)
            log(f"{what}: joining the Ray cluster at {address}")
            ray.init(address=address, include_dashboard=False, log_to_driver=False,
                     configure_logging=False)
        else:
            n = local_cpus or os.cpu_count() or 1
            # ``address="local"``: a new single-node Ray even when RAY_ADDRESS is set
            # elsewhere in the environment (cluster_address has already read it).
            ray.init(address="local", num_cpus=n, include_dashboard=False,
                     log_to_driver=False, configure_logging=False)
            log(f"{what}: {len(items)} on a local Ray ({n} CPUs, {cpus} per task)")
    try:
        remote = ray.remote(num_cpus=cpus, num_gpus=gpus, max_retries=0)(fn)
        t0 = time.perf_counter()
        pending = {remote.remote(item): item for item in items}
        bar = _bar(len(items), what, progress)
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    item = pending.pop(ref)
                    try:
                        result = ray.get(ref)
                    except Exception as exc:   # the task raised, or its worker died
                        yield Outcome(item, error=_ray_error(exc),
                                      seconds=time.perf_counter() - t0)
                    else:
                        yield Outcome(item, result=result, seconds=time.perf_counter() - t0)
                    bar.update(1)
                bar.set_postfix_str(f"{len(pending)} running or queued", refresh=True)
        finally:
            bar.close()
            for ref in pending:                 # an interrupt: stop what is still running
                ray.cancel(ref, force=True)
    finally:
        if started:
            ray.shutdown()


def check_reachable(address, timeout=5.0):
    """:class:`UserError` unless something listens at a cluster ``address`` (``HOST:PORT``,
    ``ray://HOST:PORT`` or ``auto``): Ray itself would retry an unreachable head for
    minutes."""
    from model.support.errors import UserError
    if address == "auto":
        return
    rest = address.split("://", 1)[-1]
    host, _, port = rest.rpartition(":")
    if not host:
        host, port = rest, "6379"
    try:
        port = int(port)
    except ValueError:
        raise UserError(f"cluster address {address!r} is not HOST:PORT") from None
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        raise UserError(f"cannot reach the Ray cluster at {address} ({exc.strerror or exc}): "
                        f"start it with `ray start --head` there, or leave out --address "
                        f"(and RAY_ADDRESS) for a local Ray") from None


def _one_line(exc):
    return " ".join(str(exc).split()) or exc.__class__.__name__


def _ray_error(exc):
    import ray.exceptions as rx
    if isinstance(exc, (rx.WorkerCrashedError, rx.NodeDiedError, rx.ActorDiedError)):
        return "its worker process died (killed, or out of memory)"
    # A task that raised: say what it raised, not Ray's wrapper.
    cause = getattr(exc, "cause", None) if isinstance(exc, rx.RayTaskError) else None
    return _one_line(cause if cause is not None else exc)

"""The options every command that runs Ray tasks shares (:mod:`accel.flows.cluster`)."""

import math

from model.support.errors import UserError

__all__ = ["add_cluster_options", "cluster_kwargs"]


def add_cluster_options(parser, noun, cpus_help):
    """``--address``, ``--sequential`` and ``--cpus-per-NOUN`` on ``parser``."""
    parser.add_argument("--address", default=None,
                        help=f"run the {noun}s on the Ray cluster at this address (default: "
                             f"RAY_ADDRESS, else a local Ray on this machine's cores)")
    parser.add_argument("--sequential", action="store_true",
                        help=f"run the {noun}s one after another in this process, even with "
                             f"Ray installed")
    parser.add_argument(f"--cpus-per-{noun}", dest="cpus_per_task", type=float, default=1.0,
                        metavar="N", help=f"{cpus_help} (default %(default)g)")


def cluster_kwargs(args, noun):
    """``address``, ``sequential`` and ``cpus`` for :func:`~accel.flows.cluster.run_tasks`'s
    callers, checked (a cluster address must answer)."""
    if not math.isfinite(args.cpus_per_task) or args.cpus_per_task <= 0:
        raise UserError(f"--cpus-per-{noun} must be a positive number, not "
                        f"{args.cpus_per_task}")
    if args.address and not args.sequential:
        from ..flows.cluster import check_reachable
        check_reachable(args.address)       # before any work is done or said
    return {"address": args.address, "sequential": args.sequential,
            "cpus": args.cpus_per_task}

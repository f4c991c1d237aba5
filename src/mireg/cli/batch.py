"""``mireg batch``: register the image pairs a CSV manifest lists.

The command (:func:`add_batch_parser`, :func:`run_batch`) and
:func:`run_manifest`, which runs the manifest's rows on local threads or a
dask cluster; the files (the manifest, one row's work, ``results.csv``)
are :mod:`mireg.cli.manifest`'s.  ``python -m mireg.cli.batch`` runs the
command on its own (:func:`main`).

Exit status: 0 when every row is registered, 1 when some rows failed (each
failure is a row of ``results.csv`` with its message), 2 for a user error
(missing manifest, bad option: one line on stderr).
"""

from __future__ import annotations

import argparse
import logging
import numbers
import os
import sys

from .._engines import Progress, check_run_options, drive, engine_for
from ..registration import METRICS
from ..transforms import TRANSFORMS
from . import manifest as files
from .errors import EXIT_USAGE, run_reporting_errors

__all__ = ["add_batch_parser", "run_batch", "run_manifest", "main"]

EXIT_FAILED_ROWS = 1

logger = logging.getLogger("mireg")


# ---- the command ------------------------------------------------------------


def add_batch_parser(subparsers, parents=()):
    """Add the ``batch`` command to an ``argparse`` subparsers object; its
    ``handler`` default is :func:`run_batch`."""
    parser = subparsers.add_parser(
        "batch",
        parents=list(parents),
        help="register the image pairs of a CSV manifest",
        description="Register each MOVING image of MANIFEST.csv to its REFERENCE and write "
        "it resampled onto the reference grid in DIR, with DIR/results.csv "
        "(status, error, parameters, matrix, metric, seconds per row). "
        "Manifest columns: reference,moving[,output]; image paths are "
        "relative to the manifest's folder, outputs to DIR (default "
        "<moving name>_registered<suffix>). Re-running skips the rows "
        "already done.",
        epilog="Exit status: 0 all rows registered, 1 some rows failed (see "
        "results.csv), 2 usage error.",
    )
    parser.add_argument("manifest", metavar="MANIFEST.csv")
    parser.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="folder for the outputs and results.csv (created if missing)",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="dask scheduler (e.g. tcp://host:8786) to run the rows on; "
        "the workers must see the same files",
    )
    where.add_argument(
        "--jobs", type=int, metavar="N", help="local threads (default: the number of CPUs)"
    )
    parser.add_argument(
        "--transform", default="rigid", choices=TRANSFORMS, help="default: %(default)s"
    )
    parser.add_argument(
        "--metric",
        default="alignment",
        choices=METRICS,
        help="alignment = NMI x gradient information (default: %(default)s)",
    )
    parser.add_argument(
        "--bins",
        type=int,
        default=None,
        help="histogram bins per image (default: 32 for images, 64 for volumes)",
    )
    parser.add_argument(
        "--sigma",
        type=float,
        default=1.5,
        help="Gaussian sigma of the gradients, pixels (default: %(default)s)",
    )
    parser.add_argument(
        "--order",
        type=int,
        default=3,
        choices=range(6),
        metavar="0-5",
        help="spline order of the outputs' resampling (default: %(default)s)",
    )
    try:
        parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    except argparse.ArgumentError:
        pass  # a parent parser gave it already
    parser.set_defaults(handler=run_batch)
    return parser


def run_batch(args):
    """Run ``mireg batch`` for parsed ``args``; returns the exit status.

    User errors are raised (``ValueError``, ``OSError``...) for the caller
    to report in one line, as :func:`mireg.cli.main` does.
    """
    if args.jobs is not None and args.jobs < 1:
        raise ValueError(f"--jobs must be >= 1, got {args.jobs}")
    previous = logger.level
    logger.setLevel(max(previous, logging.WARNING))  # per-level lines of every pair
    try:  # would drown the progress bar
        records = run_manifest(
            args.manifest,
            args.out,
            scheduler=args.scheduler,
            jobs=args.jobs,
            progress=not args.quiet,
            order=args.order,
            transform=args.transform,
            metric=args.metric,
            bins=args.bins,
            sigma=args.sigma,
        )
    finally:
        logger.setLevel(previous)
    failed = [r for r in records if r["status"] != "ok"]
    skipped = sum(r["skipped"] for r in records)
    for record in failed:
        print(f"mireg batch: {record['moving']}: {record['error']}", file=sys.stderr)
    print(
        f"{len(records) - len(failed)} of {len(records)} pairs registered"
        f"{f' ({skipped} by an earlier run)' if skipped else ''}, {len(failed)} failed; "
        f"results in {os.path.join(args.out, files.RESULTS_NAME)}"
    )
    return EXIT_FAILED_ROWS if failed else 0


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        print(f"{self.prog}: error: {message} (see '{self.prog} --help')", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def main(argv=None):
    """``python -m mireg.cli.batch MANIFEST.csv --out DIR ...``: the batch
    command on its own; returns the exit status."""
    parser = _Parser(prog="mireg")
    add_batch_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["batch"] + list(sys.argv[1:] if argv is None else argv))
    return run_reporting_errors(run_batch, args)


# ---- running the manifest ---------------------------------------------------


def run_manifest(
    manifest_path, out_dir, *, scheduler=None, jobs=None, progress=True, order=3, **register_kwargs
):
    """Register the file pairs of a CSV manifest: ``mireg batch``.

    Parameters
    ----------
    manifest_path : str or os.PathLike
        A CSV with columns ``reference``, ``moving`` and optionally
        ``output``.  Relative image paths are relative to the manifest's
        folder; an output path is relative to ``out_dir`` and defaults to
        ``<moving name>_registered<moving suffix>``.
    out_dir : str or os.PathLike
        Created if missing; receives the outputs and ``results.csv``.
    scheduler : str or dask.distributed.Client, optional
        A dask scheduler address (or a client) to run the rows on.  Each row
        is one task that reads, registers, resamples and writes on the
        worker, so the workers must see the same files (absolute paths are
        sent).
    jobs : int, optional
        Local threads (default ``os.cpu_count()``); not with ``scheduler``.
    progress : bool
        A progress bar on stderr.
    order : int
        Spline order (0-5) of the resampled outputs.
    **register_kwargs
        Options of :func:`~mireg.register` for every row.  ``spacing``
        defaults to the voxel size in the files (NIfTI).

    Returns
    -------
    list of dict
        One ``results.csv`` record per manifest row, in manifest order.

    Raises
    ------
    ValueError, OSError
        A missing or malformed manifest, bad options.  A failing *row* does
        not raise: it is recorded with status "error" and its message, and
        the other rows go on.

    Notes
    -----
    ``results.csv`` (columns ``mireg.cli.manifest.RESULT_COLUMNS``) gets a
    record as soon as a row finishes, so an interrupted run loses nothing
    finished; at the end it is rewritten with one record per row.  A re-run
    skips the rows whose record says "ok" and whose output exists and
    redoes the others, with the re-run's options: delete ``results.csv`` to
    redo everything.
    """
    if scheduler is not None and jobs is not None:
        raise ValueError(
            f"give `jobs` (local threads) or `scheduler` (a dask cluster), "
            f"not both; got jobs={jobs!r} and scheduler={scheduler!r}"
        )
    check_run_options(jobs, None, "return", register_kwargs, jobs_name="jobs")
    if isinstance(order, bool) or not isinstance(order, numbers.Integral) or not 0 <= order <= 5:
        raise ValueError(f"`order` must be an integer 0-5, got {order!r}")
    rows = files.read_manifest(manifest_path, out_dir)
    os.makedirs(out_dir, exist_ok=True)
    results_path = os.path.join(out_dir, files.RESULTS_NAME)
    records = files.read_results(results_path)
    todo = [i for i, row in enumerate(rows) if not files.is_finished(records.get(row.key), row)]
    for i in todo:
        os.makedirs(os.path.dirname(rows[i].output_path), exist_ok=True)
    client = connect(scheduler) if isinstance(scheduler, (str, os.PathLike)) else scheduler
    tasks = (
        (
            i,
            files.process_row,
            (
                rows[i].reference_path,
                rows[i].moving_path,
                rows[i].output_path,
                register_kwargs,
                order,
            ),
        )
        for i in todo
    )
    bar = Progress(len(todo), "mireg batch") if progress and todo else None
    try:
        with open(results_path, "a", newline="", encoding="utf-8") as stream:
            writer = files.results_writer(stream)
            for i, record in drive(
                tasks, engine_for(jobs, client), "return", bar, failed=files.is_failure
            ):
                if isinstance(record, BaseException):  # the cluster lost the task
                    record = files.row_record("error", error=files.error_line(record))
                record.update(zip(("reference", "moving", "output"), rows[i].key))
                records[rows[i].key] = record
                writer.writerow(record)
                stream.flush()
    finally:
        if client is not scheduler:
            client.close()
        files.rewrite_results(results_path, rows, records)
    return [records[row.key] for row in rows]


def connect(address):
    """A ``dask.distributed`` client of the scheduler at ``address``."""
    try:
        from distributed import Client
    except ImportError:
        raise ImportError(
            "a dask scheduler needs dask.distributed: pip install 'mireg[dask]'"
        ) from None
    return Client(os.fspath(address))


if __name__ == "__main__":
    sys.exit(main())

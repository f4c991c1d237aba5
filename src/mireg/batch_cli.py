"""``mireg batch``: register the image pairs a CSV manifest lists.

The command (:func:`add_batch_parser`, :func:`run_batch`) and the file
side of :func:`mireg.batch.run_manifest`: reading the manifest, one row's
work (read, register, resample, write), and ``results.csv``.

Exit status: 0 when every row is registered, 1 when some rows failed (each
failure is a row of ``results.csv`` with its message), 2 for a user error
(missing manifest, bad option: one line on stderr).
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import logging
import math
import os
import sys
import time

import numpy as np

from .cli import EXIT_USAGE, run_reporting_errors
from .registration import METRICS, register
from .transforms import TRANSFORMS

__all__ = ["add_batch_parser", "run_batch", "main"]

RESULT_COLUMNS = ("reference", "moving", "output", "status", "error", "parameters",
                  "matrix", "metric", "seconds")
RESULTS_NAME = "results.csv"
EXIT_FAILED_ROWS = 1

logger = logging.getLogger("mireg")


# ---- the command ------------------------------------------------------------

def add_batch_parser(subparsers, parents=()):
    """Add the ``batch`` command to an ``argparse`` subparsers object; its
    ``handler`` default is :func:`run_batch`."""
    parser = subparsers.add_parser(
        "batch", parents=list(parents), help="register the image pairs of a CSV manifest",
        description="Register each MOVING image of MANIFEST.csv to its REFERENCE and write "
                    "it resampled onto the reference grid in DIR, with DIR/results.csv "
                    "(status, error, parameters, matrix, metric, seconds per row). "
                    "Manifest columns: reference,moving[,output]; image paths are "
                    "relative to the manifest's folder, outputs to DIR (default "
                    "<moving name>_registered<suffix>). Re-running skips the rows "
                    "already done.",
        epilog="Exit status: 0 all rows registered, 1 some rows failed (see "
               "results.csv), 2 usage error.")
    parser.add_argument("manifest", metavar="MANIFEST.csv")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="folder for the outputs and results.csv (created if missing)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="dask scheduler (e.g. tcp://host:8786) to run the rows on; "
                            "the workers must see the same files")
    where.add_argument("--jobs", type=int, metavar="N",
                       help="local threads (default: the number of CPUs)")
    parser.add_argument("--transform", default="rigid", choices=TRANSFORMS,
                        help="default: %(default)s")
    parser.add_argument("--metric", default="alignment", choices=METRICS,
                        help="alignment = NMI x gradient information (default: %(default)s)")
    parser.add_argument("--bins", type=int, default=32,
                        help="histogram bins per image (default: %(default)s)")
    parser.add_argument("--sigma", type=float, default=1.5,
                        help="Gaussian sigma of the gradients, pixels (default: %(default)s)")
    parser.add_argument("--order", type=int, default=3, choices=range(6), metavar="0-5",
                        help="spline order of the outputs' resampling (default: %(default)s)")
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
    from .batch import run_manifest

    if args.jobs is not None and args.jobs < 1:
        raise ValueError(f"--jobs must be >= 1, got {args.jobs}")
    previous = logger.level
    logger.setLevel(max(previous, logging.WARNING))  # per-level lines of every pair
    try:                                               # would drown the progress bar
        records = run_manifest(args.manifest, args.out, scheduler=args.scheduler,
                               jobs=args.jobs, progress=not args.quiet, order=args.order,
                               transform=args.transform, metric=args.metric,
                               bins=args.bins, sigma=args.sigma)
    finally:
        logger.setLevel(previous)
    failed = [r for r in records if r["status"] != "ok"]
    skipped = sum(r["skipped"] for r in records)
    for record in failed:
        print(f"mireg batch: {record['moving']}: {record['error']}", file=sys.stderr)
    print(f"{len(records) - len(failed)} of {len(records)} pairs registered"
          f"{f' ({skipped} by an earlier run)' if skipped else ''}, {len(failed)} failed; "
          f"results in {os.path.join(args.out, RESULTS_NAME)}")
    return EXIT_FAILED_ROWS if failed else 0


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        print(f"{self.prog}: error: {message} (see '{self.prog} --help')", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def main(argv=None):
    """``python -m mireg.batch_cli MANIFEST.csv --out DIR ...``: the batch
    command on its own; returns the exit status."""
    parser = _Parser(prog="mireg")
    add_batch_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["batch"] + list(sys.argv[1:] if argv is None else argv))
    return run_reporting_errors(run_batch, args)


# ---- the manifest and results.csv ---------------------------------------------

@dataclasses.dataclass
class Row:
    key: tuple            # (reference, moving, output) as the manifest names them
    reference_path: str   # absolute
    moving_path: str
    output_path: str


def read_manifest(path, out_dir):
    """The manifest's rows; raises ``ValueError`` naming the line at fault."""
    path = os.fspath(path)
    base = os.path.dirname(os.path.abspath(path))
    with open(path, newline="", encoding="utf-8-sig") as stream:
        reader = csv.DictReader(stream)
        columns = [c.strip() for c in reader.fieldnames or []]
        if "reference" not in columns or "moving" not in columns:
            raise ValueError(f"'{path}': a manifest needs the columns reference,moving"
                             f"[,output]; found {columns}")
        lines = [({k.strip(): (v or "").strip() for k, v in line.items() if k},
                  reader.line_num) for line in reader]
    rows, outputs = [], {}
    for line, number in lines:
        if not any(line.values()):
            continue
        if not line["reference"] or not line["moving"]:
            raise ValueError(f"'{path}' line {number}: both reference and moving are needed")
        output = line.get("output") or default_output(line["moving"])
        row = Row((line["reference"], line["moving"], output),
                  os.path.join(base, line["reference"]), os.path.join(base, line["moving"]),
                  os.path.abspath(os.path.join(out_dir, output)))
        if row.output_path in outputs:
            raise ValueError(f"'{path}' lines {outputs[row.output_path]} and {number} both "
                             f"write '{output}': give them different `output` names")
        outputs[row.output_path] = number
        rows.append(row)
    if not rows:
        raise ValueError(f"'{path}' lists no image pairs")
    return rows


def default_output(moving):
    name = os.path.basename(moving)
    cut = len(name) - 7 if name.lower().endswith(".nii.gz") else len(os.path.splitext(name)[0])
    return f"{name[:cut]}_registered{name[cut:]}"


def read_results(path):
    """Records of earlier runs by key, the last record of a key winning
    (a run appends as rows finish, then rewrites one record per row)."""
    if not os.path.exists(path):
        return {}
    with open(path, newline="", encoding="utf-8") as stream:
        records = {}
        for record in csv.DictReader(stream):
            if None in record.values():
                continue  # a line cut short by an interrupted write
            record["skipped"] = True
            records[record["reference"], record["moving"], record["output"]] = record
        return records


def is_finished(record, row):
    return (record is not None and record.get("status") == "ok"
            and os.path.exists(row.output_path))


def is_failure(record):
    """A row's outcome that is not "ok" (an exception: the cluster lost it)."""
    return isinstance(record, BaseException) or record["status"] != "ok"


def results_writer(stream):
    writer = csv.DictWriter(stream, RESULT_COLUMNS, extrasaction="ignore")
    if stream.tell() == 0:
        writer.writeheader()
    return writer


def rewrite_results(path, rows, records):
    """One record per manifest row in manifest order, then the records of
    rows no longer in the manifest (kept, not lost); atomically."""
    keys = [row.key for row in rows]
    listed = set(keys)
    keys += [key for key in records if key not in listed]
    temporary = path + ".tmp"
    with open(temporary, "w", newline="", encoding="utf-8") as stream:
        writer = results_writer(stream)
        writer.writerows(records[key] for key in keys if key in records)
    os.replace(temporary, path)


def connect(address):
    try:
        from distributed import Client
    except ImportError:
        raise ImportError("a dask scheduler needs dask.distributed: "
                          "pip install 'mireg[dask]'") from None
    return Client(os.fspath(address))


def row_record(status, *, error="", result=None, seconds=math.nan):
    record = {"status": status, "error": error, "seconds": f"{seconds:.3f}",
              "parameters": "", "matrix": "", "metric": "", "skipped": False}
    if result is not None:
        record.update(parameters=json.dumps(result.parameters.tolist()),
                      matrix=json.dumps(result.matrix.tolist()), metric=repr(result.metric))
    return record


def one_line(error):
    return f"{type(error).__name__}: {' '.join(str(error).split())}"


def process_row(reference, moving, output, options, order):
    """One manifest row, where it is scheduled: read, register, resample,
    write.  Any failure becomes the row's record, never raised."""
    from . import io

    start = time.perf_counter()
    try:
        ref, ref_spacing, ref_info = io.read_image(reference)
        mov, mov_spacing, mov_info = io.read_image(moving)
        io.check_writable(output, ref.ndim)
        options = dict(options)
        if options.get("spacing") is None:
            options["spacing"] = common_spacing(ref_spacing, mov_spacing)
        result = register(ref, mov, **options)
        # geometry from the reference grid, value range from the moving image
        like = dataclasses.replace(ref_info, dtype=mov_info.dtype,
                                   unit_range=mov_info.unit_range)
        io.write_image(output, result.warp(mov, order=order), like=like,
                       spacing=options["spacing"])
    except Exception as error:  # noqa: BLE001 -- recorded in results.csv
        return row_record("error", error=one_line(error), seconds=time.perf_counter() - start)
    return row_record("ok", result=result, seconds=time.perf_counter() - start)


def common_spacing(reference_spacing, moving_spacing):
    """The one voxel size registration uses for both images."""
    if reference_spacing is None or moving_spacing is None:
        return reference_spacing if moving_spacing is None else moving_spacing
    if not np.allclose(reference_spacing, moving_spacing, rtol=1e-4, atol=0.0):
        raise ValueError(f"voxel sizes differ: {tuple(reference_spacing)} in the reference, "
                         f"{tuple(moving_spacing)} in the moving image; resample one to "
                         "the other's voxel size first")
    return reference_spacing


if __name__ == "__main__":
    sys.exit(main())

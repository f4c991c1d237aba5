"""The files of ``mireg batch``: the manifest, one row's work, ``results.csv``.

:func:`read_manifest` reads a CSV of image pairs; :func:`process_row` is
one row's work where it is scheduled (read, register, resample, write);
the ``results.csv`` records (:data:`RESULT_COLUMNS`) are written as rows
finish and read back by a re-run (:func:`read_results`,
:func:`is_finished`) so that it skips the rows already done.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import time

import numpy as np

from ..registration import register
from . import io

__all__ = ["RESULT_COLUMNS", "RESULTS_NAME", "Row", "read_manifest", "read_results", "process_row"]

RESULT_COLUMNS = (
    "reference",
    "moving",
    "output",
    "status",
    "error",
    "parameters",
    "matrix",
    "metric",
    "seconds",
)
RESULTS_NAME = "results.csv"
MANIFEST_COLUMNS = ("reference", "moving", "output")


@dataclasses.dataclass
class Row:
    """One manifest row: its key in results.csv and the absolute paths."""

    key: tuple  # (reference, moving, output) as the manifest names them
    reference_path: str  # absolute
    moving_path: str
    output_path: str


def read_manifest(path, out_dir):
    """The manifest's rows; raises ``ValueError`` naming the line at fault."""
    path = os.fspath(path)
    base = os.path.dirname(os.path.abspath(path))
    with open(path, newline="", encoding="utf-8-sig") as stream:
        reader = csv.DictReader(stream)
        columns = [c.strip() for c in reader.fieldnames or []]
        _check_columns(path, columns)
        lines = []
        for line in reader:
            _check_cells(path, line, reader.line_num)
            lines.append(
                ({k.strip(): (v or "").strip() for k, v in line.items()}, reader.line_num)
            )
    rows, outputs = [], {}
    for line, number in lines:
        if not any(line.values()):
            continue
        if not line["reference"] or not line["moving"]:
            raise ValueError(f"'{path}' line {number}: both reference and moving are needed")
        output = line.get("output") or default_output(line["moving"])
        row = Row(
            (line["reference"], line["moving"], output),
            os.path.join(base, line["reference"]),
            os.path.join(base, line["moving"]),
            _inside(out_dir, output, f"'{path}' line {number}"),
        )
        if row.output_path in outputs:
            raise ValueError(
                f"'{path}' lines {outputs[row.output_path]} and {number} both "
                f"write '{output}': give them different `output` names"
            )
        outputs[row.output_path] = number
        rows.append(row)
    if not rows:
        raise ValueError(f"'{path}' lists no image pairs")
    return rows


def _check_columns(path, columns):
    """ValueError unless the header names reference and moving, optionally
    output, each once, and nothing else: a column the run would ignore
    (a misspelt ``ouptut``, a ``spacing`` it does not read) is refused."""
    if "reference" not in columns or "moving" not in columns:
        raise ValueError(
            f"'{path}': a manifest needs the columns reference,moving[,output]; found {columns}"
        )
    unknown = [c for c in columns if c not in MANIFEST_COLUMNS]
    if unknown:
        raise ValueError(
            f"'{path}': unknown column(s) {unknown}; a manifest has the columns "
            "reference,moving[,output]"
        )
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise ValueError(f"'{path}': column(s) {repeated} appear more than once")


def _check_cells(path, line, number):
    """ValueError if a line has more cells than the header has columns
    (``csv.DictReader`` would file them under the key None)."""
    extra = [v for v in line.get(None) or [] if v and v.strip()]
    if extra:
        raise ValueError(
            f"'{path}' line {number}: {len(extra)} value(s) beyond the header's "
            f"columns ({extra}); quote a path that holds a comma"
        )


def _inside(out_dir, output, where):
    """The absolute path of ``output`` under ``out_dir``; ValueError if it
    is absolute or leaves the folder (``../x.png``): a batch run writes
    only under ``--out``.  The test is on the path's text, as written."""
    folder = os.path.abspath(out_dir)
    target = os.path.abspath(os.path.join(folder, output))
    if os.path.isabs(output) or not target.startswith(os.path.join(folder, "")):
        raise ValueError(
            f"{where}: output '{output}' is not a file inside the output folder "
            f"'{out_dir}'; give a path relative to it, without '..'"
        )
    return target


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
    return record is not None and record.get("status") == "ok" and os.path.exists(row.output_path)


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


def row_record(status, *, error="", result=None, seconds=math.nan):
    record = {
        "status": status,
        "error": error,
        "seconds": f"{seconds:.3f}",
        "parameters": "",
        "matrix": "",
        "metric": "",
        "skipped": False,
    }
    if result is not None:
        record.update(
            parameters=json.dumps(result.parameters.tolist()),
            matrix=json.dumps(result.matrix.tolist()),
            metric=repr(result.metric),
        )
    return record


def error_line(error):
    """A row's error for ``results.csv``: its type and message, on one line."""
    return f"{type(error).__name__}: {' '.join(str(error).split())}"


def process_row(reference, moving, output, options, order):
    """One manifest row, where it is scheduled: read, register, resample,
    write.  Any failure becomes the row's record, never raised."""
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
        like = dataclasses.replace(ref_info, dtype=mov_info.dtype, unit_range=mov_info.unit_range)
        io.write_image(
            output, result.warp(mov, order=order), like=like, spacing=options["spacing"]
        )
    except Exception as error:  # noqa: BLE001 -- recorded in results.csv
        return row_record("error", error=error_line(error), seconds=time.perf_counter() - start)
    return row_record("ok", result=result, seconds=time.perf_counter() - start)


def common_spacing(reference_spacing, moving_spacing):
    """The one voxel size registration uses for both images."""
    if reference_spacing is None or moving_spacing is None:
        return reference_spacing if moving_spacing is None else moving_spacing
    if not np.allclose(reference_spacing, moving_spacing, rtol=1e-4, atol=0.0):
        raise ValueError(
            f"voxel sizes differ: {tuple(reference_spacing)} in the reference, "
            f"{tuple(moving_spacing)} in the moving image; resample one to "
            "the other's voxel size first"
        )
    return reference_spacing

"""ITK's linear transform files: parsing the text format and the binary
MATLAB format into a homogeneous LPS matrix.

Used by :mod:`mireg.transform_files`.  Each supported type is a rotation,
scaling or full matrix ``A``, a translation ``t`` and a centre ``c`` (the
fixed parameters): ``x -> A (x - c) + c + t``, ITK's
``MatrixOffsetTransformBase`` family.  Checked against SimpleITK's
``TransformPoint`` for each type in the tests.
"""

from __future__ import annotations

import re

import numpy as np

__all__ = ["parse_itk_text", "itk_matrix", "read_itk_binary", "ITK_TYPE"]

ITK_TYPE = re.compile(r"^(\w+?)_(double|float)_(\d)_(\d)$")


def parse_itk_text(text, name):
    """``[(type, parameters, fixed parameters), ...]`` of an ITK text file."""
    entries = []
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "Transform":
            entries.append([value.strip(), None, None])
        elif key in ("Parameters", "FixedParameters") and entries:
            try:
                numbers = np.array(value.split(), dtype=np.float64)
            except ValueError:
                raise ValueError(f"`path` '{name}': {key} are not numbers") from None
            entries[-1][1 if key == "Parameters" else 2] = numbers
    if not text.lstrip().startswith("#Insight Transform File") or not entries:
        raise ValueError(f"`path` '{name}' is not an ITK transform file")
    return [(kind, params, fixed) for kind, params, fixed in entries]


def itk_matrix(entries, name):
    """The LPS homogeneous matrix of parsed ITK transforms (a composite
    applies its last transform first, as ITK's ``CompositeTransform``)."""
    if entries[0][0].startswith("CompositeTransform"):
        entries = entries[1:]
        if not entries:
            raise ValueError(f"`path` '{name}': an empty composite transform")
    elif len(entries) > 1:
        raise ValueError(f"`path` '{name}' holds {len(entries)} transforms, expected one")
    matrices = [_itk_entry(kind, params, fixed, name) for kind, params, fixed in entries]
    if len({m.shape for m in matrices}) > 1:
        raise ValueError(f"`path` '{name}' mixes transforms of different dimensions")
    total = np.eye(matrices[0].shape[0])
    for matrix in matrices:  # first listed is applied last
        total = total @ matrix
    return total


def read_itk_binary(name):
    """The LPS matrix of ITK's binary MATLAB transform file (ANTs' ``.mat``)."""
    from scipy import io as sio

    try:
        content = sio.loadmat(name)
    except Exception as error:  # scipy raises several types on a non-MATLAB file
        raise ValueError(
            f"`path` '{name}' is neither an FSL matrix nor an ITK MATLAB transform: "
            f"{' '.join(str(error).split()) or type(error).__name__}"
        ) from None
    kinds = [key for key in content if ITK_TYPE.match(key)]
    if len(kinds) != 1:
        raise ValueError(f"`path` '{name}': no single ITK transform in the MATLAB file")
    params = np.asarray(content[kinds[0]], dtype=np.float64).ravel()
    fixed = content.get("fixed")
    fixed = None if fixed is None else np.asarray(fixed, dtype=np.float64).ravel()
    return _itk_entry(kinds[0], params, fixed, name)


def _rotation_3d(angles, zyx):
    """ITK's ``Euler3DTransform``: Z X Y order (Z Y X with ``ComputeZYX``)."""
    cx, cy, cz = np.cos(angles)
    sx, sy, sz = np.sin(angles)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx if zyx else rz @ rx @ ry


def _versor(v):
    """Rotation of ITK's versor (the vector part of a unit quaternion)."""
    x, y, z = v
    w2 = 1.0 - (x * x + y * y + z * z)
    if w2 < -1e-9:
        raise ValueError("versor longer than 1")
    w = np.sqrt(max(w2, 0.0))
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def _rotation_2d(angle):
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s], [s, c]])


# type -> (dimension or None, parameter count (n = dimension), matrix and shift)
_ITK_KINDS = {
    "AffineTransform": (
        None,
        lambda n: n * n + n,
        lambda p, n: (p[: n * n].reshape(n, n), p[n * n :]),
    ),
    "MatrixOffsetTransformBase": (
        None,
        lambda n: n * n + n,
        lambda p, n: (p[: n * n].reshape(n, n), p[n * n :]),
    ),
    "TranslationTransform": (None, lambda n: n, lambda p, n: (np.eye(n), p)),
    "IdentityTransform": (None, lambda n: 0, lambda p, n: (np.eye(n), np.zeros(n))),
    "Euler2DTransform": (2, lambda n: 3, lambda p, n: (_rotation_2d(p[0]), p[1:3])),
    "Rigid2DTransform": (2, lambda n: 3, lambda p, n: (_rotation_2d(p[0]), p[1:3])),
    "Similarity2DTransform": (2, lambda n: 4, lambda p, n: (p[0] * _rotation_2d(p[1]), p[2:4])),
    "VersorRigid3DTransform": (3, lambda n: 6, lambda p, n: (_versor(p[:3]), p[3:6])),
    "Similarity3DTransform": (3, lambda n: 7, lambda p, n: (p[6] * _versor(p[:3]), p[3:6])),
}


def _itk_entry(kind, params, fixed, name):
    match = ITK_TYPE.match(kind)
    if match is None or match.group(3) != match.group(4):
        raise ValueError(f"`path` '{name}': unsupported transform type {kind!r}")
    base, n = match.group(1), int(match.group(3))
    params = np.zeros(0) if params is None else params
    fixed = np.zeros(0) if fixed is None else fixed
    if base == "Euler3DTransform" and n == 3:
        if params.size != 6:
            raise ValueError(f"`path` '{name}': {kind} needs 6 parameters, got {params.size}")
        zyx = fixed.size > 3 and fixed[3] != 0
        linear, shift = _rotation_3d(params[:3], zyx), params[3:6]
    elif base in _ITK_KINDS and _ITK_KINDS[base][0] in (None, n):
        _, count, build = _ITK_KINDS[base]
        if params.size != count(n):
            raise ValueError(
                f"`path` '{name}': {kind} needs {count(n)} parameters, got {params.size}"
            )
        linear, shift = build(params, n)
    else:
        raise ValueError(f"`path` '{name}': unsupported transform type {kind!r}")
    # ITK: x -> A (x - c) + c + t, the centre c in the fixed parameters
    center = fixed[:n] if fixed.size >= n else np.zeros(n)
    matrix = np.eye(n + 1)
    matrix[:n, :n] = linear
    matrix[:n, n] = shift + center - linear @ center
    if not np.all(np.isfinite(matrix)):
        raise ValueError(f"`path` '{name}': the transform holds NaN or inf")
    return matrix

"""The batch benchmark's pairs: images of known rigid motion.

Used by ``benchmarks/report/report_batch.py``.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from skimage import color, data, transform

from benchmarks.cases import compile_mireg
from mireg import transforms as tf

compile_mireg()


def make_pairs(n_pairs, size, seed=2024):
    """``n_pairs`` (reference, moving, truth) of known rigid motion."""
    rng = np.random.default_rng(seed)
    sources = [
        data.camera() / 255.0,
        data.moon() / 255.0,
        data.coins() / 255.0,
        color.rgb2gray(data.astronaut()),
    ]
    references = [transform.resize(s, (size, size), anti_aliasing=True) for s in sources]
    center = np.full(2, (size - 1) / 2)
    grid = tf.grid_to_physical(np.ones(2), np.zeros(2))
    pairs = []
    for i in range(n_pairs):
        reference = references[i % len(references)]
        params = (np.deg2rad(rng.uniform(-20, 20)),) + tuple(rng.uniform(-0.06, 0.06, 2) * size)
        truth = tf.index_matrix(tf.physical_matrix(params, 2, "rigid", center), grid, grid)
        moving = ndi.affine_transform(reference, np.linalg.inv(truth), order=3)
        pairs.append((reference, moving, truth))
    return pairs


def mean_error(matrix, truth, shape):
    """Mean distance (pixels) between two index-order maps over the grid."""
    idx = np.indices(shape).reshape(len(shape), -1).astype(float)
    h = np.vstack([idx, np.ones(idx.shape[1])])
    return float(np.mean(np.linalg.norm((matrix @ h - truth @ h)[:-1], axis=0)))

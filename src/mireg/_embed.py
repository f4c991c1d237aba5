"""2-D data as 3-D for the kernels, which take one layout for both: an
image as one plane, matrices with the identity on the unused first axis."""

import numpy as np


def embed3(array):
    """A 2-D array as a (1, rows, cols) view; a 3-D one as it is."""
    return array.reshape((1,) + array.shape) if array.ndim == 2 else array


def embed_linear(matrix):
    """ndim-square matrix -> 3x3, identity on the unused axis."""
    ndim = matrix.shape[0]
    out = np.eye(3)
    out[3 - ndim :, 3 - ndim :] = matrix
    return out


def embed_affine(matrix):
    """(ndim+1)-square homogeneous matrix -> 4x4, identity on unused axes."""
    ndim = matrix.shape[0] - 1
    out = np.eye(4)
    out[3 - ndim : 3, 3 - ndim : 3] = matrix[:ndim, :ndim]
    out[3 - ndim : 3, 3] = matrix[:ndim, ndim]
    return out

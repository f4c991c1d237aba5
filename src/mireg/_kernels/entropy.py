"""Entropies of a joint histogram, weighted as ``np.histogramdd(...,
density=True)`` weighs its bins (scikit-image's NMI).

``entropies`` serves every information measure: ``edge_entropies``, of the
counts of ``histogram.joint_histogram`` on the edges they were binned on
(``mireg.mutual_information``, ``mireg.alignment``),
``mireg._information.information_from_counts`` (``AlignmentMetric``) and
the registration cost kernel (``cost``)."""

import numpy as np
from numba import njit

from .jit import CALLEE


@njit(cache=True, nogil=True)
def entropies(counts, widths0, widths1, log_table):
    """Marginal and joint entropies (H0, H1, H01) of a joint histogram.

    As ``scipy.stats.entropy`` of ``np.histogramdd(..., density=True)``:
    each count ``c`` is divided by its bin's widths, ``d = c / w0 / w1``,
    before normalising, so unequal bin widths (edges rounded to float32 or
    float16) weigh exactly as they do in scikit-image's NMI.  With
    ``T = sum(d)``, ``H = log T - sum(d log d) / T``, and
    ``log d = log c - log w0 - log w1`` with ``log c`` read from
    ``log_table`` (``log_table[c] == log(c)``) for the counts it covers:
    a log per occupied bin would otherwise cost more than the binning.
    """
    n0, n1 = counts.shape
    log_w0 = _logs(widths0)
    log_w1 = _logs(widths1)
    marginal0 = np.zeros(n0)
    marginal1 = np.zeros(n1)
    table_size = log_table.size
    n_occupied = 0
    total = 0.0
    d_log_d = 0.0
    for i in range(n0):
        w0 = widths0[i]
        row = 0.0
        for j in range(n1):
            c = counts[i, j]
            if c != 0:
                d = c / w0 / widths1[j]
                log_c = log_table[c] if c < table_size else np.log(np.float64(c))
                n_occupied += 1
                row += d
                marginal1[j] += d
                d_log_d += d * (log_c - log_w0[i] - log_w1[j])
        marginal0[i] = row
        total += row
    log_total = np.log(total)
    return (
        _marginal_entropy(marginal0, total, log_total),
        _marginal_entropy(marginal1, total, log_total),
        _single_bin_or(log_total - d_log_d / total, n_occupied),
    )


@njit(cache=True, nogil=True, **CALLEE)
def _logs(values):
    # np.log of each value by a scalar loop (the same bits): the array
    # expression would compile NumPy's ufunc machinery into every kernel
    # that computes entropies
    out = np.empty(values.size)
    for i in range(values.size):
        out[i] = np.log(values[i])
    return out


@njit(cache=True, nogil=True, inline="always")
def _single_bin_or(entropy, n_occupied):
    # one occupied bin: exactly 0 (log T - d log d / T rounds to ~1e-16)
    return 0.0 if n_occupied == 1 else entropy


@njit(cache=True, nogil=True, **CALLEE)
def _marginal_entropy(marginal, total, log_total):
    acc = 0.0
    n_occupied = 0
    for m in marginal:
        if m > 0.0:
            acc += m * np.log(m)
            n_occupied += 1
    return _single_bin_or(log_total - acc / total, n_occupied)


@njit(cache=True, nogil=True)
def edge_entropies(counts, edges0, edges1, log_table):
    """``entropies`` of ``counts`` binned on ``edges0`` x ``edges1`` (float32
    or float64), with the widths ``np.diff(edges)`` in the edges' dtype, as
    ``np.histogramdd(..., density=True)`` divides by them."""
    return entropies(counts, _widths(edges0), _widths(edges1), log_table)


@njit(cache=True, nogil=True, inline="always")
def _widths(edges):
    """``np.diff(edges)`` (in the edges' dtype) as float64."""
    widths = np.empty(edges.size - 1)
    for k in range(widths.size):
        widths[k] = edges[k + 1] - edges[k]
    return widths

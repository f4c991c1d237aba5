"""``AlignmentMetric``: Pluim's measure against one fixed reference image.

The reference's smoothed gradients and histogram bins are prepared once;
each call smooths and bins only the moving image:

* the gradient term is ``_fused.fused_sum`` with the reference's gradient
  given (``_fused.stacked_sum`` above three dimensions), as in
  :mod:`mireg.gradient`;
* the information term bins the moving image against the reference's
  bins (``_kernels.binned``), after a masked range pass
  (``_kernels.ranges``) unless the gradient pass found the range, and
  takes the entropies of ``_information.information_from_counts``.
"""

from __future__ import annotations

import numpy as np

from ._fused import check_axes, fused_sum, gradient_stack, half_kernel, stacked_sum
from ._information import histogram_edges, information_from_counts, kernel_edges
from ._kernels import binned, ranges
from ._parallel import run_kernel
from ._validation import as_image, bins_pair, check_finite, kernel_view, positive_float

__all__ = ["AlignmentMetric"]


class AlignmentMetric:
    """:func:`alignment` against a fixed reference image, for many moving images.

    The reference's smoothed gradient and its histogram bins are computed
    once, here; each call then smooths only the moving image and bins only
    its values: for comparing many images, already on the reference's
    grid, to one.  :func:`mireg.register` maximises the same measure but
    does not call this class: its own fused cost kernel warps the moving
    image and evaluates the measure in the same pass.

    Parameters
    ----------
    reference : ndarray
        The fixed image: any number of dimensions, at least 2 samples along
        every axis, any real or boolean dtype, finite.  Read here and not
        kept: later changes to it are not seen.
    sigma : float, optional
        Gaussian scale of the gradients, in pixels.
    bins : int or (int, int), optional
        Number of bins of the joint histogram along each axis.
    normalized : bool, optional
        Whether the information term of :meth:`__call__` is the normalised
        mutual information (default) or the plain one.
    mask : ndarray of bool, optional
        Of the reference's shape: only pixels where it is True enter the
        joint histogram (and so the bin ranges) and the gradient sum.  The
        gradients themselves are still those of the whole images.  None
        (default) counts every pixel.

    Raises
    ------
    ValueError
        As :func:`alignment` for the reference (naming ``reference``), a
        mask of another shape or selecting no pixel (naming ``mask``).

    Notes
    -----
    With ``mask=None``, ``metric(moving)`` equals
    ``alignment(reference, moving, sigma=sigma, bins=bins,
    normalized=normalized)`` (the gradient term to the bit, the NMI to
    ~1e-15: it is scikit-image's).  With a mask, it equals the information
    of ``reference[mask]`` and ``moving[mask]`` times the sum of
    ``gradient_similarity(reference, moving)[mask]``.

    As in ``np.histogramdd``, the reference's bin edges are built in the
    dtype the two images' values promote to; they are kept per promoted
    dtype (one, float64, for the usual interpolated moving images).

    Examples
    --------
    >>> import numpy as np
    >>> from mireg import AlignmentMetric, alignment
    >>> rng = np.random.default_rng(0)
    >>> fixed = rng.random((64, 64))
    >>> metric = AlignmentMetric(fixed, sigma=1.5)
    >>> shifted = [np.roll(fixed, s, axis=0) for s in range(3)]
    >>> [round(metric(m), 6) == round(alignment(fixed, m), 6) for m in shifted]
    [True, True, True]
    """

    def __init__(self, reference, *, sigma=1.5, bins=100, normalized=True, mask=None):
        ref = as_image(reference, "reference")
        self.sigma = positive_float(sigma, "sigma")
        self.bins = bins_pair(bins)
        self.normalized = bool(normalized)
        check_axes(ref.shape, ("reference",))
        check_finite(ref, "reference")
        self.shape = ref.shape
        self._dtype = ref.dtype
        self._values = np.array(kernel_view(ref).reshape(-1), copy=True)
        self._mask = self._flat_mask(mask)
        self._half = half_kernel(self.sigma)
        stack = gradient_stack(ref, self.sigma)
        if ref.ndim == 1:  # the kernel sees a (1, n) image: no axis-0 component
            stack = np.concatenate([np.zeros_like(stack), stack])
        self._gradient = stack
        self._range0 = self._range(self._values, "reference")
        self._bins0 = {}
        self._reference_bins(np.result_type(self._dtype, np.float64))

    def _flat_mask(self, mask):
        if mask is None:
            return np.empty(0, np.uint8)
        m = np.asarray(mask)
        if m.dtype != np.bool_:
            raise TypeError(f"`mask` must be a boolean array, got dtype {m.dtype}")
        if m.shape != self.shape:
            raise ValueError(f"`mask` must have the reference's shape {self.shape}, got {m.shape}")
        if not m.any():
            raise ValueError("`mask` selects no pixel")
        return np.ascontiguousarray(m).reshape(-1).view(np.uint8)

    def _range(self, values, name):
        """(min, max) of the counted values; ValueError naming ``name`` if
        any value is NaN or inf."""
        lo, hi, finite, _ = run_kernel(
            ranges.masked_range, ranges.masked_range_parallel, values, self._mask, size=values.size
        )
        if not finite:
            check_finite(values, name)
        return lo, hi

    def _reference_bins(self, common):
        """(edges, bins of the reference's pixels) for the promoted dtype."""
        cached = self._bins0.get(common)
        if cached is None:
            edges = histogram_edges(*self._range0, common, self.bins[0])
            bins = binned.bin_indices(self._values, kernel_edges(edges), self._mask)
            cached = self._bins0[common] = (edges, bins)
        return cached

    def _moving(self, moving):
        m = as_image(moving, "moving")
        if m.shape != self.shape:
            raise ValueError(
                f"`moving` must have the reference's shape {self.shape}, got {m.shape}"
            )
        return m, kernel_view(m).reshape(-1)

    def _information(self, m, values, normalized, moving_range=None):
        """MI (NMI if ``normalized``) of the reference and a validated
        moving image, ``moving_range`` its (min, max) if already known."""
        edges0, bins0 = self._reference_bins(np.result_type(self._dtype, m.dtype))
        lo, hi = moving_range if moving_range else self._range(values, "moving")
        edges1 = histogram_edges(lo, hi, np.result_type(self._dtype, m.dtype), self.bins[1])
        counts = run_kernel(
            binned.joint_histogram_binned,
            binned.joint_histogram_binned_parallel,
            bins0,
            self.bins[0],
            values,
            kernel_edges(edges1),
            size=values.size,
        )
        return information_from_counts(counts, edges0, edges1, normalized, ("reference", "moving"))

    def _fused(self, m, values, track=False):
        """``fused_sum`` of the reference's gradient and a validated moving
        image of at most 3 dimensions (``track``: also its range)."""
        g = self._gradient.reshape(self._gradient.shape[0], -1)
        result = fused_sum(
            values,
            values,
            g,
            self.shape,
            self._half,
            values.dtype.kind == "f",
            self._mask,
            np.empty(0),
            track,
        )
        if not result.finite:
            check_finite(m, "moving")
        return result

    def _gradient_sum(self, m, values):
        """G of the reference and a validated moving image."""
        if m.ndim > 3:
            check_finite(m, "moving")
            return stacked_sum(self._gradient, gradient_stack(m, self.sigma), self._mask)
        return float(self._fused(m, values).total)

    def mutual_information(self, moving):
        """The information term of :meth:`__call__`: NMI if ``normalized``,
        else MI (nats), of the reference and ``moving`` (masked)."""
        m, values = self._moving(moving)
        return self._information(m, values, self.normalized)

    def nmi(self, moving):
        """Normalised mutual information of the reference and ``moving``
        (masked), in [1, 2]."""
        m, values = self._moving(moving)
        return self._information(m, values, True)

    def gradient_information(self, moving):
        """Gradient information G of the reference and ``moving``, summed
        over the mask."""
        m, values = self._moving(moving)
        return self._gradient_sum(m, values)

    def __call__(self, moving):
        """``mutual_information(moving) * gradient_information(moving)``."""
        m, values = self._moving(moving)
        if self._mask.size or m.ndim > 3:
            information = self._information(m, values, self.normalized)
            return float(information * self._gradient_sum(m, values))
        # the gradient pass finds the moving range the histogram needs
        fused = self._fused(m, values, track=True)
        information = self._information(m, values, self.normalized, fused.range_b)
        return float(information * float(fused.total))

    def __repr__(self):
        return (
            f"AlignmentMetric(reference of shape {self.shape}, sigma={self.sigma}, "
            f"bins={self.bins}, normalized={self.normalized}, "
            f"mask={'None' if not self._mask.size else 'given'})"
        )

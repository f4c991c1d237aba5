"""Tuning constants, in one place.

None of these changes a result: they choose between code paths that give
the same bits (serial or parallel, block sizes, chunk sizes) or set the
registration's defaults.  What each was measured to do is recorded in
``docs/performance.md``.

The constants under "compiled into the kernels" are read by Numba when it
compiles, and its on-disk cache does not notice when they change: after
editing one, delete ``src/mireg/_kernels/__pycache__``.
"""

# ---- when a parallel kernel pays (see _parallel.py) -------------------------

# Histogram and range kernels (metrics.py): below this many pixels a parallel
# launch and one private histogram per thread cost more than they save.
PARALLEL_MIN_SIZE = 1 << 16

# The fused gradient kernels (gradient.py, alignment_metric.py) cost several
# ns a pixel, so two threads pay from far fewer pixels; this keeps small
# images off the shared thread pool.
GRADIENT_PARALLEL_MIN_SIZE = 1 << 13

# A registration cost evaluation runs on both cores from this many samples.
PARALLEL_MIN_SAMPLES = 1 << 13

# A pyramid level's preparation (resizing both images, the moving image's
# B-spline coefficients and gradients, the reference's sample table) runs its
# independent steps on both cores from this many pixels of the two images.
PREP_PARALLEL_MIN_SIZE = 1 << 18

# A moving image's cubic B-spline coefficients come from mireg's kernel for
# every axis but the last from this many pixels (scipy's filter reads the
# other axes' lines one strided value at a time); smaller images go to scipy
# whole, the same bits, without compiling the kernel.
BSPLINE_KERNEL_MIN_SIZE = 1 << 18

# A level's linear resize reads the smoothed samples itself (mireg's kernel,
# scipy's bits) from this many pixels of the image; smaller images go through
# scipy's zoom on a full-size copy, without compiling the kernel.
ZOOM_KERNEL_MIN_SIZE = 1 << 18

# The metric kernels' NumPy twins (_twins.py) answer a process's first metric
# calls on inputs of up to TWIN_MAX_SIZE values, until they have run for
# TWIN_BUDGET_SECONDS (about what loading the kernels from a warm cache costs);
# the kernels compile then.
TWIN_MAX_SIZE = 1 << 20
TWIN_BUDGET_SECONDS = 0.25

# A process's first registrations run scipy's Powell on serial evaluations
# (the kernels the global search compiles anyway) and NumPy twins of the
# levels' preparation instead of compiling Numba's Powell, the parallel cost
# kernel and the preparation's kernels, until they have run for
# REGISTER_TWIN_BUDGET_SECONDS; the same bits either way.  Long enough for a
# first 2-D and a first small 3-D register; short, because on a warm cache
# the slower twin path costs a fraction of it once per process
# (docs/performance.md, "Sixth pass").
REGISTER_TWIN_BUDGET_SECONDS = 4.0

# What the serial metric kernels cost, in seconds per pixel: a parallel run
# several times slower than this means the machine is busy.
SERIAL_RANGE_SECONDS = 0.7e-9  # both images' range scans
SERIAL_PAIR_SECONDS = 2.0e-9  # binning one value pair

# Back-off after a stalled parallel launch: serial for BACKOFF_MIN_SECONDS,
# doubling while stalls repeat, up to BACKOFF_MAX_SECONDS.  A launch is
# stalled when it takes more than STALLED times the serial estimate plus
# STALL_SLACK (waking idle threads costs a little even on a quiet machine).
BACKOFF_MIN_SECONDS = 0.1
BACKOFF_MAX_SECONDS = 2.0
STALLED = 3.0
STALL_SLACK = 0.5e-3

# ---- registration defaults ----------------------------------------------------

# Reference samples per pyramid level at most, by ndim (register's
# max_samples): (every level above the finest, the finest).  A volume's
# coarse levels only hand a start on, and sparser grids there cost its answer
# nothing measurable now that its finest level's cost is smooth
# (docs/performance.md, issue 15); an image samples every level alike.
DEFAULT_MAX_SAMPLES = {2: (1 << 15, 1 << 15), 3: (1 << 14, 1 << 16)}

# Histogram bins per image on the finest level, by ndim (register's bins).
# A volume's finest level has 2^16 samples, enough to fill 64 bins, and with
# its windowed histogram they end closer to the true pose; on images 32 are as
# accurate and cheaper (docs/performance.md, issue 15 goal 1).
DEFAULT_BINS = {2: 32, 3: 64}

# A cost evaluation with fewer overlapping samples than this fraction of the
# level's samples counts as "no overlap".
MIN_OVERLAP_FRACTION = 0.05

# Powell's line-search tolerance, in pixels of the level: on coarse levels
# (times the shrink factor), and on the finest level, whose answer is the
# result.
COARSE_XTOL = 0.05
FINEST_XTOL = 0.01

# A volume's finest level: COBYQA's first trust-region radius, in pixels
# (the level above leaves its answer within ~0.1-0.2 pixel of this one's);
# its last radius is FINEST_XTOL.
FINEST_TRUST_RADIUS = 0.3
# ... and only from this many samples: COBYQA's own arithmetic per step
# costs about what an evaluation of ~2^14 samples does, so on smaller levels
# its fewer evaluations save nothing (docs/performance.md, issue 15).
TRUST_REGION_MIN_SAMPLES = 1 << 15

# A volume's levels score Pluim's measure with G's weight lowered,
# NMI * G**VOLUME_GRADIENT_POWER: G's own peak lies off the true pose where
# the two images' gradient magnitudes differ (the smaller magnitude moves
# with the pose; docs/performance.md, issue 15), and on a smooth volume
# NMI's flat peak lets it pull the answer by a tenth of a voxel.  Images
# keep the product (their finest level counts whole bins, where G's sharper
# peak measured better).
VOLUME_GRADIENT_POWER = 0.25

# Seed of the reference samples' jitter within their grid cells.
JITTER_SEED = 20001

# Powell iterations at most on every level but the finest: a coarse level
# only hands a start to the next one.
COARSE_MAXITER = 3

# register_stack(search="auto"): a frame whose local answer scores below the
# series' median metric by more than this many scaled median absolute
# deviations (and by at least this fraction of the median) gets the global
# search too; with fewer frames than this to compare, every frame gets it.
STACK_OUTLIER_MADS = 5.0
STACK_OUTLIER_FRACTION = 0.005
STACK_OUTLIER_MIN_FRAMES = 4
# register_stack(search="local"): the coarse levels added for reach keep at
# least this many pixels along the longest side, by ndim (the global
# search's level has 16-31 in 2-D, 10-19 in 3-D).
LOCAL_COARSEST_SIDE = {2: 16, 3: 12}
# register_stack(search="local"): reference samples at most on every level but
# the finest (a 64 x 64 x 36 volume's 1/2 level: 2304 of its 18432 voxels).
LOCAL_COARSE_SAMPLES = 1 << 14

# ---- compiled into the kernels --------------------------------------------------

# Samples per partial sum of G in the registration cost: chunks are dealt to
# threads whole, so the serial and parallel sums add the same partials.
G_CHUNK = 1024

# The registration cost's histogram weight of one sample (fixed point: a
# sample's weight is split between two bins in units of 1 / WEIGHT_ONE).
WEIGHT_ONE = 1 << 20

# Histogram binning: pairs binned per vectorised block; pairs counted in int32
# before a flush to int64; chunks of at least HISTOGRAM_MANY_COPIES pairs count
# into four interleaved tables.
HISTOGRAM_BLOCK = 2048
HISTOGRAM_FLUSH = 1 << 30
HISTOGRAM_MANY_COPIES = 1 << 15

# Gaussian: the outputs of a line computed per tap sweep (they stay in L1),
# and the samples of the generic per-axis pass handled per block of rows.
GAUSSIAN_SEGMENT = 512
GAUSSIAN_BLOCK_SAMPLES = 4096

# A Gaussian pass along the last axis at picked samples only (a pyramid
# level's reads) sweeps runs of consecutive picks as vectors when they are
# this long on average.  Shorter runs: the whole line is swept when the
# picks are at least 1/PICKED_DENSE of it (every other pair of a 1/4
# level), else they go one pick at a time (a sample grid's rows).
PICKED_RUN = 16
PICKED_DENSE = 8
# Along a slower axis, the pass works in column strips whose input window
# (2r + 1 lines of the strip) is at most this many samples (1 MiB).
PICKED_WINDOW = 1 << 17

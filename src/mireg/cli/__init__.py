"""The ``mireg`` command-line application, built on the library.

* :mod:`mireg.cli.app` -- argument parsing and the commands ``demo``,
  ``register``, ``apply``, ``bench`` and ``batch``; :func:`main` is the
  console script ``mireg`` (and ``python -m mireg``);
* :mod:`mireg.cli.apply` -- ``mireg apply``: an image resampled through a
  saved transform file (mireg's, SimpleITK's, ANTs' or FSL's);
* :mod:`mireg.cli.grids` -- each file's voxel -> world grid (NIfTI header,
  checked) and a registration's world matrix;
* :mod:`mireg.cli.errors` -- exit statuses and one-line error reports;
* :mod:`mireg.cli.batch` -- ``mireg batch``: :func:`~mireg.cli.batch.run_manifest`
  registers the pairs of a CSV manifest (``python -m mireg.cli.batch``
  runs the command on its own);
* :mod:`mireg.cli.manifest` -- the manifest, one row's work and
  ``results.csv``;
* :mod:`mireg.cli.demo` -- ``mireg demo``: the astronaut rotated by 40
  degrees plus noise, registered, and its figures;
* :mod:`mireg.cli.bench` -- ``mireg bench``: the metric implementations
  timed side by side;
* :mod:`mireg.cli.io` -- reading and writing image and volume files.

The library never imports this package.
"""

from .app import main

__all__ = ["main"]

"""How the ``mireg`` commands end: exit statuses and one-line errors.

A user's mistake (a missing or unreadable file, a rejected input or
option, an optional package not installed) is one line on stderr,
``mireg: error: ...``, with exit status 2, never a traceback; set
``MIREG_DEBUG=1`` to see the traceback anyway.  Ctrl-C is status 130.
"""

from __future__ import annotations

import os
import sys

__all__ = ["EXIT_USAGE", "USER_ERRORS", "run_reporting_errors"]

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
# what a user's mistake raises: bad paths, unreadable files, rejected
# inputs or options, optional packages not installed
USER_ERRORS = (OSError, ValueError, TypeError, ImportError, MemoryError)


def one_line(error):
    """``error``'s message on one line (its type's name if it has none)."""
    text = " ".join(str(error).split())
    if isinstance(error, MemoryError):
        return f"not enough memory{': ' + text if text else ''}"
    return text or type(error).__name__


def run_reporting_errors(handler, args):
    """``handler(args)``'s exit status; a user's mistake (``USER_ERRORS``)
    printed in one line with status 2 instead of a traceback (unless
    ``MIREG_DEBUG`` is set), Ctrl-C as status 130."""
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("mireg: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except USER_ERRORS as error:
        if os.environ.get("MIREG_DEBUG"):
            raise
        print(f"mireg: error: {one_line(error)}", file=sys.stderr)
        return EXIT_USAGE

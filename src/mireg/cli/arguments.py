"""argparse value types shared by the commands: each raises
``argparse.ArgumentTypeError`` with a message that names the bad value."""

from __future__ import annotations

import argparse
import math


def integer_at_least(minimum):
    """A type for integers >= ``minimum``."""

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    return parse


def _finite_float(text, allow_zero):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise argparse.ArgumentTypeError(f"must be finite and {bound}, got {text}")
    return value


def positive_float(text):
    """A finite float > 0."""
    return _finite_float(text, allow_zero=False)


def nonnegative_float(text):
    """A finite float >= 0."""
    return _finite_float(text, allow_zero=True)

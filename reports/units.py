"""Numbers in human units, the unit read from the schema's table of metrics
(schema.unit_of: a metric's own unit, else the unit whose suffix ends the
column, ``_bytes``, ``_s``, ``_per_s``, ``_x``): shared by tables and figure
axes so they read alike."""

from __future__ import annotations

import math
from collections.abc import Sequence

from schema import unit_of

BINARY = ((2.0**40, "Ti"), (2.0**30, "Gi"), (2.0**20, "Mi"), (2.0**10, "Ki"))
DECIMAL = ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))
SUBSECOND = ((1.0, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n"))
#: the prefixes of each of schema.SCALES that has them
PREFIXES = {"binary": BINARY, "decimal": DECIMAL, "subsecond": SUBSECOND}


def scale(value: float, steps: Sequence[tuple[float, str]]) -> tuple[float, str]:
    """The divisor and prefix ``value`` is shown with."""
    for size, prefix in steps:
        if abs(value) >= size:
            return size, prefix
    return 1.0, ""


def scaled(value: float, steps: Sequence[tuple[float, str]], unit: str) -> str:
    size, prefix = scale(value, steps)
    return f"{value / size:.3g} {prefix}{unit}"


def two_decimals(value: float) -> str:
    return f"{value:.2f}" if round(value, 2) else "0.00"  # never "-0.00"


def human(column: str, value: float) -> str:
    """``value`` of ``column`` with its unit: 1.5 MiB, 2 ms, 3 k/s, 0.52×."""
    if math.isnan(value):
        return "N/A"
    unit = unit_of(column)
    if unit is not None and unit.scale in PREFIXES:
        if not value:
            return f"0 {unit.symbol}"
        return scaled(value, PREFIXES[unit.scale], unit.symbol)
    if unit is not None and unit.scale == "two_decimals":
        return two_decimals(value) + unit.symbol
    if float(value).is_integer():
        return f"{int(value)}"
    return f"{value:.3g}"


def length_label(value: float) -> str:
    """Sequence lengths as 256, 1k, 64k."""
    if value >= 1024 and value % 1024 == 0:
        return f"{value / 1024:g}k"
    return f"{value:g}"


def interval(column: str, value: float, low: float, high: float) -> str:
    """The ends of ``value``'s interval in its own scale and without the unit
    (the value carries it): '[1.18, 1.31]' beside '1.23 ms'; empty where an
    end is missing."""
    if any(math.isnan(v) for v in (value, low, high)):
        return ""
    unit = unit_of(column)
    if unit is not None and unit.scale in PREFIXES:
        size, _ = scale(value, PREFIXES[unit.scale])
        return f"[{short(low / size)}, {short(high / size)}]"
    if unit is not None and unit.scale == "two_decimals":
        return f"[{two_decimals(low)}, {two_decimals(high)}]"
    return f"[{short(low)}, {short(high)}]"


def short(value: float) -> str:
    """Three significant digits, never in exponent form: 0.91, 12.3, 1090."""
    if value and abs(value) < 1e-3:
        return f"{value:.2g}"
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"

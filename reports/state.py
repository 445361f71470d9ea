"""Whether a mixer's decoding state is fixed in size or grows with the
length, read from the points and never from the mixer's name:

1. the ``fixed_state`` its class declared, which the suite saves on every point;
2. in runs older than that field, its measured ``state_bytes`` at two
   lengths or more (accuracy points, else decode points, at one width);
3. else unknown (None), said so.

    fixed, how = fixed_state_of(mixer, points)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from schema import Workload

from .units import length_label

#: a state that grows less than this over the lengths it was measured at is fixed
FIXED_STATE_GROWTH = 1.05


def fixed_state_of(mixer: str, points: pd.DataFrame) -> tuple[bool | None, str]:
    """(whether ``mixer``'s decoding state is fixed, how that is known);
    (None, why) where the points cannot tell."""
    mine = points[points["mixer"] == mixer]
    declared = declared_state(mine)
    if declared is not None:
        return declared, "its class declares a fixed state" if declared else (
            "its class declares a state that grows with the length"
        )
    measured = measured_state(mine)
    if measured is not None:
        return measured
    return None, "unknown: no fixed_state recorded and no state_bytes at two lengths"


def declared_state(mine: pd.DataFrame) -> bool | None:
    """The ``fixed_state`` the points of one mixer carry, where they agree."""
    if "fixed_state" not in mine.columns:
        return None
    values = {bool(v) for v in mine["fixed_state"] if isinstance(v, bool | np.bool_)}
    return values.pop() if len(values) == 1 else None


def measured_state(mine: pd.DataFrame) -> tuple[bool, str] | None:
    """Fixed or growing from one mixer's state_bytes at two lengths or more."""
    if "state_bytes" not in mine.columns:
        return None
    mine = mine[pd.to_numeric(mine["state_bytes"], errors="coerce") > 0]
    for workload in (Workload.ACCURACY, Workload.DECODE):
        rows = mine[mine["workload"] == workload]
        for _, same in rows.groupby(["d_model", "n_layers", "batch"], dropna=False):
            by_length = same.groupby("seq_len")["state_bytes"].median().sort_index()
            if len(by_length) < 2:
                continue
            growth = by_length.iloc[-1] / by_length.iloc[0]
            span = f"L={length_label(by_length.index[0])}–{length_label(by_length.index[-1])}"
            if growth <= FIXED_STATE_GROWTH:
                return True, f"state_bytes constant over {span}"
            return False, f"state_bytes grows {growth:.1f}× over {span}"
    return None

"""Where the report's claims come from, gathered in one call and nowhere
else: the shipped families' (family_claims.py) and those of plugged-in
families, each an entry point of the ``mixbench.claims`` group named after
its family that points at a sequence of claims or at a callable returning
one. Nothing registers itself on import.

    table = claims_table(points, fit, all_claims())
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from importlib import metadata

from .claims import Claim
from .family_claims import FAMILY_CLAIMS

ENTRY_POINT_GROUP = "mixbench.claims"


class ClaimsPluginWarning(UserWarning):
    """An entry point of the mixbench.claims group that could not be loaded."""


def entry_point_claims() -> dict[str, list[Claim]]:
    """Claims from the ``mixbench.claims`` entry-point group, by family; an
    entry that does not load is warned about and left out."""
    found: dict[str, list[Claim]] = {}
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            value = entry.load()
            claims = list((value() if callable(value) else value) or [])
            if not all(isinstance(c, Claim) for c in claims):
                raise TypeError("it must give reports.claims.Claim objects")
        except Exception as error:  # a broken plugin must not break the report
            warnings.warn(
                f"claims entry point {entry.name!r} ({entry.value}) was not loaded: {error}",
                ClaimsPluginWarning,
                2,
            )
            continue
        found.setdefault(entry.name, []).extend(claims)
    return found


def all_claims() -> dict[str, Sequence[Claim]]:
    """Every family's claims: those shipped, then those of entry points."""
    merged: dict[str, list[Claim]] = {family: list(c) for family, c in FAMILY_CLAIMS.items()}
    for family, claims in entry_point_claims().items():
        merged.setdefault(family, []).extend(claims)
    return merged

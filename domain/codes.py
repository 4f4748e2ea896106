"""The administrative codes of the map: a 15-digit grid code starts with its 12-digit community
code (district 6 · subdistrict 3 · community 3 · grid 3), so either is read off the other."""

from __future__ import annotations

SUBDISTRICT_CODE_LENGTH = 9
COMMUNITY_CODE_LENGTH = 12
GRID_CODE_LENGTH = 15


def community_code_of(grid_code: str) -> str:
    """The community code a grid code begins with (the map loader refuses any other)."""
    return grid_code[:COMMUNITY_CODE_LENGTH]


def subdistrict_code_of(code: str) -> str:
    """The subdistrict (街道) code a grid or community code begins with (district · subdistrict)."""
    return code[:SUBDISTRICT_CODE_LENGTH]

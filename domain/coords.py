"""Conversions between the coordinate systems that phones in China report.

* ``wgs84`` — GPS / WGS-84 longitude and latitude; what the grid map is stored in.
* ``gcj02`` — the "Mars" datum of the national surveying bureau (Amap, Tencent, Apple in China).
  It is WGS-84 plus a smooth, deliberately obfuscating offset of a few hundred metres.
* ``bd09`` — Baidu's datum, a further offset on top of GCJ-02.

The forward formulas are the widely published ones (Krasovsky semi-major axis ``a = 6378245`` and
its eccentricity squared, as in wandergis/coordtransform). The inverse transforms have no closed
form; they are solved here by fixed-point iteration until the forward transform of the estimate
reproduces the input to within ``_TOLERANCE_DEG`` (≈ 0.01 mm), which is far more accurate than the
common one-step approximation (off by up to a few metres).

Points outside the usual "China box" (longitude 73.66–135.05 °E, latitude 3.86–53.55 °N) are not
shifted by GCJ-02 — the same rule every public implementation uses. The BD-09 step is a pure
function of its input and is applied everywhere, as Baidu's published formula does.

Everything is ``(lon, lat)`` order, degrees, plain ``math`` only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from enum import StrEnum

__all__ = [
    "CoordSystem",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "out_of_china",
    "to_wgs84",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

_A = 6378245.0  # Krasovsky 1940 semi-major axis used by the GCJ-02 formula
_EE = 0.00669342162296594323  # Krasovsky eccentricity squared
_X_PI = math.pi * 3000.0 / 180.0  # BD-09 constant

_TOLERANCE_DEG = 1e-10  # ≈ 0.01 mm; inverse iterations stop below this residual
_MAX_ITERATIONS = 30

_Forward = Callable[[float, float], tuple[float, float]]


class CoordSystem(StrEnum):
    """The coordinate system a location was reported in."""

    wgs84 = "wgs84"
    gcj02 = "gcj02"
    bd09 = "bd09"


def out_of_china(lon: float, lat: float) -> bool:
    """True when the point lies outside the rectangle in which GCJ-02 applies its offset."""
    return not (73.66 < lon < 135.05 and 3.86 < lat < 53.55)


def _transform_lat(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lon(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def _gcj02_offset(lon: float, lat: float) -> tuple[float, float]:
    """The GCJ-02 offset ``(dlon, dlat)`` in degrees at a WGS-84 point."""
    dlat = _transform_lat(lon - 105.0, lat - 35.0)
    dlon = _transform_lon(lon - 105.0, lat - 35.0)
    rad_lat = lat / 180.0 * math.pi
    magic = 1.0 - _EE * math.sin(rad_lat) ** 2
    sqrt_magic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * math.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * math.cos(rad_lat) * math.pi)
    return dlon, dlat


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """WGS-84 → GCJ-02. Points outside China are returned unchanged."""
    if out_of_china(lon, lat):
        return lon, lat
    dlon, dlat = _gcj02_offset(lon, lat)
    return lon + dlon, lat + dlat


def _invert(
    forward: _Forward, lon: float, lat: float, start: tuple[float, float]
) -> tuple[float, float]:
    """Solve ``forward(x) == (lon, lat)`` by fixed-point iteration from ``start``.

    The offsets are smooth and vary slowly (their Jacobian is far below 1), so subtracting the
    residual converges geometrically; a handful of steps reach the tolerance.
    """
    x, y = start
    for _ in range(_MAX_ITERATIONS):
        fx, fy = forward(x, y)
        ex, ey = fx - lon, fy - lat
        if abs(ex) < _TOLERANCE_DEG and abs(ey) < _TOLERANCE_DEG:
            break
        x, y = x - ex, y - ey
    return x, y


def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """GCJ-02 → WGS-84, exact to well under a millimetre (iterative inverse).

    Points whose GCJ-02 coordinates are outside China are returned unchanged. A WGS-84 point just
    inside the box whose GCJ-02 image falls just outside it is a measure-zero border case.
    """
    if out_of_china(lon, lat):
        return lon, lat
    dlon, dlat = _gcj02_offset(lon, lat)
    return _invert(wgs84_to_gcj02, lon, lat, (lon - dlon, lat - dlat))


def gcj02_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    """GCJ-02 → BD-09 (Baidu's published formula)."""
    z = math.hypot(lon, lat) + 0.00002 * math.sin(lat * _X_PI)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * _X_PI)
    return z * math.cos(theta) + 0.0065, z * math.sin(theta) + 0.006


def _bd09_to_gcj02_closed_form(lon: float, lat: float) -> tuple[float, float]:
    x = lon - 0.0065
    y = lat - 0.006
    z = math.hypot(x, y) - 0.00002 * math.sin(y * _X_PI)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * _X_PI)
    return z * math.cos(theta), z * math.sin(theta)


def bd09_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """BD-09 → GCJ-02: the published closed form, refined by iteration to sub-millimetre."""
    start = _bd09_to_gcj02_closed_form(lon, lat)
    return _invert(gcj02_to_bd09, lon, lat, start)


def wgs84_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    """WGS-84 → BD-09 (through GCJ-02)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """BD-09 → WGS-84 (through GCJ-02), both steps inverted exactly."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def to_wgs84(lon: float, lat: float, coord: CoordSystem) -> tuple[float, float]:
    """Convert a ``(lon, lat)`` reported in ``coord`` to WGS-84."""
    match CoordSystem(coord):
        case CoordSystem.wgs84:
            return lon, lat
        case CoordSystem.gcj02:
            return gcj02_to_wgs84(lon, lat)
        case CoordSystem.bd09:
            return bd09_to_wgs84(lon, lat)

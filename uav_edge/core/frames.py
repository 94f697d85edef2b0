"""Coordinate frames: the ONE place where NED/ENU and local-tangent-plane/WGS84 conversions live.

Conventions (REP-103 for ROS, PX4 for the vehicle):
  NED  = x north, y east, z down   (PX4, MAVLink LOCAL_POSITION_NED, the built-in simulator)
  ENU  = x east, y north, z up     (ROS, the twin's energy model)
  Yaw  NED: 0 = north, +pi/2 = east (clockwise seen from above); ENU: 0 = east, counter-clockwise.
  WGS84 geodetic: latitude/longitude in degrees, altitude in m above the ellipsoid.
  A local tangent plane (LTP) is anchored at an origin (lat0_deg, lon0_deg, alt0_m); conversions
  go through ECEF exactly (no flat-earth approximation), so round trips are sub-millimetre.
Pure numpy, vectorised: arrays of shape (..., 3) for vectors, broadcasting over leading axes.
"""
import numpy as np

WGS84_A_M = 6378137.0                       # semi-major axis, m
WGS84_F = 1.0 / 298.257223563               # flattening
WGS84_E2 = WGS84_F * (2.0 - WGS84_F)        # first eccentricity squared


def _finite(name, value):
    """value as a float array; ValueError naming `name` (and the first bad index) if NaN/inf."""
    arr = np.asarray(value, dtype=float)
    bad = ~np.isfinite(arr)
    if np.any(bad):
        idx = tuple(int(k) for k in np.argwhere(bad)[0])
        raise ValueError(f'{name}{list(idx) if idx else ""}: must be finite, got {arr[idx] if idx else arr}')
    return arr


def _vectors(name, value):
    """(..., 3) float array, checked finite."""
    arr = _finite(name, value)
    if arr.ndim == 0 or arr.shape[-1] != 3:
        raise ValueError(f'{name}: expected shape (..., 3), got {arr.shape}')
    return arr


def _latitude(name, lat_deg):
    lat = _finite(name, lat_deg)
    if np.any(np.abs(lat) > 90.0):
        raise ValueError(f'{name}: latitude must be within [-90, 90] deg, got {lat}')
    return lat


# --- NED <-> ENU ------------------------------------------------------------------------------

def ned_to_enu(vec_ned):
    """(north, east, down) -> (east, north, up), for positions, velocities, accelerations in m, m/s."""
    v = _vectors('vec_ned', vec_ned)
    return np.stack([v[..., 1], v[..., 0], -v[..., 2]], axis=-1)


def enu_to_ned(vec_enu):
    """(east, north, up) -> (north, east, down); the same swap as ned_to_enu (it is its own inverse)."""
    v = _vectors('vec_enu', vec_enu)
    return np.stack([v[..., 1], v[..., 0], -v[..., 2]], axis=-1)


def yaw_ned_to_enu(yaw_ned_rad):
    """Heading in rad, NED (0 north, clockwise) -> ENU (0 east, counter-clockwise), wrapped to (-pi, pi]."""
    return wrap_pi(0.5 * np.pi - _finite('yaw_ned_rad', yaw_ned_rad))


def yaw_enu_to_ned(yaw_enu_rad):
    """Heading in rad, ENU -> NED, wrapped to (-pi, pi] (the same reflection as yaw_ned_to_enu)."""
    return wrap_pi(0.5 * np.pi - _finite('yaw_enu_rad', yaw_enu_rad))


def wrap_pi(angle_rad):
    """Angle in rad wrapped to (-pi, pi]."""
    a = np.asarray(angle_rad, dtype=float)
    return np.pi - np.mod(np.pi - a, 2.0 * np.pi)


# --- WGS84 <-> ECEF ---------------------------------------------------------------------------

def geodetic_to_ecef(lat_deg, lon_deg, alt_m):
    """WGS84 (deg, deg, m above ellipsoid) -> ECEF (x, y, z) in m, shape (..., 3)."""
    lat = np.radians(_latitude('lat_deg', lat_deg))
    lon = np.radians(_finite('lon_deg', lon_deg))
    alt = _finite('alt_m', alt_m)
    sin_lat = np.sin(lat)
    n = WGS84_A_M / np.sqrt(1.0 - WGS84_E2 * sin_lat ** 2)     # prime-vertical radius, m
    return np.stack(np.broadcast_arrays((n + alt) * np.cos(lat) * np.cos(lon),
                                        (n + alt) * np.cos(lat) * np.sin(lon),
                                        (n * (1.0 - WGS84_E2) + alt) * sin_lat), axis=-1)


def ecef_to_geodetic(xyz_m):
    """ECEF (..., 3) in m -> (lat_deg, lon_deg, alt_m); fixed-point latitude iteration, < 1e-12 rad near Earth."""
    p = _vectors('xyz_m', xyz_m)
    x, y, z = p[..., 0], p[..., 1], p[..., 2]
    rho = np.hypot(x, y)
    lon = np.arctan2(y, x)
    lat = np.arctan2(z, rho * (1.0 - WGS84_E2))
    for _ in range(6):
        sin_lat = np.sin(lat)
        n = WGS84_A_M / np.sqrt(1.0 - WGS84_E2 * sin_lat ** 2)
        lat = np.arctan2(z + WGS84_E2 * n * sin_lat, rho)
    sin_lat, cos_lat = np.sin(lat), np.cos(lat)
    n = WGS84_A_M / np.sqrt(1.0 - WGS84_E2 * sin_lat ** 2)
    alt = rho * cos_lat + z * sin_lat - n * (1.0 - WGS84_E2 * sin_lat ** 2)
    return np.degrees(lat), np.degrees(lon), alt


def _enu_rotation(lat0_deg, lon0_deg):
    """3x3 rotation taking ECEF difference vectors to ENU at the origin."""
    lat, lon = np.radians(float(lat0_deg)), np.radians(float(lon0_deg))
    sl, cl, so, co = np.sin(lat), np.cos(lat), np.sin(lon), np.cos(lon)
    return np.array([[-so, co, 0.0],
                     [-sl * co, -sl * so, cl],
                     [cl * co, cl * so, sl]])


def _origin(origin):
    lat0, lon0, alt0 = (float(v) for v in _finite('origin', origin))
    _latitude('origin latitude', lat0)
    return lat0, lon0, alt0


# --- WGS84 <-> local tangent plane --------------------------------------------------------------

def geodetic_to_enu(lat_deg, lon_deg, alt_m, origin):
    """WGS84 point(s) -> ENU (..., 3) in m relative to origin = (lat0_deg, lon0_deg, alt0_m)."""
    lat0, lon0, alt0 = _origin(origin)
    d = geodetic_to_ecef(lat_deg, lon_deg, alt_m) - geodetic_to_ecef(lat0, lon0, alt0)
    return d @ _enu_rotation(lat0, lon0).T


def enu_to_geodetic(enu_m, origin):
    """ENU (..., 3) in m relative to origin = (lat0_deg, lon0_deg, alt0_m) -> (lat_deg, lon_deg, alt_m)."""
    lat0, lon0, alt0 = _origin(origin)
    d = _vectors('enu_m', enu_m) @ _enu_rotation(lat0, lon0)
    return ecef_to_geodetic(d + geodetic_to_ecef(lat0, lon0, alt0))


def geodetic_to_ned(lat_deg, lon_deg, alt_m, origin):
    """WGS84 point(s) -> NED (..., 3) in m relative to origin = (lat0_deg, lon0_deg, alt0_m)."""
    return enu_to_ned(geodetic_to_enu(lat_deg, lon_deg, alt_m, origin))


def ned_to_geodetic(ned_m, origin):
    """NED (..., 3) in m relative to origin = (lat0_deg, lon0_deg, alt0_m) -> (lat_deg, lon_deg, alt_m)."""
    return enu_to_geodetic(ned_to_enu(ned_m), origin)


class LocalFrame:
    """A fixed local tangent plane at `origin` with the rotation precomputed (fast scalar path for the simulator).

    Same maths as geodetic_to_ned / ned_to_geodetic; use it when converting many single points.
    """

    def __init__(self, lat0_deg, lon0_deg, alt0_m):
        self.origin = _origin((lat0_deg, lon0_deg, alt0_m))
        self._r_enu = _enu_rotation(self.origin[0], self.origin[1])
        # rows map ECEF -> NED: north row, east row, -up row
        self._r_ned = np.array([self._r_enu[1], self._r_enu[0], -self._r_enu[2]])
        self._ecef0 = geodetic_to_ecef(*self.origin)

    def to_ned(self, lat_deg, lon_deg, alt_m):
        """WGS84 -> NED (..., 3) in m relative to this origin."""
        return (geodetic_to_ecef(lat_deg, lon_deg, alt_m) - self._ecef0) @ self._r_ned.T

    def to_geodetic(self, ned_m):
        """NED (..., 3) in m relative to this origin -> (lat_deg, lon_deg, alt_m)."""
        return ecef_to_geodetic(_vectors('ned_m', ned_m) @ self._r_ned + self._ecef0)

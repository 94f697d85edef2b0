"""The scenario's world frame ('map', ENU m) anchored on the Earth, and paths through it.

The scenario describes everything in local ENU metres (origin = the area's south-west corner,
z up). A vehicle reports WGS84 (lat, lon, AMSL altitude). WorldFrame joins the two through
uav_edge.core.frames (the one place for conversions), either from an explicit origin or from
one vehicle's home position and where that home lies in the scenario (from_home).
"""
import numpy as np

from uav_edge.core import frames


class WorldFrame:
    """ENU 'map' frame with origin (lat0_deg, lon0_deg, alt0_m AMSL); exact ECEF maths, no flat-earth error."""

    def __init__(self, lat0_deg, lon0_deg, alt0_m):
        self.local = frames.LocalFrame(lat0_deg, lon0_deg, alt0_m)
        self.origin = self.local.origin

    @classmethod
    def from_home(cls, home_geodetic, home_enu_m, iterations=3):
        """The frame in which the vehicle's home (lat, lon, alt AMSL) sits at home_enu_m (x, y, z m).

        Start from the point -home_enu_m in the home's own tangent plane, then correct the origin
        until the home maps to home_enu_m (tangent planes at origin and home differ by curvature).
        """
        home = tuple(float(v) for v in frames._finite('home_geodetic', home_geodetic))
        target = frames._vectors('home_enu_m', home_enu_m)
        lat, lon, alt = frames.enu_to_geodetic(-target, home)
        frame = cls(float(lat), float(lon), float(alt))
        for _ in range(iterations):
            error = frame.to_world(*home) - target
            lat, lon, alt = frame.to_geodetic(error)
            frame = cls(float(lat), float(lon), float(alt))
        return frame

    def to_world(self, lat_deg, lon_deg, alt_m):
        """WGS84 (deg, deg, m AMSL) -> world ENU (x east, y north, z up) in m."""
        return frames.ned_to_enu(self.local.to_ned(lat_deg, lon_deg, alt_m))

    def to_geodetic(self, xyz_m):
        """World ENU (x, y, z) in m -> (lat_deg, lon_deg, alt_m AMSL)."""
        return self.local.to_geodetic(frames.enu_to_ned(xyz_m))


def vehicle_homes_geodetic(origin, homes_enu_m):
    """(I, 3) world ENU homes in m -> list of (lat_deg, lon_deg, alt_m AMSL) for origin (lat0, lon0, alt0)."""
    frame = WorldFrame(*origin)
    homes = frames._vectors('homes_enu_m', np.atleast_2d(homes_enu_m))
    lat, lon, alt = frame.to_geodetic(homes)
    return [(float(a), float(b), float(c)) for a, b, c in zip(lat, lon, alt)]


class PathFollower:
    """Follow waypoints (K, 3) in m: the target is the first one not yet reached within acceptance_radius_m."""

    def __init__(self, points_m, acceptance_radius_m=1.0):
        self.points = np.asarray(points_m, dtype=float).reshape(-1, 3)
        if self.points.shape[0] == 0:
            raise ValueError('points_m: a path needs at least one waypoint')
        if not (np.isfinite(acceptance_radius_m) and acceptance_radius_m > 0.0):
            raise ValueError(f'acceptance_radius_m: must be finite and > 0, got {acceptance_radius_m!r}')
        self.radius_m = float(acceptance_radius_m)
        self.index = 0

    @property
    def finished(self):
        """True once the last waypoint has been reached (the vehicle then holds there)."""
        return self.index >= len(self.points)

    def target(self, position_m):
        """The waypoint to fly to now, advancing past every waypoint within the acceptance radius."""
        last = len(self.points) - 1
        while self.index <= last and np.linalg.norm(self.points[self.index] - position_m) <= self.radius_m:
            self.index += 1
        return self.points[min(self.index, last)]

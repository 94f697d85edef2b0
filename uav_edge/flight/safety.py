"""What the flight bridge refuses and what it does on an energy alarm (pure functions, no rclpy/mavsdk)."""
import math
from dataclasses import dataclass

import numpy as np

ALARM_ACTIONS = ('auto', 'rtl', 'land')


class OutOfBounds(ValueError):
    """A setpoint outside the flight area or altitude band."""


@dataclass(frozen=True)
class FlightLimits:
    """Where setpoints may go: x in [0, area_size_m[0]], y in [0, area_size_m[1]], z in altitude_band_m (m, ENU)."""

    area_size_m: tuple = (1000.0, 1000.0)
    altitude_band_m: tuple = (2.0, 120.0)

    def __post_init__(self):
        size, band = np.asarray(self.area_size_m, float), np.asarray(self.altitude_band_m, float)
        if size.shape != (2,) or not np.all(np.isfinite(size)) or np.any(size <= 0):
            raise ValueError(f'area_size_m: expected two finite sizes > 0 m, got {self.area_size_m!r}')
        if band.shape != (2,) or not np.all(np.isfinite(band)) or not band[0] < band[1]:
            raise ValueError(f'altitude_band_m: expected [min, max] m with min < max, got {self.altitude_band_m!r}')

    def check(self, xyz_m):
        """xyz as a float array if finite and inside the area and band; OutOfBounds naming the axis otherwise."""
        p = np.asarray(xyz_m, dtype=float)
        if p.shape != (3,) or not np.all(np.isfinite(p)):
            raise OutOfBounds(f'setpoint {p.tolist()} is not three finite numbers')
        for axis, name in ((0, 'x'), (1, 'y')):
            if not 0.0 <= p[axis] <= self.area_size_m[axis]:
                raise OutOfBounds(f'setpoint {name}={p[axis]:g} m outside the area [0, {self.area_size_m[axis]:g}] m')
        low, high = self.altitude_band_m
        if not low <= p[2] <= high:
            raise OutOfBounds(f'setpoint z={p[2]:g} m outside the altitude band [{low:g}, {high:g}] m')
        return p


def energy_alarm_action(policy, distance_home_m, battery_fraction, rtl_max_distance_m, critical_fraction):
    """'rtl' or 'land' for an energy reserve alarm.

    policy 'rtl' / 'land' always does that; 'auto' returns home unless home is farther than
    rtl_max_distance_m or the battery (fraction 0..1, NaN = unknown) is below critical_fraction,
    in which case it lands where it is (a return it cannot finish is worse than landing now).
    """
    if policy not in ALARM_ACTIONS:
        raise ValueError(f'energy_alarm_action: expected one of {ALARM_ACTIONS}, got {policy!r}')
    if policy != 'auto':
        return policy
    far = math.isfinite(distance_home_m) and distance_home_m > rtl_max_distance_m
    critical = math.isfinite(battery_fraction) and battery_fraction < critical_fraction
    return 'land' if far or critical else 'rtl'

"""PX4 parameters the simulated vehicle understands: PX4 names, types, defaults and ranges.

MAVLink parameter protocol detail (PX4 convention): INT32 values travel "bytewise" — the four
bytes of the int32 are sent as the bytes of the float `param_value` field (see int32_to_wire /
wire_to_int32). REAL32 values are sent as plain floats.
Defaults are PX4's (v1.14-1.17 multicopter) unless marked [A] (a choice of this simulator).
Names starting with SIM_ are simulator knobs (not in PX4).
"""
import math
import struct
from dataclasses import dataclass

MAV_PARAM_TYPE_INT32 = 6
MAV_PARAM_TYPE_REAL32 = 9


@dataclass(frozen=True)
class ParamSpec:
    """One parameter: PX4 name, MAVLink type, default, inclusive range, unit and meaning."""

    name: str
    type: int
    default: float
    minimum: float
    maximum: float
    unit: str
    doc: str


F, I = MAV_PARAM_TYPE_REAL32, MAV_PARAM_TYPE_INT32

PARAM_SPECS = (
    # takeoff / return / land
    ParamSpec('MIS_TAKEOFF_ALT', F, 2.5, 0.0, 1000.0, 'm', 'takeoff altitude above home'),
    ParamSpec('RTL_RETURN_ALT', F, 60.0, 0.0, 1000.0, 'm', 'RTL: climb to this altitude above home, then return'),
    ParamSpec('RTL_DESCEND_ALT', F, 30.0, 0.0, 1000.0, 'm', 'RTL: descend to this altitude above home before landing'),
    ParamSpec('RTL_LAND_DELAY', F, 0.0, -1.0, 300.0, 's',
              'RTL: loiter time at descend altitude before landing (-1: never land)'),
    ParamSpec('NAV_ACC_RAD', F, 2.0, 0.05, 200.0, 'm', 'default waypoint acceptance radius'),
    ParamSpec('NAV_DLL_ACT', I, 0, 0, 6, '',
              'GCS link loss action: 0 off, 1 Hold, 2 Return, 3 Land, 5 Terminate, 6 Disarm'),
    ParamSpec('NAV_MC_ALT_RAD', F, 0.8, 0.05, 200.0, 'm', 'vertical waypoint acceptance radius'),
    # velocity / acceleration limits (multicopter position control)
    ParamSpec('MPC_XY_CRUISE', F, 5.0, 0.0, 20.0, 'm/s', 'horizontal cruise speed in auto modes'),
    ParamSpec('MPC_XY_VEL_MAX', F, 12.0, 0.0, 20.0, 'm/s', 'maximum horizontal speed'),
    ParamSpec('MPC_Z_VEL_MAX_UP', F, 3.0, 0.5, 8.0, 'm/s', 'maximum climb rate'),
    ParamSpec('MPC_Z_VEL_MAX_DN', F, 1.5, 0.5, 4.0, 'm/s', 'maximum descent rate'),
    ParamSpec('MPC_ACC_HOR', F, 3.0, 2.0, 15.0, 'm/s^2', 'horizontal acceleration in auto modes'),
    ParamSpec('MPC_ACC_HOR_MAX', F, 5.0, 2.0, 15.0, 'm/s^2', 'maximum horizontal acceleration (offboard)'),
    ParamSpec('MPC_ACC_UP_MAX', F, 4.0, 2.0, 15.0, 'm/s^2', 'maximum upward acceleration'),
    ParamSpec('MPC_ACC_DOWN_MAX', F, 3.0, 2.0, 15.0, 'm/s^2', 'maximum downward acceleration'),
    ParamSpec('MPC_TKO_SPEED', F, 1.5, 1.0, 5.0, 'm/s', 'takeoff climb rate'),
    ParamSpec('MPC_LAND_SPEED', F, 0.7, 0.6, 4.0, 'm/s', 'landing descent rate near the ground'),
    ParamSpec('MPC_LAND_ALT1', F, 10.0, 0.0, 122.0, 'm', 'below this, descent slows towards MPC_LAND_SPEED'),
    ParamSpec('MPC_LAND_ALT2', F, 5.0, 0.0, 122.0, 'm', 'below this, descend at MPC_LAND_SPEED'),
    ParamSpec('MPC_XY_P', F, 0.95, 0.0, 2.0, '1/s', 'position gain, horizontal'),
    ParamSpec('MPC_Z_P', F, 1.0, 0.1, 1.5, '1/s', 'position gain, vertical'),
    ParamSpec('MPC_YAWRAUTO_MAX', F, 45.0, 0.0, 360.0, 'deg/s', 'maximum yaw rate in auto modes'),
    # commander / failsafes
    ParamSpec('COM_OF_LOSS_T', F, 1.0, 0.0, 60.0, 's', 'offboard setpoint loss timeout'),
    ParamSpec('COM_OBL_RC_ACT', I, 0, 0, 7, '', 'offboard loss action: 0-2 manual modes (no RC here: Return), '
              '3 Return, 4 Land, 5 Hold, 6 Terminate, 7 Disarm'),
    ParamSpec('COM_DL_LOSS_T', I, 10, 1, 300, 's', 'GCS heartbeat loss timeout'),
    ParamSpec('COM_DISARM_LAND', F, 2.0, -1.0, 20.0, 's', 'auto-disarm this long after landing (-1 off)'),
    ParamSpec('COM_DISARM_PRFLT', F, 10.0, -1.0, 20.0, 's', 'auto-disarm if armed and not taking off (-1 off)'),
    ParamSpec('COM_LOW_BAT_ACT', I, 3, 0, 3, '', 'battery failsafe: 0 warn, 2 Land, 3 Return at critical, '
              'Land at emergency [A default 3]'),
    # battery (4S pack, like PX4 SIH which reports 16.2 V full)
    ParamSpec('BAT_LOW_THR', F, 0.15, 0.12, 0.5, '', 'low battery level (fraction remaining)'),
    ParamSpec('BAT_CRIT_THR', F, 0.07, 0.05, 0.5, '', 'critical battery level'),
    ParamSpec('BAT_EMERGEN_THR', F, 0.05, 0.03, 0.5, '', 'emergency battery level'),
    ParamSpec('BAT1_N_CELLS', I, 4, 1, 16, '', 'cells in series'),
    ParamSpec('BAT1_V_CHARGED', F, 4.05, 3.5, 4.5, 'V', 'cell voltage when full (open circuit)'),
    ParamSpec('BAT1_V_EMPTY', F, 3.6, 2.5, 4.0, 'V', 'cell voltage when empty (open circuit)'),
    ParamSpec('BAT1_CAPACITY', F, 5000.0, -1.0, 100000.0, 'mAh', 'pack capacity [A default 5000 mAh]'),
    ParamSpec('BAT1_R_INTERNAL', F, 0.005, -1.0, 0.2, 'Ohm', 'internal resistance per cell [A]'),
    # identity
    ParamSpec('MAV_SYS_ID', I, 1, 1, 250, '', 'MAVLink system id (instance + 1)'),
    ParamSpec('MAV_TYPE', I, 2, 0, 30, '', 'MAV_TYPE: 2 quadrotor'),
    # simulator knobs [A]
    ParamSpec('SIM_SPEED_FACTOR', F, 1.0, 0.1, 50.0, '', 'simulated seconds per wall second (physics only)'),
    ParamSpec('SIM_WIND_N', F, 0.0, -30.0, 30.0, 'm/s', 'steady wind, north'),
    ParamSpec('SIM_WIND_E', F, 0.0, -30.0, 30.0, 'm/s', 'steady wind, east'),
    ParamSpec('SIM_WIND_GUST', F, 0.0, 0.0, 10.0, 'm/s', 'gust std-dev (random walk on the wind)'),
    ParamSpec('SIM_GPS_NOISE', F, 0.0, 0.0, 10.0, 'm', 'reported-position noise std-dev'),
    ParamSpec('SIM_PKT_LOSS', F, 0.0, 0.0, 100.0, '%', 'packet loss, each direction'),
    ParamSpec('SIM_AVIONICS_W', F, 5.0, 0.0, 500.0, 'W', 'avionics/companion power drawn while powered'),
)

SPECS_BY_NAME = {s.name: s for s in PARAM_SPECS}


def int32_to_wire(value):
    """INT32 parameter value -> the float whose 4 bytes are the int32 (PX4 bytewise encoding)."""
    return struct.unpack('<f', struct.pack('<i', int(value)))[0]


def wire_to_int32(value):
    """Float param_value field -> the int32 packed bytewise into it."""
    return struct.unpack('<i', struct.pack('<f', value))[0]


class ParamStore:
    """Current values by name, in a fixed index order; validates names, types and ranges."""

    def __init__(self, overrides=None):
        self._values = {s.name: (int(s.default) if s.type == I else float(s.default)) for s in PARAM_SPECS}
        self.names = [s.name for s in PARAM_SPECS]
        for name, value in (overrides or {}).items():
            self.set(name, value)

    def __getitem__(self, name):
        return self._values[name]

    def __contains__(self, name):
        return name in self._values

    def __len__(self):
        return len(self.names)

    def spec(self, name):
        return SPECS_BY_NAME[name]

    def index(self, name):
        return self.names.index(name)

    def set(self, name, value):
        """Set `name` to `value`; ValueError naming the parameter if unknown, NaN/inf or out of range."""
        if name not in SPECS_BY_NAME:
            raise ValueError(f'{name}: unknown parameter')
        spec = SPECS_BY_NAME[name]
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f'{name}: must be finite, got {value}')
        if not spec.minimum <= value <= spec.maximum:
            raise ValueError(f'{name}: must be within [{spec.minimum:g}, {spec.maximum:g}] {spec.unit}, got {value:g}')
        self._values[name] = int(round(value)) if spec.type == I else value
        return self._values[name]

    def wire_value(self, name):
        """(float for the param_value field, MAV_PARAM_TYPE)."""
        spec = SPECS_BY_NAME[name]
        value = self._values[name]
        return (int32_to_wire(value), spec.type) if spec.type == I else (float(value), spec.type)

    def set_from_wire(self, name, wire_value, wire_type):
        """Apply a PARAM_SET; the value is decoded by the type the GCS declared (bytewise for INT32)."""
        if name not in SPECS_BY_NAME:
            raise ValueError(f'{name}: unknown parameter')
        if wire_type in (1, 2, 3, 4, 5, 6):     # integer types: PX4 bytewise encoding
            value = wire_to_int32(wire_value)
        else:
            value = float(wire_value)
        return self.set(name, value)

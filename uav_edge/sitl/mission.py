"""Mission items as the vehicle stores them, and where a navigation item wants the vehicle to be.

The MAVLink transfer protocol (MISSION_COUNT / REQUEST_INT / ITEM_INT / ACK) lives in
mavlink_link.py; the execution (which item is active, when it is reached) in vehicle.py.
"""
import math
from dataclasses import dataclass

# MAV_CMD values the simulator executes
NAV_WAYPOINT = 16
NAV_LOITER_UNLIM = 17
NAV_LOITER_TIME = 19
NAV_RETURN_TO_LAUNCH = 20
NAV_LAND = 21
NAV_TAKEOFF = 22
NAV_DELAY = 93
DO_CHANGE_SPEED = 178

# commands that move the vehicle to the item's position
POSITION_ITEMS = {NAV_WAYPOINT, NAV_LOITER_UNLIM, NAV_LOITER_TIME, NAV_LAND, NAV_TAKEOFF}

# MAV_FRAME values and how their altitude is referenced
FRAME_GLOBAL = 0                 # AMSL, lat/lon in degrees (MISSION_ITEM) or 1e7 (ITEM_INT)
FRAME_GLOBAL_RELATIVE_ALT = 3    # altitude above home
FRAME_GLOBAL_INT = 5
FRAME_GLOBAL_RELATIVE_ALT_INT = 6
FRAME_GLOBAL_TERRAIN_ALT = 10    # flat terrain here: the same as relative
FRAME_GLOBAL_TERRAIN_ALT_INT = 11
RELATIVE_FRAMES = {FRAME_GLOBAL_RELATIVE_ALT, FRAME_GLOBAL_RELATIVE_ALT_INT,
                   FRAME_GLOBAL_TERRAIN_ALT, FRAME_GLOBAL_TERRAIN_ALT_INT}
GLOBAL_FRAMES = RELATIVE_FRAMES | {FRAME_GLOBAL, FRAME_GLOBAL_INT}

# MISSION_CURRENT.mission_state (MISSION_STATE enum)
MISSION_STATE_NO_MISSION = 1
MISSION_STATE_NOT_STARTED = 2
MISSION_STATE_ACTIVE = 3
MISSION_STATE_PAUSED = 4
MISSION_STATE_COMPLETE = 5


@dataclass(frozen=True)
class MissionItem:
    """One MISSION_ITEM_INT as received; lat/lon in degrees (NaN = 'here'), z in m per `frame`."""

    seq: int
    frame: int
    command: int
    param1: float
    param2: float
    param3: float
    param4: float
    lat_deg: float
    lon_deg: float
    z: float
    autocontinue: int = 1

    @classmethod
    def from_int_message(cls, msg):
        """From a MISSION_ITEM_INT (x, y in 1e-7 deg)."""
        lat, lon = msg.x * 1e-7, msg.y * 1e-7
        if msg.frame not in GLOBAL_FRAMES or (msg.x == 0 and msg.y == 0):
            lat = lon = math.nan
        return cls(msg.seq, msg.frame, msg.command, msg.param1, msg.param2, msg.param3, msg.param4,
                   lat, lon, msg.z, msg.autocontinue)

    @classmethod
    def from_float_message(cls, msg):
        """From a legacy MISSION_ITEM (x, y in deg)."""
        lat, lon = msg.x, msg.y
        if msg.frame not in GLOBAL_FRAMES or (msg.x == 0 and msg.y == 0):
            lat = lon = math.nan
        return cls(msg.seq, msg.frame, msg.command, msg.param1, msg.param2, msg.param3, msg.param4,
                   lat, lon, msg.z, msg.autocontinue)

    def int_fields(self):
        """(x, y) as MISSION_ITEM_INT integers (1e-7 deg; 0 for 'here')."""
        if math.isnan(self.lat_deg):
            return 0, 0
        return int(round(self.lat_deg * 1e7)), int(round(self.lon_deg * 1e7))

    def altitude_amsl_m(self, home_alt_m):
        """Target altitude AMSL in m (None if the item has no usable altitude)."""
        if not math.isfinite(self.z):
            return None
        return self.z + home_alt_m if self.frame in RELATIVE_FRAMES else self.z

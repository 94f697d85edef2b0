"""One simulated PX4-like multicopter: point-mass physics, PX4 flight modes, failsafes, battery.

No networking here (mavlink_link.py talks MAVLink and calls the command methods below).
State is kept in a local NED frame (m) anchored at the boot home; `frames.LocalFrame` converts to
WGS84 for telemetry. Altitudes are treated as AMSL = ellipsoid height (no geoid), terrain is flat
at the boot home altitude.

Two clocks:
  sim time  (`step(dt_sim_s, ...)`): physics, battery, mission hold times, landing disarm delay.
            With SIM_SPEED_FACTOR > 1 it runs faster than the wall clock.
  wall time (`wall_s` arguments): everything a client on the link experiences — offboard
            setpoint loss (COM_OF_LOSS_T), GCS loss (COM_DL_LOSS_T), offboard entry, preflight
            auto-disarm (COM_DISARM_PRFLT), boot-to-healthy delay. A client streaming setpoints at
            20 Hz wall time must not look "lost" because the physics runs 10x faster.
"""
import math

import numpy as np

from uav_edge.core.frames import LocalFrame
from uav_edge.sitl import mission as mi
from uav_edge.sitl.params import ParamStore

GRAVITY_MPS2 = 9.80665

# PX4 custom_mode = (sub << 24) | (main << 16)
MODE_POSCTL = 0x00030000
MODE_OFFBOARD = 0x00060000
MODE_TAKEOFF = 0x02040000
MODE_HOLD = 0x03040000
MODE_MISSION = 0x04040000
MODE_RTL = 0x05040000
MODE_LAND = 0x06040000
MODE_NAMES = {MODE_POSCTL: 'Position', MODE_OFFBOARD: 'Offboard', MODE_TAKEOFF: 'Takeoff', MODE_HOLD: 'Hold',
              MODE_MISSION: 'Mission', MODE_RTL: 'Return', MODE_LAND: 'Land'}

# MAV_LANDED_STATE
LANDED_ON_GROUND, LANDED_IN_AIR, LANDED_TAKEOFF, LANDED_LANDING = 1, 2, 3, 4

# MAV_RESULT
ACCEPTED, TEMPORARILY_REJECTED, DENIED, UNSUPPORTED, FAILED = 0, 1, 2, 3, 4

FORCE_MAGIC = 21196            # ARM_DISARM param2: force arm / disarm in the air
GROUND_TOLERANCE_M = 0.05      # closer than this to the ground = touching it
VEL_TIME_CONSTANT_S = 0.15     # first-order velocity tracking (the attitude loop, lumped)
IDLE_POWER_FRACTION = 0.1      # armed on the ground: propellers idling at this fraction of hover power [A]


class Setpoint:
    """An offboard setpoint: per axis (north, east, down) a position, velocity or acceleration (None = unused)."""

    __slots__ = ('pos', 'vel', 'acc', 'yaw', 'yaw_rate')

    def __init__(self, pos=(None,) * 3, vel=(None,) * 3, acc=(None,) * 3, yaw=None, yaw_rate=None):
        self.pos, self.vel, self.acc, self.yaw, self.yaw_rate = list(pos), list(vel), list(acc), yaw, yaw_rate


class Vehicle:
    """A PX4-like multicopter. Drive it with `step()`; command it with the methods returning a MAV_RESULT."""

    def __init__(self, instance=0, home=(47.397742, 8.545594, 488.0), params=None, seed=0, boot_delay_s=0.5,
                 wall_s=0.0):
        self.instance = instance
        self.sysid = instance + 1
        self.params = ParamStore(params)
        self.params.set('MAV_SYS_ID', self.sysid)
        self.rng = np.random.default_rng([int(seed), int(instance)])
        self.frame = LocalFrame(*home)              # local NED origin = boot home; ground at z = 0
        self.home_geo = tuple(float(v) for v in home)
        self.home_ned = [0.0, 0.0, 0.0]
        self.pos = [0.0, 0.0, 0.0]                  # m, NED
        self.vel = [0.0, 0.0, 0.0]                  # m/s, NED
        self.acc = [0.0, 0.0, 0.0]                  # m/s^2, NED
        self.yaw = 0.0                              # rad, NED heading
        self.yaw_rate = 0.0
        self.wind_gust = [0.0, 0.0]                 # m/s, OU process on top of the steady wind
        self.armed = False
        self.mode = MODE_HOLD
        self.landed_state = LANDED_ON_GROUND
        self.sim_s = 0.0
        self.boot_wall_s = wall_s
        self.boot_delay_s = boot_delay_s
        self.events = []                            # (kind, payload) for the link: statustext, heartbeat, reached
        # flight state
        self._has_flown = False                     # left the ground since arming
        self._landed_for_s = 0.0
        self._armed_wall_s = 0.0
        self._target = None                         # [n, e, d] position target of the auto modes
        self._target_yaw = None
        self._cruise_mps = None                     # DO_CHANGE_SPEED override (None = MPC_XY_CRUISE)
        self._takeoff_z = None
        self._phase = None                          # sub-state of Takeoff / RTL / Land / Mission
        self._phase_until_s = None
        # offboard
        self.setpoint = None
        self._setpoint_wall_s = -math.inf
        # GCS link
        self._gcs_wall_s = None
        self._dll_triggered = False
        self._offboard_grace_until_s = self._gcs_grace_until_s = -math.inf   # after a stall: no link loss yet
        # battery
        self.discharged_mah = 0.0
        self.energy_j = 0.0
        self.current_a = 0.0
        self.voltage_v = self._open_circuit_v()
        self._battery_warned = 0                    # 0 none, 1 low, 2 critical, 3 emergency
        # mission
        self.mission_items = []
        self.mission_seq = 0
        self.mission_started = False
        self.mission_complete = False

    # --- derived state ---------------------------------------------------------------------
    def healthy(self, wall_s):
        """Sensors calibrated and GPS fixed (PX4 reports this ~1-3 s after boot)."""
        return wall_s - self.boot_wall_s >= self.boot_delay_s

    @property
    def on_ground(self):
        return self.pos[2] >= -GROUND_TOLERANCE_M

    @property
    def altitude_above_home_m(self):
        return self.home_ned[2] - self.pos[2]

    @property
    def remaining(self):
        """Battery state of charge, 0..1."""
        return min(1.0, max(0.0, 1.0 - self.discharged_mah / self.params['BAT1_CAPACITY']))

    def geodetic(self):
        """(lat_deg, lon_deg, alt_m AMSL) of the vehicle."""
        lat, lon, alt = self.frame.to_geodetic(self.pos)
        return float(lat), float(lon), float(alt)

    def airspeed_mps(self):
        """(horizontal, vertical-up) speed through the air in m/s (for the propulsion model)."""
        wind_n = self.params['SIM_WIND_N'] + self.wind_gust[0]
        wind_e = self.params['SIM_WIND_E'] + self.wind_gust[1]
        return math.hypot(self.vel[0] - wind_n, self.vel[1] - wind_e), -self.vel[2]

    def battery_level(self):
        """0 normal, 1 low (BAT_LOW_THR), 2 critical (BAT_CRIT_THR), 3 emergency (BAT_EMERGEN_THR)."""
        soc, p = self.remaining, self.params
        for level, name in ((3, 'BAT_EMERGEN_THR'), (2, 'BAT_CRIT_THR'), (1, 'BAT_LOW_THR')):
            if soc <= p[name]:
                return level
        return 0

    def mission_state(self):
        if not self.mission_items:
            return mi.MISSION_STATE_NO_MISSION
        if self.mission_complete:
            return mi.MISSION_STATE_COMPLETE
        if not self.mission_started:
            return mi.MISSION_STATE_NOT_STARTED
        return mi.MISSION_STATE_ACTIVE if self.mode == MODE_MISSION else mi.MISSION_STATE_PAUSED

    # --- events for the link -----------------------------------------------------------------
    def _say(self, text, severity=6):
        self.events.append(('statustext', (severity, text)))

    def _set_mode(self, mode):
        if mode != self.mode:
            self.mode = mode
            self._phase = None
            self._phase_until_s = None
            self.events.append(('heartbeat', None))

    # --- commands (return MAV_RESULT) ----------------------------------------------------------
    def arm(self, wall_s, force=False):
        if self.armed:
            return ACCEPTED
        if not force:
            if not self.healthy(wall_s):
                self._say('Arming denied: system not ready', 3)
                return TEMPORARILY_REJECTED
            if self.mode in (MODE_RTL, MODE_LAND):
                self._say('Arming denied: not allowed in this mode', 3)
                return DENIED
            if self.mode == MODE_MISSION and not self.mission_items:
                self._say('Arming denied: no valid mission', 3)
                return DENIED
            if self.mode == MODE_OFFBOARD and not self.offboard_signal(wall_s):
                return DENIED
            if self.remaining <= self.params['BAT_EMERGEN_THR']:
                self._say('Arming denied: battery too low', 3)
                return DENIED
        self.armed = True
        self._has_flown = not self.on_ground
        self._landed_for_s = 0.0
        self._armed_wall_s = wall_s
        self._battery_warned = 0
        self._dll_triggered = False
        if self.mode == MODE_HOLD:
            self._target = None
        self._say('Armed by external command')
        self.events.append(('heartbeat', None))
        return ACCEPTED

    def disarm(self, force=False, reason='Disarmed by external command'):
        if not self.armed:
            return ACCEPTED
        if not force and not self.on_ground:
            self._say('Disarming denied: not landed', 3)
            return DENIED
        self.armed = False
        self._say(reason)
        if self.mode in (MODE_LAND, MODE_RTL, MODE_TAKEOFF) or (self.mode == MODE_MISSION and self.mission_complete):
            self._set_mode(MODE_HOLD)
        self._target = None
        self.events.append(('heartbeat', None))
        return ACCEPTED

    def takeoff(self, alt_amsl_m=None):
        """NAV_TAKEOFF: accepted armed or disarmed (then it waits for arming, as PX4 does)."""
        if self.mode == MODE_TAKEOFF and self._takeoff_z is not None:
            return ACCEPTED
        if alt_amsl_m is None:
            self._takeoff_z = self.home_ned[2] - self.params['MIS_TAKEOFF_ALT']
        else:
            self._takeoff_z = self.home_geo[2] - alt_amsl_m + self.home_ned[2]
        self._set_mode(MODE_TAKEOFF)
        self._phase = None
        self._target = None
        return ACCEPTED

    def land(self):
        self._set_mode(MODE_LAND)
        return ACCEPTED

    def return_to_launch(self):
        self._set_mode(MODE_RTL)
        return ACCEPTED

    def hold(self):
        if self.mode != MODE_HOLD:
            self._set_mode(MODE_HOLD)
            self._target = None
        return ACCEPTED

    def start_mission(self, first=None):
        if not self.mission_items:
            self._say('Mission rejected: no mission', 3)
            return DENIED
        if first is not None and 0 <= first < len(self.mission_items):
            self.mission_seq = first
            self.mission_complete = False
        if self.mission_complete:
            self.mission_seq, self.mission_complete = 0, False
        if self.mode != MODE_MISSION:
            self._set_mode(MODE_MISSION)
        self.mission_started = True
        self.events.append(('mission_current', None))
        return ACCEPTED

    def start_offboard(self, wall_s):
        if self.mode == MODE_OFFBOARD:
            return ACCEPTED
        if not self.offboard_signal(wall_s):
            self._say('Switching to Offboard is currently not possible: no setpoints', 4)
            return TEMPORARILY_REJECTED
        self._set_mode(MODE_OFFBOARD)
        return ACCEPTED

    def set_mode(self, main, sub, wall_s):
        """DO_SET_MODE with PX4 main/sub modes."""
        if main == 6:
            return self.start_offboard(wall_s)
        if main == 4:
            handlers = {2: self.takeoff, 3: self.hold, 4: self.start_mission, 5: self.return_to_launch, 6: self.land}
            return handlers[sub]() if sub in handlers else UNSUPPORTED
        if main in (1, 2, 3, 5, 7):     # manual modes need an RC link, which a simulator without RC lacks
            self._say('Mode requires manual control (no RC)', 4)
            return TEMPORARILY_REJECTED
        return UNSUPPORTED

    def reposition(self, lat_deg, lon_deg, alt_amsl_m, speed_mps=None, yaw_rad=None):
        """DO_REPOSITION: fly to the point in Hold (PX4 repositions inside Loiter). NaN = keep current."""
        if not self.armed or (self.on_ground and not self._has_flown and self.mode != MODE_TAKEOFF):
            return DENIED
        n, e, d = self.pos
        if math.isfinite(lat_deg) and math.isfinite(lon_deg):
            n, e, _ = (float(v) for v in self.frame.to_ned(lat_deg, lon_deg, self.home_geo[2]))
        if alt_amsl_m is not None and math.isfinite(alt_amsl_m):
            d = float(self.frame.to_ned(self.frame.origin[0], self.frame.origin[1], alt_amsl_m)[2])
        if speed_mps is not None and speed_mps > 0:
            self._cruise_mps = min(speed_mps, self.params['MPC_XY_VEL_MAX'])
        self._set_mode(MODE_HOLD)
        self._target = [n, e, min(d, 0.0)]
        self._target_yaw = yaw_rad
        return ACCEPTED

    def change_speed(self, speed_type, speed_mps):
        """DO_CHANGE_SPEED: ground/air speed for the auto modes (-1 = back to default, -2 = no change)."""
        if speed_type in (0, 1) and speed_mps is not None and math.isfinite(speed_mps):
            if speed_mps == -1:
                self._cruise_mps = None
            elif speed_mps > 0:
                self._cruise_mps = min(float(speed_mps), self.params['MPC_XY_VEL_MAX'])
            return ACCEPTED
        return ACCEPTED if speed_type in (2, 3) else UNSUPPORTED

    def set_home(self, use_current, lat_deg=math.nan, lon_deg=math.nan, alt_amsl_m=math.nan):
        if use_current:
            self.home_geo = self.geodetic()
            self.home_ned = list(self.pos)
        else:
            if not (math.isfinite(lat_deg) and math.isfinite(lon_deg) and math.isfinite(alt_amsl_m)):
                return DENIED
            self.home_geo = (float(lat_deg), float(lon_deg), float(alt_amsl_m))
            self.home_ned = [float(v) for v in self.frame.to_ned(lat_deg, lon_deg, alt_amsl_m)]
        self.events.append(('home', None))
        return ACCEPTED

    def set_mission(self, items):
        """A completed upload replaces the mission (and resets its progress)."""
        self.mission_items = list(items)
        self.mission_seq = 0
        self.mission_started = False
        self.mission_complete = False
        if self.mode == MODE_MISSION:
            self._phase = None
            if not items:
                self.hold()
        self.events.append(('mission_current', None))

    def set_mission_current(self, seq):
        if not 0 <= seq < max(1, len(self.mission_items)):
            return DENIED
        self.mission_seq = seq
        self.mission_complete = False
        self._phase = None
        self.events.append(('mission_current', None))
        return ACCEPTED

    # --- offboard and link inputs ---------------------------------------------------------------
    def offboard_signal(self, wall_s):
        """True while setpoints keep arriving (the last one is younger than COM_OF_LOSS_T)."""
        return wall_s - self._setpoint_wall_s <= max(self.params['COM_OF_LOSS_T'], 0.05)

    def set_offboard_setpoint(self, setpoint, wall_s):
        self.setpoint = setpoint
        self._setpoint_wall_s = wall_s

    def gcs_heartbeat(self, wall_s):
        self._gcs_wall_s = wall_s
        self._dll_triggered = False

    def after_stall(self, wall_s, recovery_s, stalled_at_s):
        """The simulator did not run from stalled_at_s until wall_s (its clock): its clients were frozen with it (a
        VM freeze) and need time to be scheduled again. A link alive when the stall began is not judged lost for
        recovery_s more; one already silent gets no grace. Heartbeat now (MAVSDK gives up after 3 s)."""
        if self.offboard_signal(stalled_at_s):
            self._offboard_grace_until_s = wall_s + recovery_s
        if self._gcs_wall_s is not None and stalled_at_s - self._gcs_wall_s <= self.params['COM_DL_LOSS_T']:
            self._gcs_grace_until_s = wall_s + recovery_s
        self.events.append(('heartbeat', None))

    # --- failsafes ------------------------------------------------------------------------------
    def _failsafe(self, action, reason):
        """action: 'hold' | 'rtl' | 'land' | 'disarm'."""
        self._say(f'Failsafe activated: {reason}', 2)
        if action == 'disarm':
            self.disarm(force=True, reason=f'Disarmed by failsafe: {reason}')
        elif action == 'hold':
            self._set_mode(MODE_HOLD)
            self._target = None
        elif action == 'land':
            self._set_mode(MODE_LAND)
        else:
            self._set_mode(MODE_RTL)

    def _check_failsafes(self, wall_s):
        p = self.params
        if (self.mode == MODE_OFFBOARD and not self.offboard_signal(wall_s)
                and wall_s >= self._offboard_grace_until_s):
            act = p['COM_OBL_RC_ACT']
            action = {4: 'land', 5: 'hold', 6: 'disarm', 7: 'disarm'}.get(act, 'rtl')
            if not self.armed:
                action = 'hold'
            self._failsafe(action, 'offboard setpoints lost')
        act = p['NAV_DLL_ACT']
        if (act and self.armed and self._gcs_wall_s is not None and not self._dll_triggered
                and wall_s >= self._gcs_grace_until_s and wall_s - self._gcs_wall_s > p['COM_DL_LOSS_T']):
            self._dll_triggered = True
            self._failsafe({1: 'hold', 2: 'rtl', 3: 'land'}.get(act, 'disarm'), 'no connection to the GCS')
        if not self.armed:
            return
        soc = self.remaining
        level = self.battery_level()
        if level > self._battery_warned:
            self._battery_warned = level
            name = {1: 'low', 2: 'critical', 3: 'emergency'}[level]
            action = None
            act = p['COM_LOW_BAT_ACT']
            if act == 2 and level >= 2:
                action = 'land'
            elif act in (1, 3) and level == 2:
                action = 'rtl'
            elif act in (1, 3) and level == 3:
                action = 'land'
            if action and self._has_flown and self.mode not in (MODE_LAND,) and not (
                    action == 'rtl' and self.mode == MODE_RTL):
                self._failsafe(action, f'battery {name} ({soc * 100:.0f}% remaining)')
            else:
                self._say(f'Battery {name}: {soc * 100:.0f}% remaining', 4)

    # --- battery ---------------------------------------------------------------------------------
    def _open_circuit_v(self):
        p = self.params
        return p['BAT1_N_CELLS'] * (p['BAT1_V_EMPTY'] + (p['BAT1_V_CHARGED'] - p['BAT1_V_EMPTY']) * self.remaining)

    def _drain(self, power_w, dt_s):
        """Draw power_w for dt_s from the pack: terminal voltage with internal resistance, charge in mAh."""
        v_oc = self._open_circuit_v()
        r = max(self.params['BAT1_R_INTERNAL'], 0.0) * self.params['BAT1_N_CELLS']
        disc = v_oc * v_oc - 4.0 * r * power_w
        if r > 0.0 and disc > 0.0:
            current = (v_oc - math.sqrt(disc)) / (2.0 * r)
        else:
            current = power_w / v_oc
        self.current_a = current
        self.voltage_v = v_oc - current * r
        self.discharged_mah += current * dt_s / 3.6
        self.energy_j += power_w * dt_s

    def power_w(self, flight_power_w):
        """Electrical power drawn now, given the propulsion(+climb) power of the current motion."""
        avionics = self.params['SIM_AVIONICS_W']
        if not self.armed:
            return avionics
        if self.on_ground and not self._climbing():
            return avionics + IDLE_POWER_FRACTION * flight_power_w
        return avionics + flight_power_w

    def _climbing(self):
        return self.vel[2] < -0.05

    # --- the control modes --------------------------------------------------------------------
    def cruise_mps(self):
        return self._cruise_mps if self._cruise_mps is not None else self.params['MPC_XY_CRUISE']

    def _stop_point(self):
        """Where the vehicle comes to rest braking at the auto-mode accelerations."""
        a_h, p = self.params['MPC_ACC_HOR'], self.pos
        v = self.vel
        a_z = self.params['MPC_ACC_DOWN_MAX'] if v[2] < 0 else self.params['MPC_ACC_UP_MAX']
        return [p[0] + v[0] * abs(v[0]) / (2 * a_h), p[1] + v[1] * abs(v[1]) / (2 * a_h),
                min(p[2] + v[2] * abs(v[2]) / (2 * a_z), 0.0)]

    def _land_speed(self):
        """Descent rate in m/s for landing: MPC_Z_VEL_MAX_DN high up, MPC_LAND_SPEED below MPC_LAND_ALT2."""
        p = self.params
        h = -self.pos[2]
        hi, lo = max(p['MPC_LAND_ALT1'], p['MPC_LAND_ALT2']), p['MPC_LAND_ALT2']
        fast, slow = p['MPC_Z_VEL_MAX_DN'], min(p['MPC_LAND_SPEED'], p['MPC_Z_VEL_MAX_DN'])
        if h <= lo:
            return slow
        if h >= hi:
            return fast
        return slow + (fast - slow) * (h - lo) / (hi - lo)

    def _goto(self, target, speed_h=None, speed_up=None, speed_dn=None):
        """Desired velocity (NED) towards target: limited speed, braking so that it arrives without overshoot."""
        p = self.params
        speed_h = self.cruise_mps() if speed_h is None else speed_h
        speed_up = p['MPC_Z_VEL_MAX_UP'] if speed_up is None else speed_up
        speed_dn = p['MPC_Z_VEL_MAX_DN'] if speed_dn is None else speed_dn
        dn, de = target[0] - self.pos[0], target[1] - self.pos[1]
        dist = math.hypot(dn, de)
        vd = [0.0, 0.0, 0.0]
        if dist > 1e-6:
            s = min(speed_h, p['MPC_XY_P'] * dist, math.sqrt(1.6 * p['MPC_ACC_HOR'] * dist))
            vd[0], vd[1] = dn / dist * s, de / dist * s
        dz = target[2] - self.pos[2]
        a_z = p['MPC_ACC_DOWN_MAX'] if dz < 0 else p['MPC_ACC_UP_MAX']
        s = min(p['MPC_Z_P'] * abs(dz), math.sqrt(1.6 * a_z * abs(dz)))
        vd[2] = min(s, speed_dn) if dz > 0 else -min(s, speed_up)
        return vd

    def _distances(self, target):
        return math.hypot(target[0] - self.pos[0], target[1] - self.pos[1]), abs(target[2] - self.pos[2])

    def _face(self, target):
        """Yaw towards a target more than 2 m away (PX4 MPC_YAW_MODE 0)."""
        dn, de = target[0] - self.pos[0], target[1] - self.pos[1]
        if math.hypot(dn, de) > 2.0:
            self._target_yaw = math.atan2(de, dn)

    def _mode_takeoff(self):
        if not self.armed:
            return [0.0, 0.0, 0.0]
        if self._target is None:
            self._target = [self.pos[0], self.pos[1], self._takeoff_z]
        vd = self._goto(self._target, speed_up=self.params['MPC_TKO_SPEED'])
        if self._distances(self._target)[1] < 0.1:
            self._say('Takeoff complete')
            self._set_mode(MODE_HOLD)
            self._target = list(self._target)
        return vd

    def _mode_hold(self):
        if self._target is None:
            self._target = self._stop_point() if not self.on_ground or self._has_flown else list(self.pos)
            self._target_yaw = None
        if self.on_ground and self._target[2] >= -GROUND_TOLERANCE_M:
            return [0.0, 0.0, 0.0]
        self._face(self._target)
        return self._goto(self._target)

    def _mode_land(self):
        if self._phase is None:
            self._phase = 'descend'
            self._target = self._stop_point()
        self._target[2] = 0.0
        vd = self._goto(self._target)
        vd[2] = self._land_speed()
        return vd

    def _mode_rtl(self):
        p = self.params
        home = self.home_ned
        return_z = min(home[2] - p['RTL_RETURN_ALT'], self.pos[2])
        if self._phase is None:
            if self.on_ground and not self._has_flown:
                self._phase = 'land'
            else:
                self._phase = 'climb'
                self._target = [*self._stop_point()[:2], return_z]
                self._say('RTL: start return at {:.0f} m'.format(-return_z))
        if self._phase == 'climb':
            if self._distances(self._target)[1] < 0.3:
                self._phase = 'return'
                self._target = [home[0], home[1], self._target[2]]
            else:
                return self._goto(self._target)
        if self._phase == 'return':
            self._face(self._target)
            if self._distances(self._target)[0] < 0.5:
                self._phase = 'descend'
                descend_z = max(self._target[2], home[2] - p['RTL_DESCEND_ALT'])
                self._target = [home[0], home[1], descend_z]
            else:
                return self._goto(self._target)
        if self._phase == 'descend':
            if self._distances(self._target)[1] < 0.3:
                delay = p['RTL_LAND_DELAY']
                if delay < 0:
                    return self._goto(self._target)
                if self._phase_until_s is None:
                    self._phase_until_s = self.sim_s + delay
                if self.sim_s >= self._phase_until_s:
                    self._phase = 'land'
                    self._say('RTL: land at home')
            return self._goto(self._target)
        # land at home
        self._target = [home[0], home[1], 0.0]
        vd = self._goto(self._target)
        vd[2] = self._land_speed()
        return vd

    def _mode_offboard(self):
        sp = self.setpoint
        p = self.params
        vd = [0.0, 0.0, 0.0]
        for axis in range(3):
            if sp.pos[axis] is not None:
                err = sp.pos[axis] - self.pos[axis]
                gain, acc = (p['MPC_XY_P'], p['MPC_ACC_HOR_MAX']) if axis < 2 else (p['MPC_Z_P'], p['MPC_ACC_UP_MAX'])
                s = min(gain * abs(err), math.sqrt(1.6 * acc * abs(err)))
                vd[axis] = math.copysign(s, err) + (sp.vel[axis] or 0.0)
            elif sp.vel[axis] is not None:
                vd[axis] = sp.vel[axis]
            elif sp.acc[axis] is not None:
                vd[axis] = self.vel[axis] + sp.acc[axis] * VEL_TIME_CONSTANT_S
        h = math.hypot(vd[0], vd[1])
        if h > p['MPC_XY_VEL_MAX']:
            vd[0], vd[1] = vd[0] * p['MPC_XY_VEL_MAX'] / h, vd[1] * p['MPC_XY_VEL_MAX'] / h
        vd[2] = min(max(vd[2], -p['MPC_Z_VEL_MAX_UP']), p['MPC_Z_VEL_MAX_DN'])
        self._target_yaw = sp.yaw
        if sp.yaw_rate is not None and sp.yaw is None:
            self._target_yaw = None
            self.yaw_rate = sp.yaw_rate
        return vd

    def _mode_mission(self):
        """Execute the active mission item; returns the desired velocity."""
        p = self.params
        if not self.armed:
            return [0.0, 0.0, 0.0]
        if self._phase == 'takeoff' or (self._phase is None and self.on_ground and not self._has_flown):
            # on the ground: take off vertically to MIS_TAKEOFF_ALT first (PX4 mission takeoff)
            if self._phase != 'takeoff':
                self._phase = 'takeoff'
                self._target = [self.pos[0], self.pos[1], self.home_ned[2] - p['MIS_TAKEOFF_ALT']]
            vd = self._goto(self._target, speed_up=p['MPC_TKO_SPEED'])
            if self._distances(self._target)[1] < 0.3:
                self._phase = None
            return vd
        for _ in range(len(self.mission_items) + 1):   # non-navigation items complete at once
            if self.mission_complete or self.mission_seq >= len(self.mission_items):
                if not self.mission_complete:
                    self.mission_complete = True
                    self.events.append(('mission_current', None))
                    self._say('Mission finished, loitering')
                    self._target = self._stop_point() if not self.on_ground else list(self.pos)
                if self.on_ground:
                    return [0.0, 0.0, 0.0]
                return self._goto(self._target)
            item = self.mission_items[self.mission_seq]
            if self._phase is None:
                self._start_item(item)
            done, vd = self._run_item(item)
            if not done:
                return vd
            self._item_done(item)
        return [0.0, 0.0, 0.0]

    def _start_item(self, item):
        self._phase = 'go'
        self._phase_until_s = None
        if item.command == mi.DO_CHANGE_SPEED:
            self.change_speed(int(item.param1), item.param2)
        if item.command in mi.POSITION_ITEMS:
            n, e, d = self.pos
            if math.isfinite(item.lat_deg):
                n, e, _ = (float(v) for v in self.frame.to_ned(item.lat_deg, item.lon_deg, self.home_geo[2]))
            alt = item.altitude_amsl_m(self.home_geo[2])
            if alt is not None and item.command != mi.NAV_LAND:
                d = min(float(self.frame.to_ned(self.frame.origin[0], self.frame.origin[1], alt)[2]), 0.0)
            self._target = [n, e, d]
            self._target_yaw = math.radians(item.param4) if math.isfinite(item.param4) else None
        if item.command == mi.NAV_RETURN_TO_LAUNCH:
            self.mission_complete = True
            self.events.append(('mission_current', None))
            self._set_mode(MODE_RTL)

    def _run_item(self, item):
        """(done, desired velocity) for the active item."""
        p = self.params
        cmd = item.command
        if cmd == mi.NAV_RETURN_TO_LAUNCH:
            return False, [0.0, 0.0, 0.0]
        if cmd in mi.POSITION_ITEMS and self._phase == 'go':
            if cmd == mi.NAV_LAND:
                if self._distances(self._target)[0] > 0.5:
                    return False, self._goto([self._target[0], self._target[1], self.pos[2]])
                self._phase = 'land'
            else:
                if self._target_yaw is None:
                    self._face(self._target)
                radius = item.param2 if (cmd == mi.NAV_WAYPOINT and item.param2 > 0) else p['NAV_ACC_RAD']
                dh, dv = self._distances(self._target)
                if dh > radius or dv > p['NAV_MC_ALT_RAD']:
                    return False, self._goto(self._target)
                self._phase = 'wait'
        if self._phase == 'land':
            if self.on_ground:
                return True, [0.0, 0.0, 0.0]
            vd = self._goto([self._target[0], self._target[1], 0.0])
            vd[2] = self._land_speed()
            return False, vd
        wait_s = 0.0
        if cmd in (mi.NAV_WAYPOINT, mi.NAV_LOITER_TIME, mi.NAV_DELAY):
            wait_s = item.param1 if math.isfinite(item.param1) and item.param1 > 0 else 0.0
        if cmd == mi.NAV_LOITER_UNLIM:
            wait_s = math.inf
        if self._phase_until_s is None:
            self._phase_until_s = self.sim_s + wait_s
        hold = self._goto(self._target) if self._target is not None and not self.on_ground else [0.0, 0.0, 0.0]
        if self.sim_s < self._phase_until_s:
            return False, hold
        return True, hold

    def _item_done(self, item):
        self.events.append(('reached', item.seq))
        self.mission_seq += 1
        self._phase = None
        self.events.append(('mission_current', None))

    # --- physics ----------------------------------------------------------------------------
    def step(self, dt_s, wall_s, flight_power_w=0.0):
        """Advance the simulation by dt_s sim seconds (call at >= 50 Hz sim; sub-steps above 20 ms)."""
        self._check_failsafes(wall_s)
        self._drain(self.power_w(flight_power_w), dt_s)
        n_sub = max(1, int(math.ceil(dt_s / 0.02 - 1e-9)))
        h = dt_s / n_sub
        for _ in range(n_sub):
            self._physics(h, wall_s)

    def _desired_velocity(self):
        self.yaw_rate = 0.0
        if self.mode == MODE_OFFBOARD and self.setpoint is not None:
            return self._mode_offboard()
        if not self.armed:
            return [0.0, 0.0, 0.0]
        handler = {MODE_TAKEOFF: self._mode_takeoff, MODE_LAND: self._mode_land, MODE_RTL: self._mode_rtl,
                   MODE_MISSION: self._mode_mission}.get(self.mode, self._mode_hold)
        return handler()

    def _physics(self, dt, wall_s):
        p = self.params
        self.sim_s += dt
        self._wind_step(dt)
        if self.armed:
            vd = self._desired_velocity()
            a = [(vd[k] - self.vel[k]) / VEL_TIME_CONSTANT_S for k in range(3)]
            acc_h = p['MPC_ACC_HOR_MAX'] if self.mode == MODE_OFFBOARD else max(p['MPC_ACC_HOR'], 0.1)
            ah = math.hypot(a[0], a[1])
            if ah > acc_h:
                a[0], a[1] = a[0] * acc_h / ah, a[1] * acc_h / ah
            a[2] = min(max(a[2], -p['MPC_ACC_UP_MAX']), p['MPC_ACC_DOWN_MAX'])
        elif not self.on_ground:
            a = [-0.1 * self.vel[0], -0.1 * self.vel[1], GRAVITY_MPS2]        # disarmed in the air: falls
        else:
            a = [0.0, 0.0, 0.0]
        self.acc = a
        for k in range(3):
            self.vel[k] += a[k] * dt
            self.pos[k] += self.vel[k] * dt
        if self.pos[2] >= 0.0:                      # the ground
            self.pos[2] = 0.0
            if self.vel[2] > 0.0:
                self.vel[2] = 0.0
            if self.vel[2] > -0.05:
                self.vel[0] = self.vel[1] = 0.0
        self._yaw_step(dt)
        self._landing_logic(dt, wall_s)

    def _wind_step(self, dt):
        sigma = self.params['SIM_WIND_GUST']
        if sigma <= 0.0:
            return
        tau = 5.0
        noise = self.rng.standard_normal(2)
        for k in range(2):
            self.wind_gust[k] += -self.wind_gust[k] * dt / tau + sigma * math.sqrt(2.0 * dt / tau) * noise[k]

    def _yaw_step(self, dt):
        max_rate = math.radians(self.params['MPC_YAWRAUTO_MAX'])
        if self._target_yaw is not None and self.armed:
            err = (self._target_yaw - self.yaw + math.pi) % (2 * math.pi) - math.pi
            self.yaw_rate = max(-max_rate, min(max_rate, 2.0 * err))
        elif not self.armed:
            self.yaw_rate = 0.0
        self.yaw = (self.yaw + self.yaw_rate * dt + math.pi) % (2 * math.pi) - math.pi

    def _landing_logic(self, dt, wall_s):
        p = self.params
        if not self.armed:
            self.landed_state = LANDED_ON_GROUND if self.on_ground else LANDED_IN_AIR
            return
        if not self.on_ground and -self.pos[2] > 0.3:
            if not self._has_flown:
                self._has_flown = True
                self._say('Takeoff detected')
        if self.on_ground:
            if self._has_flown and not self._climbing():
                self._landed_for_s += dt
                if 0 <= p['COM_DISARM_LAND'] <= self._landed_for_s:
                    if self.mode == MODE_MISSION and not self.mission_complete:
                        self.mission_complete = True
                        self.events.append(('mission_current', None))
                    self.disarm(force=True, reason='Disarmed by landing')
                    self.landed_state = LANDED_ON_GROUND
                    return
            elif not self._has_flown and 0 <= p['COM_DISARM_PRFLT'] <= wall_s - self._armed_wall_s \
                    and not self._climbing() and self.mode not in (MODE_TAKEOFF, MODE_MISSION):
                self.disarm(force=True, reason='Disarmed: no takeoff (COM_DISARM_PRFLT)')
                return
        else:
            self._landed_for_s = 0.0
        if self.on_ground and not self._climbing():
            self.landed_state = LANDED_ON_GROUND
        elif self.mode == MODE_TAKEOFF or (self.mode == MODE_MISSION and self._phase == 'takeoff'):
            self.landed_state = LANDED_TAKEOFF
        elif self.mode == MODE_LAND or (self.mode == MODE_RTL and self._phase == 'land') or (
                self.mode == MODE_MISSION and self._phase == 'land'):
            self.landed_state = LANDED_LANDING
        else:
            self.landed_state = LANDED_IN_AIR

    # --- attitude for telemetry -----------------------------------------------------------------
    def attitude(self):
        """(roll, pitch, yaw) in rad: the tilt that produces the current horizontal acceleration plus drag."""
        wind_n = self.params['SIM_WIND_N'] + self.wind_gust[0]
        wind_e = self.params['SIM_WIND_E'] + self.wind_gust[1]
        drag = 0.05     # 1/s, lumped linear drag for the tilt estimate [A]
        an = self.acc[0] + drag * (self.vel[0] - wind_n)
        ae = self.acc[1] + drag * (self.vel[1] - wind_e)
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        forward, right = c * an + s * ae, -s * an + c * ae
        if not self.armed and self.on_ground:
            return 0.0, 0.0, self.yaw
        return math.atan2(right, GRAVITY_MPS2), -math.atan2(forward, GRAVITY_MPS2), self.yaw

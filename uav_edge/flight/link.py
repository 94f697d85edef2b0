"""One vehicle's MAVSDK link, run by a worker thread of its own (never by the ROS executor).

    link = FlightLink('udpin://127.0.0.1:14540', home_m=(10, 20, 0)).start()
    link.state()                      # FlightState snapshot: link, armed, mode, pose in the world frame ...
    link.command('arm').result(5)     # concurrent.futures.Future -> (ok, message)
    link.set_target((50, 60, 30))     # world ENU m; streamed as an offboard setpoint at rate_hz
    link.set_velocity((2, 0, 0))      # or world ENU m/s; stale after stale_velocity_s -> hold position
    link.command('offboard_start')
    link.close()

Each tick (rate_hz, default 20 Hz; absolute deadlines, so late ticks do not shift the next ones)
the thread sends the offboard setpoint first (steady timing), then reads telemetry into a
FlightState and starts queued commands with MAVSDK's *_async calls, so a slow vehicle never stalls
the stream. MAVSDK 4.x (no mavsdk_server) keeps one UDP socket per link; it sees a restarted
vehicle's heartbeats on the same port, so a restart is survived without reopening anything
(link_up goes False, then True, and is counted). Any exception from MAVSDK is counted, remembered
(last_error) and retried next tick: the thread never dies of it.

Restart / link loss while streaming: the stream pauses while the link is down and resumes (same
target) when the vehicle is back, but the link never re-arms or re-enters Offboard by itself; it
flags offboard_lost ('vehicle restarted: offboard lost') until the next offboard_start.

Timing (docs/flight.md, "Setpoint jitter"): the thread competes with the ROS executor for the GIL,
so start() lowers the interpreter's switch interval to gil_switch_interval_s (process-wide, only
ever lowered); under heavy CPU load the OS scheduler dominates, which realtime_priority > 0
(SCHED_FIFO for this thread and MAVSDK's threads it creates; needs CAP_SYS_NICE) removes.

Frames: positions go through world.WorldFrame (uav_edge.core.frames): vehicle WGS84 <-> world ENU,
velocities NED -> ENU with frames.ned_to_enu; setpoints are sent as global (lat, lon, AMSL)
position targets, so PX4's local-origin choice never matters.
"""
import concurrent.futures
import math
import os
import queue
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, replace

import numpy as np

from uav_edge.core import frames
from uav_edge.flight.world import PathFollower, WorldFrame

COMMANDS = ('arm', 'disarm', 'takeoff', 'land', 'rtl', 'hold', 'offboard_start', 'offboard_stop')
NAN = float('nan')


@dataclass(frozen=True)
class FlightState:
    """A snapshot of one vehicle; positions/velocities in the world ENU frame (m, m/s), None until known."""

    link_up: bool = False
    connected_once: bool = False
    armed: bool = False
    in_air: bool = False
    landed_state: str = 'UNKNOWN'
    mode: str = 'UNKNOWN'
    health_ok: bool = False
    armable: bool = False
    position_m: tuple = None
    velocity_mps: tuple = None
    yaw_rad: float = NAN              # ENU heading: 0 = east, counter-clockwise
    home_m: tuple = None
    battery_v: float = NAN
    battery_a: float = NAN
    battery_fraction: float = NAN     # 0..1
    offboard_streaming: bool = False
    offboard_lost: bool = False       # the link dropped while streaming (vehicle restart): until offboard_start
    velocity_stale: bool = False      # a velocity setpoint went stale: holding position instead
    telemetry_s: float = NAN          # time.monotonic() of this snapshot

    def distance_home_m(self):
        """Horizontal distance to home in m (NaN while unknown)."""
        if self.position_m is None or self.home_m is None:
            return NAN
        return math.hypot(self.position_m[0] - self.home_m[0], self.position_m[1] - self.home_m[1])


def default_url(instance):
    """PX4 SITL convention: instance i pushes MAVLink to 127.0.0.1:14540+i."""
    return f'udpin://127.0.0.1:{14540 + int(instance)}'


class FlightLink:
    """One MAVSDK connection to one vehicle plus the thread that runs it (see the module docstring).

    world_origin: (lat0, lon0, alt0 AMSL) of the world frame, or None to anchor the frame at the
    vehicle's home so that the home sits at home_m (world ENU m). takeoff_altitude_m > 0 sets
    MIS_TAKEOFF_ALT on every (re)connect. command_timeout_s bounds every command's Future.
    stale_velocity_s: a velocity setpoint older than this (s) is replaced by holding position.
    gil_switch_interval_s: start() lowers sys.setswitchinterval to this (s; 0 = leave it).
    realtime_priority: 0 = normal scheduling; 1..99 = SCHED_FIFO priority of the link thread.
    """

    def __init__(self, url, rate_hz=20.0, world_origin=None, home_m=(0.0, 0.0, 0.0), takeoff_altitude_m=0.0,
                 acceptance_radius_m=1.0, command_timeout_s=10.0, logger=None, stale_velocity_s=0.5,
                 gil_switch_interval_s=0.001, realtime_priority=0):
        if not (isinstance(url, str) and '://' in url):
            raise ValueError(f'connection_url: expected a MAVSDK URL such as udpin://127.0.0.1:14540, got {url!r}')
        if not (math.isfinite(rate_hz) and 1.0 <= rate_hz <= 100.0):
            raise ValueError(f'setpoint_rate_hz: must be in [1, 100] Hz (PX4 needs > 2 Hz), got {rate_hz!r}')
        if not (math.isfinite(takeoff_altitude_m) and takeoff_altitude_m >= 0.0):
            raise ValueError(f'takeoff_altitude_m: must be >= 0 m (0 = vehicle default), got {takeoff_altitude_m!r}')
        if not (math.isfinite(stale_velocity_s) and 0.05 <= stale_velocity_s <= 60.0):
            raise ValueError(f'velocity_stale_after_s: must be in [0.05, 60] s, got {stale_velocity_s!r}')
        if not (math.isfinite(gil_switch_interval_s) and 0.0 <= gil_switch_interval_s <= 0.1):
            raise ValueError('gil_switch_interval_s: must be in [0, 0.1] s (0 = leave it), '
                             f'got {gil_switch_interval_s!r}')
        if not (isinstance(realtime_priority, (int, float)) and realtime_priority in range(100)):
            raise ValueError(f'realtime_priority: must be an integer in [0, 99] (0 = off), got {realtime_priority!r}')
        self.url, self.rate_hz = url, float(rate_hz)
        self.home_m = tuple(float(v) for v in frames._vectors('home_m', home_m))
        self.world = None if world_origin is None or len(world_origin) == 0 else WorldFrame(*world_origin)
        self.takeoff_altitude_m = float(takeoff_altitude_m)
        self.acceptance_radius_m = float(acceptance_radius_m)
        self.command_timeout_s = float(command_timeout_s)
        self.stale_after_s = 1.0           # a position older than this is not published (e.g. after a restart)
        self.stale_velocity_s = float(stale_velocity_s)
        self.gil_switch_interval_s = float(gil_switch_interval_s)
        self.realtime_priority = int(realtime_priority)
        self.realtime = False              # True once the thread runs SCHED_FIFO
        self.log = logger
        self.counts = Counter()            # setpoints_sent, link_losses, reconnects, errors, commands ...
        self.last_error = ''
        self.send_times = None             # list of time.monotonic() per setpoint sent (bench), or None
        self._lock = threading.Lock()
        self._state = FlightState()
        self._target = None                # (xyz world m, yaw ENU rad)
        self._path = None                  # PathFollower
        self._velocity = None              # (vxyz world m/s, yaw ENU rad or None, time.monotonic() set)
        self._velocity_stale = False
        self._streaming = False            # sending setpoints
        self._expect_offboard = False      # ... and the vehicle should be in Offboard (we switched it)
        self._resume = False               # the link dropped while streaming: resume when it is back
        self._offboard_lost = False
        self._stream_started_s = 0.0
        self._commands = queue.Queue()
        self._pending = []                 # (deadline, name, future)
        self._stop = threading.Event()
        self._thread = None
        self._mavsdk = self._system = None
        self._plugins = {}
        self._position = (-math.inf, None)   # (time.monotonic() received, mavsdk Position) from the stream

    # --- the node's side (thread-safe, never blocks) ----------------------------------------------

    def start(self):
        """Start the worker thread (and lower the GIL switch interval, see the module docstring)."""
        if 0.0 < self.gil_switch_interval_s < sys.getswitchinterval():
            sys.setswitchinterval(self.gil_switch_interval_s)
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=f'flight-link {self.url}', daemon=True)
            self._thread.start()
        return self

    def close(self):
        """Stop the thread, fail pending commands, release MAVSDK (idempotent)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
        self._fail_all('link closed')
        if self._mavsdk is not None:
            self._mavsdk.destroy()
            self._mavsdk = self._system = None
            self._plugins = {}

    def state(self):
        with self._lock:
            return self._state

    def set_target(self, xyz_m, yaw_rad=0.0):
        """Offboard position target in the world frame (m, ENU yaw rad); replaces any path."""
        with self._lock:
            self._target = (np.asarray(xyz_m, dtype=float).copy(), float(yaw_rad))
            self._path = self._velocity = None
            self._velocity_stale = False

    def set_path(self, points_m, yaw_rad=0.0):
        """Follow waypoints (K, 3) world m in order; the last one is held. Replaces any target."""
        follower = PathFollower(points_m, self.acceptance_radius_m)
        with self._lock:
            self._path = (follower, float(yaw_rad))
            self._target = self._velocity = None
            self._velocity_stale = False

    def set_velocity(self, velocity_mps, yaw_rad=None):
        """Offboard velocity (vx, vy, vz) world ENU m/s; heading yaw_rad (ENU) or None = keep the current one.

        Replaces any target or path. If no newer one arrives within stale_velocity_s, the link holds
        the position where the vehicle is at that moment (state().velocity_stale says so).
        """
        v = frames._vectors('velocity_mps', velocity_mps)
        if v.shape != (3,):
            raise ValueError(f'velocity_mps: expected (vx, vy, vz) m/s, got shape {v.shape}')
        with self._lock:
            if yaw_rad is None:
                yaw_rad = self._velocity[1] if self._velocity is not None else self._state.yaw_rad
            self._velocity = (v.copy(), float(yaw_rad) if math.isfinite(yaw_rad) else 0.0, time.monotonic())
            self._target = self._path = None
            self._velocity_stale = False

    def command(self, name):
        """Queue a vehicle command; returns a concurrent.futures.Future resolving to (ok, message)."""
        future = concurrent.futures.Future()
        if name not in COMMANDS:
            future.set_result((False, f'unknown command {name!r}; expected one of {COMMANDS}'))
            return future
        self._commands.put((name, future))
        return future

    # --- the worker thread ------------------------------------------------------------------------

    def _run(self):
        if self.realtime_priority > 0:
            self._go_realtime()
        period = 1.0 / self.rate_hz
        next_tick = time.monotonic()
        while not self._stop.is_set():
            try:
                if self._system is None:
                    self._open()
                else:
                    self._tick()
            except Exception as err:                 # MAVSDK/ctypes errors: report and retry next tick
                self._error(err)
            next_tick += period
            delay = next_tick - time.monotonic()
            if delay < 0.0:                          # fell behind: do not burst to catch up
                next_tick = time.monotonic()
                self.counts['overruns'] += self._system is not None
            else:
                self._stop.wait(delay)

    def _go_realtime(self):
        """SCHED_FIFO for this thread (MAVSDK's threads, created from here, inherit it)."""
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(self.realtime_priority))
            self.realtime = True
        except (OSError, AttributeError) as err:      # no CAP_SYS_NICE / RLIMIT_RTPRIO, or not Linux
            self.counts['realtime_denied'] += 1
            self._say(f'realtime_priority {self.realtime_priority}: {err}; running with normal priority', warn=True)

    def _open(self):
        """Create the MAVSDK instance (once) and wait briefly for the autopilot."""
        from mavsdk import ComponentType, Configuration, Mavsdk
        if self._mavsdk is None:
            self._mavsdk = Mavsdk(Configuration.create_with_component_type(ComponentType.GROUND_STATION))
            result = self._mavsdk.add_any_connection(self.url)
            if result.name != 'SUCCESS':
                self._mavsdk.destroy()
                self._mavsdk = None
                raise RuntimeError(f'cannot open {self.url}: {result.name}')
        self._expire_commands(time.monotonic())
        self._reject_queued('no vehicle on ' + self.url)
        system = self._mavsdk.first_autopilot(0.2)
        if system is None:
            return
        from mavsdk.plugins.action import Action
        from mavsdk.plugins.offboard import Offboard
        from mavsdk.plugins.telemetry import Telemetry
        self._system = system
        self._plugins = {'action': Action(system), 'offboard': Offboard(system), 'telemetry': Telemetry(system)}
        self._plugins['telemetry'].subscribe_position(self._on_position)
        self._say(f'vehicle found on {self.url} (system id {system.get_system_id()})')

    def _tick(self):
        now = time.monotonic()
        if self._streaming:
            self._send_setpoint(now)
        self._read_telemetry(now)
        self._start_commands(now)
        self._expire_commands(now)

    def _read_telemetry(self, now):
        t = self._plugins['telemetry']
        up = self._system.is_connected()
        old = self._state
        if not up:
            if old.link_up:
                self.counts['link_losses'] += 1
                self._resume = self._resume or self._streaming
                self._streaming = False
                self._say(f'link to {self.url} lost', warn=True)
            with self._lock:
                self._state = replace(old, link_up=False, offboard_streaming=False)
            return
        if not old.link_up:
            if old.connected_once:
                self.counts['reconnects'] += 1
                self._say(f'link to {self.url} back')
            self._on_connect()
            if self._resume:
                self._resume_stream(t.flight_mode().name)
        health = t.health()
        if self.world is None and health.is_home_position_ok:
            home = t.home()
            self.world = WorldFrame.from_home((home.latitude_deg, home.longitude_deg, home.absolute_altitude_m),
                                              self.home_m)
        position = velocity = home_m = None
        yaw = NAN
        received_s, p = self._position
        if self.world is not None and health.is_global_position_ok and now - received_s < self.stale_after_s:
            position = tuple(self.world.to_world(p.latitude_deg, p.longitude_deg, p.absolute_altitude_m).tolist())
            v = t.velocity_ned()
            velocity = tuple(frames.ned_to_enu([v.north_m_s, v.east_m_s, v.down_m_s]).tolist())
            yaw = float(frames.yaw_ned_to_enu(math.radians(t.heading().heading_deg)))
        if self.world is not None and health.is_home_position_ok:
            h = t.home()
            home_m = tuple(self.world.to_world(h.latitude_deg, h.longitude_deg, h.absolute_altitude_m).tolist())
        battery = t.battery()
        mode = t.flight_mode().name
        if self._streaming and self._expect_offboard and mode != 'OFFBOARD' and now - self._stream_started_s > 3.0:
            self._streaming = self._expect_offboard = False   # it left offboard (failsafe, RC, another GCS)
            self._say(f'vehicle left offboard (mode {mode}): setpoint stream stopped', warn=True)
        fraction = battery.remaining_percent / 100.0 if math.isfinite(battery.remaining_percent) else NAN
        state = FlightState(
            link_up=True, connected_once=True, armed=t.armed(), in_air=t.in_air(),
            landed_state=t.landed_state().name, mode=mode, health_ok=t.health_all_ok(), armable=health.is_armable,
            position_m=position, velocity_mps=velocity, yaw_rad=yaw, home_m=home_m,
            battery_v=battery.voltage_v, battery_a=battery.current_battery_a, battery_fraction=fraction,
            offboard_streaming=self._streaming, offboard_lost=self._offboard_lost,
            velocity_stale=self._velocity_stale, telemetry_s=now)
        with self._lock:
            self._state = state

    def _resume_stream(self, mode):
        """Back after a link loss that interrupted the stream: stream again, never re-arm or re-enter Offboard."""
        self._resume = False
        self._streaming, self._stream_started_s = True, time.monotonic()
        self._expect_offboard = mode == 'OFFBOARD'     # still in Offboard (short loss): carry on as before
        self._offboard_lost = not self._expect_offboard
        if self._offboard_lost:
            self.counts['offboard_lost'] += 1
            self._say('vehicle restarted: offboard lost; setpoint stream resumed, call offboard_start', warn=True)

    def _on_position(self, position, _user_data=None):
        self._position = (time.monotonic(), position)     # MAVSDK's thread; one tuple store is atomic

    def _on_connect(self):
        if self.takeoff_altitude_m > 0.0:
            self._plugins['action'].set_takeoff_altitude_async(
                self.takeoff_altitude_m, lambda result, _: result.name == 'SUCCESS' or self._error(
                    RuntimeError(f'set takeoff altitude: {result.name}')))

    # --- offboard stream --------------------------------------------------------------------------

    def _current_target(self, now):
        """('position', xyz world m, yaw ENU rad) or ('velocity', vxyz world m/s, yaw) to stream now, or None.

        A velocity setpoint older than stale_velocity_s becomes a position hold where the vehicle is
        (zero velocity until a position is known).
        """
        with self._lock:
            position = self._state.position_m
            if self._velocity is not None:
                velocity, yaw, set_s = self._velocity
                if now - set_s <= self.stale_velocity_s:
                    return 'velocity', velocity, yaw
                if not self._velocity_stale:
                    self._velocity_stale = True
                    self.counts['velocity_stale'] += 1
                if position is None:
                    return 'velocity', np.zeros(3), yaw
                self._velocity = None
                self._target = (np.asarray(position, dtype=float), yaw)
            if self._path is not None:
                follower, yaw = self._path
                if position is None:
                    return 'position', follower.points[follower.index if not follower.finished else -1], yaw
                return 'position', follower.target(np.asarray(position)), yaw
            return None if self._target is None else ('position', *self._target)

    def _send_setpoint(self, now):
        from mavsdk.plugins.offboard import PositionGlobalYaw, VelocityNedYaw
        target = self._current_target(now)
        if target is None or self.world is None:
            return
        kind, vector, yaw = target
        yaw_deg = math.degrees(float(frames.yaw_enu_to_ned(yaw)))
        if kind == 'velocity':
            north, east, down = (float(v) for v in frames.enu_to_ned(vector))
            self._plugins['offboard'].set_velocity_ned(VelocityNedYaw(north, east, down, yaw_deg))
        else:
            lat, lon, alt = self.world.to_geodetic(vector)
            self._plugins['offboard'].set_position_global(PositionGlobalYaw(
                float(lat), float(lon), float(alt), yaw_deg, PositionGlobalYaw.AltitudeType.AMSL))
        self.counts['setpoints_sent'] += 1
        if self.send_times is not None:
            self.send_times.append(time.monotonic())

    # --- commands -----------------------------------------------------------------------------------

    def _start_commands(self, now):
        while True:
            try:
                name, future = self._commands.get_nowait()
            except queue.Empty:
                return
            self.counts['commands'] += 1
            with self._lock:
                self._pending.append((now + self.command_timeout_s, name, future))
            try:
                self._dispatch(name, future)
            except Exception as err:
                self._resolve(future, False, f'{name}: {type(err).__name__}: {err}')
                self._error(err)

    def _dispatch(self, name, future):
        action, offboard = self._plugins['action'], self._plugins['offboard']

        def done(result, _user_data=None, on_success=None):
            ok = result.name == 'SUCCESS'
            if ok and on_success is not None:
                on_success()
            if not ok and name == 'offboard_start':
                self._streaming = self._expect_offboard = False
            self._resolve(future, ok, f'{name}: {result.name}')

        if not self._state.link_up:
            self._resolve(future, False, f'{name}: link down')
            return
        if name == 'offboard_start':
            if self.world is None or self._state.position_m is None:
                self._resolve(future, False, 'offboard_start: no position fix yet')
                return
            with self._lock:                          # PX4 needs a setpoint first: hold here unless told
                nothing = self._target is None and self._path is None and self._velocity is None
                if nothing or self._velocity_stale:   # (a stale velocity's hold point may be old: hold here)
                    self._target = (np.asarray(self._state.position_m), self._state.yaw_rad
                                    if math.isfinite(self._state.yaw_rad) else 0.0)
            self._streaming, self._stream_started_s = True, time.monotonic()
            self._expect_offboard, self._offboard_lost = True, False
            self._send_setpoint(time.monotonic())
            offboard.start_async(done)
            return
        if name == 'offboard_stop':
            offboard.stop_async(lambda r, u=None: done(r, u, on_success=self._stop_stream))
            return
        if name in ('land', 'rtl', 'hold', 'disarm'):
            self._stop_stream()                       # leaving offboard: stop competing setpoints
        calls = {'arm': action.arm_async, 'disarm': action.disarm_async, 'takeoff': action.takeoff_async,
                 'land': action.land_async, 'rtl': action.return_to_launch_async, 'hold': action.hold_async}
        calls[name](done)

    def _stop_stream(self):
        self._streaming = self._expect_offboard = self._resume = False

    def _resolve(self, future, ok, message):
        with self._lock:
            self._pending = [p for p in self._pending if p[2] is not future]
        if not future.done():
            try:
                future.set_result((ok, message))
            except concurrent.futures.InvalidStateError:
                pass
        if not ok:
            self.counts['commands_failed'] += 1

    def _expire_commands(self, now):
        with self._lock:
            late = [p for p in self._pending if p[0] < now]
        for _, name, future in late:
            self._resolve(future, False, f'{name}: no answer within {self.command_timeout_s:g} s')

    def _reject_queued(self, reason):
        while True:
            try:
                name, future = self._commands.get_nowait()
            except queue.Empty:
                return
            self._resolve(future, False, f'{name}: {reason}')

    def _fail_all(self, reason):
        self._reject_queued(reason)
        with self._lock:
            pending = list(self._pending)
        for _, name, future in pending:
            self._resolve(future, False, f'{name}: {reason}')

    # --- reporting ----------------------------------------------------------------------------------

    def _error(self, err):
        self.counts['errors'] += 1
        self.last_error = f'{type(err).__name__}: {err}'
        if self.counts['errors'] in (1, 10, 100, 1000):
            self._say(f'MAVSDK error #{self.counts["errors"]}: {self.last_error}', warn=True)
        return False

    def _say(self, text, warn=False):
        if self.log is None:
            return
        try:                                         # rclpy loggers want one severity per call site
            if warn:
                self.log.warning(text)
            else:
                self.log.info(text)
        except Exception:                            # logging must never stop the link
            pass

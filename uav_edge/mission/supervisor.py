"""The mission supervisor: arm, take off, offboard, fly the planned route, land, per UAV.

Per UAV a Sequence (pure python, no rclpy, unit-tested) decides the next flight_bridge command
from what the monitor sees (monitor.UavView) and from the answers to earlier commands:

    waiting --arm--> arming --takeoff--> taking off --(height >= takeoff)--offboard_start--> flying
    flying --(final waypoint of the planner's path reached)--land--> landing --(on the ground)--> done
    any airborne phase --request_return() (--duration, shutdown)--rtl--> returning --> done
    energy alarm while airborne: the flight bridge itself starts RTL / land -> returning --> done
    energy alarm on the ground: grounded (no take-off);  a phase stuck past its timeout: failed

"Route complete" follows the planner's rule (trajectory_planner): the waypoints of its latest
path are passed in order, each within accept_radius_m horizontally; the route is complete
when the last one (home at cruise altitude) is reached. A replan (new path) restarts the count.
The Supervisor node calls the bridge's std_srvs/Trigger services asynchronously (never blocking
the executor) and steps every Sequence on a timer.
"""
import math
import threading
from dataclasses import dataclass

import numpy as np
from rclpy.node import Node
from std_srvs.srv import Trigger

from uav_edge.nodes import contract

WAITING, ARMING, TAKING_OFF, FLYING, LANDING, RETURNING = \
    'waiting', 'arming', 'taking off', 'flying', 'landing', 'returning'
DONE, GROUNDED, FAILED, ABORTED = 'done', 'grounded', 'failed', 'aborted'
FINAL = (DONE, GROUNDED, FAILED, ABORTED)


@dataclass(frozen=True)
class SequenceOptions:
    """Timing and thresholds of the sequence [A]."""

    takeoff_altitude_m: float = 5.0     # offboard starts once this high (the bridges' MIS_TAKEOFF_ALT)
    accept_radius_m: float = 5.0        # route waypoint reached within this horizontal distance (= planner's)
    retries: int = 3                    # attempts per command before the UAV is marked failed
    retry_after_s: float = 1.0          # pause before a failed command is tried again
    start_timeout_s: float = 60.0       # link, health and route must be there within this
    takeoff_timeout_s: float = 60.0     # arm -> offboard
    landing_timeout_s: float = 180.0    # land / rtl -> on the ground and disarmed
    answer_timeout_s: float = 10.0      # a command with no answer by then counts as a failed attempt (a
                                        # service response can be lost: rmw "failed to send response (timeout)")

    def __post_init__(self):
        for name in ('takeoff_altitude_m', 'accept_radius_m', 'retry_after_s', 'start_timeout_s',
                     'takeoff_timeout_s', 'landing_timeout_s', 'answer_timeout_s'):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f'{name}: must be finite and > 0, got {value}')
        if not (isinstance(self.retries, int) and self.retries >= 1):
            raise ValueError(f'retries: expected an integer >= 1, got {self.retries!r}')


class Sequence:
    """The flight sequence of one UAV. step(view, t) -> command name to send or None; result(...) after."""

    def __init__(self, name, options=SequenceOptions()):
        self.name, self.options = name, options
        self.phase, self.since = WAITING, 0.0
        self.pending = None                # (command, phase on success, sent at t): answer not yet in
        self.failures = 0
        self.retry_at = -math.inf
        self.return_requested = False
        self.waypoint = 1                  # next waypoint of the planner's path to pass
        self.path_version = None
        self.times = {}                    # milestone -> t: armed, airborne, route_complete, landed ...
        self.events = []                   # (t, text), drained by the supervisor into the mission log
        self.reason = ''

    @property
    def finished(self):
        return self.phase in FINAL

    def _go(self, phase, t, text=None):
        self.phase, self.since, self.failures = phase, t, 0
        self.events.append((t, f'{self.name}: {text or phase}'))

    def request_return(self):
        """--duration reached or shutdown: come home and land (or stay on the ground)."""
        self.return_requested = True

    def step(self, view, t):
        """The command to send now (None: nothing to do), given the UAV's latest view at time t (s)."""
        if self.pending is not None and t - self.pending[2] > self.options.answer_timeout_s:
            self.result(False, f'{self.pending[0]}: no answer within {self.options.answer_timeout_s:g} s', t)
        if self.finished or self.pending is not None or t < self.retry_at:
            return None
        o, phase = self.options, self.phase
        airborne = view.in_air or (math.isfinite(view.height_m) and view.height_m > 1.0)
        if view.energy_alarm and phase not in (LANDING, RETURNING):
            if airborne:      # the flight bridge has started RTL / land on the alarm's rising edge
                self.reason = 'energy reserve: the bridge returns the UAV'
                self._go(RETURNING, t, self.reason)
                return None
            if phase in (WAITING, ARMING):
                self._go(GROUNDED, t, 'energy reserve on the ground: no take-off')
                return None
        if self.return_requested and phase in (WAITING, ARMING, TAKING_OFF, FLYING):
            if airborne:
                return self._send('rtl', RETURNING, t)
            if view.armed:
                return self._send('disarm', ABORTED, t)
            self._go(ABORTED, t, 'stopped before take-off')
            return None
        if phase == WAITING:
            if view.link_up and view.armable and view.position_m is not None and view.path_m is not None:
                return self._send('arm', ARMING, t)
            return self._timeout(t, o.start_timeout_s, 'no link / health / route')
        if phase == ARMING:                            # armed: take off
            return self._send('takeoff', TAKING_OFF, t)
        if phase == TAKING_OFF:
            if view.height_m >= o.takeoff_altitude_m - 0.5:
                self.times.setdefault('airborne', t)
                return self._send('offboard_start', FLYING, t)
            if not view.armed and t - self.since > 5.0:      # auto-disarmed before lifting off: start over
                self._go(WAITING, t, 'disarmed before take-off; arming again')
                return None
            return self._timeout(t, o.takeoff_timeout_s, 'take-off did not reach altitude')
        if phase == FLYING:
            if view.mode not in ('OFFBOARD', '') and t - self.since > 3.0:
                self.reason = f'left offboard (mode {view.mode}): vehicle failsafe'
                self._go(RETURNING, t, self.reason)
                return None
            if self.route_complete(view):
                self.times['route_complete'] = t
                return self._send('land', LANDING, t)
            return None
        if phase in (LANDING, RETURNING):
            if not view.in_air and not view.armed and view.height_m < 1.0:
                self.times['landed'] = t
                self._go(DONE, t, 'landed')
                return None
            return self._timeout(t, o.landing_timeout_s, 'not on the ground in time')
        return None

    def route_complete(self, view):
        """Advance through the planner's path like the planner does; True once its last waypoint is reached."""
        path = view.path_m
        if path is None or view.position_m is None or len(path) == 0:
            return False
        if view.path_version != self.path_version:      # a replan: count from its start
            self.path_version, self.waypoint = view.path_version, min(1, len(path) - 1)
        near = lambda k: np.hypot(*(path[k, :2] - view.position_m[:2])) <= self.options.accept_radius_m  # noqa
        while self.waypoint < len(path) - 1 and near(self.waypoint):
            self.waypoint += 1
        return self.waypoint == len(path) - 1 and near(self.waypoint)

    def _send(self, command, phase_on_success, t):
        self.pending = (command, phase_on_success, t)
        return command

    def result(self, ok, message, t, sent=None):
        """The bridge's answer to the pending command. `sent` (the pending tuple when the command went out) tells
        a late answer to a command already given up on (ignored) from the answer to the current one."""
        if self.pending is None or (sent is not None and sent is not self.pending):
            return
        command, phase, _ = self.pending
        self.pending = None
        if ok:
            self.times.setdefault(command, t)
            self._go(phase, t, f'{command}: ok')
            return
        self.failures += 1
        self.events.append((t, f'{self.name}: {message} (attempt {self.failures}/{self.options.retries})'))
        if self.failures >= self.options.retries:
            self.reason = message
            self._go(FAILED, t, f'failed: {message}')
        self.retry_at = t + self.options.retry_after_s

    def _timeout(self, t, limit_s, what):
        if t - self.since > limit_s:
            self.reason = f'{what} after {limit_s:g} s'
            self._go(FAILED, t, f'failed: {self.reason}')
        return None


class Supervisor(Node):
    """Steps every UAV's Sequence every period_s; sends the commands as async Trigger calls."""

    def __init__(self, monitor, options=SequenceOptions(), period_s=0.2, **kwargs):
        super().__init__('mission_supervisor', **kwargs)
        self.monitor = monitor
        self.lock = threading.Lock()
        self.sequences = {u: Sequence(u, options) for u in monitor.log.uav_names}
        self.trigger_clients = {(u, name): self.create_client(Trigger, contract.topic(u, name))
                        for u in self.sequences for name in contract.FLIGHT_SERVICES}
        self.create_timer(period_s, self.tick)

    def tick(self):
        t = self.monitor.elapsed()
        for uav, seq in self.sequences.items():
            with self.lock:
                client = None
                command = seq.step(self.monitor.view(uav), t)    # also gives up on an answer that never came
                if command is not None:
                    client = self.trigger_clients[(uav, command)]
                    if not client.service_is_ready():             # bridge not up yet: ask again next tick
                        seq.pending, client = None, None
                sent = seq.pending
                self._drain(seq)
            if client is not None:
                future = client.call_async(Trigger.Request())
                future.add_done_callback(lambda f, seq=seq, sent=sent: self._answered(seq, f, sent))

    def _answered(self, seq, future, sent):
        t = self.monitor.elapsed()
        try:
            response = future.result()
            ok, message = bool(response.success), response.message
        except Exception as err:                    # the service went away: count it as a failed attempt
            ok, message = False, f'{type(err).__name__}: {err}'
        with self.lock:
            seq.result(ok, message, t, sent)
            self._drain(seq)

    def _drain(self, seq):
        with self.monitor.lock:
            for t, text in seq.events:
                self.monitor.log.event(t, text)
        seq.events.clear()

    def request_return(self):
        with self.lock:
            for seq in self.sequences.values():
                seq.request_return()

    def finished(self):
        with self.lock:
            return all(seq.finished for seq in self.sequences.values())

    def cut_short(self):
        """{uav: why} of the UAVs that ended without flying their whole route (and were not sent home)."""
        with self.lock:
            return {u: seq.reason or seq.phase for u, seq in self.sequences.items()
                    if 'route_complete' not in seq.times and not seq.return_requested}

    def phases(self):
        with self.lock:
            return {u: seq.phase for u, seq in self.sequences.items()}

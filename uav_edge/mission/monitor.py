"""The mission monitor: an rclpy node that records the contract topics into a MissionLog.

Per UAV (/<uav>/...): pose, energy, demand, migration_target, energy_alarm, flight_state and the
planner's path; per RSU: prices; /diagnostics (to tell which pricing policy really ran). It only
listens, through the same contract (topics, QoS, layouts) as every node. Times in the log are s
since `t0` (time.monotonic() at the mission start). Samples are thinned to `sample_period_s`
(migrations, alarms and flight-state changes are always kept), so a report stays small.

The supervisor reads the latest state of a UAV through view(uav); everything is guarded by one
lock, which the live view also takes while it renders.
"""
import threading
import time
from dataclasses import dataclass

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from geometry_msgs.msg import PoseStamped
from nav_msgs.msg import Path
from rclpy.node import Node
from std_msgs.msg import Bool, Float64MultiArray, String

from uav_edge.nodes import contract

_SOC = contract.ENERGY_FIELDS.index('state_of_charge')
_REMAINING = contract.ENERGY_FIELDS.index('remaining_j')


@dataclass(frozen=True)
class UavView:
    """What the supervisor needs to know about one UAV right now (positions ENU m in the world frame)."""

    link_up: bool = False
    armed: bool = False
    in_air: bool = False
    armable: bool = False
    mode: str = ''
    position_m: np.ndarray = None      # (3,) or None before the first pose
    height_m: float = float('nan')     # above home
    path_m: np.ndarray = None          # (K, 3) the planner's latest route, or None
    path_version: int = 0              # +1 on every new path (a replan)
    energy_alarm: bool = False


class MissionMonitor(Node):
    def __init__(self, log, t0, sample_period_s=0.5, pose_period_s=0.2, **kwargs):
        super().__init__('mission_monitor', **kwargs)
        self.log, self.t0 = log, t0
        self.lock = threading.Lock()
        self.sample_period_s, self.pose_period_s = sample_period_s, pose_period_s
        self.diagnostics = {}                       # node name -> its latest diagnostic message
        self._flight = {u: {} for u in log.uav_names}
        self._pose = {u: None for u in log.uav_names}
        self._path = {u: (None, 0) for u in log.uav_names}
        self._alarm = {u: False for u in log.uav_names}
        self._last = {}                             # (uav, stream) -> time of the last recorded sample
        for u in log.uav_names:
            self.create_subscription(PoseStamped, contract.topic(u, 'pose'), lambda m, u=u: self.on_pose(u, m),
                                     contract.qos(contract.SENSOR))
            self.create_subscription(Float64MultiArray, contract.topic(u, 'energy'),
                                     lambda m, u=u: self.on_energy(u, m), contract.qos(contract.SENSOR))
            self.create_subscription(Float64MultiArray, contract.topic(u, 'demand'),
                                     lambda m, u=u: self.on_demand(u, m), contract.qos(contract.DECISION))
            self.create_subscription(String, contract.topic(u, 'migration_target'),
                                     lambda m, u=u: self.on_target(u, m), contract.qos(contract.LATCHED))
            self.create_subscription(Bool, contract.topic(u, 'energy_alarm'), lambda m, u=u: self.on_alarm(u, m),
                                     contract.qos(contract.LATCHED))
            self.create_subscription(DiagnosticStatus, contract.topic(u, 'flight_state'),
                                     lambda m, u=u: self.on_flight_state(u, m), contract.qos(contract.LATCHED))
            self.create_subscription(Path, contract.topic(u, 'path'), lambda m, u=u: self.on_path(u, m),
                                     contract.qos(contract.LATCHED))
        for r in log.rsu_names:
            self.create_subscription(Float64MultiArray, contract.topic(r, 'prices'),
                                     lambda m, r=r: self.on_prices(r, m), contract.qos(contract.LATCHED))
        self.create_subscription(DiagnosticArray, '/diagnostics', self.on_diagnostics,
                                 contract.qos(contract.DECISION))

    def elapsed(self):
        """s since the mission start."""
        return time.monotonic() - self.t0

    def _due(self, key, t, period):
        """True (and remember t) when the last sample of `key` is at least `period` old."""
        if t - self._last.get(key, -np.inf) < period:
            return False
        self._last[key] = t
        return True

    # --- callbacks (executor threads) ---------------------------------------------------------------

    def on_pose(self, uav, msg):
        try:
            xyz = contract.read_position(msg)
        except contract.InvalidMessage:
            return
        t = self.elapsed()
        with self.lock:
            self._pose[uav] = xyz
            if self._due((uav, 'pose'), t, self.pose_period_s):
                self.log.tracks[uav].add_pose(t, xyz)

    def on_energy(self, uav, msg):
        try:
            fields = contract.read_array(msg, ('field',), (len(contract.ENERGY_FIELDS),))
        except contract.InvalidMessage:
            return
        t = self.elapsed()
        with self.lock:
            if self._due((uav, 'energy'), t, self.sample_period_s):
                self.log.tracks[uav].add_energy(t, fields[_SOC], fields[_REMAINING])

    def on_demand(self, uav, msg):
        try:
            demand = contract.read_array(msg, ('rsu',), (len(self.log.rsu_names),), low=0.0)
        except contract.InvalidMessage:
            return
        t = self.elapsed()
        with self.lock:
            if self._due((uav, 'demand'), t, self.sample_period_s):
                self.log.tracks[uav].add_demand(t, demand)

    def on_target(self, uav, msg):
        t = self.elapsed()
        with self.lock:
            track = self.log.tracks[uav]
            if msg.data and msg.data != track.target:
                move = f'migrates {track.target} -> {msg.data}' if track.target else f'placed on {msg.data}'
                self.log.event(t, f'{uav}: twin {move}')
            track.set_target(t, msg.data)

    def on_alarm(self, uav, msg):
        t = self.elapsed()
        with self.lock:
            track = self.log.tracks[uav]
            if msg.data and not self._alarm[uav]:
                self.log.event(t, f'{uav}: energy reserve reached')
                if track.alarm_at is None:
                    track.alarm_at = t
            self._alarm[uav] = bool(msg.data)

    def on_flight_state(self, uav, msg):
        values = {kv.key: kv.value for kv in msg.values}
        flag = lambda key: values.get(key) == 'true'       # noqa: E731
        with self.lock:
            track = self.log.tracks[uav]
            track.armed, track.in_air, track.link_up = flag('armed'), flag('in_air'), flag('link_up')
            if values.get('mode', '') != track.mode and track.mode:
                self.log.event(self.elapsed(), f'{uav}: mode {values.get("mode", "")}')
            track.mode = values.get('mode', '')
            self._flight[uav] = {'armable': flag('armable')}

    def on_path(self, uav, msg):
        points = np.array([[p.pose.position.x, p.pose.position.y, p.pose.position.z] for p in msg.poses])
        with self.lock:
            self._path[uav] = (points.reshape(-1, 3), self._path[uav][1] + 1)

    def on_prices(self, rsu, msg):
        try:
            prices = contract.read_array(msg, ('uav',), (len(self.log.uav_names),), low=0.0)
        except contract.InvalidMessage:
            return
        t = self.elapsed()
        with self.lock:
            if self._due((rsu, 'prices'), t, self.sample_period_s):
                self.log.add_prices(t, rsu, prices)

    def on_diagnostics(self, msg):
        with self.lock:
            for status in msg.status:
                self.diagnostics[status.name] = status.message

    # --- for the supervisor and the report ------------------------------------------------------------

    def view(self, uav):
        """The latest UavView of one UAV."""
        with self.lock:
            track = self.log.tracks[uav]
            pose = self._pose[uav]
            path, version = self._path[uav]
            return UavView(link_up=track.link_up, armed=track.armed, in_air=track.in_air,
                           armable=self._flight[uav].get('armable', False), mode=track.mode,
                           position_m=pose, height_m=float(pose[2] - track.home_m[2]) if pose is not None
                           else float('nan'), path_m=path, path_version=version, energy_alarm=self._alarm[uav])

    def pricing_status(self):
        """{rsu: diagnostic message of its pricing_leader} (e.g. the policy fallback warning)."""
        with self.lock:
            return {r: self.diagnostics.get(f'{r}/pricing_leader', 'no diagnostics received')
                    for r in self.log.rsu_names}

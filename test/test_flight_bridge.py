"""flight_bridge: real rclpy + real MAVSDK 4.x against the built-in simulator on loopback.

Every ROS test gets its own rclpy context on its own ROS_DOMAIN_ID and a Fleet on free
PX4-convention ports (instance i: vehicle 14580+i, bridge udpin 14540+i), sped up with
SIM_SPEED_FACTOR. Every wait is bounded by a timeout (no fixed sleeps decide a result).
"""
import contextlib
import math
import os
import threading
import time

import numpy as np
import pytest

pytest.importorskip('mavsdk')
rclpy = pytest.importorskip('rclpy')
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus  # noqa: E402
from geometry_msgs.msg import PoseStamped  # noqa: E402
from nav_msgs.msg import Path  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from sensor_msgs.msg import BatteryState  # noqa: E402
from std_msgs.msg import Bool  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from uav_edge.core import frames  # noqa: E402
from uav_edge.flight import safety  # noqa: E402
from uav_edge.flight.world import PathFollower, WorldFrame, vehicle_homes_geodetic  # noqa: E402
from uav_edge.nodes import contract  # noqa: E402
from uav_edge.nodes.flight_bridge import FlightBridge  # noqa: E402
from uav_edge.sitl import Fleet  # noqa: E402
from uav_edge.sitl.ports import InstanceAllocator  # noqa: E402
from uav_edge.stall import wait_for  # noqa: E402

SPEED = 8.0
HOME = (100.0, 200.0, 0.0)          # world ENU of uav0's home, m
_next = {'domain': 0}


# --- pure parts -------------------------------------------------------------------------------------

def test_world_frame_from_home_puts_home_exactly_at_home_m_and_round_trips():
    home = (47.397742, 8.545594, 488.0)
    for home_m in [(100.0, 200.0, 0.0), (5000.0, -3000.0, 12.0)]:
        world = WorldFrame.from_home(home, home_m)
        assert world.to_world(*home) == pytest.approx(home_m, abs=1e-6)
        p = np.array([123.0, 456.0, 30.0])
        assert world.to_world(*world.to_geodetic(p)) == pytest.approx(p, abs=1e-6)
    # 100 m north of home in the world is 100 m north in the vehicle's NED plane (to 1 cm)
    world = WorldFrame.from_home(home, HOME)
    north = world.to_geodetic(np.array(HOME) + [0.0, 100.0, 0.0])
    assert frames.geodetic_to_ned(*north, home) == pytest.approx([100.0, 0.0, 0.0], abs=0.01)
    homes = vehicle_homes_geodetic(world.origin, [HOME, (0.0, 0.0, 0.0)])
    assert homes[0] == pytest.approx(home, abs=1e-6)          # deg 1e-6 ~ 0.1 m; alt to 1 um
    assert homes[0][2] == pytest.approx(home[2], abs=1e-6)
    assert homes[1] == pytest.approx(world.origin, abs=1e-9)


def test_path_follower_advances_within_radius_and_holds_the_last_point():
    f = PathFollower([[0, 0, 10], [10, 0, 10], [10, 10, 10]], acceptance_radius_m=1.0)
    assert f.target(np.array([5.0, 5.0, 0.0])) == pytest.approx([0, 0, 10])
    assert f.target(np.array([0.5, 0.0, 10.0])) == pytest.approx([10, 0, 10])
    assert f.target(np.array([10.0, 9.5, 10.0])) == pytest.approx([10, 0, 10])     # in order: no short cut
    assert f.target(np.array([10.0, 0.2, 10.0])) == pytest.approx([10, 10, 10])
    assert not f.finished
    assert f.target(np.array([10.0, 9.5, 10.0])) == pytest.approx([10, 10, 10])    # held at the end
    assert f.finished
    with pytest.raises(ValueError, match='acceptance_radius_m'):
        PathFollower([[0, 0, 0]], acceptance_radius_m=float('nan'))


def test_limits_and_energy_alarm_decision():
    limits = safety.FlightLimits((100.0, 50.0), (5.0, 40.0))
    assert limits.check([10, 10, 10]) == pytest.approx([10, 10, 10])
    for bad, word in [([10, 60, 10], 'y='), ([-1, 10, 10], 'x='), ([10, 10, 41], 'altitude'),
                      ([10, float('nan'), 10], 'finite')]:
        with pytest.raises(safety.OutOfBounds, match=word):
            limits.check(bad)
    with pytest.raises(ValueError, match='altitude_band_m'):
        safety.FlightLimits((100.0, 50.0), (40.0, 5.0))
    decide = safety.energy_alarm_action
    assert decide('auto', 100.0, 0.5, 1000.0, 0.1) == 'rtl'
    assert decide('auto', 5000.0, 0.5, 1000.0, 0.1) == 'land'            # too far to make it back
    assert decide('auto', 100.0, 0.05, 1000.0, 0.1) == 'land'            # critical battery
    assert decide('auto', math.nan, math.nan, 1000.0, 0.1) == 'rtl'     # unknown: return
    assert decide('land', 10.0, 0.9, 1000.0, 0.1) == 'land'
    with pytest.raises(ValueError, match='energy_alarm_action'):
        decide('panic', 1.0, 1.0, 1.0, 0.1)


# --- harness ----------------------------------------------------------------------------------------

_instances = InstanceAllocator(40, 80)   # other test files use other ranges


class Probe(Node):
    """The test's side of the graph: records what a UAV's bridge publishes, publishes planner input."""

    def __init__(self, ns, context):
        super().__init__('probe', namespace=f'/{ns}', context=context)
        self.ns = ns
        self.pose = self.battery = self.flight_state = None
        self.diagnostics = []                      # DiagnosticStatus of this UAV's bridge, in order
        self.create_subscription(PoseStamped, 'pose', lambda m: setattr(self, 'pose', m), contract.qos(contract.SENSOR))
        self.create_subscription(BatteryState, 'battery', lambda m: setattr(self, 'battery', m),
                                 contract.qos(contract.SENSOR))
        self.create_subscription(DiagnosticStatus, 'flight_state', lambda m: setattr(self, 'flight_state', m),
                                 contract.qos(contract.LATCHED))
        self.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics, contract.qos(contract.DECISION))
        self.setpoint_pub = self.create_publisher(PoseStamped, 'setpoint', contract.qos(contract.DECISION))
        self.path_pub = self.create_publisher(Path, 'path', contract.qos(contract.LATCHED))
        self.alarm_pub = self.create_publisher(Bool, 'energy_alarm', contract.qos(contract.LATCHED))
        self.services_ = {name: self.create_client(Trigger, name) for name in contract.FLIGHT_SERVICES}

    def _on_diagnostics(self, msg):
        self.diagnostics += [s for s in msg.status if s.name == f'{self.ns}/flight_bridge']

    def position(self):
        p = self.pose.pose.position if self.pose is not None else None
        return None if p is None else np.array([p.x, p.y, p.z])

    def state(self, key):
        values = {kv.key: kv.value for kv in self.flight_state.values} if self.flight_state else {}
        return values.get(key)

    def call(self, name, timeout_s=10.0):
        client = self.services_[name]
        assert client.wait_for_service(timeout_sec=5.0), f'service {name} not available'
        future = client.call_async(Trigger.Request())
        wait_for(future.done, timeout_s, f'{name} response')
        return future.result()

    def send(self, xyz, frame_id=contract.WORLD_FRAME):
        wait_for(lambda: self.setpoint_pub.get_subscription_count() > 0, 5.0, 'setpoint subscriber')
        self.setpoint_pub.publish(contract.make_pose(xyz, self.get_clock().now().to_msg(), frame_id))

    def diag_value(self, key):
        if not self.diagnostics:
            return None
        return {kv.key: kv.value for kv in self.diagnostics[-1].values}.get(key)


@contextlib.contextmanager
def graph(count=1, fleet_params=None, **bridge_params):
    """Fleet of `count` vehicles + one flight_bridge per vehicle (uav0..) + a Probe per UAV, on a fresh domain."""
    _next['domain'] += 1
    domain = 100 + (os.getpid() + 7 * _next['domain']) % 100
    fleet = None
    for attempt in range(5):
        try:
            instance = _instances.take(count)
            fleet = Fleet(count=count, first_instance=instance, speed=SPEED, params=fleet_params)
            break
        except OSError:
            if attempt == 4:
                raise
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=domain)
    executor = SingleThreadedExecutor(context=context)
    bridges, probes = [], []
    thread = threading.Thread(target=executor.spin, daemon=True)
    try:
        fleet.start()
        for k in range(count):
            params = {'instance': instance + k, 'home_m': [HOME[0] + 20.0 * k, HOME[1], 0.0],
                      'setpoint_rate_hz': 20.0, 'telemetry_rate_hz': 20.0, 'altitude_band_m': [1.0, 50.0],
                      'diagnostics_period_s': 0.2}
            params.update(bridge_params)
            bridge = FlightBridge(namespace=f'/uav{k}', context=context,
                                  parameter_overrides=[Parameter(n, value=v) for n, v in params.items()])
            probe = Probe(f'uav{k}', context)
            executor.add_node(bridge)
            executor.add_node(probe)
            bridges.append(bridge)
            probes.append(probe)
        thread.start()
        yield fleet, bridges, probes
    finally:
        executor.shutdown(timeout_sec=2.0)
        for node in bridges + probes:
            node.destroy_node()
        rclpy.try_shutdown(context=context)
        if thread.is_alive():
            thread.join(timeout=5.0)
        fleet.close()


def _airborne(probe):
    wait_for(lambda: probe.state('armable') == 'true', 15.0, 'vehicle armable')
    assert probe.call('arm').success
    reply = probe.call('takeoff')
    assert reply.success, reply.message
    wait_for(lambda: probe.state('mode') == 'HOLD' and probe.state('in_air') == 'true'
             and abs(probe.position()[2] - 2.5) < 0.3, 20.0, 'takeoff to MIS_TAKEOFF_ALT and Hold')


def _vehicle_world(fleet, k=0, home_m=HOME):
    """The simulator's own truth (NED from its home) expressed in the world frame: home_m + ENU offset."""
    v = fleet.vehicle(k)
    with fleet.lock:
        ned = np.array(v.pos) - np.array(v.home_ned)
    return np.array(home_m) + frames.ned_to_enu(ned)


# --- the bridge on the built-in simulator ---------------------------------------------------------

def test_pose_battery_state_then_arm_takeoff_land():
    with graph() as (fleet, (bridge,), (probe,)):
        wait_for(lambda: probe.pose is not None and probe.battery is not None and probe.flight_state is not None,
                 10.0, 'pose, battery and flight_state')
        assert probe.pose.header.frame_id == 'map'
        assert probe.position() == pytest.approx(HOME, abs=0.05)            # home at home_m, ENU
        assert 0.99 <= probe.battery.percentage <= 1.0                      # 0..1, not 0..100
        assert probe.battery.voltage == pytest.approx(16.2, abs=0.1)
        assert probe.state('link_up') == 'true' and probe.state('armed') == 'false'
        assert {kv.key for kv in probe.flight_state.values} == set(contract.FLIGHT_STATE_KEYS)
        _airborne(probe)
        assert probe.position() == pytest.approx(_vehicle_world(fleet), abs=0.2)
        reply = probe.call('land')
        assert reply.success, reply.message
        wait_for(lambda: probe.state('armed') == 'false', 20.0, 'landed and auto-disarmed')
        assert probe.position()[2] == pytest.approx(0.0, abs=0.1)
        assert not fleet.vehicle(0).armed


def test_offboard_follows_setpoints_and_path_drops_invalid_then_rtl():
    with graph(fleet_params={'RTL_RETURN_ALT': 6.0}) as (fleet, (bridge,), (probe,)):
        _airborne(probe)
        target = np.array([110.0, 205.0, 8.0])
        probe.send(target)
        reply = probe.call('offboard_start')
        assert reply.success, reply.message
        wait_for(lambda: np.linalg.norm(probe.position() - target) < 0.3, 20.0, 'offboard target reached')
        assert _vehicle_world(fleet) == pytest.approx(target, abs=0.4)     # the simulator agrees: ENU is right
        assert probe.state('mode') == 'OFFBOARD' and probe.state('offboard_streaming') == 'true'
        # invalid setpoints: non-finite, above the band, outside the area, wrong frame -> dropped and counted
        for bad, frame in [((float('nan'), 200.0, 8.0), 'map'), ((110.0, 205.0, 500.0), 'map'),
                           ((-50.0, 205.0, 8.0), 'map'), ((120.0, 205.0, 8.0), 'odom')]:
            probe.send(bad, frame)
        wait_for(lambda: probe.diag_value('invalid setpoint') == '4', 5.0, 'four invalid setpoints counted')
        assert probe.diagnostics[-1].level == DiagnosticStatus.WARN
        assert 'invalid messages dropped' in probe.diagnostics[-1].message
        assert np.linalg.norm(_vehicle_world(fleet) - target) < 0.5           # still holding the valid target
        # a path: waypoints in order, the last one held
        path = Path()
        path.header.frame_id = 'map'
        path.poses = [contract.make_pose(p, probe.get_clock().now().to_msg())
                      for p in ([110.0, 212.0, 8.0], [104.0, 212.0, 6.0])]
        wait_for(lambda: probe.path_pub.get_subscription_count() > 0, 5.0, 'path subscriber')
        probe.path_pub.publish(path)
        passed = []
        wait_for(lambda: (passed.append(np.linalg.norm(_vehicle_world(fleet) - [110, 212, 8]) < 1.0) or True)
                 and np.linalg.norm(probe.position() - [104.0, 212.0, 6.0]) < 0.3, 20.0, 'path end')
        assert any(passed), 'the first waypoint was skipped'
        reply = probe.call('rtl')
        assert reply.success, reply.message
        wait_for(lambda: probe.state('armed') == 'false', 40.0, 'RTL: landed at home and disarmed')
        assert probe.position() == pytest.approx(HOME, abs=0.5)


def test_energy_alarm_returns_lands_and_disarms():
    with graph(fleet_params={'RTL_RETURN_ALT': 6.0}) as (fleet, (bridge,), (probe,)):
        _airborne(probe)
        probe.send([112.0, 200.0, 6.0])
        assert probe.call('offboard_start').success
        wait_for(lambda: probe.position()[0] > 111.5, 20.0, 'away from home')
        wait_for(lambda: probe.alarm_pub.get_subscription_count() > 0, 5.0, 'alarm subscriber')
        probe.alarm_pub.publish(Bool(data=True))
        wait_for(lambda: probe.state('mode') == 'RETURN_TO_LAUNCH', 5.0, 'RTL on the energy alarm')
        assert probe.state('energy_alarm') == 'true' and probe.state('offboard_streaming') == 'false'
        probe.send([140.0, 230.0, 20.0])                                      # ignored while the alarm holds
        wait_for(lambda: probe.state('armed') == 'false', 40.0, 'landed and disarmed')
        assert probe.position() == pytest.approx(HOME, abs=0.5)
        reply = probe.call('arm')
        assert not reply.success and 'energy alarm' in reply.message


def test_simulator_restart_link_down_then_up():
    with graph() as (fleet, (bridge,), (probe,)):
        wait_for(lambda: probe.diag_value('link') == 'up', 10.0, 'link up')
        instance = fleet.first_instance
        fleet.close()
        wait_for(lambda: probe.diag_value('link') == 'down', 8.0, 'link down in /diagnostics')
        assert probe.diagnostics[-1].level == DiagnosticStatus.ERROR
        assert 'link down' in probe.diagnostics[-1].message
        assert probe.state('link_up') == 'false'
        restarted = Fleet(count=1, first_instance=instance, speed=SPEED).start()
        try:
            wait_for(lambda: probe.diag_value('link') == 'up' and probe.diag_value('reconnects') == '1', 10.0,
                     'link back up in /diagnostics')
            assert probe.diag_value('link_losses') == '1'
            probe.pose = None
            wait_for(lambda: probe.pose is not None, 5.0, 'pose after the restart')
            assert probe.position() == pytest.approx(HOME, abs=0.05)
            _airborne(probe)                                                 # and it still flies
        finally:
            restarted.close()


def test_two_vehicles_two_bridges():
    with graph(count=2) as (fleet, bridges, (p0, p1)):
        wait_for(lambda: p0.pose is not None and p1.pose is not None, 10.0, 'both poses')
        assert p0.position() == pytest.approx(HOME, abs=0.05)
        assert p1.position() == pytest.approx([HOME[0] + 20.0, HOME[1], 0.0], abs=0.05)
        _airborne(p1)
        assert p0.state('armed') == 'false' and not fleet.vehicle(0).armed and fleet.vehicle(1).armed
        assert p0.position()[2] == pytest.approx(0.0, abs=0.05)


# --- velocity setpoints, resuming after a restart, link options (issue 6) ----------------------------

def test_link_options_and_velocity_are_validated_naming_the_parameter():
    from uav_edge.flight.link import FlightLink
    url = 'udpin://127.0.0.1:14999'
    for kwargs, name in [({'stale_velocity_s': float('nan')}, 'velocity_stale_after_s'),
                         ({'stale_velocity_s': 0.0}, 'velocity_stale_after_s'),
                         ({'gil_switch_interval_s': -0.001}, 'gil_switch_interval_s'),
                         ({'gil_switch_interval_s': float('inf')}, 'gil_switch_interval_s'),
                         ({'realtime_priority': 100}, 'realtime_priority'),
                         ({'realtime_priority': 2.5}, 'realtime_priority'),
                         ({'realtime_priority': float('nan')}, 'realtime_priority')]:
        with pytest.raises(ValueError, match=name):
            FlightLink(url, **kwargs)
    link = FlightLink(url)                                   # never started: no thread, no socket
    for bad in [(1.0, float('nan'), 0.0), (float('inf'), 0.0, 0.0), (1.0, 2.0)]:
        with pytest.raises(ValueError, match='velocity_mps'):
            link.set_velocity(bad)


class VelocityStream:
    """Publishes a TwistStamped velocity setpoint at rate_hz from a thread until stop() (a teleop/planner)."""

    def __init__(self, probe, velocity_enu_mps, rate_hz=20.0):
        from geometry_msgs.msg import TwistStamped
        self.pub = probe.create_publisher(TwistStamped, 'velocity_setpoint', contract.qos(contract.DECISION))
        wait_for(lambda: self.pub.get_subscription_count() > 0, 5.0, 'velocity_setpoint subscriber')
        self.msg = TwistStamped()
        self.msg.header.frame_id = contract.WORLD_FRAME
        self.msg.twist.linear.x, self.msg.twist.linear.y, self.msg.twist.linear.z = velocity_enu_mps
        self.period_s, self.probe = 1.0 / rate_hz, probe
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.wait(self.period_s):
            self.msg.header.stamp = self.probe.get_clock().now().to_msg()
            self.pub.publish(self.msg)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=2.0)

    def publish_once(self, velocity, frame_id=contract.WORLD_FRAME):
        from geometry_msgs.msg import TwistStamped
        msg = TwistStamped()
        msg.header.frame_id = frame_id
        msg.twist.linear.x, msg.twist.linear.y, msg.twist.linear.z = velocity
        self.pub.publish(msg)


def test_velocity_setpoint_moves_in_the_enu_direction_then_stale_stops_and_holds():
    with graph(velocity_stale_after_s=0.4, max_speed_mps=5.0) as (fleet, (bridge,), (probe,)):
        _airborne(probe)
        v = fleet.vehicle(0)
        start = probe.position()
        with VelocityStream(probe, (1.5, -1.0, 0.5)) as stream:        # east, south, up (ENU m/s)
            reply = probe.call('offboard_start')
            assert reply.success, reply.message
            # the simulator's own NED velocity: north = ENU y, east = ENU x, down = -ENU z
            wait_for(lambda: np.allclose(v.vel, (-1.0, 1.5, -0.5), atol=0.1), 10.0,
                     'velocity (N,E,D) = (-1, 1.5, -0.5)')
            wait_for(lambda: probe.diag_value('velocity setpoint') == 'fresh or unused', 5.0, 'velocity fresh')
            for bad, frame in [((6.0, 0.0, 0.0), 'map'), ((float('nan'), 0.0, 0.0), 'map'), ((1.0, 0.0, 0.0), 'odom')]:
                stream.publish_once(bad, frame)                          # too fast, NaN, wrong frame
            wait_for(lambda: probe.diag_value('invalid velocity_setpoint') == '3', 5.0, 'three invalid velocities')
            wait_for(lambda: probe.position()[0] > start[0] + 2.0, 10.0, 'moving east')
            wait_for(lambda: np.allclose(v.vel, (-1.0, 1.5, -0.5), atol=0.1), 5.0,    # the invalid ones
                     'the same velocity')                           # changed nothing (after a freeze: back to it)
        moved = probe.position() - start
        assert moved[0] > 2.0 and moved[1] < -1.0 and moved[2] > 0.5     # +x east, -y south, +z up
        # no message for velocity_stale_after_s: the bridge holds position and says so
        wait_for(lambda: probe.diag_value('velocity setpoint') == 'stale: holding position', 5.0, 'stale reported')
        assert 'velocity setpoint stale' in probe.diagnostics[-1].message
        wait_for(lambda: math.hypot(*v.vel) < 0.05, 10.0, 'stopped')
        held = probe.position()
        time.sleep(0.5)                                                  # 4 s of simulated time at SPEED 8
        assert np.linalg.norm(probe.position() - held) < 0.2
        assert probe.state('mode') == 'OFFBOARD'                         # holding in Offboard, no failsafe
        assert probe.state('offboard_streaming') == 'true'


def test_simulator_restart_while_streaming_resumes_the_stream_but_not_offboard():
    with graph() as (fleet, (bridge,), (probe,)):
        _airborne(probe)
        target = np.array([104.0, 203.0, 5.0])
        probe.send(target)
        assert probe.call('offboard_start').success
        wait_for(lambda: np.linalg.norm(probe.position() - target) < 0.3, 20.0, 'offboard target reached')
        instance = fleet.first_instance
        fleet.close()
        wait_for(lambda: probe.diag_value('link') == 'down', 8.0, 'link down')
        restarted = Fleet(count=1, first_instance=instance, speed=SPEED).start()
        try:
            link = restarted.links[0]
            with restarted.lock:
                link.record_setpoints = True
            wait_for(lambda: probe.diag_value('link') == 'up', 10.0, 'link back up')
            wait_for(lambda: 'vehicle restarted: offboard lost' in probe.diagnostics[-1].message, 5.0,
                     'offboard lost reported')
            assert probe.diagnostics[-1].level == DiagnosticStatus.WARN
            wait_for(lambda: len(link.setpoint_log) >= 10, 5.0, 'setpoints streaming to the restarted vehicle')
            assert probe.state('offboard_streaming') == 'true'
            time.sleep(0.5)
            v = restarted.vehicle(0)
            assert not v.armed and probe.state('mode') != 'OFFBOARD'     # never re-armed nor switched by itself
            _airborne(probe)                                             # the operator takes it from here
            assert 'offboard lost' in probe.diagnostics[-1].message      # ... until the next offboard_start
            reply = probe.call('offboard_start')
            assert reply.success, reply.message
            wait_for(lambda: np.linalg.norm(probe.position() - target) < 0.3, 20.0, 'the resumed target')
            wait_for(lambda: 'offboard lost' not in probe.diagnostics[-1].message, 5.0, 'offboard lost cleared')
            assert probe.diag_value('offboard_lost') == '1'
        finally:
            restarted.close()


def test_link_start_lowers_the_switch_interval_and_runs_sched_fifo_when_allowed():
    import sys
    from uav_edge.flight.link import FlightLink
    port = 14540 + _instances.take(1)                          # nobody answers there: the link keeps looking
    link = FlightLink(f'udpin://127.0.0.1:{port}', gil_switch_interval_s=0.0009, realtime_priority=1)
    before = sys.getswitchinterval()
    try:
        link.start()
        assert sys.getswitchinterval() == pytest.approx(min(before, 0.0009))   # lowered, never raised
        wait_for(lambda: link.realtime or link.counts['realtime_denied'] == 1, 5.0, 'realtime decided')
        if link.realtime:                                       # allowed here: the thread really is SCHED_FIFO
            assert os.sched_getscheduler(link._thread.native_id) == os.SCHED_FIFO
            assert os.sched_getparam(link._thread.native_id).sched_priority == 1
        assert os.sched_getscheduler(0) == os.SCHED_OTHER      # ... and only that thread
        assert not link.state().link_up
    finally:
        link.close()
        sys.setswitchinterval(before)

"""flight_bridge (one per UAV): the vehicle through MAVSDK <-> ROS topics and services.

Out: pose (PoseStamped), velocity (TwistStamped) in the world ENU frame 'map'; battery
     (BatteryState, percentage 0..1); flight_state (DiagnosticStatus, contract.FLIGHT_STATE_KEYS);
     /diagnostics (link up/down, losses, reconnects, setpoint rate, invalid setpoints, MAVSDK errors).
In:  setpoint (PoseStamped) and path (nav_msgs/Path) from the planner, validated (frame, finite,
     inside area_size_m x altitude_band_m; invalid ones dropped, counted, reported); velocity_setpoint
     (TwistStamped, m/s ENU 'map', speed <= max_speed_mps; streamed as an offboard velocity; none for
     velocity_stale_after_s -> hold position, reported); energy_alarm
     (Bool): on its rising edge while flying, RTL or land (energy_alarm_action / safety.energy_alarm_action).
Services (std_srvs/Trigger): arm, disarm, takeoff, offboard_start, offboard_stop, land, rtl, hold;
     the response carries the vehicle's answer. Callbacks never block: MAVSDK runs in the
     FlightLink's own thread; a service coroutine awaits a future that thread completes.
Parameters: connection_url ('' = udpin://127.0.0.1:14540+instance), instance, home_m (this UAV's home
     in the world frame), world_origin ([] = anchor the world at the vehicle's home), setpoint_rate_hz,
     telemetry_rate_hz, area_size_m, altitude_band_m, acceptance_radius_m, takeoff_altitude_m,
     energy_alarm_action (auto|rtl|land), rtl_max_distance_m, critical_battery_fraction, max_speed_mps,
     velocity_stale_after_s, gil_switch_interval_s, realtime_priority (docs/flight.md, "Setpoint jitter").
After a vehicle restart the stream resumes but Offboard is not re-entered: /diagnostics says
'vehicle restarted: offboard lost' until the next offboard_start.
"""
import math

from diagnostic_msgs.msg import DiagnosticStatus, KeyValue
from geometry_msgs.msg import PoseStamped, TwistStamped
from nav_msgs.msg import Path
from rclpy.task import Future
from sensor_msgs.msg import BatteryState
from std_msgs.msg import Bool
from std_srvs.srv import Trigger

from uav_edge.flight import safety
from uav_edge.flight.link import FlightLink, default_url
from uav_edge.nodes import contract
from uav_edge.nodes.common import ERROR, OK, WARN, EdgeNode, main_for


def _yaw_of(orientation):
    """ENU yaw in rad of a geometry_msgs Quaternion (identity = 0 = facing east)."""
    q = orientation
    return math.atan2(2.0 * (q.w * q.z + q.x * q.y), 1.0 - 2.0 * (q.y * q.y + q.z * q.z))


class FlightBridge(EdgeNode):
    def __init__(self, **kwargs):
        super().__init__('flight_bridge', **kwargs)
        instance = self.param('instance', 0)
        url = self.param('connection_url', '') or default_url(instance)
        self.limits = safety.FlightLimits(tuple(self.param('area_size_m', [2000.0, 2000.0])),
                                          tuple(self.param('altitude_band_m', [2.0, 120.0])))
        self.alarm_policy = self.param('energy_alarm_action', 'auto')
        safety.energy_alarm_action(self.alarm_policy, 0.0, 1.0, 1.0, 0.0)          # validates the name
        self.rtl_max_distance_m = self.param('rtl_max_distance_m', 2000.0)
        self.critical_fraction = self.param('critical_battery_fraction', 0.1)
        self.max_speed_mps = self.param('max_speed_mps', 10.0)
        if not (math.isfinite(self.max_speed_mps) and self.max_speed_mps > 0.0):
            raise ValueError(f'max_speed_mps: must be finite and > 0 m/s, got {self.max_speed_mps!r}')
        self.link = FlightLink(
            url, rate_hz=self.param('setpoint_rate_hz', 20.0), world_origin=self.param_array('world_origin'),
            home_m=self.param('home_m', [0.0, 0.0, 0.0]), takeoff_altitude_m=self.param('takeoff_altitude_m', 0.0),
            acceptance_radius_m=self.param('acceptance_radius_m', 1.0), logger=self.get_logger(),
            stale_velocity_s=self.param('velocity_stale_after_s', 0.5),
            gil_switch_interval_s=self.param('gil_switch_interval_s', 0.001),
            realtime_priority=self.param('realtime_priority', 0))
        self.energy_alarm = False
        self.alarm_action = ''
        self._last_state = None
        self._last_telemetry_s = None
        self._last_flight_state = None
        self._flight_state_published_s = -math.inf
        self._rate_window = (self.now_s(), 0)

        self.pose_pub = self.make_publisher(PoseStamped, 'pose', contract.SENSOR)
        self.velocity_pub = self.make_publisher(TwistStamped, 'velocity', contract.SENSOR)
        self.battery_pub = self.make_publisher(BatteryState, 'battery', contract.SENSOR)
        self.state_pub = self.make_publisher(DiagnosticStatus, 'flight_state', contract.LATCHED)
        self.subscribe(PoseStamped, 'setpoint', contract.DECISION, self.read_setpoint, self.on_setpoint)
        self.subscribe(TwistStamped, 'velocity_setpoint', contract.DECISION, self.read_velocity_setpoint,
                       self.on_velocity_setpoint)
        self.subscribe(Path, 'path', contract.LATCHED, self.read_path, self.on_path)
        self.subscribe(Bool, 'energy_alarm', contract.LATCHED, lambda m: bool(m.data), self.on_energy_alarm)
        for name in contract.FLIGHT_SERVICES:
            self.create_service(Trigger, name, self._service(name))
        self.create_timer(1.0 / self.param('telemetry_rate_hz', 20.0), self.publish_telemetry)
        self.condition('link', True, WARN, f'waiting for a vehicle on {url}')
        self.report('connection_url', url)
        self.link.start()

    # --- input ----------------------------------------------------------------------------------

    def read_setpoint(self, msg):
        xyz = contract.read_position(msg)
        try:
            return self.limits.check(xyz), _yaw_of(msg.pose.orientation)
        except safety.OutOfBounds as err:
            raise contract.InvalidMessage(str(err)) from None

    def read_velocity_setpoint(self, msg):
        return contract.read_velocity(msg, self.max_speed_mps)

    def read_path(self, msg):
        if msg.header.frame_id != contract.WORLD_FRAME:
            raise contract.InvalidMessage(f'frame_id {msg.header.frame_id!r}, expected {contract.WORLD_FRAME!r}')
        if not msg.poses:
            raise contract.InvalidMessage('empty path')
        points = []
        for k, pose in enumerate(msg.poses):
            if not pose.header.frame_id:
                pose.header.frame_id = msg.header.frame_id
            try:
                points.append(self.read_setpoint(pose)[0])
            except contract.InvalidMessage as err:
                raise contract.InvalidMessage(f'waypoint {k}: {err}') from None
        return points, _yaw_of(msg.poses[-1].pose.orientation)

    def on_setpoint(self, value):
        if self.energy_alarm:
            self.report('setpoints ignored (energy alarm)', 'yes')
            return
        self.link.set_target(*value)

    def on_velocity_setpoint(self, velocity_mps):
        if self.energy_alarm:
            self.report('setpoints ignored (energy alarm)', 'yes')
            return
        self.link.set_velocity(velocity_mps)

    def on_path(self, value):
        if not self.energy_alarm:
            self.link.set_path(*value)

    def on_energy_alarm(self, active):
        rising = active and not self.energy_alarm
        self.energy_alarm = active
        self.condition('energy alarm', active, WARN, f'energy alarm: {self.alarm_action or "on ground"}')
        if not rising:
            return
        state = self.link.state()
        if not (state.armed and state.in_air):
            self.alarm_action = ''
            self.condition('energy alarm', True, WARN, 'energy alarm on the ground: arm/takeoff refused')
            return
        self.alarm_action = safety.energy_alarm_action(self.alarm_policy, state.distance_home_m(),
                                                       state.battery_fraction, self.rtl_max_distance_m,
                                                       self.critical_fraction)
        self.condition('energy alarm', True, WARN, f'energy alarm: {self.alarm_action}')
        self.link.command(self.alarm_action).add_done_callback(
            lambda f: self.get_logger().warning(f'energy alarm -> {f.result()[1]}'))

    # --- services (coroutines: the executor is never blocked) -------------------------------------

    def _service(self, name):
        async def handle(request, response):
            if self.energy_alarm and name in ('arm', 'takeoff', 'offboard_start'):
                response.success, response.message = False, f'{name}: refused, energy alarm active'
                return response
            done = Future(executor=self.executor)
            done.add_done_callback(lambda _: None)     # completing it from the link thread wakes the executor
            self.link.command(name).add_done_callback(lambda f: done.set_result(f.result()))
            response.success, response.message = await done
            return response
        return handle

    # --- output -----------------------------------------------------------------------------------

    def publish_telemetry(self):
        state = self.link.state()
        stamp = self.get_clock().now().to_msg()
        if state.position_m is not None and state.telemetry_s != self._last_telemetry_s:
            self._last_telemetry_s = state.telemetry_s
            pose = contract.make_pose(state.position_m, stamp)
            if math.isfinite(state.yaw_rad):
                half = state.yaw_rad / 2.0
                pose.pose.orientation.z, pose.pose.orientation.w = math.sin(half), math.cos(half)
            self.pose_pub.publish(pose)
            twist = TwistStamped()
            twist.header.stamp, twist.header.frame_id = stamp, contract.WORLD_FRAME
            twist.twist.linear.x, twist.twist.linear.y, twist.twist.linear.z = state.velocity_mps
            self.velocity_pub.publish(twist)
            self.battery_pub.publish(self._battery(state, stamp))
        self._publish_flight_state(state)
        self._update_diagnostics(state)

    def _battery(self, state, stamp):
        msg = BatteryState()
        msg.header.stamp = stamp
        msg.voltage = float(state.battery_v)
        msg.current = -float(state.battery_a) if math.isfinite(state.battery_a) else math.nan   # < 0: discharging
        msg.percentage = float(state.battery_fraction)
        msg.power_supply_status = BatteryState.POWER_SUPPLY_STATUS_DISCHARGING
        msg.power_supply_technology = BatteryState.POWER_SUPPLY_TECHNOLOGY_LIPO
        msg.present = True
        for field in ('charge', 'capacity', 'design_capacity', 'temperature'):
            setattr(msg, field, math.nan)
        return msg

    def _publish_flight_state(self, state):
        values = {'link_up': state.link_up, 'armed': state.armed, 'mode': state.mode, 'in_air': state.in_air,
                  'landed_state': state.landed_state, 'health_ok': state.health_ok, 'armable': state.armable,
                  'offboard_streaming': state.offboard_streaming, 'energy_alarm': self.energy_alarm}
        now = self.now_s()
        if values == self._last_flight_state and now - self._flight_state_published_s < 1.0:
            return
        self._last_flight_state, self._flight_state_published_s = values, now
        level = ERROR if not state.link_up else OK if state.health_ok else WARN
        msg = DiagnosticStatus(level=level, name=self.get_namespace().strip('/') or 'uav', message=state.mode,
                               hardware_id=self.link.url)
        msg.values = [KeyValue(key=k, value=str(values[k]).lower() if isinstance(values[k], bool) else str(values[k]))
                      for k in contract.FLIGHT_STATE_KEYS]
        self.state_pub.publish(msg)

    def _update_diagnostics(self, state):
        if state.link_up:
            self.condition('link', False)
        elif state.connected_once:
            self.condition('link', True, ERROR, f'link down to {self.link.url} (no heartbeat for 3 s)')
        self.condition('unhealthy', state.link_up and not state.health_ok, WARN, 'vehicle health checks failing')
        self.condition('offboard lost', state.offboard_lost, WARN,
                       'vehicle restarted: offboard lost (setpoints streaming again; call offboard_start)')
        self.condition('velocity stale', state.velocity_stale, WARN,
                       f'velocity setpoint stale (none for {self.link.stale_velocity_s:g} s): holding position')
        counts = self.link.counts
        now = self.now_s()
        start, sent0 = self._rate_window
        if now - start >= 1.0:
            self.report('setpoint_rate_hz', (counts['setpoints_sent'] - sent0) / (now - start))
            self._rate_window = (now, counts['setpoints_sent'])
        self.report('link', 'up' if state.link_up else 'down')
        self.report('mode', state.mode)
        self.report('armed', str(state.armed).lower())
        self.report('velocity setpoint', 'stale: holding position' if state.velocity_stale else 'fresh or unused')
        self.report('realtime', 'SCHED_FIFO' if self.link.realtime else 'off')
        for key in ('link_losses', 'reconnects', 'setpoints_sent', 'commands', 'commands_failed', 'errors',
                    'offboard_lost', 'velocity_stale', 'overruns'):
            self.report(key, str(counts[key]))
        self.condition('mavsdk errors', counts['errors'] > 0, WARN,
                       f'{counts["errors"]} MAVSDK errors, last: {self.link.last_error}')
        if state.home_m is not None:
            self.report('home_m', ' '.join(f'{v:.2f}' for v in state.home_m))

    def destroy_node(self):
        self.link.close()
        return super().destroy_node()


NODE = FlightBridge


def main(args=None):
    return main_for(FlightBridge, args)


if __name__ == '__main__':
    main()

"""The built-in simulator flown by real MAVSDK (4.x, sync API) over loopback UDP.

Every test starts its own Fleet on free PX4-convention ports (instance i: vehicle 14580+i, GCS
14540+i), speeds the physics up with SIM_SPEED_FACTOR, and bounds every wait with a timeout.
"""
import contextlib
import math
import threading
import time

import pytest

mavsdk = pytest.importorskip('mavsdk')
from mavsdk import ComponentType, Configuration, Mavsdk  # noqa: E402
from mavsdk.plugins.action import Action, ActionError  # noqa: E402
from mavsdk.plugins.mission import Mission, MissionItem, MissionPlan  # noqa: E402
from mavsdk.plugins.offboard import Offboard, OffboardError, PositionNedYaw, VelocityNedYaw  # noqa: E402
from mavsdk.plugins.param import Param  # noqa: E402
from mavsdk.plugins.telemetry import Telemetry  # noqa: E402

from uav_edge.sitl import Fleet  # noqa: E402
from uav_edge.sitl import vehicle as vh  # noqa: E402
from uav_edge.sitl.ports import InstanceAllocator  # noqa: E402
from uav_edge.stall import wait_for  # noqa: E402

SPEED = 8.0
_instances = InstanceAllocator(10, 40)   # other test files use other ranges


class Client:
    """One MAVSDK ground station connected to one vehicle, with the plugins the tests use."""

    def __init__(self, url):
        self.mavsdk = Mavsdk(Configuration.create_with_component_type(ComponentType.GROUND_STATION))
        self.mavsdk.add_any_connection(url)
        self.system = self.mavsdk.first_autopilot(10.0)
        assert self.system is not None, f'no autopilot on {url}'
        self.action, self.telemetry = Action(self.system), Telemetry(self.system)
        self.offboard, self.mission, self.param = Offboard(self.system), Mission(self.system), Param(self.system)

    def wait_healthy(self):
        wait_for(lambda: self.telemetry.health_all_ok() and self.telemetry.health().is_armable, 10.0,
                 'health all OK and armable')

    def rel_alt(self):
        return self.telemetry.position().relative_altitude_m

    def close(self):
        self.mavsdk.destroy()


@contextlib.contextmanager
def flying(count=1, **fleet_kwargs):
    fleet_kwargs.setdefault('speed', SPEED)
    for attempt in range(5):                 # another process may grab the probed ports first
        try:
            fleet = Fleet(count=count, first_instance=_instances.take(count), **fleet_kwargs)
            break
        except OSError:
            if attempt == 4:
                raise
    clients = []
    try:
        fleet.start()
        clients = [Client(fleet.gcs_url(k)) for k in range(count)]
        yield fleet, clients
    finally:
        for c in clients:
            c.close()
        fleet.close()


def _takeoff(c, alt=2.5):
    c.wait_healthy()
    c.action.arm()
    c.action.takeoff()
    wait_for(lambda: abs(c.rel_alt() - alt) < 0.3 and c.telemetry.flight_mode().name == 'HOLD', 15.0,
             f'takeoff to {alt} m and Hold')


def test_connect_health_battery_home_version():
    with flying() as (fleet, (c,)):
        c.wait_healthy()
        wait_for(lambda: c.telemetry.health().is_home_position_ok, 5.0, 'home position')
        home = c.telemetry.home()
        assert home.latitude_deg == pytest.approx(fleet.home[0], abs=1e-7)
        assert home.absolute_altitude_m == pytest.approx(fleet.home[2], abs=0.01)
        wait_for(lambda: not math.isnan(c.telemetry.battery().current_battery_a), 5.0, 'battery current')
        battery = c.telemetry.battery()
        assert battery.voltage_v == pytest.approx(16.2, abs=0.1)      # 4S at 4.05 V/cell, as PX4 SIH reports
        assert 99.0 <= battery.remaining_percent <= 100.0              # 0-100 scale (MAVSDK 4.x)
        assert c.system.has_autopilot() if hasattr(c.system, 'has_autopilot') else True
        assert not c.telemetry.armed()
        assert c.telemetry.landed_state().name == 'ON_GROUND'


def test_arm_takeoff_disarm_denied_in_air_land_autodisarm():
    with flying() as (fleet, (c,)):
        c.wait_healthy()
        c.action.arm()
        assert c.telemetry.armed()           # the heartbeat goes out before the ACK
        c.action.takeoff()
        wait_for(lambda: c.telemetry.in_air(), 10.0, 'in air')
        _ = wait_for(lambda: abs(c.rel_alt() - 2.5) < 0.3, 10.0, 'MIS_TAKEOFF_ALT reached')
        with pytest.raises(ActionError):
            c.action.disarm()                # PX4 denies a disarm in the air without 21196
        assert fleet.vehicle(0).armed
        c.action.land()
        wait_for(lambda: not c.telemetry.armed(), 20.0, 'auto-disarm after landing')
        assert c.rel_alt() == pytest.approx(0.0, abs=0.05)
        assert c.telemetry.landed_state().name == 'ON_GROUND'


def test_takeoff_while_disarmed_is_accepted_and_lifts_on_arm():
    with flying() as (fleet, (c,)):
        c.wait_healthy()
        c.action.takeoff()                   # accepted while disarmed, as real PX4 does
        wait_for(lambda: c.telemetry.flight_mode().name == 'TAKEOFF', 3.0, 'Takeoff mode')
        time.sleep(0.5)
        assert c.rel_alt() == pytest.approx(0.0, abs=0.05)   # waits on the ground for arming
        c.action.arm()
        wait_for(lambda: abs(c.rel_alt() - 2.5) < 0.3 and c.telemetry.flight_mode().name == 'HOLD', 15.0,
                 'lift-off to MIS_TAKEOFF_ALT then Hold')


def test_offboard_rejected_without_setpoints_raw_mavlink():
    """DO_SET_MODE(Offboard) is TEMPORARILY_REJECTED until setpoints stream (and replies reach any sender)."""
    from pymavlink import mavutil
    with contextlib.ExitStack() as stack:
        fleet = stack.enter_context(Fleet(count=1, first_instance=_instances.take(1), speed=SPEED))
        conn = mavutil.mavlink_connection(f'udpout:127.0.0.1:{fleet.links[0].bind_port}', source_system=245,
                                          source_component=190, dialect='common')
        stack.callback(conn.close)
        sysid = fleet.vehicle(0).sysid

        def command(cmd, *params):
            conn.mav.command_long_send(sysid, 1, cmd, 0, *params, *([0.0] * (7 - len(params))))
            ack = conn.recv_match(type='COMMAND_ACK', blocking=True, timeout=3.0)
            assert ack is not None and ack.command == cmd
            return ack.result

        conn.mav.heartbeat_send(6, 8, 0, 0, 0)
        wait_for(lambda: fleet.vehicle(0).healthy(fleet.clock.now()), 3.0, 'vehicle ready')
        assert command(176, 1 | 128, 6, 0) == vh.TEMPORARILY_REJECTED
        assert fleet.vehicle(0).mode == vh.MODE_HOLD
        conn.mav.set_position_target_local_ned_send(0, sysid, 1, 1, 0x09C7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        assert command(176, 1 | 128, 6, 0) == vh.ACCEPTED
        assert fleet.vehicle(0).mode == vh.MODE_OFFBOARD
        assert command(176, 1 | 128, 6, 0) == vh.ACCEPTED     # retries are idempotent
        assert command(31999, 0) == vh.UNSUPPORTED


def test_offboard_position_then_velocity():
    with flying() as (fleet, (c,)):
        _takeoff(c)
        with pytest.raises(OffboardError):
            c.offboard.start()               # MAVSDK itself refuses without a setpoint
        c.offboard.set_position_ned(PositionNedYaw(10.0, 5.0, -8.0, 90.0))
        c.offboard.start()
        assert c.telemetry.flight_mode().name == 'OFFBOARD' or wait_for(
            lambda: c.telemetry.flight_mode().name == 'OFFBOARD', 3.0, 'Offboard')

        def near(n, e, d, tol=0.3):
            p = c.telemetry.position_velocity_ned().position
            return math.dist((p.north_m, p.east_m, p.down_m), (n, e, d)) < tol
        wait_for(lambda: near(10.0, 5.0, -8.0), 20.0, 'offboard position target')
        v = fleet.vehicle(0)
        assert math.degrees(v.yaw) == pytest.approx(90.0, abs=2.0)
        c.offboard.set_velocity_ned(VelocityNedYaw(-2.0, 0.0, 0.0, 90.0))
        wait_for(lambda: abs(c.telemetry.velocity_ned().north_m_s + 2.0) < 0.1, 10.0, 'velocity -2 m/s north')
        assert abs(c.telemetry.velocity_ned().east_m_s) < 0.1
        c.offboard.set_velocity_ned(VelocityNedYaw(0.0, 0.0, 0.0, 90.0))
        wait_for(lambda: math.hypot(*v.vel) < 0.05, 10.0, 'stopped')
        c.offboard.stop()
        assert fleet.vehicle(0).mode != vh.MODE_OFFBOARD


def _item(lat, lon, alt, speed=5.0):
    return MissionItem(latitude_deg=lat, longitude_deg=lon, relative_altitude_m=alt, speed_m_s=speed,
                       is_fly_through=False, acceptance_radius_m=1.0, yaw_deg=float('nan'), loiter_time_s=0.0,
                       vehicle_action=MissionItem.VehicleAction.NONE,
                       camera_action=MissionItem.CameraAction.NONE)


def test_mission_upload_download_run_to_completion_then_clear():
    with flying(params={'RTL_RETURN_ALT': 12.0}) as (fleet, (c,)):
        c.wait_healthy()
        lat0, lon0, _ = fleet.home
        dlat = 15.0 / 111_111.0             # ~15 m
        items = [_item(lat0 + dlat, lon0, 10.0), _item(lat0 + dlat, lon0 + dlat, 12.0), _item(lat0, lon0 + dlat, 10.0)]
        c.mission.set_return_to_launch_after_mission(True)
        c.mission.upload_mission(MissionPlan(items))
        got = c.mission.download_mission().mission_items
        assert len(got) == 3
        for a, b in zip(items, got):
            assert (b.latitude_deg, b.longitude_deg) == pytest.approx((a.latitude_deg, a.longitude_deg), abs=1e-7)
            assert b.relative_altitude_m == pytest.approx(a.relative_altitude_m, abs=0.01)
        c.action.arm()
        c.mission.start_mission()
        wait_for(lambda: c.mission.is_mission_finished(), 40.0, 'mission finished')
        progress = c.mission.mission_progress()
        assert progress.total == 3
        wait_for(lambda: not c.telemetry.armed(), 40.0, 'RTL after the mission lands and disarms')
        v = fleet.vehicle(0)
        assert math.hypot(v.pos[0] - v.home_ned[0], v.pos[1] - v.home_ned[1]) < 1.0
        c.mission.clear_mission()
        assert fleet.vehicle(0).mission_items == []


def test_change_speed_goto_set_home_then_rtl_lands_and_disarms_at_new_home():
    with flying(params={'RTL_RETURN_ALT': 15.0}) as (fleet, (c,)):
        _takeoff(c)
        lat0, lon0, alt0 = fleet.home
        v = fleet.vehicle(0)
        c.action.set_current_speed(3.0)                                   # DO_CHANGE_SPEED
        c.action.goto_location(lat0 + 20.0 / 111_111.0, lon0, alt0 + 8.0, 0.0)   # DO_REPOSITION
        top = [0.0]

        def arrived():
            top[0] = max(top[0], math.hypot(v.vel[0], v.vel[1]))
            return v.pos[0] > 19.0 and abs(v.altitude_above_home_m - 8.0) < 0.5
        wait_for(arrived, 20.0, 'goto 20 m north')
        assert 2.5 < top[0] <= 3.0 + 1e-6
        east = 6.0 / (111_111.0 * math.cos(math.radians(lat0)))
        c.action.set_home(False, lat0, lon0 + east, alt0)                 # DO_SET_HOME, 6 m east
        wait_for(lambda: abs(c.telemetry.home().longitude_deg - (lon0 + east)) < 1e-7, 5.0, 'new home reported')
        c.action.return_to_launch()
        wait_for(lambda: v.altitude_above_home_m > 14.5, 20.0, 'climb to RTL_RETURN_ALT')
        wait_for(lambda: not c.telemetry.armed(), 60.0, 'landed and disarmed after RTL')
        assert math.hypot(v.pos[0], v.pos[1] - 6.0) < 0.5
        assert v.altitude_above_home_m == pytest.approx(0.0, abs=0.05)


def test_offboard_setpoint_loss_failsafe_rtl_land_disarm():
    params = {'RTL_RETURN_ALT': 6.0}
    with flying(params=params) as (fleet, (c,)):
        _takeoff(c)
        c.offboard.set_position_ned(PositionNedYaw(8.0, 0.0, -5.0, 0.0))
        c.offboard.start()
        v = fleet.vehicle(0)
        wait_for(lambda: v.pos[0] > 7.5, 15.0, 'offboard flight')
        c.close()                            # the client process "dies": setpoints stop
        wait_for(lambda: v.mode == vh.MODE_RTL, 3.0, 'failsafe RTL after COM_OF_LOSS_T')
        wait_for(lambda: not v.armed, 60.0, 'landed at home and disarmed')
        assert math.hypot(v.pos[0], v.pos[1]) < 0.5


def test_a_stall_of_the_whole_machine_is_not_a_lost_offboard_stream():
    """Simulator and client frozen together for 1.5 s (> COM_OF_LOSS_T), the client scheduled again 1.2 s after
    the simulator: no failsafe (PX4 SITL: lockstep; STALL_RECOVERY_S)."""
    from pymavlink import mavutil
    with contextlib.ExitStack() as stack:
        fleet = stack.enter_context(Fleet(count=1, first_instance=_instances.take(1), speed=SPEED))
        conn = mavutil.mavlink_connection(f'udpout:127.0.0.1:{fleet.links[0].bind_port}', source_system=245,
                                          source_component=190, dialect='common')
        stack.callback(conn.close)
        v = fleet.vehicle(0)

        def stream(seconds):                 # position setpoints at 20 Hz
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                conn.mav.set_position_target_local_ned_send(0, v.sysid, 1, 1, 0x09F8, 0, 0, -5, 0, 0, 0, 0, 0, 0,
                                                            0, 0)
                time.sleep(0.05)

        conn.mav.heartbeat_send(6, 8, 0, 0, 0)
        wait_for(lambda: v.healthy(fleet.clock.now()), 3.0, 'vehicle ready')
        stream(0.3)
        conn.mav.command_long_send(v.sysid, 1, 176, 0, 1 | 128, 6, 0, 0, 0, 0, 0)
        stream(0.5)
        assert v.mode == vh.MODE_OFFBOARD
        poll, frozen = fleet.poll, threading.Event()

        def descheduled_poll(timeout_s):     # the loop waits on its socket and is not scheduled for 1.5 s
            if not frozen.is_set():
                return poll(timeout_s)
            time.sleep(1.5)
            frozen.clear()

        fleet.poll = descheduled_poll
        frozen.set()                         # the machine freezes: the client sends nothing either
        wait_for(lambda: not frozen.is_set(), 3.0, 'the loop to wake up')
        time.sleep(1.2)                      # the client waits for a CPU after the freeze
        stream(1.0)
        assert v.mode == vh.MODE_OFFBOARD
        assert fleet.clock.stalls >= 1 and fleet.clock.stalled_s >= 1.0
        wait_for(lambda: v.mode != vh.MODE_OFFBOARD, 3.0, 'failsafe once the client alone is silent')
        assert v.mode == vh.MODE_HOLD        # on the ground, disarmed: offboard loss holds


def test_gcs_link_loss_failsafe_lands():
    params = {'NAV_DLL_ACT': 3, 'COM_DL_LOSS_T': 1}
    with flying(params=params) as (fleet, (c,)):
        _takeoff(c)
        v = fleet.vehicle(0)
        time.sleep(1.5)                      # still linked: heartbeats keep coming
        assert v.mode == vh.MODE_HOLD
        c.close()
        wait_for(lambda: v.mode == vh.MODE_LAND, 4.0, 'data-link-loss failsafe: Land')
        wait_for(lambda: not v.armed, 30.0, 'landed and disarmed')


def test_low_battery_failsafe_returns_and_lands():
    with flying(params={'RTL_RETURN_ALT': 5.0, 'COM_LOW_BAT_ACT': 3}) as (fleet, (c,)):
        _takeoff(c)
        v = fleet.vehicle(0)
        remaining0 = c.telemetry.battery().remaining_percent
        c.param.set_param_float('BAT1_CAPACITY', 60.0)     # ~60 mAh at ~11 A: seconds of flight
        wait_for(lambda: v.mode in (vh.MODE_RTL, vh.MODE_LAND), 30.0, 'battery failsafe')
        wait_for(lambda: not v.armed, 60.0, 'landed and disarmed')
        assert v.remaining <= v.params['BAT_CRIT_THR'] + 1e-9
        assert c.telemetry.battery().remaining_percent < remaining0
        assert v.voltage_v < 4 * 4.05


def test_two_vehicles_on_their_own_ports():
    with flying(count=2) as (fleet, (c0, c1)):
        assert fleet.links[1].bind_port == fleet.links[0].bind_port + 1
        c0.wait_healthy()
        c1.wait_healthy()
        c1.action.arm()
        c1.action.takeoff()
        wait_for(lambda: c1.rel_alt() > 2.0, 10.0, 'vehicle 2 airborne')
        assert not c0.telemetry.armed() and c0.rel_alt() == pytest.approx(0.0, abs=0.05)
        assert not fleet.vehicle(0).armed and fleet.vehicle(1).armed
        assert fleet.vehicle(1).sysid == fleet.vehicle(0).sysid + 1
        # the second vehicle stands spacing_m east of the first
        assert c1.telemetry.position().longitude_deg > c0.telemetry.position().longitude_deg


def test_parameters_get_set_px4_types():
    with flying() as (fleet, (c,)):
        c.wait_healthy()
        assert c.param.get_param_float('MIS_TAKEOFF_ALT') == pytest.approx(2.5)
        assert c.param.get_param_float('RTL_RETURN_ALT') == pytest.approx(60.0)
        assert c.param.get_param_float('MPC_XY_CRUISE') == pytest.approx(5.0)
        c.param.set_param_float('MIS_TAKEOFF_ALT', 4.0)
        assert c.param.get_param_float('MIS_TAKEOFF_ALT') == pytest.approx(4.0)
        assert c.action.get_takeoff_altitude() == pytest.approx(4.0)
        assert c.param.get_param_int('COM_DL_LOSS_T') == 10       # INT32, bytewise in the float field
        c.param.set_param_int('NAV_DLL_ACT', 2)
        assert fleet.vehicle(0).params['NAV_DLL_ACT'] == 2
        assert c.param.get_param_int('NAV_DLL_ACT') == 2
        _takeoff(c, alt=4.0)


def test_no_two_vehicles_on_one_port():
    i = _instances.take(1)
    with Fleet(count=1, first_instance=i):
        with pytest.raises(OSError):
            Fleet(count=1, first_instance=i)

"""The simulated vehicle without MAVSDK: physics limits, battery vs the twin's power model, determinism, params."""
import math
import time

import numpy as np
import pytest

from uav_edge.core.energy import hover_power
from uav_edge.sitl import Fleet
from uav_edge.sitl import vehicle as vh
from uav_edge.sitl.__main__ import main
from uav_edge.sitl.params import ParamStore, int32_to_wire, wire_to_int32


class Clock:
    """Drive a socket-less Fleet (ephemeral port, no push) tick by tick with a fake wall clock."""

    def __init__(self, **kwargs):
        kwargs.setdefault('boot_delay_s', 0.0)
        self.fleet = Fleet(count=1, bind_ports=[0], gcs_ports=[0], **kwargs)
        self.wall = time.monotonic()
        self.v = self.fleet.vehicle(0)
        self.samples = []

    def run(self, seconds, dt=0.02):
        for _ in range(int(round(seconds / dt))):
            self.wall += dt
            self.fleet.tick(dt, self.wall)
            self.samples.append((list(self.v.pos), list(self.v.vel), list(self.v.acc)))

    def close(self):
        self.fleet.close()


@pytest.fixture
def clock():
    c = Clock(params={'COM_DISARM_PRFLT': -1.0})
    yield c
    c.close()


def _fly_up(c, alt=10.0):
    assert c.v.arm(c.wall) == vh.ACCEPTED
    c.v.params.set('MIS_TAKEOFF_ALT', alt)
    assert c.v.takeoff() == vh.ACCEPTED
    c.run(alt / c.v.params['MPC_TKO_SPEED'] + 6.0)
    assert c.v.mode == vh.MODE_HOLD and c.v.altitude_above_home_m == pytest.approx(alt, abs=0.15)


def test_speeds_and_accelerations_respect_px4_limits(clock):
    v = clock.v
    _fly_up(clock)
    climb = [-s[1][2] for s in clock.samples]
    assert max(climb) <= v.params['MPC_TKO_SPEED'] + 1e-6            # takeoff climb rate
    clock.samples.clear()
    lat, lon, _ = v.frame.to_geodetic([300.0, 0.0, 0.0])
    assert v.reposition(float(lat), float(lon), v.home_geo[2] + 30.0) == vh.ACCEPTED
    clock.run(90.0)
    assert v.pos[0] == pytest.approx(300.0, abs=0.5) and v.altitude_above_home_m == pytest.approx(30.0, abs=0.5)
    vel = np.array([s[1] for s in clock.samples])
    acc = np.array([s[2] for s in clock.samples])
    assert np.hypot(vel[:, 0], vel[:, 1]).max() <= v.params['MPC_XY_CRUISE'] + 1e-6
    assert vel[:, 2].max() <= v.params['MPC_Z_VEL_MAX_DN'] + 1e-6          # NED: +z is down
    assert -vel[:, 2].min() <= v.params['MPC_Z_VEL_MAX_UP'] + 1e-6
    assert np.hypot(acc[:, 0], acc[:, 1]).max() <= v.params['MPC_ACC_HOR'] + 1e-6
    assert np.hypot(vel[:, 0], vel[:, 1]).max() > 0.95 * v.params['MPC_XY_CRUISE']   # it does reach cruise


def test_offboard_velocity_is_clipped_and_the_ground_is_a_floor(clock):
    v = clock.v
    _fly_up(clock, 5.0)
    v.set_offboard_setpoint(vh.Setpoint(vel=(50.0, 0.0, 10.0)), clock.wall)
    assert v.start_offboard(clock.wall) == vh.ACCEPTED
    for _ in range(100):      # keep streaming at 50 Hz (wall) so the loss failsafe stays quiet
        v.set_offboard_setpoint(vh.Setpoint(vel=(50.0, 0.0, 10.0)), clock.wall)
        clock.run(0.1)
    vel = np.array([s[1] for s in clock.samples[-500:]])
    pos = np.array([s[0] for s in clock.samples])
    assert np.hypot(vel[:, 0], vel[:, 1]).max() <= v.params['MPC_XY_VEL_MAX'] + 1e-6
    assert vel[:, 2].max() <= v.params['MPC_Z_VEL_MAX_DN'] + 1e-6
    assert pos[:, 2].max() <= 0.0                                     # never below the ground
    assert v.on_ground and v.vel == [0.0, 0.0, 0.0] or not v.armed   # landed (and auto-disarmed)


def test_offboard_loss_action_follows_com_obl_rc_act(clock):
    v = clock.v
    _fly_up(clock, 5.0)
    v.params.set('COM_OBL_RC_ACT', 4)                                 # 4 = Land
    v.set_offboard_setpoint(vh.Setpoint(pos=(0.0, 0.0, -5.0)), clock.wall)
    assert v.start_offboard(clock.wall) == vh.ACCEPTED
    clock.run(v.params['COM_OF_LOSS_T'] - 0.1)
    assert v.mode == vh.MODE_OFFBOARD
    clock.run(0.3)
    assert v.mode == vh.MODE_LAND


@pytest.mark.parametrize('silent_before_s, grace', [(0.5, True), (1.3, False)])
def test_after_a_stall_a_live_link_gets_time_to_recover_and_a_silent_one_none(clock, silent_before_s, grace):
    """The stall begins silent_before_s after the client's last setpoint and is noticed at once (fake clock)."""
    v = clock.v
    _fly_up(clock, 5.0)
    v.params.set('COM_OF_LOSS_T', 2.0)               # not lost before the stall, in both cases
    v.set_offboard_setpoint(vh.Setpoint(pos=(0.0, 0.0, -5.0)), clock.wall)
    assert v.start_offboard(clock.wall) == vh.ACCEPTED
    clock.run(silent_before_s)
    v.params.set('COM_OF_LOSS_T', 1.0)
    v.after_stall(clock.wall, 1.5, stalled_at_s=clock.wall)
    clock.run(1.2)                                   # silent for longer than COM_OF_LOSS_T by now
    assert (v.mode == vh.MODE_OFFBOARD) is grace
    clock.run(0.5)                                   # the grace (1.5 s) is over
    assert v.mode == vh.MODE_RTL


def test_hover_drains_battery_by_the_rotary_wing_model(clock):
    v = clock.v
    _fly_up(clock, 10.0)
    e0, mah0, soc0, volt0 = v.energy_j, v.discharged_mah, v.remaining, v.voltage_v
    clock.run(60.0)
    expected = (hover_power(clock.fleet.rotor) + v.params['SIM_AVIONICS_W']) * 60.0
    assert v.energy_j - e0 == pytest.approx(expected, rel=1e-3)      # P(v=0) from the twin, for 60 s
    charge_ah = (v.discharged_mah - mah0) / 1000.0
    assert charge_ah * 3600.0 * v.voltage_v == pytest.approx(v.energy_j - e0, rel=0.02)   # E = Q V
    assert v.remaining < soc0 and v.voltage_v < volt0
    assert v.current_a == pytest.approx((hover_power(clock.fleet.rotor) + 5.0) / v.voltage_v, rel=1e-6)


def test_same_seed_same_flight_with_gusts_and_noise():
    def flight(seed):
        c = Clock(seed=seed, params={'SIM_WIND_GUST': 2.0, 'SIM_GPS_NOISE': 1.0, 'COM_DISARM_PRFLT': -1.0})
        try:
            _fly_up(c, 5.0)
            return c.v.energy_j, c.fleet.links[0]._geo()[:3]
        finally:
            c.close()
    assert flight(3) == flight(3)
    assert flight(3) != flight(4)


def test_int32_params_travel_bytewise_and_bad_values_name_the_param():
    for value in (0, 1, 2, 10, -1, 123456789, -2 ** 31):
        assert wire_to_int32(int32_to_wire(value)) == value
    store = ParamStore()
    assert store.wire_value('COM_DL_LOSS_T') == (int32_to_wire(10), 6)
    assert store.set_from_wire('NAV_DLL_ACT', int32_to_wire(2), 6) == 2
    with pytest.raises(ValueError, match='MPC_XY_CRUISE'):
        store.set('MPC_XY_CRUISE', math.nan)
    with pytest.raises(ValueError, match='BAT_LOW_THR'):
        store.set('BAT_LOW_THR', 2.0)
    with pytest.raises(ValueError, match='NOT_A_PARAM'):
        store.set('NOT_A_PARAM', 1.0)
    assert all(len(name) <= 16 for name in store.names)               # MAVLink param_id limit


def test_fleet_rejects_bad_arguments():
    with pytest.raises(ValueError, match='count'):
        Fleet(count=0)
    with pytest.raises(ValueError, match='home'):
        Fleet(home=(95.0, 8.0, 400.0))
    with pytest.raises(ValueError, match='host'):
        Fleet(host='0.0.0.0')


def test_cli_runs_and_stops(capsys):
    assert main(['--count', '1', '--first-instance', '39', '--duration', '0.2']) == 0
    assert 'sysid 40' in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(['--home', 'not,a,home'])

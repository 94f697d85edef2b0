"""Energy models (uav_edge/core/energy.py) against the specs' reference values and physics.

Reference values: seed 3 spec §2.8-2.11 and Appendix B (tolerance 0.1 %), seed 1 spec §2.10 and
Appendix A (quoted to 2 decimals -> 0.01 W / 0.01 J).
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq

from uav_edge.core import energy as en

SEED3 = en.RotaryWingParams()
SEED1 = en.SEED1_ROTARY_WING
REL = 1e-3  # seed 3 Appendix B tolerance (0.1 %)


# --- propulsion power -------------------------------------------------------------------------

def test_hover_power_is_168_48_watts():
    assert en.hover_power(SEED3) == pytest.approx(168.48, abs=0.01)
    assert float(en.propulsion_power(0.0)) == pytest.approx(en.hover_power(SEED3), rel=1e-12)


def test_seed3_appendix_b_propulsion_values():
    assert en.blade_profile_power(SEED3) == pytest.approx(79.856, rel=REL)
    assert en.induced_hover_power(SEED3) == pytest.approx(88.628, rel=REL)
    assert en.hover_power(SEED3) == pytest.approx(168.484, rel=REL)
    assert float(en.propulsion_power(20.0)) == pytest.approx(178.289, rel=REL)
    assert float(en.propulsion_power(28.2843)) == pytest.approx(314.923, rel=REL)


def test_seed3_power_curve_table():
    """Seed 3 §2.9 derived table: p^f at 5 / 10 / 15 / 20 / 28.284 / 30 m/s."""
    speeds = np.array([5.0, 10.0, 15.0, 20.0, 28.284, 30.0])
    expected = np.array([143.59, 126.02, 138.53, 178.29, 314.92, 356.28])
    np.testing.assert_allclose(en.propulsion_power(speeds, SEED3), expected, rtol=REL)


def test_seed3_speed_where_flying_costs_hover_power():
    """Appendix B: p^f(v) = p^h at v = 19.047 m/s (so moves of 20 / 28.28 m/s cost more than hovering)."""
    crossing = brentq(lambda v: float(en.propulsion_power(v)) - en.hover_power(SEED3), 5.0, 30.0)
    assert crossing == pytest.approx(19.047, rel=REL)


def test_seed1_appendix_a_propulsion_values():
    assert float(en.propulsion_power(0.0, SEED1)) == pytest.approx(138.10, abs=0.01)
    assert float(en.propulsion_power(25.0, SEED1)) == pytest.approx(222.52, abs=0.01)
    speeds = np.array([0.0, 5.0, 10.0, 15.0, 20.0, 25.0])
    expected = np.array([138.10, 112.03, 97.74, 111.94, 152.12, 222.52])
    np.testing.assert_allclose(en.propulsion_power(speeds, SEED1), expected, atol=0.01)


def test_seed1_printed_formula_would_be_unphysical():
    """Appendix A: the printed 4 v_f^2 gives 837.2 W at 25 m/s; the corrected model (D-A22) 222.52 W."""
    v, v_f = 25.0, 3.6
    blade_and_parasite = 59.03 * (1 + 3 * v ** 2 / 120.0 ** 2) + 0.5 * 0.6 * 1.225 * 0.05 * 0.503 * v ** 3
    printed = blade_and_parasite + 79.07 * np.sqrt(np.sqrt(1 + v ** 4 / (4 * v_f ** 2)) - v ** 2 / (2 * v_f ** 2))
    assert printed == pytest.approx(837.2, abs=0.1)
    assert float(en.propulsion_power(v, SEED1)) < 0.3 * printed


@pytest.mark.parametrize('params, v_max, v_star, p_min', [
    (SEED3, 28.2843, 10.2, 125.99),   # seed 3 §2.9: minimum ~125.99 W at ~10.2 m/s (v_max: diagonal move)
    (SEED1, 25.0, 9.74, 97.70),       # seed 1 §2.10: minimum ~97.70 W at ~9.74 m/s, v_max = 25 m/s
])
def test_power_curve_is_u_shaped_with_the_specs_max_endurance_speed(params, v_max, v_star, p_min):
    speeds = np.linspace(0.0, v_max, 2001)
    power = en.propulsion_power(speeds, params)
    k = int(np.argmin(power))
    assert 0 < k < speeds.size - 1                      # interior minimum: U shape
    assert np.all(np.diff(power[:k + 1]) < 0) and np.all(np.diff(power[k:]) > 0)
    best = en.max_endurance_speed(params)
    assert best == pytest.approx(v_star, abs=0.05)
    assert float(en.propulsion_power(best, params)) == pytest.approx(p_min, abs=0.01)
    assert float(en.propulsion_power(best, params)) <= power.min() + 1e-9


def test_propulsion_power_is_vectorised_over_any_shape():
    speeds = np.arange(12.0).reshape(3, 4)
    power = en.propulsion_power(speeds)
    assert power.shape == (3, 4)
    np.testing.assert_allclose(power.ravel(), [float(en.propulsion_power(v)) for v in speeds.ravel()])


def test_climb_power_is_weight_times_climb_rate_and_free_in_descent():
    np.testing.assert_allclose(en.climb_power([-2.0, 0.0, 3.0]), [0.0, 0.0, 60.0])


# --- trajectory flight energy and the simulator battery -----------------------------------------

def test_flight_energy_constant_speed_equals_power_times_time():
    steps, dt = 40, 0.5
    heading = np.array([0.6, 0.8, 0.0])
    velocities = np.tile(12.0 * heading, (steps, 1))
    velocities[:, 2] = 1.5                       # vertical speed is ignored by the horizontal model
    expected = float(en.propulsion_power(12.0)) * steps * dt
    assert float(en.flight_energy(velocities, dt)) == pytest.approx(expected, rel=1e-12)


def test_flight_energy_per_uav_and_per_step_dt():
    speeds = np.array([0.0, 10.0, 20.0])                       # three UAVs
    velocities = np.zeros((5, 3, 3))
    velocities[:, :, 1] = speeds                               # flying north
    dt = np.array([1.0, 2.0, 0.5, 0.5, 1.0])
    energy = en.flight_energy(velocities, dt, SEED1)
    assert energy.shape == (3,)
    np.testing.assert_allclose(energy, en.propulsion_power(speeds, SEED1) * dt.sum())
    with_climb = en.flight_energy(velocities + [0.0, 0.0, 2.0], dt, SEED1, include_climb=True)
    np.testing.assert_allclose(with_climb - energy, SEED1.weight_n * 2.0 * dt.sum())


@settings(max_examples=60, deadline=None)
@given(speed=st.floats(0.0, 40.0), dt=st.floats(0.01, 10.0), steps=st.integers(1, 50),
       angle=st.floats(0.0, 2 * np.pi))
def test_flight_energy_property_constant_speed(speed, dt, steps, angle):
    velocity = [speed * np.cos(angle), speed * np.sin(angle), 0.0]
    energy = float(en.flight_energy(np.tile(velocity, (steps, 1)), dt))
    assert energy == pytest.approx(float(en.propulsion_power(speed)) * steps * dt, rel=1e-9)
    assert energy >= 0.0


@settings(max_examples=200, deadline=None)
@given(capacity=st.floats(1.0, 1e6), fraction=st.floats(0.0, 1.0), power=st.floats(0.0, 1e4),
       harvest=st.floats(0.0, 1e4), dt=st.floats(0.0, 600.0))
def test_battery_step_never_leaves_zero_to_capacity(capacity, fraction, power, harvest, dt):
    energy = fraction * capacity
    new = float(en.battery_step(energy, power, dt, capacity, harvest))
    assert 0.0 <= new <= capacity
    if harvest == 0.0:
        assert new <= energy                                    # no source, no gain


def test_battery_step_drains_and_clips_per_uav():
    new = en.battery_step([100.0, 100.0, 100.0], [10.0, 200.0, 0.0], 1.0, 150.0, harvest_w=[0.0, 0.0, 80.0])
    np.testing.assert_allclose(new, [90.0, 0.0, 150.0])


# --- seed 1: computing, transmission, flight energy per slot (§2.6-2.10, Appendix A) ----------

def test_seed1_local_computing_energy_appendix_a():
    """E_local = kappa f^2 eps3 D C = 2.06 J at f = 1.5 GHz, eps3 = 1/3, D = 2.5 Mb, C = 1100 (delay 0.61 s)."""
    cycles = (1.0 / 3.0) * 2.5e6 * 1100
    assert float(en.computing_energy(cycles, 1.5e9)) == pytest.approx(2.06, abs=0.005)
    assert cycles / 1.5e9 == pytest.approx(0.61, abs=0.005)


def test_seed1_transcoding_power_at_30_ghz_is_27_kw():
    """Appendix A: s1 (30 GHz)^3 = 27 000 W, so one second of transcoding costs 27 kJ."""
    assert float(en.transcoding_energy(30e9, 1.0)) == pytest.approx(27_000.0, rel=1e-9)


def test_seed1_transmission_energy_is_power_times_upload_time():
    assert float(en.transmission_energy(0.5, 2.0e6, 100.0e6)) == pytest.approx(0.5 * 0.02)


def test_seed1_flight_energy_per_slot_uses_3d_speed_and_budget_checks():
    """§2.10 with ∂ = 1 s; §7: 50 slots hovering use ~6.9 kJ, at 25 m/s ~11.1 kJ, both under E_r = 20 kJ."""
    velocities = np.array([[0.0, 0.0, 0.0], [15.0, 20.0, 0.0], [0.0, 15.0, 20.0]])
    per_slot = en.flight_energy_per_slot(velocities)
    np.testing.assert_allclose(per_slot, [138.10, 222.52, 222.52], atol=0.01)
    assert 50 * per_slot[0] == pytest.approx(6.9e3, abs=50)
    assert 50 * per_slot[1] == pytest.approx(11.1e3, abs=50)
    battery = en.Seed1EnergyParams().battery_j
    remaining = battery
    for _ in range(50):
        remaining = en.remaining_battery_energy(remaining, 0.0, 0.0, per_slot[1])
    assert float(remaining) == pytest.approx(battery - 50 * per_slot[1])
    assert float(remaining) > 0


def test_seed1_remaining_battery_goes_negative_unclipped():
    assert float(en.remaining_battery_energy(100.0, 20.0, 30.0, 138.1)) == pytest.approx(-88.1)


# --- seed 3: solar, slot energy, battery queue, efficiency (§2.8-2.11, Appendix B) ------------

def test_seed3_solar_harvest_appendix_b():
    harvest = en.solar_harvest_energy([0.0, 700.0], 60.0)
    assert harvest[0] == pytest.approx(32_808.0, rel=REL)
    assert harvest[1] == pytest.approx(29.917, rel=REL)
    np.testing.assert_allclose(en.solar_harvest_power([0.0, 700.0]), [546.8, 0.4986], rtol=REL)


def test_solar_harvest_is_attenuated_by_cloud_and_zero_at_night():
    thickness = np.linspace(0.0, 5000.0, 51)
    power = en.solar_harvest_power(thickness)
    assert np.all(np.diff(power) < 0)                       # thicker cloud, less power
    assert power[-1] < 1e-15                                # below a thick cloud: essentially none
    night = en.SolarParams(irradiance_w_m2=0.0)
    np.testing.assert_array_equal(en.solar_harvest_energy([0.0, 700.0], 60.0, night), 0.0)


def test_cloud_draw_is_iid_over_the_two_levels():
    draws = en.sample_cloud_thickness(np.random.default_rng(7), (4000,))
    assert set(np.unique(draws)) == {0.0, 700.0}
    assert np.mean(draws == 700.0) == pytest.approx(0.5, abs=0.03)


def test_seed3_total_slot_energy_appendix_b():
    total = en.slot_energy([0.0, 20.0, 28.2843], 0.05, [True, False, False])
    np.testing.assert_allclose(total, [10_112.65, 10_356.28, 13_772.13], rtol=REL)


def test_seed3_slot_energy_is_sum_of_its_parts():
    speed, power, hovering = np.array([0.0, 20.0]), np.array([0.1, 0.2]), np.array([1, 0])
    parts = (en.flying_energy(speed, hovering) + en.hovering_energy(hovering)
             + en.communication_energy(power, hovering))
    np.testing.assert_allclose(en.slot_energy(speed, power, hovering), parts)
    np.testing.assert_allclose(en.transmit_time(hovering), [60.0, 35.0])
    np.testing.assert_allclose(en.flying_energy(speed, hovering), [0.0, float(en.propulsion_power(20.0)) * 25])


def test_seed3_energy_efficiency_and_interference_penalty_appendix_b():
    assert float(en.energy_efficiency(6.0e7, 10_112.65)) == pytest.approx(5_933.2, rel=REL)
    assert 240.0 * float(en.radiated_energy(0.05, True)) == pytest.approx(720.0, rel=REL)


def test_seed3_battery_queue_clips_and_caps():
    cfg = en.Seed3EnergyParams()
    new = en.battery_next([cfg.capacity_j, 5_000.0, 100_000.0], [10_112.65, 10_356.28, 10_112.65],
                          [32_808.0, 29.917, 0.0], cfg)
    np.testing.assert_allclose(new, [cfg.capacity_j, 29.917, 100_000.0 - 10_112.65])


def test_seed3_energy_constraints_and_penalty():
    cfg = en.Seed3EnergyParams()
    assert list(en.energy_causality_ok([20_000.0, 5_000.0], 10_112.65)) == [True, False]
    penalty = en.energy_penalty([cfg.capacity_j, 40_000.0], 10_112.65, cfg)
    np.testing.assert_allclose(penalty, [0.0, 10_112.65 + 36_000.0 - 40_000.0])


def test_seed3_battery_levels_cover_ten_bins():
    cfg = en.Seed3EnergyParams()
    levels = en.battery_level_index(np.linspace(0.0, cfg.capacity_j, 1001), cfg)
    assert levels.min() == 0 and levels.max() == cfg.levels - 1
    assert np.all(np.diff(levels) >= 0)


def test_seed3_full_battery_lasts_about_36_hover_slots_without_sun():
    """360 kJ / 10 112.65 J per hover slot: energy queue over many slots stays in [0, e_max]."""
    cfg, e, slots = en.Seed3EnergyParams(), en.Seed3EnergyParams().capacity_j, 0
    while e > 0 and slots < 100:
        e = float(en.battery_next(e, en.slot_energy(0.0, 0.05, True, cfg), 0.0, cfg))
        assert 0.0 <= e <= cfg.capacity_j
        slots += 1
    assert slots == int(np.ceil(cfg.capacity_j / 10_112.65306))


# --- bad input ---------------------------------------------------------------------------------

@pytest.mark.parametrize('call, name', [
    (lambda: en.propulsion_power([3.0, np.nan]), r'speed_mps\[1\]'),
    (lambda: en.propulsion_power(-1.0), 'speed_mps'),
    (lambda: en.propulsion_power(np.inf), 'speed_mps'),
    (lambda: en.flight_energy(np.zeros((3, 3)), -0.1), 'dt_s'),
    (lambda: en.flight_energy(np.full((3, 2, 3), np.nan), 1.0), r'velocities_mps\[0, 0, 0\]'),
    (lambda: en.flight_energy(np.zeros((3, 2)), 1.0), 'velocities_mps'),
    (lambda: en.flight_energy(np.zeros((3, 3)), [1.0, 1.0]), 'dt_s'),
    (lambda: en.battery_step(10.0, 1.0, -1.0, 100.0), 'dt_s'),
    (lambda: en.battery_step([10.0, np.nan], 1.0, 1.0, 100.0), r'energy_j\[1\]'),
    (lambda: en.battery_step(10.0, [1.0, -5.0], 1.0, 100.0), r'power_w\[1\]'),
    (lambda: en.battery_step(120.0, 1.0, 1.0, 100.0), 'energy_j'),
    (lambda: en.battery_step(10.0, 1.0, 1.0, 0.0), 'capacity_j'),
    (lambda: en.battery_step(10.0, 1.0, 1.0, 100.0, harvest_w=np.nan), 'harvest_w'),
    (lambda: en.solar_harvest_power(-5.0), 'cloud_thickness_m'),
    (lambda: en.slot_energy(10.0, 0.05, 0.5), 'hovering'),
    (lambda: en.energy_efficiency(1.0, 0.0), 'energy_j'),
    (lambda: en.transmission_energy(0.5, 1e6, 0.0), 'rate_bps'),
    (lambda: en.computing_energy(1e9, -1.0), 'frequency_hz'),
    (lambda: en.RotaryWingParams(weight_n=np.nan), 'weight_n'),
    (lambda: en.RotaryWingParams(induced_power_w=-1.0), 'induced_power_w'),
    (lambda: en.Seed3EnergyParams(alarm_j=1e9), 'alarm_j'),
])
def test_bad_input_raises_value_error_naming_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()

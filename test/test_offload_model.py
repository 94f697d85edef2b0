"""Seed-1 twin (uav_edge.core.offload): spec Appendix A reference values, transcoding, flight power,
utilities, penalties, the §3.6 calibration returns, and the config loader's one-line errors."""
from pathlib import Path

import numpy as np
import pytest

from uav_edge.core import offload as m
from uav_edge.core.channel import mean_rician_rate
from uav_edge.core.offload_config import Seed1ConfigError, load_seed1_config

P = m.Seed1Params()


def test_dimensions_match_spec():
    assert (P.state_dim, P.action_dim) == (51, 66)                       # App. A: 3I+4K+1, 6+I+2J+6K
    assert m.Seed1Params(num_busy_uds=20, num_uavs=3).state_dim == 3 * 20 + 4 * 3 + 1


@pytest.mark.parametrize('speed, watts', [(0, 138.10), (5, 112.03), (10, 97.74), (15, 111.94),
                                          (20, 152.12), (25, 222.52)])
def test_corrected_flight_power_table(speed, watts):
    # spec §2.10 reference table (A22: 4 v_f^4 under the root); printed at 2 decimals
    assert m.flight_power(speed, P) == pytest.approx(watts, abs=0.006)


def test_flight_power_minimum_and_printed_formula_is_unphysical():
    v = np.linspace(0, 25, 2501)
    p = m.flight_power(v, P)
    assert p.min() == pytest.approx(97.70, abs=0.01) and v[p.argmin()] == pytest.approx(9.74, abs=0.02)
    # the printed (12) with 4 v_f^2: 837.2 W at 25 m/s (App. A) -- the reason for the correction
    v25, vf = 25.0, 3.6
    printed = (0.5 * 0.6 * 1.225 * 0.05 * 0.503 * v25 ** 3 + 59.03 * (1 + 3 * v25 ** 2 / 120 ** 2)
               + 79.07 * np.sqrt(np.sqrt(1 + v25 ** 4 / (4 * vf ** 2)) - v25 ** 2 / (2 * vf ** 2) + 0j).real)
    assert printed == pytest.approx(837.2, abs=0.5) and m.flight_power(25.0, P) < printed / 3


@pytest.mark.parametrize('b, c', [(0.4, 1.43115), (0.8, 1.51275), (1.5, 1.59077), (2.0, 1.62781), (2.3, 1.64611)])
def test_transcoding_cycles_per_bit(b, c):
    assert m.transcoding_cycles_per_bit(b, P.transcode_m1, P.transcode_m2) == pytest.approx(c, abs=5e-6)


def test_transcoding_cycles_grow_with_bitrate_and_reject_nan():
    c = m.transcoding_cycles_per_bit(np.array(P.bitrates_mbps))
    assert np.all(np.diff(c) > 0)
    with pytest.raises(ValueError, match=r'bitrate_mbps\[1\]'):
        m.transcoding_cycles_per_bit([0.4, np.nan])


def test_incentive_factors_and_noise():
    u_i, u_ki, u_ji = m.incentive_factors(P)
    assert (u_i, u_ki, u_ji) == (pytest.approx(3 / 22), pytest.approx(20.0), pytest.approx(1.0))
    assert P.a2g_link.noise_w == pytest.approx(1e-13) and P.d2d_link.noise_w == pytest.approx(1e-13)


def test_transcoding_power_at_30ghz_is_27_kw():
    # s1 f^3 = 27,000 W: one second of transcoding at f_max would cost 27 kJ (App. A)
    assert m.uav_transcoding_energy(1.0, 30e9, P) == pytest.approx(27000.0)


def test_local_energy_and_delay_reference():
    # App. A: f_i = 1.5 GHz, eps_3 = 1/3, D = 2.5 Mb, C = 1100 -> 2.06 J and 0.61 s
    assert m.local_energy(1 / 3, 2.5e6, 1100, 1.5e9, P) == pytest.approx(2.0625, abs=0.005)
    assert m.local_delay(1 / 3, 2.5e6, 1100, 1.5e9) == pytest.approx(0.611, abs=0.005)


def test_typical_rates_and_the_d2d_inconsistency():
    # App. A: "A2G at about 150 m gives about 260 Mbps" (mean gain): holds within 3 %
    assert mean_rician_rate(150.0, P.a2g_link) == pytest.approx(260e6, rel=0.03)
    # "D2D at about 60 m gives about 120 Mbps" contradicts its own defaults (chi=3, beta0=-30 dB, 10 MHz):
    expected = 10e6 * np.log2(1 + 0.5 * 1e-3 * 60.0 ** -3 / 1e-13)
    assert mean_rician_rate(60.0, P.d2d_link) == pytest.approx(expected, rel=1e-9)
    assert expected == pytest.approx(145e6, rel=0.01)


def test_rician_draws_average_to_mean_gain():
    rng = np.random.default_rng(0)
    busy = np.array([[0.0, 0.0, 0.0]] * 4000)
    uav = np.array([[0.0, 150.0, 0.0]])     # 150 m away, K = 10 Rician
    rate = m.uplink_rate(rng, uav, busy, np.zeros(4000, int), P)
    # Jensen: E[log(1+x)] <= log(1+E[x]); with K = 10 fading the gap is small
    assert rate.mean() < mean_rician_rate(150.0, P.a2g_link)
    assert rate.mean() == pytest.approx(mean_rician_rate(150.0, P.a2g_link), rel=0.03)


def test_decode_action_bounds_and_mapping():
    s = m.action_layout(P)
    low, high = m.decode_action(-np.ones(66), P), m.decode_action(np.ones(66), P)
    assert np.allclose(low.offload_split, 1 / 3) and np.allclose(low.weights, 1 / 3)   # sum 0 -> thirds
    assert np.allclose(low.uav_cpu_hz, 30e6) and np.allclose(high.uav_cpu_hz, 30e9)    # A49 floor, f_max
    assert np.allclose(low.uav_price, 0) and np.allclose(high.uav_price, 20)
    assert np.allclose(high.idle_price, 1) and np.allclose(high.velocity_mps, 25)
    assert np.allclose(low.bitrate_mbps, 0.4) and np.allclose(high.bitrate_mbps, 2.3)
    a = np.zeros(66)
    a[s['offload_split']] = (1, -1, -1)
    assert np.allclose(m.decode_action(a, P).offload_split, (1, 0, 0))
    a[s['bitrate']] = np.linspace(-1, 1, 5)    # g = 0, .25, .5, .75, 1 -> levels 0,1,2,3,4
    assert np.allclose(m.decode_action(a, P).bitrate_mbps, (0.4, 0.8, 1.5, 2.0, 2.3))
    with pytest.raises(ValueError, match='action'):
        m.decode_action(np.ones(65), P)


def test_clip_action_counts_and_rejects_nan():
    clipped, n = m.clip_action([0.5, 1.5, -3.0, 1.0])
    assert n == 2 and np.allclose(clipped, [0.5, 1.0, -1.0, 1.0])
    with pytest.raises(ValueError, match=r'action\[1\]'):
        m.clip_action([0.0, np.nan])


def test_inconvenience_factor_floor():
    assert np.allclose(m.inconvenience_factor([0.0, 0.5, 0.99, 1.0]), [1.0, 2.0, 20.0, 20.0])


def test_utilities_payments_cancel_with_equal_weights():
    # with omega_1 = omega_3 the UAV payment p_k f_k cancels between (23) and (25)
    active = np.array([True, False])
    f_k, e0 = np.array([30e9, 30e9]), np.zeros(2)
    args = dict(busy_cpu_hz=np.zeros(1), beta_i=1.0, local_j=0.0, upload_j=0.0, d2d_j=0.0, uav_active=active,
                uav_cpu_hz=f_k, idle_active=np.array([False]), idle_cpu_hz=np.ones(1), idle_price=np.zeros(1),
                params=P)
    qs = []
    for price in (0.0, 20.0):
        u_k = m.uav_utility(active, f_k, np.full(2, price), 1.0, e0, e0, e0)
        u_i = m.busy_utility(uav_price=np.full(2, price), **args)
        assert u_i == pytest.approx((20 - price) * 30)   # only the active UAV counts (A31)
        qs.append(m.system_revenue([0.5, 0.0, 0.5], u_k, 0.0, u_i))
    assert qs[0] == pytest.approx(qs[1]) == pytest.approx(0.5 * 600)
    # an inactive UAV still pays its (weighted) flight energy
    assert m.uav_utility([False], [30e9], [20.0], 2.0, [0.0], [138.1], [0.0]) == pytest.approx(-276.2)


def test_speed_limit_and_penalties():
    v, bad = m.limit_speed([[25, 25, 25], [10, 0, 0]], 25.0)
    assert bad.tolist() == [True, False]
    assert np.linalg.norm(v[0]) == pytest.approx(25.0) and np.allclose(v[1], [10, 0, 0])
    assert m.separation_violated(np.array([[0, 0, 100], [2, 0, 100.0]]), 3.0)
    assert not m.separation_violated(np.array([[0, 0, 100], [3, 0, 100.0]]), 3.0)
    assert m.penalty(True, False, True, P) == (1000.0, 0.0, 1000.0)


def test_polar_velocity_is_bounded_by_v_max_and_decodes_speed_and_direction():
    # the issue-5 alternative to the Cartesian [D-A25] layout: (speed, azimuth, elevation) per UAV
    v = m.polar_velocity([[1, 0, 0], [1, 0.5, 0], [1, 0.3, 1], [-1, 0.7, -0.2], [0, -1, 0]], 25.0)
    assert np.allclose(v, [[25, 0, 0], [0, 25, 0], [0, 0, 25], [0, 0, 0], [-12.5, 0, 0]], atol=1e-9)
    a = np.random.default_rng(0).uniform(-1, 1, (10000, 3))
    speed = np.linalg.norm(m.polar_velocity(a, 25.0), axis=-1)
    assert speed.max() <= 25.0 + 1e-9 and np.allclose(speed, 25.0 * (a[:, 0] + 1) / 2)   # |v| = v_max g(a_0)
    polar = m.Seed1Params(polar_velocity=True)
    assert np.allclose(m.decode_action(np.ones(66), polar).velocity_mps, [0, 0, 25])      # straight up
    assert np.allclose(m.decode_action(np.ones(66), P).velocity_mps, 25)                  # Cartesian default
    hover = m.decode_action(m.heuristic_action(polar), polar)
    assert np.allclose(hover.velocity_mps, 0) and np.allclose(hover.uav_cpu_hz, 30e9)    # fallback still hovers


def test_per_count_penalty_option_of_a28():
    per_count = m.Seed1Params(penalty_per_count=True)
    assert m.penalty(2, 0, 3, P) == (1000.0, 0.0, 1000.0)            # default: once per type per slot
    assert m.penalty(2, 0, 3, per_count) == (2000.0, 0.0, 3000.0)    # option: per pair / per UAV
    assert m.penalty(True, 1, False, per_count) == (1000.0, 1000.0, 0.0)
    assert m.close_pairs(np.array([[0, 0, 100], [1, 0, 100], [2, 0, 100.0], [50, 0, 100]]), 3.0) == 3
    with pytest.raises(ValueError, match='speed_violations'):
        m.penalty(0, 0, np.nan, per_count)
    # uniform-random Cartesian velocities exceed v_max with probability 1 - pi/6 (cube outside the ball):
    # per-count F_3 averages 1000 K (1 - pi/6) per slot; binary 1000 (1 - (pi/6)^K) (§3.6's ~4.8e4 / 50)
    rng = np.random.default_rng(1)
    f3 = {False: [], True: []}
    for _ in range(2000):
        _, too_fast = m.limit_speed(25.0 * rng.uniform(-1, 1, (5, 3)), 25.0)
        for mode, params in ((False, P), (True, per_count)):
            f3[mode].append(m.penalty(0, 0, np.count_nonzero(too_fast), params)[2])
    assert np.mean(f3[True]) == pytest.approx(1000 * 5 * (1 - np.pi / 6), rel=0.05)
    assert np.mean(f3[False]) == pytest.approx(1000 * (1 - (np.pi / 6) ** 5), rel=0.05)


def test_position_update_is_trapezoidal_and_clipped():
    u = m.next_uav_position(np.array([[100, 100, 150.0]]), np.array([[10, 0, 0.0]]), np.array([[20, 0, 0.0]]), P)
    assert np.allclose(u, [[115, 100, 150]])
    u = m.next_uav_position(np.array([[199, 1, 199.0]]), np.zeros((1, 3)), np.array([[20, -20, 20.0]]), P)
    assert np.allclose(u, [[200, 0, 200]])


def _period_return(params, policy, seed):
    lay, rng = m.sample_layout(params), np.random.default_rng(seed)
    pos, v, e = lay.uav_start_m, np.zeros((params.num_uavs, 3)), np.full(params.num_uavs, params.battery_j)
    ret = q = pen = 0.0
    for _ in range(params.num_slots):
        d, c = m.sample_tasks(rng, params)
        out = m.slot_outcome(rng, m.decode_action(policy(rng), params), pos, v, e, lay.busy_pos_m,
                             lay.idle_pos_m, lay.partner, d, c, params)
        pos, v, e = out.uav_pos_m, out.velocity_mps, out.remaining_j
        ret, q, pen = ret + out.reward, q + out.revenue, pen + sum(out.penalties)
    return ret, q, pen


def test_calibration_returns_of_spec_section_3_6():
    # spec §3.6 calibration (the spec's own computation): zero ~ -7.5e3, hand-made hover ~ +3.0e4,
    # uniform random ~ -6.2e4 with ~4.8e4 penalties (almost all F_3). Tolerance 10 %.
    zero = _period_return(P, lambda r: np.zeros(66), 0)
    assert zero[0] == pytest.approx(-7.5e3, rel=0.1) and zero[2] == 0
    hover = _period_return(P, lambda r: m.heuristic_action(P), 0)
    assert hover[0] == pytest.approx(3.0e4, rel=0.1) and hover[2] == 0
    rand = _period_return(P, lambda r: r.uniform(-1, 1, 66), 0)
    assert rand[0] == pytest.approx(-6.2e4, rel=0.1) and rand[2] == pytest.approx(4.8e4, rel=0.1)


def test_battery_is_slack_over_a_period():
    # §7: hovering 50 s uses ~6.9 kJ, 25 m/s ~11.1 kJ, both < E_r = 20 kJ, so F_2 rarely fires
    assert 50 * m.flight_power(0.0, P) == pytest.approx(6.9e3, rel=0.01)
    assert 50 * m.flight_power(25.0, P) == pytest.approx(11.1e3, rel=0.01)


def test_config_defaults_equal_params_and_errors_are_one_line():
    assert load_seed1_config().params == P
    for override, words in [({'sizes.num_uavs': 0}, 'sizes.num_uavs: 0 is outside the allowed range [1, 100]'),
                            ({'cpu.uav_cpu_max_hz': 'nan'}, 'cpu.uav_cpu_max_hz'),
                            ({'geometry.altitude_min_m': 300}, 'geometry.altitude_min_m: must be < altitude_max_m'),
                            ({'sizes.num_uav': 3}, "did you mean 'num_uavs'"),
                            ({'reward.penalty_per_count': 'maybe'}, 'reward.penalty_per_count'),
                            ({'geometry.polar_velocity': 2}, 'geometry.polar_velocity')]:
        with pytest.raises(Seed1ConfigError) as err:
            load_seed1_config(overrides=override)
        assert words in str(err.value) and 'default.yaml' in str(err.value) and '\n' not in str(err.value)
    with pytest.raises(Seed1ConfigError, match='file not found'):
        load_seed1_config('/nonexistent/seed1.yaml')


def test_a_seed1_file_that_is_no_yaml_or_repeats_a_key_is_refused_naming_it(tmp_path):
    """The scenario loader's rules (core.scenario.read_yaml): safe_load kept the last of two tx_power_w silently."""
    text = (Path(__file__).parents[1] / 'config/seed1/default.yaml').read_text(encoding='utf-8')
    twice = tmp_path / 'twice.yaml'
    twice.write_text(text.replace('  tx_power_w: 0.5', '  tx_power_w: 0.5\n  tx_power_w: 50', 1), encoding='utf-8')
    binary = tmp_path / 'binary.yaml'
    binary.write_bytes(bytes(range(128, 256)))
    for path, words in ((twice, "duplicate key 'tx_power_w'"), (binary, 'cannot read the file'),
                        (tmp_path, 'cannot read the file')):
        with pytest.raises(Seed1ConfigError) as err:
            load_seed1_config(path)
        assert str(err.value).startswith(str(path)) and words in str(err.value) and '\n' not in str(err.value)


def test_velocity_and_penalty_options_load_from_the_file_and_reject_non_booleans():
    cfg = load_seed1_config(overrides={'geometry.polar_velocity': True, 'reward.penalty_per_count': True})
    assert cfg.params.polar_velocity and cfg.params.penalty_per_count
    assert not (P.polar_velocity or P.penalty_per_count)          # defaults: [D-A25] Cartesian, [D-A28] binary
    with pytest.raises(ValueError, match='Seed1Params.polar_velocity: must be true or false'):
        m.Seed1Params(polar_velocity='yes')

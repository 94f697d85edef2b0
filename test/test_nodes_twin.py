"""Twin helpers added for the node graph (issue 4): link calibration, energy fusion, market availability and
migration hysteresis, A* planning, the seed-1 offloading heuristic. Pure numpy, no rclpy."""
import numpy as np
import pytest

from uav_edge.core import channel, energy, game, market, offload_heuristic, planning
from uav_edge.core.scenario import resolve_scenario


@pytest.fixture(scope='module')
def world():
    return resolve_scenario('default').sample()


# --- channel estimation calibration ------------------------------------------------------------

def test_estimate_at_reference_geometry_is_table_ii_q(world):
    for home in world.uav_homes_m:
        ref = np.array([home[0], home[1], world.altitude_m[0]])
        _, _, _, q = channel.estimated_link_quality(ref, world.rsu_positions_m, ref, world.tx_power_dbm,
                                                    world.gain_db, world.noise_dbm)
        np.testing.assert_allclose(q, world.spectral_efficiency(), rtol=1e-12)


def test_estimate_falls_moving_away_from_the_rsu(world):
    rsu = world.rsu_positions_m[:1]
    ref = rsu[0] + [0.0, 0.0, 20.0]
    path = [rsu[0] + [d, 0.0, 20.0] for d in np.linspace(0.0, 1500.0, 31)]
    q = [channel.estimated_link_quality(p, rsu, ref, world.tx_power_dbm[:1], world.gain_db[:1],
                                        world.noise_dbm[:1])[3][0] for p in path]
    assert np.all(np.diff(q) < 0)
    assert q[0] == pytest.approx(world.spectral_efficiency()[0])


def test_mean_path_gain_lies_between_nlos_and_los():
    uav = np.array([[0.0, 0.0, 100.0], [400.0, 300.0, 50.0]])
    ground = np.array([[10.0, 20.0, 10.0], [900.0, 0.0, 5.0]])
    d = channel.distance_3d(uav, ground)
    h = channel.altitude_above(uav, ground)
    mean = channel.a2g_mean_path_gain(uav, ground)
    assert np.all(mean <= channel.a2g_path_gain(d, h, True)) and np.all(mean >= channel.a2g_path_gain(d, h, False))


def test_mean_path_gain_and_estimate_are_eqs_2_and_5_composed():
    """The per-pose path (offsets taken once) equals the public functions composed term by term."""
    uav = np.array([[0.0, 0.0, 100.0], [400.0, 300.0, 50.0], [5.0, 5.0, 10.5]])
    ground = np.array([[10.0, 20.0, 10.0], [900.0, 0.0, 5.0]])
    d = np.maximum(channel.distance_3d(uav, ground), 1.0)
    h = np.maximum(channel.altitude_above(uav, ground), 1.0)
    p_los = channel.los_probability(channel.elevation_angle_deg(uav, ground))
    expected = p_los * channel.a2g_path_gain(d, h, True) + (1 - p_los) * channel.a2g_path_gain(d, h, False)
    np.testing.assert_allclose(channel.a2g_mean_path_gain(uav, ground), expected, rtol=1e-13)
    estimate = channel.LinkQualityEstimator(ground, uav[0], [20.0, 20.0], [-40.0, -45.0], [-100.0, -100.0])
    np.testing.assert_allclose(estimate(uav[1])[0], p_los[1], rtol=1e-13)


def test_estimate_below_the_antenna_is_finite_and_bad_input_names_the_parameter(world):
    low = np.array([100.0, 100.0, 0.0])          # on the ground, below a 10 m mast
    out = channel.estimated_link_quality(low, world.rsu_positions_m, low + [0, 0, 30], world.tx_power_dbm,
                                         world.gain_db, world.noise_dbm)
    assert all(np.all(np.isfinite(v)) for v in out)
    with pytest.raises(ValueError, match='reference_gain_db'):
        channel.calibrated_channel_gain(low, world.rsu_positions_m, low, [np.nan] * world.num_rsus)


def test_mean_rician_rate_is_shannon_at_the_mean_gain():
    link = channel.Seed1A2GParams()
    snr = link.tx_power_w * link.ref_gain * 100.0 ** -2 / link.noise_w
    assert channel.mean_rician_rate(100.0, link) == pytest.approx(link.bandwidth_hz * np.log2(1 + snr))


# --- energy accounting -----------------------------------------------------------------------------

def test_fused_energy_and_endurance():
    assert energy.fused_energy(1000.0, 600.0, 0.0) == 1000.0
    assert energy.fused_energy(1000.0, 600.0, 1.0) == 600.0
    assert energy.fused_energy(1000.0, 600.0, 0.5) == 800.0
    hover = energy.hover_power()
    assert energy.endurance(360000.0, 72000.0, hover) == pytest.approx(288000.0 / hover)
    assert energy.endurance(50.0, 72000.0, hover) == 0.0
    with pytest.raises(ValueError, match='measured_weight'):
        energy.fused_energy(1.0, 1.0, 1.5)
    with pytest.raises(ValueError, match='power_w'):
        energy.endurance(1.0, 0.0, 0.0)


# --- market at runtime -----------------------------------------------------------------------------

def test_restricting_to_available_rsus_equals_the_smaller_game(world):
    params = world.game_params()
    keep = np.array([False, True, True, True, True])
    restricted = game.solve_equilibrium(market.restrict_to_available(params, keep))
    smaller = game.solve_equilibrium(game.GameParams(q=params.q[:, keep], S=params.S[:, keep], delta=params.delta,
                                                     budget=params.budget, cost=params.cost[keep],
                                                     price_cap=params.price_cap[keep]))
    np.testing.assert_allclose(restricted.prices[:, keep], smaller.prices, atol=1e-8)
    np.testing.assert_allclose(restricted.demand[:, keep], smaller.demand, atol=1e-8)
    assert np.all(restricted.demand[:, ~keep] == 0.0)


def test_migration_target_hysteresis():
    assert market.migration_target([0.0, 0.0]) == market.NO_TARGET
    assert market.migration_target([0.3, 0.5]) == 1
    assert market.migration_target([0.5, 0.55], current=0, hysteresis=0.2) == 0     # within 20 %: keep
    assert market.migration_target([0.5, 0.65], current=0, hysteresis=0.2) == 1     # beyond: switch
    assert market.migration_target([0.0, 0.1], current=0, hysteresis=0.2) == 1      # current dropped: switch
    with pytest.raises(ValueError, match='demand'):
        market.migration_target([np.nan, 1.0])


# --- planning --------------------------------------------------------------------------------------

def test_astar_on_an_empty_grid_is_the_octile_distance():
    blocked = planning.occupancy_grid([1000.0, 1000.0], [], 50.0)
    path = planning.astar(blocked, (0, 0), (19, 7))
    steps = np.diff(np.array(path), axis=0)
    length = np.sum(np.where(np.all(steps != 0, axis=1), np.sqrt(2), 1.0))
    assert length == pytest.approx(7 * np.sqrt(2) + 12)


def test_planned_path_avoids_no_fly_cells_and_reaches_the_goal():
    cell, no_fly = 50.0, [[800.0, 0.0, 1200.0, 1700.0]]
    blocked = planning.occupancy_grid([2000.0, 2000.0], no_fly, cell)
    way = planning.plan_path([100.0, 100.0], [1900.0, 100.0], blocked, cell)
    assert np.allclose(way[0], [100, 100]) and np.allclose(way[-1], [1900, 100])
    for a, b in zip(way, way[1:]):                       # sample every leg densely
        for t in np.linspace(0, 1, 50):
            x, y = a + t * (b - a)
            assert not (800 < x < 1200 and y < 1700), (x, y)
    assert planning.path_length(way) > 2 * 1600         # the wall forces the detour around its north end
    with pytest.raises(planning.PlanningError, match='goal'):
        planning.plan_path([100.0, 100.0], [1000.0, 100.0], blocked, cell)


def test_coverage_visits_every_point_and_returns_home():
    blocked = planning.occupancy_grid([2000.0, 2000.0], [], 50.0)
    points = np.array([[1500.0, 200.0, 1.5], [300.0, 1700.0, 1.5], [900.0, 900.0, 1.5]])
    way = planning.plan_coverage([0.0, 0.0], points, blocked, 50.0, return_to_m=[0.0, 0.0])
    for p in points:
        assert np.min(np.linalg.norm(way - p[:2], axis=1)) < 1e-9
    assert np.allclose(way[-1], [0, 0])
    assert planning.coverage_order([0, 0], points[:, :2]) == [2, 0, 1]


# --- seed-1 offloading heuristic -------------------------------------------------------------------

def test_transcoding_cycles_match_the_spec_levels():
    got = [offload_heuristic.transcode_cycles_per_bit(b) for b in (0.4, 0.8, 1.5, 2.0, 2.3)]
    np.testing.assert_allclose(got, [1.4312, 1.5128, 1.5908, 1.6278, 1.6461], atol=1e-4)   # spec seed1 [D-A18]


def test_delay_balanced_split_finishes_all_paths_together():
    a = offload_heuristic.path_seconds_per_bit(2e7, 5e6, 2.3, 30e9)
    split = offload_heuristic.delay_balanced_split(a)
    assert split.sum() == pytest.approx(1.0) and np.all(split > 0)
    delays = split * 2.5e6 * a
    assert np.ptp(delays) == pytest.approx(0.0, abs=1e-12)
    # any other split is slower for its slowest path
    other = split + np.array([0.01, -0.005, -0.005])
    assert np.max(other * 2.5e6 * a) > np.max(delays)


def test_offload_decision_meets_the_slot_with_the_slowest_cpu():
    d = offload_heuristic.offload_decision(2.5e6, 2e7, 5e6, 2.3)
    assert d.meets_deadline and d.completion_s <= 1.0
    p = offload_heuristic.OffloadHeuristicParams()
    assert p.f_min_fraction * p.uav_cpu_max_hz <= d.uav_cpu_hz <= p.uav_cpu_max_hz
    fast = offload_heuristic.offload_decision(2.5e6, 2e7, 5e6, 2.3, p)
    assert offload_heuristic.offload_decision(2.5e6, 2e7, 5e6, 0.4).uav_energy_j < fast.uav_energy_j
    with pytest.raises(ValueError, match='data_bits'):
        offload_heuristic.offload_decision(np.nan, 2e7, 5e6, 2.3)

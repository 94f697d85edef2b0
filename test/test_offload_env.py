"""Seed-1 gymnasium environment: env checker, 51/66 layouts, clipping counted, NaN is an error, determinism."""
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from uav_edge.core import offload
from uav_edge.core.offload_config import load_seed1_config
from uav_edge.envs.offload_env import OffloadEnv


def test_env_checker_and_spec_dimensions():
    env = OffloadEnv()
    check_env(env, skip_render_check=True)
    assert env.observation_space.shape == (51,) and env.action_space.shape == (66,)
    assert env.observation_space.dtype == np.float32
    assert np.all(env.action_space.low == -1) and np.all(env.action_space.high == 1)
    fig8 = OffloadEnv(config=load_seed1_config().with_params(num_busy_uds=20, num_uavs=3))
    assert fig8.observation_space.shape == (3 * 20 + 4 * 3 + 1,) and fig8.action_space.shape == (6 + 20 + 20 + 18,)


def test_observation_layout_matches_state():
    env = OffloadEnv()
    obs, _ = env.reset(seed=1)
    p = env.params
    assert np.allclose(obs[:20], env.layout.busy_pos_m[:, :2].ravel() / 200, atol=1e-6)
    assert np.allclose(obs[20:30], env.task_bits / 3.5e6, atol=1e-6)
    assert obs[30] == pytest.approx(env.cycles_per_bit / 1500)
    assert np.allclose(obs[31:46], (env.uav_pos_m / [200, 200, 200]).ravel(), atol=1e-6)
    assert np.allclose(obs[46:], 1.0) and p.state_dim == obs.size


def test_out_of_bounds_actions_are_clipped_and_counted():
    a, b = OffloadEnv(), OffloadEnv()
    a.reset(seed=0), b.reset(seed=0)
    big = np.full(66, 3.0, dtype=np.float32)
    big[:10] = 0.5
    _, r_big, _, _, info = a.step(big)
    _, r_ref, _, _, _ = b.step(np.clip(big, -1, 1))
    assert info['clipped_components'] == 56 and a.clipped_components_total == 56
    assert r_big == pytest.approx(r_ref)
    a.step(np.zeros(66))
    assert a.clipped_components_total == 56


def test_speed_violation_is_penalised_and_rescaled():
    env = OffloadEnv()
    env.reset(seed=0)
    action = offload.heuristic_action(env.params)
    action[offload.action_layout(env.params)['velocity']] = 1.0      # |v| = sqrt(3) v_max
    _, r, _, _, info = env.step(action)
    assert info['F3'] == 1000.0 and r == pytest.approx(info['Q'] - 1000.0 - info['F1'] - info['F2'])
    assert np.allclose(np.linalg.norm(env.prev_velocity_mps, axis=1), 25.0)


def test_polar_velocity_never_triggers_f3_and_per_count_charges_each_uav():
    polar = OffloadEnv(offload.Seed1Params(polar_velocity=True))
    polar.reset(seed=0)
    action = offload.heuristic_action(polar.params)
    action[offload.action_layout(polar.params)['velocity']] = 1.0      # full speed, straight up
    _, r, _, _, info = polar.step(action)
    assert info['F3'] == 0.0 and np.allclose(polar.prev_velocity_mps, [0, 0, 25])
    per_count = OffloadEnv(offload.Seed1Params(penalty_per_count=True))
    per_count.reset(seed=0)
    action = offload.heuristic_action(per_count.params)
    action[offload.action_layout(per_count.params)['velocity']] = 1.0  # all K = 5 UAVs too fast
    _, r, _, _, info = per_count.step(action)
    assert info['F3'] == 5000.0 and r == pytest.approx(info['Q'] - 5000.0 - info['F1'] - info['F2'])


def test_nan_action_and_nan_observation_are_errors():
    env = OffloadEnv()
    env.reset(seed=0)
    bad = np.zeros(66)
    bad[7] = np.nan
    with pytest.raises(ValueError, match=r'action\[7\]'):
        env.step(bad)
    env.remaining_j[2] = np.nan
    with pytest.raises(ValueError, match=r'remaining_j\[2\]'):
        env._observation()
    with pytest.raises(ValueError, match='task_bits'):
        offload.offload_observation(env.layout.busy_pos_m, np.full(10, np.inf), 1000.0, env.uav_pos_m,
                                    np.ones(5), env.params)


def _rollout(seed, steps=60):
    env = OffloadEnv()
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(123)
    out = [obs]
    rewards, ends = [], []
    for t in range(steps):
        obs, r, term, trunc, _ = env.step(rng.uniform(-1, 1, 66).astype(np.float32))
        out.append(obs), rewards.append(r)
        if term:
            ends.append(t + 1)
            obs, _ = env.reset()
    return np.array(out), np.array(rewards), ends


def test_determinism_with_a_seed_and_flight_period_termination():
    o1, r1, ends = _rollout(7)
    o2, r2, _ = _rollout(7)
    o3, r3, _ = _rollout(8)
    assert np.array_equal(o1, o2) and np.array_equal(r1, r2)
    assert not np.array_equal(r1, r3)
    assert ends == [50]                                   # N = 50 slots per flight period


def test_hover_heuristic_keeps_uavs_still_and_battery_drains_by_hover_energy():
    env = OffloadEnv()
    env.reset(seed=0)
    start = env.uav_pos_m.copy()
    total = 0.0
    for _ in range(50):
        _, r, term, _, info = env.step(offload.heuristic_action(env.params))
        total += r
        assert info['F1'] == info['F2'] == info['F3'] == 0
    assert term and np.allclose(env.uav_pos_m, start)
    spent = 20e3 - env.remaining_j
    hover = 50 * 138.10                                     # p_fly(0) = P_a + P_b (App. A) for 50 s
    assert np.all(spent >= hover - 1e-6) and np.all(spent < hover + 500)   # idle UAVs: exactly hover
    assert np.any(spent > hover + 1.0)                      # serving UAVs also pay transcoding + processing
    assert total == pytest.approx(3.0e4, rel=0.1)          # spec §3.6 calibration

"""Seed-0 pricing environment (spec seed0 §4.2): API conformance, observation layout, rewards, bad input."""
import numpy as np
import pytest

from uav_edge.core import game
from uav_edge.envs.pricing_env import (PricingEnvConfig, PricingMarket, PricingParallelEnv, make_joint_env,
                                       normalised_price, params_from_scenario, price_from_action)


@pytest.fixture(scope='module')
def small():
    return params_from_scenario('small')


def test_passes_pettingzoo_parallel_api_test():
    from pettingzoo.test import parallel_api_test

    parallel_api_test(PricingParallelEnv('small', PricingEnvConfig(episode_steps=30)), num_cycles=100)


def test_joint_gymnasium_view_passes_env_checker():
    from gymnasium.utils.env_checker import check_env

    check_env(make_joint_env('small', PricingEnvConfig(episode_steps=10)), skip_render_check=True)


def test_action_to_price_map_hits_bounds_and_clips():
    cost, cap = np.array([2.0, 3.0]), np.array([10.0, 30.0])
    prices = price_from_action(np.array([[-1.0, 0.0, 1.0], [-5.0, 0.5, 7.0]]), cost, cap)
    np.testing.assert_allclose(prices, [[2.0, 6.0, 10.0], [3.0, 23.25, 30.0]])
    np.testing.assert_allclose(normalised_price(prices, cost, cap), [[0, 0.5, 1], [0, 0.75, 1]])


def test_observation_is_last_L_rounds_of_own_prices_and_demands_oldest_first(small):
    world, params = small
    L, I = 3, params.num_uavs
    market = PricingMarket(params, 1, PricingEnvConfig(history=L))
    market.reset(np.random.default_rng(0))
    posted = []
    for a in (-1.0, 0.0, 1.0):
        actions = np.full((1, params.num_rsus, I), a)
        obs, reward, prices, demand = market.step(actions)
        posted.append(prices[0])
    assert obs.shape == (1, params.num_rsus, 2 * I * L) and obs.dtype == np.float32
    rounds = obs[0].reshape(params.num_rsus, L, 2, I)
    # Actions -1, 0, 1 are the prices c, (c + pbar) / 2, pbar: normalised 0, 0.5, 1, oldest round first.
    expected_prices = np.broadcast_to(np.array([0.0, 0.5, 1.0])[None, :, None], (params.num_rsus, L, I))
    np.testing.assert_allclose(rounds[:, :, 0], expected_prices, atol=1e-6)
    # The newest round's demands are the exact follower best response to the newest prices.
    expected, _ = game.follower_best_response(posted[-1].T, params)
    np.testing.assert_allclose(rounds[:, -1, 1], expected.T, rtol=1e-6)
    np.testing.assert_allclose(reward[0], game.rsu_utility(expected, posted[-1].T, params))


def test_vectorised_copies_step_like_independent_markets(small):
    world, params = small
    rng = np.random.default_rng(3)
    actions = rng.uniform(-1, 1, (4, params.num_rsus, params.num_uavs))
    many = PricingMarket(params, 4)
    many.reset(np.random.default_rng(0))
    _, reward, _, demand = many.step(actions)
    for n in range(4):
        one = PricingMarket(params, 1)
        one.reset(np.random.default_rng(0))
        _, r1, _, d1 = one.step(actions[n:n + 1])
        np.testing.assert_allclose(reward[n], r1[0])
        np.testing.assert_allclose(demand[n], d1[0])


def test_parallel_env_rewards_scale_per_uav_and_info_has_raw_utility():
    env = PricingParallelEnv('small')
    env.reset(seed=1)
    actions = {a: np.zeros(3, np.float32) for a in env.agents}
    _, rewards, _, truncations, infos = env.step(actions)
    for agent in env.possible_agents:
        assert rewards[agent] == pytest.approx(infos[agent]['utility'] / 3)
        assert not truncations[agent]


def test_reset_with_seed_is_deterministic():
    a, b = PricingParallelEnv('small'), PricingParallelEnv('small')
    obs_a, _ = a.reset(seed=5)
    obs_b, _ = b.reset(seed=5)
    for agent in a.possible_agents:
        np.testing.assert_array_equal(obs_a[agent], obs_b[agent])


def test_bad_actions_and_config_are_rejected_with_the_name(small):
    world, params = small
    market = PricingMarket(params, 1)
    market.reset(np.random.default_rng(0))
    bad = np.zeros((1, params.num_rsus, params.num_uavs))
    bad[0, 1, 2] = np.nan
    with pytest.raises(ValueError, match=r'actions\[0, 1, 2\] \(RSU 1, UAV 2\)'):
        market.step(bad)
    with pytest.raises(ValueError, match='actions: expected shape'):
        market.step(np.zeros((1, 5, 5)))
    with pytest.raises(ValueError, match='history'):
        PricingEnvConfig(history=0)
    with pytest.raises(ValueError, match='reward_scale'):
        PricingEnvConfig(reward_scale='huge')
    env = PricingParallelEnv('small')
    env.reset(seed=0)
    with pytest.raises(ValueError, match='missing an action'):
        env.step({env.agents[0]: np.zeros(3)})

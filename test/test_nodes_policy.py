"""pricing_leader with `policy: onnx` and the SHIPPED Tiny MADRL model (models/seed0_pricing_default.onnx + card).

On the default scenario (the card's market) every leader's posted prices are the policy's prices for the
observation the training environment defines (uav_edge.envs.pricing_env and the card: the last L rounds of
[(p - cost) / (cap - cost) per UAV, demand per UAV], oldest first, zeros before the first round), each round
pairing the prices posted with the demands that answered them. A market the card does not describe (the
small scenario; other costs) falls back to the analytic best response with a WARN naming the mismatch.
Rounds are driven by calling the node's handlers (no traffic needed): fast and deterministic.
"""
from pathlib import Path

import numpy as np
import pytest
import rclpy

from uav_edge import graph
from uav_edge.core import game
from uav_edge.nodes import contract
from uav_edge.nodes.common import OK, WARN
from uav_edge.nodes.runtime import create_node
from uav_edge.policy.onnx_policy import load_pricing_policy

MODEL = Path(__file__).resolve().parents[1] / 'models' / 'seed0_pricing_default.onnx'
_Q = contract.CHANNEL_FIELDS.index('spectral_efficiency')


@pytest.fixture
def context(domain_id):
    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=domain_id)
    yield ctx
    rclpy.try_shutdown(context=ctx)


def start_leaders(context, scenario_name, **leader_params):
    """The scenario's pricing leaders with policy onnx and the shipped model (not spinning)."""
    scenario = graph.load_scenario(scenario_name)
    options = graph.GraphOptions(policy='onnx', kinds=('pricing_leader',),
                                 extra={'pricing_leader': {'model_path': str(MODEL), **leader_params}})
    leaders = [create_node(spec, context) for spec in graph.build_graph(scenario, options)]
    for leader in leaders:        # inputs come from feed() only, not from the other leaders' published prices
        leader.take_inputs = lambda: None
    return scenario.sample(), leaders


def feed(leader, world, demand, others):
    """Every UAV's Table II q (uav x rsu) and its demand row, the other RSUs' prices (columns of `others`)."""
    fields = np.zeros((world.num_rsus, len(contract.CHANNEL_FIELDS)))
    q = world.game_params().q
    for i in range(world.num_uavs):
        fields[:, _Q] = q[i]
        leader.on_channel(i, fields)
        leader.on_demand(i, demand[i])
    for k in range(world.num_rsus):
        if k != leader.j:
            leader.on_prices(k, others[:, k])


def expected_observation(history, cost, cap, rounds):
    """The training layout, built here from the card's description (not by the node's code)."""
    obs = np.zeros((rounds, 2, len(history[0][0]) if history else 0))
    for k, (prices, demand) in enumerate(history[-rounds:]):
        obs[rounds - min(rounds, len(history)) + k] = [(prices - cost) / (cap - cost), demand]
    return obs.ravel()


def test_leaders_post_the_shipped_policys_prices_on_the_default_scenario(context):
    world, leaders = start_leaders(context, 'default')
    try:
        policy = load_pricing_policy(MODEL, world=world)              # the card matches this scenario
        params = world.game_params()
        eq = game.solve_equilibrium(params)
        rng = np.random.default_rng(0)
        histories = {leader.j: [] for leader in leaders}
        for _ in range(policy.history + 2):                            # past L: the oldest round drops out
            demand = rng.uniform(0.0, 2.0, size=(world.num_uavs, world.num_rsus))
            for leader in leaders:
                j = leader.j
                posted = leader.own.copy()                             # what this RSU posted last round
                feed(leader, world, demand, eq.prices)
                leader.market_round()
                histories[j].append((posted, demand[:, j]))
                obs = expected_observation(histories[j], world.cost[j], world.price_cap[j], policy.history)
                np.testing.assert_allclose(leader.own, policy.price_for(j, obs), rtol=1e-6)
                level, message, _ = leader.status()
                assert level == OK and 'fallback' not in message
        # the policy is really in use: its prices are not the analytic best response to the same market
        analytic = game.leader_best_response(eq.prices, params)
        assert max(np.max(np.abs(leader.own - analytic[:, leader.j])) for leader in leaders) > 1e-3
    finally:
        for leader in leaders:
            leader.destroy_node()


@pytest.mark.parametrize('scenario_name, leader_params, reason', [
    ('small', {}, 'trained for 5 RSUs'),                                  # 2 RSUs x 3 UAVs
    ('default', {'cost': [1.0, 1.0, 1.0, 1.0, 1.0]}, 'cost[0] (RSU 0)'),   # same shape, other market
])
def test_a_market_the_card_does_not_describe_falls_back_to_analytic_with_a_warn(context, scenario_name,
                                                                                leader_params, reason):
    world, leaders = start_leaders(context, scenario_name, **leader_params)
    try:
        leader = leaders[0]
        level, message, _ = leader.status()
        assert level == WARN and 'policy onnx unavailable' in message and reason in message
        # analytic: against the other RSUs at the equilibrium, its best response is its equilibrium price
        p = world.game_params()
        params = game.GameParams(q=p.q, S=p.S, delta=p.delta, budget=p.budget, cost=leader.cost,
                                 price_cap=p.price_cap)
        eq = game.solve_equilibrium(params)
        feed(leader, world, np.zeros((world.num_uavs, world.num_rsus)), eq.prices)
        leader.market_round()
        np.testing.assert_allclose(leader.own, eq.prices[:, leader.j], rtol=1e-6)
    finally:
        for leader in leaders:
            leader.destroy_node()

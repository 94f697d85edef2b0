"""Seed 0 Stackelberg game: fixtures from the spec (Appendix B) and properties that prove the maths."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from uav_edge.core import game
from uav_edge.core.game import GameInputError, GameParams
from uav_edge.core.game_reference import generic_equilibrium, generic_follower_response
from uav_edge.core.scenario import resolve_scenario

TOL = 1e-5


def one_uav(q, S, delta, R, J=None):
    J = len(q)
    return GameParams(q=[q], S=[S], delta=[delta], budget=[R], cost=np.ones(J), price_cap=np.full(J, 50.0))


def fixture_game(budget, price_cap):
    """Spec Appendix B common data for SE fixtures A, B, D (J = 2, I = 3)."""
    return GameParams(q=np.broadcast_to([37.0, 38.0], (3, 2)),
                      S=[[0.40, 0.35], [0.30, 0.45], [0.50, 0.25]],
                      delta=[15, 12, 18], budget=budget, cost=[2, 3], price_cap=price_cap)


# --- Appendix B fixtures --------------------------------------------------------------------

FOLLOWER_FIXTURES = [  # R, p, exact b, lambda, spend, paper-literal b
    (100, [20, 25, 30], [0.272973, 0.153684, 0], 0.0, 9.301565, [0.272973, 0.153684, 0]),
    (5, [20, 25, 30], [0.150071, 0.079943, 0], 0.693976, 5.0, [0.160487, 0.086193, 0]),
    (5, [10, 25, 30], [0.311725, 0.075310, 0], 0.771206, 5.0, [0.333586, 0.081868, 0]),
    (3, [5, 30, 34], [0.421500, 0.029750, 0], 1.675426, 3.0, [0.492339, 0.038605, 0]),
]


@pytest.mark.parametrize('R, p, b_exact, lam, spend, b_paper', FOLLOWER_FIXTURES)
def test_follower_fixtures(R, p, b_exact, lam, spend, b_paper):
    g = one_uav([37, 38, 36], [0.4, 0.3, 0.05], 15, R)
    prices = np.array([p], float)
    b, lam_out = game.follower_best_response(prices, g)
    np.testing.assert_allclose(b[0], b_exact, atol=TOL)
    assert lam_out[0] == pytest.approx(lam, abs=TOL)
    assert (prices * b).sum() == pytest.approx(spend, abs=TOL)
    np.testing.assert_allclose(game.follower_best_response_paper(prices, g)[0], b_paper, atol=TOL)


def test_paper_algorithm_breaks_budget_where_spec_says():
    g = one_uav([37, 38, 36], [0.4, 0.3, 0.05], 15, 5)
    prices = np.array([[20.0, 25.0, 30.0]])
    literal_spend = (prices * game.follower_best_response_paper(prices, g)).sum()
    assert literal_spend == pytest.approx(5.364549, abs=TOL)
    assert literal_spend > 5.0


def test_equilibrium_fixture_a_binding_budgets():
    eq = game.solve_equilibrium(fixture_game([6, 8, 7], [30, 30]), verify=True)
    np.testing.assert_allclose(eq.prices, [[23.763741, 25.740353], [16.321765, 24.811288],
                                           [30.0, 21.100147]], atol=TOL)
    np.testing.assert_allclose(eq.demand, [[0.137249, 0.106388], [0.193537, 0.191327],
                                           [0.158886, 0.105849]], atol=TOL)
    np.testing.assert_allclose(eq.lam, [0.536961, 0, 0.613659], atol=TOL)
    np.testing.assert_allclose(eq.rsu_utility, [10.207647, 8.508261], atol=TOL)
    np.testing.assert_allclose(eq.uav_utility, [13.322482, 11.060232, 17.618421], atol=TOL)
    assert eq.mean_rsu_utility == pytest.approx(9.357954, abs=TOL)
    # UAV 2 is slack, so its prices are Eq. (36).
    assert eq.prices[1, 0] == pytest.approx(np.sqrt(12 * 0.3 * 37 * 2), abs=TOL)


def test_equilibrium_fixture_b_slack_budgets():
    eq = game.solve_equilibrium(fixture_game([100, 100, 100], [30, 30]), verify=True)
    np.testing.assert_allclose(eq.prices, [[21.071308, 24.464260], [16.321765, 24.811288],
                                           [25.806976, 22.649503]], atol=TOL)
    np.testing.assert_allclose(eq.prices, game.slack_price(fixture_game([100] * 3, [30, 30])), atol=TOL)
    np.testing.assert_allclose(eq.lam, 0, atol=TOL)
    np.testing.assert_allclose(eq.rsu_utility, [15.345943, 11.601313], atol=TOL)


def test_equilibrium_fixture_c_kink_beats_eq36():
    g = GameParams(q=[[37]], S=[[0.4]], delta=[15], budget=[5.3], cost=[2], price_cap=[30])
    eq = game.solve_equilibrium(g, verify=True)
    assert eq.prices[0, 0] == pytest.approx(25.9, abs=TOL)
    assert eq.demand[0, 0] == pytest.approx(0.204633, abs=TOL)
    assert eq.rsu_utility[0] == pytest.approx(4.890734, abs=TOL)
    assert game.slack_price(g)[0, 0] == pytest.approx(21.071, abs=1e-3)   # the wrong answer (Eq. 36 alone)


def test_equilibrium_fixture_d_price_cap_active():
    eq = game.solve_equilibrium(fixture_game([6, 8, 7], [12, 12]), verify=True)
    np.testing.assert_allclose(eq.prices, 12.0, atol=TOL)
    np.testing.assert_allclose(eq.demand, [[0.268089, 0.231911], [0.260977, 0.405690],
                                           [0.397424, 0.185910]], atol=TOL)
    np.testing.assert_allclose(eq.lam, [0.694248, 0.041653, 0.766989], atol=TOL)
    np.testing.assert_allclose(eq.rsu_utility, [9.264896, 7.411593], atol=TOL)


# --- follower best response: optimal, feasible, monotone --------------------------------------

@st.composite
def markets(draw, max_rsus=5):
    J = draw(st.integers(1, max_rsus))
    floats = lambda lo, hi: st.floats(lo, hi, allow_nan=False, allow_infinity=False)
    q = draw(st.lists(floats(1.0, 40.0), min_size=J, max_size=J))
    S = draw(st.lists(floats(-0.2, 0.8), min_size=J, max_size=J))
    p = draw(st.lists(floats(1.0, 35.0), min_size=J, max_size=J))
    delta = draw(floats(1.0, 20.0))
    R = draw(st.one_of(st.just(0.0), floats(0.1, 40.0)))
    return np.array(q), np.array(S), np.array(p), delta, R


@settings(max_examples=150, deadline=None)
@given(markets())
def test_follower_beats_generic_optimiser_and_respects_budget(market):
    q, S, p, delta, R = market
    g = one_uav(q, S, delta, R)
    b, lam = game.follower_best_response(p[None], g)
    b = b[0]
    assert np.all(b >= 0)
    assert p @ b <= R + 1e-9
    assert np.all(b[S <= 0] == 0)
    assert lam[0] >= 0
    u_ours = game.uav_utility(b[None], p[None], g)[0]
    u_scipy = game.uav_utility(generic_follower_response(q, S, p, delta, R)[None], p[None], g)[0]
    assert u_ours >= u_scipy - 1e-7 * max(1.0, abs(u_scipy))


@settings(max_examples=150, deadline=None)
@given(markets(), st.integers(0, 4), st.floats(1.0, 3.0))
def test_follower_demand_falls_as_own_price_rises(market, j, factor):
    q, S, p, delta, R = market
    j = j % len(q)
    g = one_uav(q, S, delta, R)
    before = game.follower_best_response(p[None], g)[0][0, j]
    raised = p.copy()
    raised[j] *= factor
    after = game.follower_best_response(raised[None], g)[0][0, j]
    assert after <= before + 1e-12


def test_follower_vectorised_equals_one_market_at_a_time():
    rng = np.random.default_rng(3)
    I, J = 40, 6
    g = GameParams(q=rng.uniform(30, 40, (I, J)), S=rng.uniform(-0.1, 0.7, (I, J)),
                   delta=rng.uniform(10, 20, I), budget=rng.uniform(0, 15, I),
                   cost=np.ones(J), price_cap=np.full(J, 40.0))
    prices = rng.uniform(1, 40, (I, J))
    b_all, lam_all = game.follower_best_response(prices, g)
    for i in range(I):
        b_i, lam_i = game.follower_best_response(prices[i:i + 1], game._rows(g, [i]))
        np.testing.assert_allclose(b_all[i], b_i[0], atol=1e-12)
        assert lam_all[i] == pytest.approx(lam_i[0], abs=1e-12)


# --- the equilibrium: no profitable unilateral deviation on either side ---------------------

def random_game(seed, I, J, budget=(5, 10)):
    """The default scenario's Appendix C sampler at another size, seed and budget range."""
    scenario = resolve_scenario('default').with_overrides(
        {'seed': seed, 'uavs.count': I, 'rsus.count': J, 'uavs.sample.budget': list(budget)})
    return scenario.sample().game_params()


@pytest.mark.parametrize('seed, I, J, budget', [(0, 15, 5, (5, 10)), (1, 6, 3, (5, 10)),
                                                (2, 8, 4, (40, 60)), (3, 5, 2, (2, 8))])
def test_no_rsu_gains_by_unilateral_price_deviation(seed, I, J, budget):
    g = random_game(seed, I, J, budget)
    eq = game.solve_equilibrium(g)
    assert eq.converged
    gain, _ = game.unilateral_gain(eq.prices, g, grid=200)
    profit = game.market_profit(eq.demand, eq.prices, g)
    assert np.all(gain <= 1e-6 * np.maximum(1.0, np.abs(profit)))
    # and the grid search would find a gain if the prices were off: shift one price.
    moved = eq.prices.copy()
    i, j = np.unravel_index(np.argmax(profit), profit.shape)
    moved[i, j] = g.cost[j] + 0.5 * (moved[i, j] - g.cost[j])
    assert game.unilateral_gain(moved, g, grid=200)[0][i, j] > 1e-3


def test_no_uav_gains_by_changing_demand_at_equilibrium():
    g = random_game(4, 10, 4)
    eq = game.solve_equilibrium(g)
    for i in range(g.num_uavs):
        alt = generic_follower_response(g.q[i], g.S[i], eq.prices[i], g.delta[i], g.budget[i])
        u_alt = game.uav_utility(alt[None], eq.prices[i:i + 1], game._rows(g, [i]))[0]
        assert eq.uav_utility[i] >= u_alt - 1e-7 * max(1.0, abs(u_alt))


def test_parallel_blocks_equal_single_block():
    g = random_game(5, 600, 40)
    one = game.solve_equilibrium(g, workers=1)
    two = game.solve_equilibrium(g, workers=2)
    np.testing.assert_array_equal(one.prices, two.prices)
    assert one.converged and two.converged


def test_rsu_utility_falls_as_bandwidth_cost_rises():
    base = random_game(6, 15, 3)
    values = []
    for cost in (1.0, 2.0, 3.0, 4.0):
        g = GameParams(q=base.q, S=base.S, delta=base.delta, budget=base.budget,
                       cost=np.full(3, cost), price_cap=np.full(3, 20.0))
        values.append(game.solve_equilibrium(g).mean_rsu_utility)
    assert all(a > b for a, b in zip(values, values[1:]))


def test_rsu_utility_rises_with_price_cap_then_saturates():
    base = random_game(7, 15, 3)
    values = []
    for cap in (5.0, 10.0, 20.0, 35.0, 60.0):
        g = GameParams(q=base.q, S=base.S, delta=base.delta, budget=base.budget,
                       cost=np.full(3, 2.5), price_cap=np.full(3, cap))
        values.append(game.solve_equilibrium(g).mean_rsu_utility)
    assert all(a <= b + 1e-9 for a, b in zip(values, values[1:]))
    assert values[-1] - values[-2] < 0.01 * values[-1]


# --- degenerate cases have defined results ---------------------------------------------------

def test_uav_below_ssim_threshold_everywhere_buys_nothing():
    g = GameParams(q=[[37, 38], [37, 38]], S=[[-0.1, -0.2], [0.4, 0.3]], delta=[15, 15],
                   budget=[6, 6], cost=[2, 2], price_cap=[30, 30])
    eq = game.solve_equilibrium(g, verify=True)
    np.testing.assert_array_equal(eq.demand[0], 0)
    assert eq.uav_utility[0] == 0
    assert eq.lam[0] == 0
    assert np.all(eq.demand[1] > 0)


def test_zero_budget_gives_zero_demand_and_zero_profit():
    g = GameParams(q=[[37, 38]], S=[[0.4, 0.3]], delta=[15], budget=[0], cost=[2, 2], price_cap=[30, 30])
    eq = game.solve_equilibrium(g)
    np.testing.assert_array_equal(eq.demand, 0)
    np.testing.assert_array_equal(eq.rsu_utility, 0)
    assert eq.lam[0] == pytest.approx(game.value_per_money(eq.prices, g).max() - 1)


def test_price_cap_equal_to_cost_pins_price_and_zero_profit():
    g = GameParams(q=[[37, 38]], S=[[0.4, 0.3]], delta=[15], budget=[6], cost=[2, 3], price_cap=[2, 3])
    eq = game.solve_equilibrium(g, verify=True)
    np.testing.assert_array_equal(eq.prices, [[2, 3]])
    np.testing.assert_array_equal(eq.rsu_utility, 0)
    assert np.all(eq.demand > 0)


# --- bad input -------------------------------------------------------------------------------

@pytest.mark.parametrize('field, value, message', [
    ('delta', [15, np.nan], r'delta\[1\]: must be finite'),
    ('budget', [6, -1], r'budget\[1\]: must be >= 0'),
    ('cost', [2, np.inf], r'cost\[1\]: must be finite'),
    ('price_cap', [1, 30], r'price_cap\[0\]: must be >= cost'),
    ('q', [[37, 0], [37, 38]], r'q\[0, 1\]: must be > 0'),
    ('S', [[0.4, 0.3]], r'S: expected shape \(2, 2\)'),
    ('budget', [6], r'budget: expected shape \(2,\)'),
])
def test_bad_parameters_name_the_parameter_and_index(field, value, message):
    kwargs = dict(q=[[37, 38], [37, 38]], S=[[0.4, 0.3], [0.2, 0.5]], delta=[15, 12],
                  budget=[6, 8], cost=[2, 3], price_cap=[30, 30])
    kwargs[field] = value
    with pytest.raises(GameInputError, match=message):
        GameParams(**kwargs)


def test_bad_prices_name_uav_and_rsu():
    g = fixture_game([6, 8, 7], [30, 30])
    prices = np.full((3, 2), 10.0)
    prices[2, 1] = np.nan
    with pytest.raises(GameInputError, match=r'prices\[2, 1\] \(UAV 2, RSU 1\)'):
        game.follower_best_response(prices, g)


def test_params_are_read_only():
    g = fixture_game([6, 8, 7], [30, 30])
    with pytest.raises(ValueError):
        g.budget[0] = 1.0


def test_generic_optimiser_finds_the_same_equilibrium():
    g = random_game(8, 4, 3)
    ours = game.solve_equilibrium(g)
    prices, _ = generic_equilibrium(g, follower='exact')
    demand, _ = game.follower_best_response(prices, g)
    np.testing.assert_allclose(game.rsu_utility(demand, prices, g), ours.rsu_utility, rtol=1e-5)


def test_with_q_swaps_q_only_and_checks_it():
    params = fixture_game(budget=[5, 5, 5], price_cap=[50, 50])
    q = np.array([[30.0, 40.0], [31.0, 41.0], [32.0, 42.0]])
    swapped = params.with_q(q)
    built = GameParams(q=q, S=params.S, delta=params.delta, budget=params.budget, cost=params.cost,
                       price_cap=params.price_cap)
    for name in ('q', 'S', 'delta', 'budget', 'cost', 'price_cap'):
        np.testing.assert_array_equal(getattr(swapped, name), getattr(built, name))
    np.testing.assert_array_equal(params.q, np.broadcast_to([37.0, 38.0], (3, 2)))     # the original is unchanged
    prices = np.array([[20.0, 25.0]] * 3)
    np.testing.assert_array_equal(game.follower_best_response(prices, swapped)[0],
                                  game.follower_best_response(prices, built)[0])
    with pytest.raises(GameInputError, match=r'q\[1, 0\]: must be > 0'):
        params.with_q([[30.0, 40.0], [0.0, 41.0], [32.0, 42.0]])
    with pytest.raises(GameInputError, match=r'q: expected shape \(3, 2\)'):
        params.with_q([[30.0, 40.0]])
    with pytest.raises(GameInputError, match='finite'):
        params.with_q([[np.nan, 40.0], [31.0, 41.0], [32.0, 42.0]])

"""Generic-optimiser solutions of the seed-0 game (scipy), for tests and as the benchmark baseline.

Slow on purpose: they use no structure of the problem, so agreeing with them is evidence, and
the speed ratio against uav_edge.core.game is what the structure buys.
"""
import numpy as np
from scipy.optimize import minimize, minimize_scalar

from uav_edge.core import game


def generic_follower_response(q, S, prices, delta, budget):
    """UAV problem (10) for one UAV by SLSQP from two starts, projected onto the budget."""
    J = len(q)
    objective = lambda b: -np.sum(delta * np.log1p(b * q) * S - prices * b)
    constraints = [{'type': 'ineq', 'fun': lambda b: budget - prices @ b}]
    best = None
    for start in (np.zeros(J), np.full(J, budget / max(prices.sum(), 1e-9) / 2)):
        res = minimize(objective, start, method='SLSQP', bounds=[(0, None)] * J,
                       constraints=constraints, options={'ftol': 1e-12, 'maxiter': 500})
        b = np.clip(res.x, 0, None)
        if prices @ b > budget:
            b *= budget / (prices @ b)
        if best is None or objective(b) < objective(best):
            best = b
    return best


def generic_equilibrium(params: game.GameParams, follower='exact', tol=1e-7, max_sweeps=200):
    """Gauss-Seidel best responses, each leader price by bounded Brent search on its profit.

    follower='exact' scores prices with the exact water-filling response; 'slsqp' with the
    generic follower above (fully structure-free). Returns (prices (I, J), sweeps).
    """
    prices = np.broadcast_to((params.cost + params.price_cap) / 2.0, params.q.shape).copy()
    for sweep in range(1, max_sweeps + 1):
        moved = 0.0
        for i in range(params.num_uavs):
            for j in range(params.num_rsus):
                res = minimize_scalar(lambda x: -_profit(params, prices, i, j, x, follower),
                                      bounds=(params.cost[j], params.price_cap[j]), method='bounded',
                                      options={'xatol': 1e-9})
                moved = max(moved, abs(res.x - prices[i, j]))
                prices[i, j] = res.x
        if moved < tol:
            break
    return prices, sweep


def _profit(params, prices, i, j, x, follower):
    row = prices[i].copy()
    row[j] = x
    if follower == 'slsqp':
        b = generic_follower_response(params.q[i], params.S[i], row, params.delta[i], params.budget[i])
    else:
        b = game.follower_best_response(row[None], game._rows(params, [i]))[0][0]
    return (x - params.cost[j]) * b[j]

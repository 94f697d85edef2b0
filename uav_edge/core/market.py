"""Seed 0 market at runtime (issue 4): RSU availability and the twin-migration decision.

The equilibrium maths is in uav_edge/core/game.py; this module only adapts a game to what a node
knows right now (which RSUs are alive) and turns a demand vector into a migration target that
does not flap on noise. Arrays are indexed [UAV i, RSU j] as in game.py.
"""
import math

import numpy as np

from uav_edge.core.game import GameInputError, GameParams

NO_TARGET = -1   # migration target when a UAV buys from no RSU


def restrict_to_available(params: GameParams, available) -> GameParams:
    """The same game with S_i^j = 0 for every unavailable RSU j: nobody buys from it (spec seed0 §3.5, S <= 0).

    available: bool (J,). A dead or silent RSU is thereby dropped from every follower's and every
    leader's best response, so the market re-solves among the RSUs that remain.
    """
    mask = np.asarray(available, dtype=bool)
    if mask.shape != (params.num_rsus,):
        raise GameInputError(f'available: expected shape ({params.num_rsus},), got {mask.shape}')
    return GameParams(q=params.q, S=np.where(mask, params.S, 0.0), delta=params.delta,
                      budget=params.budget, cost=params.cost, price_cap=params.price_cap)


def migration_target(demand, current=NO_TARGET, hysteresis=0.2, min_demand=1e-9) -> int:
    """Primary migration target of one UAV: the RSU it buys most bandwidth from, with hysteresis [A].

    demand: (J,) the UAV's bandwidth demand b_i (spec seed0 §3.5: migration targets = support of b_i).
    The current target is kept while it is still bought from and no other RSU's demand exceeds
    its demand by more than the relative `hysteresis` (0.2 = 20 %). Returns an RSU index or NO_TARGET.
    """
    b = np.asarray(demand, dtype=float)
    if b.ndim != 1 or not ((b >= 0) & (b < np.inf)).all():          # NaN fails both comparisons
        raise GameInputError(f'demand: expected a finite, non-negative (J,) vector, got {b!r}')
    if not math.isfinite(hysteresis) or hysteresis < 0:
        raise GameInputError(f'hysteresis: must be finite and >= 0, got {hysteresis}')
    if b.size == 0:
        return NO_TARGET
    best = int(b.argmax())
    if b[best] <= min_demand:
        return NO_TARGET
    if 0 <= current < b.size and b[current] > min_demand and b[best] <= (1.0 + hysteresis) * b[current]:
        return int(current)
    return best

"""bandwidth_follower (one per UAV): bandwidth demand per RSU and the twin-migration decision.

In:  /<rsu>/prices for every RSU (this UAV's entry), own channel (q per RSU).
Out: demand (Float64MultiArray [rsu]), migration_target (String, the RSU bought most from).
Model: uav_edge.core.game.follower_best_response (exact water-filling, spec seed0 §3.4) among the
RSUs whose prices are fresh (an RSU silent for `stale_after_s` is dropped: the UAV re-solves among
the rest, core.market.restrict_to_available). Migration target: core.market.migration_target with
`migration_hysteresis`. Safe behaviour: no fresh channel estimate or no fresh price -> demand 0.
When it solves: a channel estimate (the pose -> demand path) is answered at once, with the latest prices.
Prices are read, not waited for: the leaders post theirs in the first part of a round (pricing_leader), and
the follower takes the latest price of every RSU once per round, at t = (k + answer_phase) * round_period_s
(common.Inbox, aligned timer), and answers them with one solve and one demand message if any changed.
So a round costs a follower one wake-up instead of one per RSU, and its answers come half a round after
the leaders' work, not on top of it. The graph spreads the UAVs' answers: UAV i at answer_phase =
0.5 + i * follower_spread / I (graph.GraphOptions, default 0.2), so that followers sharing a core or a process
do not all run in one block that a pose arriving then would wait for. The same wake-up checks staleness
(an RSU or the channel estimate that went silent is noticed within a round; a separate check timer at twice
the round rate made two thirds of an idle market's wake-ups). A solve whose inputs (q, prices, available RSUs)
equal the previous one's reuses its demand.
"""
import numpy as np
from std_msgs.msg import Float64MultiArray, String

from uav_edge.core import game, market
from uav_edge.nodes import contract
from uav_edge.nodes.common import ERROR, WARN, EdgeNode, main_for

_Q = contract.CHANNEL_FIELDS.index('spectral_efficiency')


class BandwidthFollower(EdgeNode):
    def __init__(self, **kwargs):
        super().__init__('bandwidth_follower', **kwargs)
        self.index = self.param('uav_index', 0)
        self.rsu_names = self.param_names('rsu_names')
        J = len(self.rsu_names)
        # This UAV's game, checked once here (a bad S, cost or price cap fails at start); q is swapped per solve.
        try:
            self.game = game.GameParams(q=np.ones((1, J)), S=[self.param_array('S')],
                                        delta=[self.param('delta', 15.0)], budget=[self.param('budget', 7.5)],
                                        cost=self.param_array('cost'), price_cap=self.param_array('price_cap'))
        except game.GameInputError as err:
            raise ValueError(f'{self.get_fully_qualified_name()} parameters (rsu_names, S, delta, budget, cost, '
                             f'price_cap): {err}') from None
        self.stale_after_s = self.param('stale_after_s', 1.5)
        self.hysteresis = self.param('migration_hysteresis', 0.2)
        self.min_q = self.param('min_spectral_efficiency', 1e-3)
        num_uavs = self.param('num_uavs', 1)
        self.prices = np.full(J, np.nan)
        self.price_at = np.full(J, -np.inf)
        self.q = np.full(J, np.nan)
        self.q_at = -np.inf
        self.target = market.NO_TARGET
        self.demand = np.zeros(J)
        self.lam = float('nan')
        self.solves = 0                   # best responses computed (the rest reused or were demand 0)
        self._inputs = None               # (q fresh, available RSUs) of the last response
        self._solved = None               # (q, prices, available) of the last solve
        self.demand_pub = self.array_publisher('demand', ('rsu',), (J,), contract.DECISION)
        self.target_pub = self.make_publisher(String, 'migration_target', contract.LATCHED)
        prices = contract.ArrayReader(('uav',), (num_uavs,), low=1e-9)
        self.price_inboxes = [self.latest_inbox(Float64MultiArray, contract.topic(name, 'prices'), contract.LATCHED,
                                                prices) for name in self.rsu_names]
        self.aligned_timer(self.param('round_period_s', 0.5), self.on_round, phase=self.param('answer_phase', 0.5))
        self.subscribe(Float64MultiArray, 'channel', contract.SENSOR, contract.channel_reader(J), self.on_channel)
        self.target_pub.publish(String(data=''))

    def take_prices(self):
        """Read every RSU's latest price for this UAV; True if one arrived since the last read."""
        new = False
        for j, inbox in enumerate(self.price_inboxes):
            if (prices := inbox.take()) is not None:
                self.on_prices(j, prices)
                new = True
        return new

    def on_prices(self, j, prices):
        self.prices[j] = prices[self.index]
        self.price_at[j] = self.now_s()

    def on_round(self):
        """Once per market round, half a round after the leaders posted: answer their new prices, or re-solve if
        an input went stale."""
        if self.take_prices():
            self.respond()
        else:
            self.check_inputs()

    def on_channel(self, fields):
        self.q = fields[:, _Q]
        self.q_at = self.now_s()
        self.take_prices()
        self.respond()

    def fresh_inputs(self):
        """(channel fresh?, (J,) RSUs whose prices are fresh and whose link is usable)."""
        now = self.now_s()
        q_fresh = now - self.q_at <= self.stale_after_s
        available = (now - self.price_at <= self.stale_after_s)
        if q_fresh:
            available &= self.q > self.min_q
        return q_fresh, available

    def check_inputs(self):
        """Re-solve when an input went stale since the last response (e.g. an RSU node died)."""
        q_fresh, available = self.fresh_inputs()
        if (q_fresh, tuple(available)) != self._inputs:
            self.respond()

    def respond(self):
        """Solve with the latest inputs and publish demand + migration target."""
        q_fresh, available = self.fresh_inputs()
        if (q_fresh, tuple(available)) != self._inputs:
            self._inputs = (q_fresh, tuple(available))
            self.update_conditions(q_fresh, available)
        if q_fresh and available.any():
            self.demand = self.best_response(available)
        else:
            self.demand = np.zeros_like(self.demand)
        self.demand_pub.publish(self.demand)
        target = market.migration_target(self.demand, self.target, self.hysteresis)
        if target != self.target:
            self.target = target
            self.target_pub.publish(String(data=self.rsu_names[target] if target >= 0 else ''))

    def best_response(self, available):
        """This UAV's exact best response among the available RSUs (reused while its inputs are unchanged)."""
        prices = np.where(available, self.prices, self.game.price_cap)
        key = (self.q.tobytes(), prices.tobytes(), available.tobytes())
        if key == self._solved:
            return self.demand
        params = self.game.with_q(np.where(available, self.q, 1.0)[None])
        if not available.all():
            params = market.restrict_to_available(params, available)
        try:
            demand, lam = game.follower_best_response(prices[None], params)
        except game.GameInputError as err:      # cannot happen with validated inputs; never crash
            self.condition('solver', True, ERROR, f'best response failed: {err}')
            self._solved = None
            return np.zeros_like(self.demand)
        self.condition('solver', False)
        self.solves += 1
        self._solved, self.lam = key, float(lam[0])
        return demand[0]

    def update_conditions(self, q_fresh, available):
        silent = [n for n, a, t in zip(self.rsu_names, available, self.price_at) if not a and np.isfinite(t)]
        self.condition('stale channel', not q_fresh, WARN, 'no fresh channel estimate: demand 0')
        self.condition('no prices', q_fresh and not available.any(), WARN, 'no fresh prices from any RSU: demand 0')
        self.condition('rsu dropped', bool(silent) and available.any(), WARN,
                       'RSUs silent or unusable, re-solved without them: ' + ', '.join(silent))

    def refresh_report(self):
        _, available = self.fresh_inputs()
        self.report('lambda', self.lam)
        self.report('solves', self.solves)
        self.report('migration_target', self.rsu_names[self.target] if self.target >= 0 else '')
        self.report('spend', float(np.dot(np.where(available, self.prices, 0.0), self.demand)))


NODE = BandwidthFollower


def main(args=None):
    return main_for(BandwidthFollower, args)


if __name__ == '__main__':
    main()

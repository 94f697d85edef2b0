"""pricing_leader (one per RSU): per-UAV bandwidth prices, one market round every `round_period_s`.

In:  other RSUs' prices (/<rsu>/prices), every UAV's channel (q) and demand (/<uav>/channel, /demand), each
     read once per round (the latest message; common.Inbox), not per message: a pose burst costs leaders nothing.
Out: prices (Float64MultiArray [uav], latched): this RSU's price to each UAV.
policy 'analytic' (oracle, spec seed0 §10: evaluation / theoretical value): the RSU knows the
followers' parameters (S, delta, budget from the scenario) and each round plays its best response
to the other RSUs' latest prices with the UAVs' latest q estimates (uav_edge.core.game.
leader_best_response, one step). All RSUs doing so is the distributed best-response
iteration whose fixed point is solve_equilibrium's prices. RSUs silent for `stale_after_s` are
treated as gone (core.market.restrict_to_available), as the followers do.
policy 'onnx': the Tiny MADRL actor through uav_edge.policy (`model_path`, default the shipped
models/seed0_pricing_default.onnx); when it cannot be loaded or its card does not match this market the
analytic policy is used and diagnostics say so (WARN).
Safe behaviour: a UAV whose q is stale keeps its last price; with no fresh q at all prices hold.
The history of (own prices, received demands) of the last `history_length` rounds is kept: each entry
pairs the prices posted in a round with the demands the UAVs answered them with (recorded when the
next round starts), the layout uav_edge.envs.pricing_env trains on.
Rounds are aligned to the clock: RSU j plays at t = (k + round_phase) * round_period_s, in any process or on
any host with a synchronised clock; the graph sets round_phase = j * leader_spread / J (graph.GraphOptions,
default 0.2: 5 RSUs 4 ms apart at 10 Hz). Every price of a round is out before the followers read them half a
round later, so a follower still answers a round with one solve; a leader prices against what the RSUs before
it posted this round (a sweep in RSU order, the same in every deployment). Spread rather than simultaneous:
leaders sharing a busy core run back to back, and a pose arriving then waits for all five (docs/nodes.md,
session 8; common.AlignedTimer keeps each leader on its instant however late its process or executor started).
"""
from collections import deque
from types import SimpleNamespace

import numpy as np
from std_msgs.msg import Float64MultiArray

from uav_edge.core import game, market
from uav_edge.nodes import contract
from uav_edge.nodes.common import OK, WARN, EdgeNode, main_for
from uav_edge.resources import given_or_shipped

_Q = contract.CHANNEL_FIELDS.index('spectral_efficiency')
_MIN_Q = 1e-12          # bit/s/Hz; the game needs q > 0
SHIPPED_MODEL = 'models/seed0_pricing_default.onnx'       # model_path '' = this (5 RSUs x 15 UAVs)


class PricingLeader(EdgeNode):
    def __init__(self, **kwargs):
        super().__init__('pricing_leader', **kwargs)
        self.j = self.param('rsu_index', 0)
        self.rsu_names = self.param_names('rsu_names')
        self.uav_names = self.param_names('uav_names')
        I, J = len(self.uav_names), len(self.rsu_names)
        self.S = np.reshape(self.param_array('S'), (I, J))
        self.delta = np.array(self.param_array('delta'))
        self.budget = np.array(self.param_array('budget'))
        self.cost = np.array(self.param_array('cost'))
        self.price_cap = np.array(self.param_array('price_cap'))
        self.period = self.param('round_period_s', 0.5)
        self.stale_after_s = self.param('stale_after_s', 1.5)
        self.policy_name = self.param('policy', 'analytic')
        self.model_path = given_or_shipped(self.param('model_path', ''), SHIPPED_MODEL)
        self.history = deque(maxlen=self.param('history_length', 8))
        self.own = np.full(I, 0.5 * (self.cost[self.j] + self.price_cap[self.j]))
        self.others = np.full((I, J), np.nan)
        self.others_at = np.full(J, -np.inf)
        self.q = np.ones((I, J))
        self.q_at = np.full(I, -np.inf)
        self.demand = np.zeros(I)
        self.rounds = 0
        self.ready_rounds = 0             # rounds with a fresh q from every UAV
        self.missed_rounds = 0
        self.last_round_s = None
        self.available = np.zeros(J, dtype=bool)          # RSUs in the last round's market
        self._market = None               # (prices, params) of the last round, for the report
        self.posted = None                # prices published last round (their demands are not in yet)
        self.policy = self.load_policy()
        self.pub = self.array_publisher('prices', ('uav',), (I,), contract.LATCHED)
        # inputs matter only at round time: each is read then (latest message), not per message (common.Inbox)
        prices, channel = contract.ArrayReader(('uav',), (I,), low=1e-9), contract.channel_reader(J)
        demand = contract.ArrayReader(('rsu',), (J,), low=0.0)
        self.price_inboxes = {k: self.latest_inbox(Float64MultiArray, contract.topic(name, 'prices'), contract.LATCHED,
                                                   prices) for k, name in enumerate(self.rsu_names) if k != self.j}
        self.channel_inboxes = [self.latest_inbox(Float64MultiArray, contract.topic(name, 'channel'), contract.SENSOR,
                                                  channel) for name in self.uav_names]
        self.demand_inboxes = [self.latest_inbox(Float64MultiArray, contract.topic(name, 'demand'), contract.DECISION,
                                                 demand) for name in self.uav_names]
        self.publish_prices()
        self.aligned_timer(self.period, self.market_round, phase=self.param('round_phase', 0.0))

    def load_policy(self):
        """The pricing policy: None = analytic best response, else a callable(prices, params) -> (I,) prices."""
        if self.policy_name == 'onnx':
            try:
                from uav_edge.policy.onnx_policy import load_pricing_policy     # Tiny MADRL runtime
                onnx = load_pricing_policy(self.model_path, threads=1)
                onnx.check_world(SimpleNamespace(uav_names=self.uav_names, rsu_names=self.rsu_names,  # card vs market
                                                 cost=self.cost, price_cap=self.price_cap),
                                 market="this leader's market (parameters uav_names, rsu_names, cost, price_cap)")
                self.history = deque(self.history, maxlen=onnx.history)
                self.condition('policy', True, OK, f'Tiny MADRL policy {self.model_path}')
                return lambda prices, params: onnx.price_for(self.j, self.observation(onnx.history))
            except Exception as err:                               # missing module, model, card or mismatch
                self.condition('policy fallback', True, WARN,
                               f'policy onnx unavailable ({type(err).__name__}: {err}); analytic best response in use')
        elif self.policy_name != 'analytic':
            self.condition('policy fallback', True, WARN,
                           f'unknown policy {self.policy_name!r}; analytic best response in use')
        return None

    def observation(self, rounds):
        """[p~(t-L), b(t-L), ..., p~(t-1), b(t-1)], oldest first, zeros before the first round (spec seed0 §4.2)
        with p~ = (p - c^j) / (pbar^j - c^j): the layout uav_edge.envs.pricing_env trains on."""
        c, cap = self.cost[self.j], self.price_cap[self.j]
        obs = np.zeros((rounds, 2, len(self.uav_names)))
        for k, (prices, demand) in enumerate(list(self.history)[-rounds:]):
            obs[rounds - min(rounds, len(self.history)) + k] = ((prices - c) / max(cap - c, 1e-12), demand)
        return obs.ravel()

    def take_inputs(self):
        """Read the latest other RSUs' prices, UAV channels and demands that arrived since the last round."""
        for k, inbox in self.price_inboxes.items():
            if (prices := inbox.take()) is not None:
                self.on_prices(k, prices)
        for i, inbox in enumerate(self.channel_inboxes):
            if (fields := inbox.take()) is not None:
                self.on_channel(i, fields)
        for i, inbox in enumerate(self.demand_inboxes):
            if (demand := inbox.take()) is not None:
                self.on_demand(i, demand)

    def on_prices(self, k, prices):
        self.others[:, k] = prices
        self.others_at[k] = self.now_s()

    def on_channel(self, i, fields):
        self.q[i] = np.maximum(fields[:, _Q], _MIN_Q)      # q = 0 (no link): demand 0, as in the limit
        self.q_at[i] = self.now_s()

    def on_demand(self, i, demand):
        self.demand[i] = demand[self.j]

    def market_round(self):
        self.take_inputs()
        if self.posted is not None:       # the demands received since then answer the prices posted last round
            self.history.append((self.posted, self.demand.copy()))
        now = self.now_s()
        if self.last_round_s is not None and now - self.last_round_s > 1.5 * self.period:
            self.missed_rounds += int((now - self.last_round_s) / self.period - 0.5)
        self.last_round_s = now
        self.rounds += 1
        available = now - self.others_at <= self.stale_after_s
        available[self.j] = True
        self.available = available
        ready = now - self.q_at <= self.stale_after_s
        stale = [n for n, r in zip(self.uav_names, ready) if not r]
        silent = [n for k, n in enumerate(self.rsu_names) if not available[k]]
        self.condition('stale channel', bool(stale), WARN,
                       f'no fresh q from {len(stale)} UAV(s) ({", ".join(stale[:5])}...): their prices held'
                       if len(stale) > 5 else f'no fresh q from {", ".join(stale)}: their prices held')
        self.condition('rsu silent', bool(silent), OK, 'competitors silent, priced without them: ' + ', '.join(silent))
        self.ready_rounds += int(ready.all())
        if ready.any():
            prices = np.where(available, self.others, self.price_cap)
            prices[:, self.j] = self.own
            params = market.restrict_to_available(game.GameParams(
                q=self.q, S=self.S, delta=self.delta, budget=self.budget, cost=self.cost,
                price_cap=self.price_cap), available)
            best = self.best_response(prices, params)
            self.own = np.where(ready, best, self.own)
            prices[:, self.j] = self.own
            self._market = (prices, params)
        self.publish_prices()

    def best_response(self, prices, params):
        if self.policy is not None:
            try:
                return np.clip(np.asarray(self.policy(prices, params), dtype=float),
                               self.cost[self.j], self.price_cap[self.j])
            except Exception as err:                               # a failing model must not stop the market
                self.condition('policy fallback', True, WARN, f'policy onnx failed ({err}); analytic in use')
                self.policy = None
        return game.leader_best_response(prices, params)[:, self.j]

    def publish_prices(self):
        self.pub.publish(self.own)
        self.posted = self.own.copy()

    def refresh_report(self):
        self.report('round', self.rounds)
        self.report('ready_rounds', self.ready_rounds)
        self.report('missed_rounds', self.missed_rounds)
        self.report('prices_received', ' '.join(str(self.price_inboxes[k].received if k in self.price_inboxes else 0)
                                                for k in range(len(self.rsu_names))))
        self.report('price_publishers', ' '.join(str(self.count_publishers(contract.topic(r, 'prices')))
                                                 for r in self.rsu_names))
        self.report('rsus_priced_against', ' '.join(n for n, a in zip(self.rsu_names, self.available) if a))
        self.report('received_utility', float(np.dot(self.own - self.cost[self.j], self.demand)))
        if self._market is not None:
            prices, params = self._market
            demand, _ = game.follower_best_response(prices, params)
            self.report('expected_utility', float(game.rsu_utility(demand, prices, params)[self.j]))


NODE = PricingLeader


def main(args=None):
    return main_for(PricingLeader, args)


if __name__ == '__main__':
    main()

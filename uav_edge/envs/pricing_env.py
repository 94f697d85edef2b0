"""Seed 0: the RSU pricing game as a multi-agent environment (spec seed0 §4.2).

RSUs are the agents (leaders). Every step each RSU j posts a price vector p^j (one price per UAV);
every UAV answers with the exact follower best response of the twin (game.follower_best_response,
spec §3.4); RSU j is rewarded with its profit V_j (Eq. 11).

Observation of RSU j (spec §4.2, [A]): the last L rounds, oldest first,
    [p~^j(t-L), b^j(t-L), ..., p~^j(t-1), b^j(t-1)]        length 2 I L, float32
with p~ = (p - c^j) / (pbar^j - c^j) in [0, 1] (N12) and the demands b^j_i raw.
Action of RSU j: a in R^I; price p^j_i = c^j + (clip(a_i, -1, 1) + 1) / 2 (pbar^j - c^j) (N6).
Reward: V_j (raw, logged) and V_j / I (the learning scale, N11).

Three faces of one model:
  PricingMarket       N independent copies stepped together in numpy (what the trainer uses);
  PricingParallelEnv  the PettingZoo ParallelEnv (one copy, dict API);
  JointPricingEnv     a gymnasium single-agent view (all RSUs as one agent) for baselines.
"""
from dataclasses import dataclass

import numpy as np
from pettingzoo import ParallelEnv

from uav_edge.core import game
from uav_edge.core.game import GameParams


@dataclass(frozen=True)
class PricingEnvConfig:
    """Environment constants of spec seed0 §4.2 (all [A])."""

    history: int = 5                 # L rounds of (own prices, own demands) in the observation [A] N3
    episode_steps: int = 100         # T_ep steps per episode [A]
    reward_scale: str = 'per_uav'    # learning reward V_j / I ('per_uav', N11) or V_j ('raw') [A]

    def __post_init__(self):
        if not (isinstance(self.history, (int, np.integer)) and self.history >= 1):
            raise ValueError(f'history: must be an integer >= 1, got {self.history!r}')
        if not (isinstance(self.episode_steps, (int, np.integer)) and self.episode_steps >= 1):
            raise ValueError(f'episode_steps: must be an integer >= 1, got {self.episode_steps!r}')
        if self.reward_scale not in ('per_uav', 'raw'):
            raise ValueError(f"reward_scale: must be 'per_uav' or 'raw', got {self.reward_scale!r}")


def price_from_action(action, cost, price_cap):
    """p = c + (clip(a, -1, 1) + 1) / 2 (pbar - c): the action-to-price map of spec §4.2 (N6).

    action (..., J, I) per RSU j and UAV i; cost, price_cap (J,). Returns prices (..., J, I).
    """
    a = np.clip(np.asarray(action, dtype=float), -1.0, 1.0)
    c, cap = np.asarray(cost)[:, None], np.asarray(price_cap)[:, None]
    return c + 0.5 * (a + 1.0) * (cap - c)


def normalised_price(prices, cost, price_cap):
    """p~ = (p - c^j) / (pbar^j - c^j) in [0, 1] (spec N12); prices (..., J, I), 0 where pbar = c."""
    c, cap = np.asarray(cost)[:, None], np.asarray(price_cap)[:, None]
    span = np.where(cap > c, cap - c, 1.0)
    return (np.asarray(prices) - c) / span


class PricingMarket:
    """N independent copies of the seed-0 market, stepped together (arrays lead with the copy axis).

    reset(rng) plays L warm-up rounds with uniform random prices (not rewarded, spec N4) and returns
    the observations (N, J, 2IL); step(actions (N, J, I)) returns (observations, raw rewards V_j (N, J),
    prices (N, J, I), demand (N, J, I)).
    """

    def __init__(self, params: GameParams, num_copies: int = 1, config: PricingEnvConfig = PricingEnvConfig()):
        if not (isinstance(num_copies, (int, np.integer)) and num_copies >= 1):
            raise ValueError(f'num_copies: must be an integer >= 1, got {num_copies!r}')
        self.params, self.config, self.num_copies = params, config, int(num_copies)
        self.num_uavs, self.num_rsus = params.q.shape
        self.obs_dim = 2 * self.num_uavs * config.history
        n = self.num_copies
        # One GameParams holding the N copies' UAVs as N*I rows: one follower call steps every copy.
        self._tiled = GameParams(q=np.tile(params.q, (n, 1)), S=np.tile(params.S, (n, 1)),
                                 delta=np.tile(params.delta, n), budget=np.tile(params.budget, n),
                                 cost=params.cost, price_cap=params.price_cap)
        self._history = np.zeros((n, self.num_rsus, config.history, 2, self.num_uavs))

    @property
    def reward_divisor(self) -> float:
        """What raw V_j is divided by for learning: I ('per_uav', spec N11) or 1 ('raw')."""
        return float(self.num_uavs) if self.config.reward_scale == 'per_uav' else 1.0

    def observations(self):
        """(N, J, 2IL) float32: each RSU's last L rounds of (normalised own prices, own demands), oldest first."""
        return self._history.reshape(self.num_copies, self.num_rsus, self.obs_dim).astype(np.float32)

    def respond(self, prices):
        """Followers' exact best response to prices (N, J, I); returns (demand (N, J, I), V_j (N, J))."""
        n, J, I = self.num_copies, self.num_rsus, self.num_uavs
        by_uav = np.transpose(prices, (0, 2, 1)).reshape(n * I, J)      # rows = (copy, UAV)
        demand, _ = game.follower_best_response(by_uav, self._tiled)
        profit = game.market_profit(demand, by_uav, self._tiled).reshape(n, I, J).sum(axis=1)
        return np.transpose(demand.reshape(n, I, J), (0, 2, 1)), profit

    def _record(self, prices, demand):
        self._history = np.roll(self._history, -1, axis=2)
        self._history[:, :, -1, 0] = normalised_price(prices, self.params.cost, self.params.price_cap)
        self._history[:, :, -1, 1] = demand

    def reset(self, rng: np.random.Generator):
        """Fill the history with L warm-up rounds of uniform random prices; return the observations."""
        self._history[:] = 0.0
        for _ in range(self.config.history):
            actions = rng.uniform(-1.0, 1.0, size=(self.num_copies, self.num_rsus, self.num_uavs))
            prices = price_from_action(actions, self.params.cost, self.params.price_cap)
            self._record(prices, self.respond(prices)[0])
        return self.observations()

    def step(self, actions):
        """Post the prices encoded by actions (N, J, I), let the UAVs respond, shift the histories."""
        actions = np.asarray(actions, dtype=float)
        expected = (self.num_copies, self.num_rsus, self.num_uavs)
        if actions.shape != expected:
            raise ValueError(f'actions: expected shape {expected} (copies, RSUs, UAVs), got {actions.shape}')
        if not np.all(np.isfinite(actions)):
            n, j, i = np.argwhere(~np.isfinite(actions))[0]
            raise ValueError(f'actions[{n}, {j}, {i}] (RSU {j}, UAV {i}): must be finite, got {actions[n, j, i]}')
        prices = price_from_action(actions, self.params.cost, self.params.price_cap)
        demand, reward = self.respond(prices)
        self._record(prices, demand)
        return self.observations(), reward, prices, demand


def params_from_scenario(scenario):
    """(world, GameParams) of a scenario (a Scenario, or a name/path for resolve_scenario)."""
    from uav_edge.core.scenario import resolve_scenario

    if isinstance(scenario, str):
        scenario = resolve_scenario(scenario)
    world = scenario.sample()
    return world, world.game_params()


class PricingParallelEnv(ParallelEnv):
    """PettingZoo ParallelEnv: agents are the scenario's RSUs (spec seed0 §4.2).

    infos[agent] carries 'utility' (raw V_j), 'prices' and 'demand' (length-I vectors) of the step.
    Episodes are truncated after `episode_steps` steps (the market itself never terminates).
    """

    metadata = {'name': 'uav_edge_seed0_pricing_v0', 'render_modes': []}

    def __init__(self, scenario='default', config: PricingEnvConfig = PricingEnvConfig()):
        import gymnasium

        self.world, self.params = params_from_scenario(scenario)
        self.market = PricingMarket(self.params, 1, config)
        self.config = config
        self.possible_agents = list(self.world.rsu_names)
        self.agents = []
        I = self.market.num_uavs
        self._obs_space = gymnasium.spaces.Box(0.0, np.inf, (self.market.obs_dim,), np.float32)
        self._act_space = gymnasium.spaces.Box(-1.0, 1.0, (I,), np.float32)
        self._rng = np.random.default_rng()
        self._steps = 0
        self.render_mode = None

    def observation_space(self, agent):
        return self._obs_space

    def action_space(self, agent):
        return self._act_space

    def _dict(self, array):
        return {agent: array[j] for j, agent in enumerate(self.possible_agents)}

    def reset(self, seed=None, options=None):
        if seed is not None:
            self._rng = np.random.default_rng(seed)
            for j, agent in enumerate(self.possible_agents):
                self._act_space.seed(seed + j)
        self.agents = list(self.possible_agents)
        self._steps = 0
        obs = self.market.reset(self._rng)[0]
        return self._dict(obs), {agent: {} for agent in self.agents}

    def step(self, actions):
        missing = [a for a in self.agents if a not in actions]
        if missing:
            raise ValueError(f'actions: missing an action for agent(s) {missing}')
        joint = np.stack([np.asarray(actions[a], dtype=float) for a in self.possible_agents])[None]
        obs, reward, prices, demand = self.market.step(joint)
        self._steps += 1
        done = self._steps >= self.config.episode_steps
        agents = self.possible_agents
        observations = self._dict(obs[0])
        rewards = {a: float(reward[0, j]) / self.market.reward_divisor for j, a in enumerate(agents)}
        infos = {a: {'utility': float(reward[0, j]), 'prices': prices[0, j], 'demand': demand[0, j]}
                 for j, a in enumerate(agents)}
        terminations = {a: False for a in agents}
        truncations = {a: done for a in agents}
        if done:
            self.agents = []
        return observations, rewards, terminations, truncations, infos

    def state(self):
        """Global state: every RSU's observation, concatenated (J * 2IL,)."""
        return self.market.observations()[0].reshape(-1)

    def render(self):
        return None

    def close(self):
        pass


def make_joint_env(scenario='default', config: PricingEnvConfig = PricingEnvConfig()):
    """A gymnasium.Env controlling all RSUs as one agent (single-agent baselines, e.g. SB3)."""
    import gymnasium

    class JointPricingEnv(gymnasium.Env):
        """obs = all RSUs' observations (J*2IL,); action = all price vectors (J*I,); reward = mean_j V_j / I."""

        metadata = {'render_modes': []}

        def __init__(self):
            self.world, self.params = params_from_scenario(scenario)
            self.market = PricingMarket(self.params, 1, config)
            J, I = self.market.num_rsus, self.market.num_uavs
            self.observation_space = gymnasium.spaces.Box(0.0, np.inf, (J * self.market.obs_dim,), np.float32)
            self.action_space = gymnasium.spaces.Box(-1.0, 1.0, (J * I,), np.float32)
            self._steps = 0

        def reset(self, seed=None, options=None):
            super().reset(seed=seed)
            self._steps = 0
            return self.market.reset(self.np_random)[0].reshape(-1), {}

        def step(self, action):
            J, I = self.market.num_rsus, self.market.num_uavs
            obs, reward, _, _ = self.market.step(np.asarray(action, dtype=float).reshape(1, J, I))
            self._steps += 1
            truncated = self._steps >= config.episode_steps
            info = {'mean_rsu_utility': float(reward.mean())}
            return obs.reshape(-1), float(reward.mean()) / self.market.reward_divisor, False, truncated, info

    return JointPricingEnv()

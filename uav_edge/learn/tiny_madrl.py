"""Tiny MADRL (seed 0, spec §5): one PPO actor-critic per RSU, actors pruned neuron by neuron while training.

Read top to bottom:
  TrainConfig          hyperparameters (config/training/tiny_madrl.yaml, spec §5.5 defaults)
  StackedMLP           J independent MLPs, one per RSU, evaluated in one einsum (weights (J, out, in))
  sparsity_at, prune_actor, compact_actors   dynamic structured pruning (spec §5.3-5.4, Eqs. 50-52)
  Trainer              rollout -> PPO update (Eqs. 38-42, 47) -> pruning step -> log / evaluate / checkpoint
  evaluate_policy, random_prices, GreedyBandit   evaluation on held-out seeds and the §7 baselines

The J agents share nothing: each has its own weights, masks, log-std and Adam state; stacking them on
a leading agent axis is only a speed trick (the per-agent losses are summed, so gradients stay separate,
and gradient clipping is per agent). Pruning is physical at export: `compact_actors` slices the kept
neurons into smaller dense layers (spec P9; we do our own index slicing rather than Torch-Pruning's
dependency graph because the actor is a plain bias-free MLP and masks must live during training).
"""
from dataclasses import asdict, dataclass, fields, replace
import math
import os

import numpy as np
import torch
from torch import nn

from uav_edge.core import game
from uav_edge.envs.pricing_env import PricingEnvConfig, PricingMarket
from uav_edge.resources import package_file

EVAL_SEED_BASE = 1_000_000      # evaluation episodes use seeds EVAL_SEED_BASE + k: never used in training


# --- configuration ------------------------------------------------------------------------------

@dataclass(frozen=True)
class TrainConfig:
    """Training hyperparameters; defaults are spec seed0 §5.5 / §5.4 [A] (see config/training/tiny_madrl.yaml)."""

    history: int = 5
    episode_steps: int = 100
    episodes: int = 1000
    reward_scale: str = 'per_uav'
    num_envs: int = 1
    hidden: tuple = (128, 128)
    use_bias: bool = False
    log_std_init: float = -1.0
    actor_lr: float = 3e-4
    critic_lr: float = 1e-3
    gamma: float = 0.0          # spec default 0.9 [A]; see config/training/tiny_madrl.yaml
    clip: float = 0.2
    entropy_coef: float = 0.0
    epochs: int = 10
    minibatch: int = 50
    max_grad_norm: float = 0.5
    critic_target: str = 'td0'
    advantage: str = 'mc'
    gae_lambda: float = 0.95
    prune: bool = True
    prune_start: int = 200
    prune_every: int = 10
    prune_steps: int = 40
    sparsity_initial: float = 0.0
    sparsity_final: float = 0.5
    importance: str = 'l1'
    threshold_mode: str = 'rank'
    eval_every: int = 10
    eval_episodes: int = 1

    def __post_init__(self):
        object.__setattr__(self, 'hidden', tuple(self.hidden))
        self.validate()

    def validate(self):
        """Refuse inconsistent settings before any compute is spent (ValueError naming the key)."""
        def need(ok, key, what):
            if not ok:
                raise ValueError(f'training config: {key}: {what}, got {getattr(self, key)!r}')
        ints = ('history', 'episode_steps', 'episodes', 'num_envs', 'epochs', 'minibatch', 'prune_every',
                'prune_steps', 'eval_every', 'eval_episodes')
        for key in ints:
            value = getattr(self, key)
            need(isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 1,
                 key, 'must be an integer >= 1')
        need(isinstance(self.prune_start, (int, np.integer)) and self.prune_start >= 0, 'prune_start',
             'must be an integer >= 0')
        for key in ('log_std_init', 'actor_lr', 'critic_lr', 'gamma', 'clip', 'entropy_coef', 'max_grad_norm',
                    'gae_lambda', 'sparsity_initial', 'sparsity_final'):
            value = getattr(self, key)
            need(isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value),
                 key, 'must be a finite number')
        need(len(self.hidden) >= 1 and all(isinstance(u, int) and u >= 1 for u in self.hidden), 'hidden',
             'must be a list of integer widths >= 1')
        need(self.actor_lr > 0, 'actor_lr', 'must be > 0')
        need(self.critic_lr > 0, 'critic_lr', 'must be > 0')
        need(0 <= self.gamma < 1, 'gamma', 'must be in [0, 1)')
        need(0 < self.clip < 1, 'clip', 'must be in (0, 1)')
        need(self.entropy_coef >= 0, 'entropy_coef', 'must be >= 0')
        need(self.max_grad_norm > 0, 'max_grad_norm', 'must be > 0')
        need(0 <= self.gae_lambda <= 1, 'gae_lambda', 'must be in [0, 1]')
        need(self.reward_scale in ('per_uav', 'raw'), 'reward_scale', "must be 'per_uav' or 'raw'")
        need(self.critic_target in ('td0', 'mc'), 'critic_target', "must be 'td0' or 'mc'")
        need(self.advantage in ('mc', 'gae'), 'advantage', "must be 'mc' or 'gae'")
        need(self.importance in ('l1', 'l1l2'), 'importance', "must be 'l1' or 'l1l2'")
        need(self.threshold_mode in ('rank', 'cumulative'), 'threshold_mode', "must be 'rank' or 'cumulative'")
        need(self.minibatch <= self.batch_size, 'minibatch',
             f'must be <= the update batch episode_steps * num_envs = {self.batch_size}')
        need(0 <= self.sparsity_initial < 1, 'sparsity_initial', 'must be in [0, 1)')
        need(self.sparsity_initial <= self.sparsity_final < 1, 'sparsity_final',
             f'must be in [sparsity_initial = {self.sparsity_initial}, 1)')
        if self.prune:
            need(self.prune_end < self.episodes, 'prune_steps',
                 f'pruning would end at episode prune_start + prune_steps * prune_every = {self.prune_end} '
                 f'>= episodes = {self.episodes} (episodes count from 0); shorten the schedule or use '
                 f'TrainConfig.scaled(episodes)')

    @property
    def batch_size(self) -> int:
        """Transitions per PPO update, per agent (D = episode_steps * num_envs)."""
        return self.episode_steps * self.num_envs

    @property
    def prune_end(self) -> int:
        """Episode of the last pruning step, t0 + M * nabla."""
        return self.prune_start + self.prune_steps * self.prune_every

    @property
    def env(self) -> PricingEnvConfig:
        return PricingEnvConfig(history=self.history, episode_steps=self.episode_steps,
                                reward_scale=self.reward_scale)

    def scaled(self, episodes: int) -> 'TrainConfig':
        """This config with `episodes` and the pruning schedule stretched in proportion (t0 and the span)."""
        ratio = episodes / self.episodes
        span = max(1, round(self.prune_steps * self.prune_every * ratio))
        every = max(1, round(span / self.prune_steps))
        steps = max(1, span // every)
        start = min(round(self.prune_start * ratio), max(0, episodes - 1 - steps * every))
        return replace(self, episodes=int(episodes), prune_start=start, prune_every=every, prune_steps=steps)

    def to_dict(self) -> dict:
        data = asdict(self)
        data['hidden'] = list(self.hidden)
        return data


def load_train_config(path=None, overrides=None) -> TrainConfig:
    """TrainConfig from a YAML file (default: config/training/tiny_madrl.yaml) plus {key: value} overrides."""
    from uav_edge.core.scenario import read_yaml

    data = {}
    if path is None:
        path = default_config_path()
    if path:
        data = read_yaml(path, ValueError) or {}
        if not isinstance(data, dict):
            raise ValueError(f'{path}: expected a mapping of hyperparameters')
    data.update(overrides or {})
    known = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f'training config {path or "<overrides>"}: unknown key(s) {unknown}; known: {sorted(known)}')
    return TrainConfig(**data)


def default_config_path():
    """config/training/tiny_madrl.yaml in the installed share dir or in the repo (None if in neither)."""
    path = package_file('config/training/tiny_madrl.yaml')
    return path if os.path.isfile(path) else None


# --- networks -----------------------------------------------------------------------------------

class StackedMLP(nn.Module):
    """J independent bias-optional MLPs in one module: x (B, J, in) -> (B, J, out).

    Layer h has weight (J, out_h, in_h). Hidden layers are ReLU followed by the neuron mask
    (J, u_h) (Eq. 46 read as masking hidden outputs, spec P4); the output is tanh if `tanh_out`.
    """

    def __init__(self, num_agents, sizes, use_bias=False, tanh_out=False, out_gain=1.0):
        super().__init__()
        self.sizes, self.tanh_out = list(sizes), tanh_out
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList() if use_bias else None
        for h, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            gain = out_gain if h == len(sizes) - 2 else math.sqrt(2.0)
            w = torch.empty(num_agents, n_out, n_in)
            for j in range(num_agents):
                nn.init.orthogonal_(w[j], gain=gain)
            self.weights.append(nn.Parameter(w))
            if use_bias:
                self.biases.append(nn.Parameter(torch.zeros(num_agents, n_out)))
        for h, width in enumerate(sizes[1:-1]):
            self.register_buffer(f'mask{h}', torch.ones(num_agents, width))

    @property
    def masks(self):
        return [getattr(self, f'mask{h}') for h in range(len(self.sizes) - 2)]

    def forward(self, x):
        last = len(self.weights) - 1
        for h, w in enumerate(self.weights):
            x = torch.einsum('bji,joi->bjo', x, w)
            if self.biases is not None:
                x = x + self.biases[h]
            if h < last:
                x = torch.relu(x) * self.masks[h]
        return torch.tanh(x) if self.tanh_out else x


class ActorCritic(nn.Module):
    """Per-RSU Gaussian actor (tanh mean, state-independent log-std) and critic V(s) (spec §5.5)."""

    def __init__(self, num_agents, obs_dim, num_uavs, cfg: TrainConfig):
        super().__init__()
        self.actor = StackedMLP(num_agents, [obs_dim, *cfg.hidden, num_uavs], cfg.use_bias, tanh_out=True,
                                out_gain=0.01)
        self.critic = StackedMLP(num_agents, [obs_dim, *cfg.hidden, 1], cfg.use_bias, out_gain=1.0)
        self.log_std = nn.Parameter(torch.full((num_agents, num_uavs), float(cfg.log_std_init)))

    def distribution(self, obs):
        return torch.distributions.Normal(self.actor(obs), self.log_std.exp())

    def value(self, obs):
        return self.critic(obs)[..., 0]


# --- dynamic structured pruning (spec §5.3-5.4) ----------------------------------------------------

def sparsity_at(episode: int, cfg: TrainConfig) -> float:
    """w(t) = w_check + (w_hat - w_check)(1 - (t - t0) / (M nabla))^3 (Eq. 51); w_hat before t0, w_check after."""
    span = cfg.prune_steps * cfg.prune_every
    progress = min(max((episode - cfg.prune_start) / span, 0.0), 1.0)
    return cfg.sparsity_final + (cfg.sparsity_initial - cfg.sparsity_final) * (1.0 - progress) ** 3


def is_pruning_episode(episode: int, cfg: TrainConfig) -> bool:
    """Pruning steps at t0, t0 + nabla, ..., t0 + M nabla (spec §5.4 timing)."""
    return (cfg.prune and cfg.prune_start <= episode <= cfg.prune_end
            and (episode - cfg.prune_start) % cfg.prune_every == 0)


@torch.no_grad()
def neuron_importance(actor: StackedMLP, mode='l1'):
    """phi_n^(h) per hidden layer, (J, u_h) each: ||m_n theta_n||_1 of incoming weights (P1/P3) or l1l2."""
    scores = []
    for h, mask in enumerate(actor.masks):
        incoming = actor.weights[h] * mask[:, :, None]
        if mode == 'l1':
            score = incoming.abs().sum(-1)
        else:                                      # incoming L2 x outgoing L2 (spec P1 alternative)
            outgoing = actor.weights[h + 1] * mask[:, None, :]
            score = incoming.norm(dim=-1) * outgoing.norm(dim=-2)
        scores.append(score)
    return scores


def kept_count(width: int, sparsity: float) -> int:
    """ceil((1 - w) u): neurons a layer of width u keeps at sparsity w (spec §5.4 rank threshold)."""
    return max(1, math.ceil((1.0 - sparsity) * width - 1e-9))


@torch.no_grad()
def prune_actor(actor: StackedMLP, sparsity: float, mode='l1', threshold_mode='rank', optimizer=None):
    """One pruning step (Eqs. 50-52, spec §5.4): per agent and hidden layer keep the most important neurons.

    rank: keep the top ceil((1 - w) u) by importance (ties: lower index). cumulative: drop the least
    important while their summed importance <= w * total (a literal-ish Eq. 50). Pruned neurons stay
    pruned (their score is -inf). Zeroes their incoming rows, outgoing columns and Adam moments.
    """
    for h, (mask, score) in enumerate(zip(actor.masks, neuron_importance(actor, mode))):
        score = torch.where(mask > 0, score, torch.full_like(score, -math.inf))
        order = torch.sort(-score, dim=1, stable=True).indices            # most important first
        width = mask.shape[1]
        if threshold_mode == 'rank':
            keep = torch.full((mask.shape[0],), kept_count(width, sparsity))
        else:
            ascending = torch.flip(torch.where(torch.isfinite(score.gather(1, order)), score.gather(1, order), 0), [1])
            dropped = (torch.cumsum(ascending, 1) <= sparsity * ascending.sum(1, keepdim=True)).sum(1)
            keep = (width - dropped).clamp(min=1)
        keep = torch.minimum(keep, mask.sum(1).long())                     # masks are monotone
        ranks = torch.empty_like(order)
        ranks.scatter_(1, order, torch.arange(width).expand_as(order))
        mask.copy_((ranks < keep[:, None]).float())
    _zero_pruned(actor, optimizer)


@torch.no_grad()
def _zero_pruned(actor: StackedMLP, optimizer=None):
    """Zero every weight (and its Adam moments) that touches a pruned neuron."""
    for h, mask in enumerate(actor.masks):
        targets = [(actor.weights[h], mask[:, :, None]), (actor.weights[h + 1], mask[:, None, :])]
        if actor.biases is not None:
            targets.append((actor.biases[h], mask))
        for param, m in targets:
            param.mul_(m)
            state = optimizer.state.get(param, {}) if optimizer is not None else {}
            for key in ('exp_avg', 'exp_avg_sq'):
                if key in state:
                    state[key].mul_(m)


def active_parameter_count(actor: StackedMLP) -> int:
    """Actor weights that survive pruning, summed over agents (= parameters of the compact actors)."""
    widths = [torch.full((actor.weights[0].shape[0],), actor.sizes[0])]
    widths += [m.sum(1) for m in actor.masks] + [torch.full_like(widths[0], actor.sizes[-1])]
    total = sum((a * b).sum() for a, b in zip(widths[:-1], widths[1:]))
    if actor.biases is not None:
        total += sum(w.sum() for w in widths[1:])
    return int(total)


@torch.no_grad()
def compact_actors(actor: StackedMLP):
    """Physically smaller per-agent actors (spec P9): slice the kept neurons into dense nn.Linear layers."""
    agents = []
    for j in range(actor.weights[0].shape[0]):
        keep = [torch.arange(actor.sizes[0])] + [torch.nonzero(m[j]).flatten() for m in actor.masks] \
            + [torch.arange(actor.sizes[-1])]
        layers = []
        for h, w in enumerate(actor.weights):
            lin = nn.Linear(len(keep[h]), len(keep[h + 1]), bias=actor.biases is not None)
            lin.weight.copy_(w[j][keep[h + 1]][:, keep[h]])
            if actor.biases is not None:
                lin.bias.copy_(actor.biases[h][j][keep[h + 1]])
            layers += [lin, nn.ReLU()]
        layers[-1] = nn.Tanh()
        agents.append(nn.Sequential(*layers))
    return agents


class MultiAgentActor(nn.Module):
    """The J compact actors as one model: observation (B, J, obs_dim) -> action mean (B, J, I) in [-1, 1]."""

    def __init__(self, agents):
        super().__init__()
        self.agents = nn.ModuleList(agents)

    def forward(self, observation):
        return torch.stack([net(observation[:, j]) for j, net in enumerate(self.agents)], dim=1)


# --- the trainer ------------------------------------------------------------------------------

class Trainer:
    """Independent PPO per RSU with optional dynamic pruning on one scenario (spec §5.6 loop)."""

    def __init__(self, params: game.GameParams, cfg: TrainConfig, seed: int = 0, theoretical_value=None):
        torch.manual_seed(seed)
        self.params, self.cfg, self.seed = params, cfg, seed
        self.market = PricingMarket(params, cfg.num_envs, cfg.env)
        I, J = params.q.shape
        self.net = ActorCritic(J, self.market.obs_dim, I, cfg)
        self.actor_opt = torch.optim.Adam([*self.net.actor.parameters(), self.net.log_std], lr=cfg.actor_lr)
        self.critic_opt = torch.optim.Adam(self.net.critic.parameters(), lr=cfg.critic_lr)
        self.rng = np.random.default_rng([seed, 0])         # env warm-up rounds
        self.gen = torch.Generator().manual_seed(seed)       # action noise, minibatch order
        self.episode = 0
        self.env_steps = 0
        self.log = []
        if theoretical_value is None:
            theoretical_value = game.solve_equilibrium(params).mean_rsu_utility
        self.theoretical_value = float(theoretical_value)

    # rollout: spec §5.6 inner loop ---------------------------------------------------------------
    @torch.no_grad()
    def rollout(self):
        cfg, T = self.cfg, self.cfg.episode_steps
        obs = torch.from_numpy(self.market.reset(self.rng))
        buf = {k: [] for k in ('obs', 'act', 'logp', 'rew', 'val', 'next_obs')}
        raw = np.zeros((T, cfg.num_envs, self.market.num_rsus))
        price_sum = demand_sum = 0.0
        for t in range(T):
            dist = self.net.distribution(obs)
            action = dist.mean + dist.stddev * torch.randn(dist.mean.shape, generator=self.gen)
            next_obs, reward, prices, demand = self.market.step(action.numpy())
            next_obs = torch.from_numpy(next_obs)
            raw[t] = reward
            price_sum, demand_sum = price_sum + prices.mean(0), demand_sum + demand.mean(0)
            for key, value in (('obs', obs), ('act', action), ('logp', dist.log_prob(action).sum(-1)),
                               ('rew', torch.from_numpy(reward / self.market.reward_divisor).float()),
                               ('val', self.net.value(obs)), ('next_obs', next_obs)):
                buf[key].append(value)
            obs = next_obs
        self.env_steps += T * cfg.num_envs
        self.episode_prices, self.episode_demand = price_sum / T, demand_sum / T     # (J, I) episode means
        batch = {k: torch.stack(v) for k, v in buf.items()}             # (T, N, J, ...)
        batch['last_val'] = self.net.value(obs)
        return batch, raw

    # PPO update: Eqs. (38)-(42), (47) -------------------------------------------------------------
    def advantages(self, batch):
        """(advantage, critic target), each (T, N, J)."""
        cfg, rew, val = self.cfg, batch['rew'], batch['val']
        with torch.no_grad():
            next_val = torch.cat([val[1:], batch['last_val'][None]])
            td_target = rew + cfg.gamma * next_val                     # Eq. (39), truncation bootstrapped
            adv, running = torch.zeros_like(rew), batch['last_val'].clone()
            gae = torch.zeros_like(batch['last_val'])
            for t in reversed(range(len(rew))):
                if cfg.advantage == 'mc':                               # Eq. (42): sum gamma^l r - V
                    running = rew[t] + cfg.gamma * running
                    adv[t] = running - val[t]
                else:
                    gae = (td_target[t] - val[t]) + cfg.gamma * cfg.gae_lambda * gae
                    adv[t] = gae
            target = td_target if cfg.critic_target == 'td0' else adv + val
        return adv, target

    def update(self, batch):
        cfg = self.cfg
        adv, target = self.advantages(batch)
        flat = lambda x: x.reshape(-1, *x.shape[2:])                    # (T*N, J, ...)
        obs, act, old_logp, adv, target = map(flat, (batch['obs'], batch['act'], batch['logp'], adv, target))
        adv = (adv - adv.mean(0)) / (adv.std(0) + 1e-8)                 # per-agent normalisation
        n = len(obs)
        for _ in range(cfg.epochs):
            order = torch.randperm(n, generator=self.gen)
            for start in range(0, n, cfg.minibatch):
                idx = order[start:start + cfg.minibatch]
                dist = self.net.distribution(obs[idx])
                ratio = torch.exp(dist.log_prob(act[idx]).sum(-1) - old_logp[idx])     # f = pi / pi_hat (N10)
                surrogate = torch.min(ratio * adv[idx], ratio.clamp(1 - cfg.clip, 1 + cfg.clip) * adv[idx])
                entropy = dist.entropy().sum(-1)
                actor_loss = -(surrogate + cfg.entropy_coef * entropy).mean(0).sum()   # ascent on (47), N9
                critic_loss = ((self.net.value(obs[idx]) - target[idx]) ** 2).mean(0).sum()
                self.actor_opt.zero_grad()
                self.critic_opt.zero_grad()
                (actor_loss + critic_loss).backward()
                clip_per_agent([*self.net.actor.parameters(), self.net.log_std], cfg.max_grad_norm)
                clip_per_agent(list(self.net.critic.parameters()), cfg.max_grad_norm)
                self.actor_opt.step()
                self.critic_opt.step()

    # one episode of Algorithm 2 ------------------------------------------------------------------
    def train_episode(self):
        batch, raw = self.rollout()
        self.update(batch)
        sparsity = None
        if is_pruning_episode(self.episode, self.cfg):
            sparsity = sparsity_at(self.episode, self.cfg)
            prune_actor(self.net.actor, sparsity, self.cfg.importance, self.cfg.threshold_mode, self.actor_opt)
        row = {'episode': self.episode, 'env_steps': self.env_steps,
               'reward': float(raw.mean()),                              # per RSU per step (M2)
               'reward_sum_rsus': float(raw.sum(-1).mean()),             # paper-literal sum_j V_j per step
               'gap_to_equilibrium': (float(raw.mean()) - self.theoretical_value) / self.theoretical_value,
               'active_actor_params': active_parameter_count(self.net.actor),
               'live_neurons': '/'.join(str(int(m.sum(1).max())) for m in self.net.actor.masks),
               'sparsity': sparsity_at(self.episode, self.cfg) if self.cfg.prune else 0.0,
               'mean_log_std': float(self.net.log_std.detach().mean())}
        if (self.episode + 1) % self.cfg.eval_every == 0 or self.episode + 1 == self.cfg.episodes:
            value = self.evaluate(range(self.cfg.eval_episodes))
            prices = deterministic_prices(self.act_deterministic, self.params, self.cfg.env)
            row.update(eval_reward=value, eval_gap=(value - self.theoretical_value) / self.theoretical_value,
                       eval_exploitability=float(exploitability(prices, self.params, grid=50).mean()))
        self.log.append(row)
        self.episode += 1
        return row

    def train(self, callback=None, checkpoint=None, checkpoint_every=50, stop_after=None):
        """Run until cfg.episodes (or `stop_after` more episodes); checkpoint to `checkpoint` as it goes."""
        torch.set_num_threads(1)
        done = 0
        while self.episode < self.cfg.episodes and (stop_after is None or done < stop_after):
            row = self.train_episode()
            done += 1
            if callback is not None:
                callback(row)
            if checkpoint and (self.episode % checkpoint_every == 0 or self.episode == self.cfg.episodes):
                self.save(checkpoint)
        return self.log

    # evaluation --------------------------------------------------------------------------------
    @torch.no_grad()
    def act_deterministic(self, obs):
        """Action mean mu (the deployed policy) for observations (N, J, obs_dim) numpy -> (N, J, I)."""
        return self.net.actor(torch.as_tensor(obs, dtype=torch.float32)).numpy()

    def evaluate(self, seeds):
        return evaluate_policy(self.act_deterministic, self.params, self.cfg.env, seeds)

    # checkpoints: everything needed to continue bit-for-bit ---------------------------------------
    def state_dict(self):
        return {'cfg': self.cfg.to_dict(), 'seed': self.seed, 'episode': self.episode, 'env_steps': self.env_steps,
                'net': self.net.state_dict(), 'actor_opt': self.actor_opt.state_dict(),
                'critic_opt': self.critic_opt.state_dict(), 'rng': self.rng.bit_generator.state,
                'gen': self.gen.get_state(), 'log': self.log, 'theoretical_value': self.theoretical_value}

    def load_state_dict(self, state):
        if state['cfg'] != self.cfg.to_dict() or state['seed'] != self.seed:
            diff = sorted(k for k in state['cfg'] if state['cfg'][k] != self.cfg.to_dict().get(k))
            raise ValueError(f'checkpoint was trained with a different config/seed (differs: {diff or ["seed"]}); '
                             f'use the same --config/--set/--seed or a new --out folder')
        self.net.load_state_dict(state['net'])
        self.actor_opt.load_state_dict(state['actor_opt'])
        self.critic_opt.load_state_dict(state['critic_opt'])
        self.rng.bit_generator.state = state['rng']
        self.gen.set_state(state['gen'])
        self.episode, self.env_steps, self.log = state['episode'], state['env_steps'], list(state['log'])

    def save(self, path):
        tmp = f'{path}.tmp'
        torch.save(self.state_dict(), tmp)
        os.replace(tmp, path)                                          # never a half-written checkpoint

    def load(self, path):
        self.load_state_dict(torch.load(path, weights_only=False))


def clip_per_agent(params, max_norm):
    """Clip each agent's gradient (leading axis) to global norm max_norm, independently of the others."""
    grads = [p.grad for p in params if p.grad is not None]
    norms = torch.sqrt(sum(g.reshape(g.shape[0], -1).pow(2).sum(1) for g in grads))
    scale = (max_norm / (norms + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(scale.reshape(-1, *([1] * (g.dim() - 1))))


# --- evaluation and baselines (spec §7) ---------------------------------------------------------

def evaluate_policy(policy, params, env_cfg: PricingEnvConfig, seeds):
    """Mean RSU utility per RSU per step (spec M2) of a deterministic policy over one episode per seed.

    policy: observations (N, J, obs_dim) float32 -> actions (N, J, I). Seeds are offset by
    EVAL_SEED_BASE so they never coincide with a training stream.
    """
    return held_out_episodes(policy, params, env_cfg, seeds)[0]


def held_out_episodes(policy, params, env_cfg: PricingEnvConfig, seeds):
    """(evaluate_policy's mean utility, the (J, I) prices posted in the last step of the first episode)."""
    values, last_prices = [], None
    for seed in seeds:
        market = PricingMarket(params, 1, env_cfg)
        obs = market.reset(np.random.default_rng(EVAL_SEED_BASE + int(seed)))
        total = 0.0
        for _ in range(env_cfg.episode_steps):
            obs, reward, prices, _ = market.step(policy(obs))
            total += reward.mean()
        values.append(total / env_cfg.episode_steps)
        if last_prices is None:
            last_prices = prices[0]
    return float(np.mean(values)), last_prices


def random_prices(params, env_cfg: PricingEnvConfig, episodes, seed=0):
    """Random baseline (spec §7): p ~ U[c^j, pbar^j] i.i.d. every step; per-episode mean reward per RSU."""
    market = PricingMarket(params, 1, env_cfg)
    rng = np.random.default_rng([seed, 7])
    out = []
    for _ in range(episodes):
        market.reset(rng)
        total = sum(market.step(rng.uniform(-1, 1, (1, market.num_rsus, market.num_uavs)))[1].mean()
                    for _ in range(env_cfg.episode_steps))
        out.append(total / env_cfg.episode_steps)
    return np.array(out)


class GreedyBandit:
    """Greedy baseline (spec §7): an epsilon-greedy price bandit per (RSU j, UAV i) over G price levels.

    Each level is tried once, then the best sample-average profit (p - c^j) b_i^j is played with
    probability 1 - epsilon, else a random level. Uses only what RSU j observes (its own demand).
    """

    def __init__(self, num_rsus, num_uavs, levels=21, epsilon=0.1, seed=0):
        self.levels, self.epsilon = levels, epsilon
        self.actions = np.linspace(-1.0, 1.0, levels)                  # maps to G prices in [c, pbar]
        self.sums = np.zeros((num_rsus, num_uavs, levels))
        self.counts = np.zeros((num_rsus, num_uavs, levels))
        self.rng = np.random.default_rng([seed, 11])

    def choose(self, explore=True):
        untried = self.counts == 0
        mean = np.where(untried, -np.inf, self.sums / np.maximum(self.counts, 1))
        level = np.where(untried.any(-1), np.argmax(untried, -1), np.argmax(mean, -1))
        if explore:
            flip = self.rng.random(level.shape) < self.epsilon
            level = np.where(flip & ~untried.any(-1), self.rng.integers(0, self.levels, level.shape), level)
        return level

    def learn(self, level, profit):
        np.add.at(self.sums, (*np.indices(level.shape), level), profit)
        np.add.at(self.counts, (*np.indices(level.shape), level), 1)

    def run(self, params, env_cfg: PricingEnvConfig, episodes):
        """Learn for `episodes` episodes; return the per-episode mean reward per RSU per step."""
        market = PricingMarket(params, 1, env_cfg)
        rng = np.random.default_rng([0, 13])
        out = []
        for _ in range(episodes):
            market.reset(rng)
            total = 0.0
            for _ in range(env_cfg.episode_steps):
                level = self.choose()
                _, reward, prices, demand = market.step(self.actions[level][None])
                self.learn(level, ((prices[0] - params.cost[:, None]) * demand[0]))
                total += reward.mean()
            out.append(total / env_cfg.episode_steps)
        return np.array(out)

    def policy(self, obs):
        """The learned greedy prices (no exploration) as actions (N, J, I)."""
        return np.broadcast_to(self.actions[self.choose(explore=False)], (len(obs), *self.sums.shape[:2]))


def convergence_episode(rewards, final_window=100, window=20, band=0.05):
    """First episode after which the 20-episode moving average stays within +-5% of the final mean (spec §5.7)."""
    rewards = np.asarray(rewards, dtype=float)
    final = rewards[-final_window:].mean()
    if len(rewards) < window:
        return 0
    moving = np.convolve(rewards, np.ones(window) / window, mode='valid')     # moving[k] ends at k + window - 1
    outside = np.flatnonzero(np.abs(moving - final) > band * abs(final))
    return 0 if outside.size == 0 else int(outside[-1] + window)


def deterministic_prices(policy, params, env_cfg: PricingEnvConfig, seed=0):
    """Prices (I, J) a deterministic policy posts at the last step of a held-out episode."""
    market = PricingMarket(params, 1, env_cfg)
    obs = market.reset(np.random.default_rng(EVAL_SEED_BASE + int(seed)))
    for _ in range(env_cfg.episode_steps):
        obs, _, prices, _ = market.step(policy(obs))
    return prices[0].T


def exploitability(prices, params, grid=100):
    """Per RSU: best unilateral profit gain over its whole price vector / its profit (0 at the SE, spec 3.2).

    Markets are separable (spec 3.1), so RSU j's best deviation gain is sum_i of its per-market gains.
    """
    gain, _ = game.unilateral_gain(prices, params, grid=grid, refine=False)
    demand, _ = game.follower_best_response(prices, params)
    profit = game.rsu_utility(demand, prices, params)
    return np.maximum(gain, 0).sum(axis=0) / np.maximum(profit, 1e-9)


def held_out_report(policy, params, env_cfg: PricingEnvConfig, equilibrium, seeds=range(10)):
    """Held-out evaluation of a deterministic policy vs the SE (card 'evaluation' section, report numbers)."""
    seeds = [int(s) for s in seeds]
    value = evaluate_policy(policy, params, env_cfg, seeds)
    theory = equilibrium.mean_rsu_utility
    prices = deterministic_prices(policy, params, env_cfg, seed=seeds[0])
    return {'theoretical_value': theory, 'reward': value, 'gap': (value - theory) / theory,
            'held_out_seeds': [EVAL_SEED_BASE + s for s in seeds],
            'metric': 'mean RSU utility per RSU per step, deterministic actions, one episode per seed',
            'exploitability_mean': float(exploitability(prices, params).mean()),
            'price_relative_error': float(np.mean(np.abs(prices - equilibrium.prices) / equilibrium.prices))}

"""Seed-1 learners: TD3 (the paper's agent) and its DDPG / PPO baselines, from stable-baselines3.

SB3 is the well-kept standard implementation of all three; we only set the spec's hyperparameters
(TABLE II [P], §4.3 / §6 [D-A40], [D-A43]) from the `learning:` section of config/seed1/default.yaml:

    TD3   actor/critics MLP 256-256 ReLU, tanh output; Adam lr 0.005 (l_a = l_c); gamma 0.98; tau 0.05;
          batch 256; buffer 1e6; N(0, 0.1^2) exploration; target noise 0.2 clipped 0.5; policy delay 2;
          1,000 uniform-random warm-up steps; 1 gradient step per environment step.
    DDPG  the same with one critic, no target smoothing, actor + targets updated every step (SB3 DDPG).
    PPO   Gaussian MLP 256-256 tanh, state-independent log-std -0.5; rollout 600; GAE 0.95; clip 0.2;
          10 epochs; minibatch 64; lr 3e-4; vf 0.5; entropy 0; grad-norm 0.5.

Deviations forced by SB3 (documented in docs/seed1.md): one Adam learning rate for actor and critic
(the spec's are equal, so nothing changes); gradient updates start after the 1,000 warm-up steps
rather than as soon as the buffer holds 256 samples (SB3's `learning_starts` sets both).
The reward is multiplied by 1e-3 inside the learner only ([D-A42]); every number we report is unscaled.
"""
import time
from dataclasses import dataclass, field

import numpy as np

from uav_edge.core.offload import Seed1Params
from uav_edge.envs.offload_env import OffloadEnv

ALGORITHMS = ('td3', 'ddpg', 'ppo')


def make_training_env(params: Seed1Params, seed: int):
    """OffloadEnv -> Monitor (unscaled return per flight period) -> reward x reward_scale ([D-A42])."""
    import gymnasium as gym
    from stable_baselines3.common.monitor import Monitor

    env = gym.wrappers.TransformReward(Monitor(OffloadEnv(params)), lambda r: params.reward_scale * r)
    env.reset(seed=seed)
    env.action_space.seed(seed)
    return env


def build_model(algo: str, env, learning, seed: int):
    """An SB3 TD3 / DDPG / PPO model with the spec's hyperparameters (`learning` = config Learning section)."""
    import torch
    from stable_baselines3 import DDPG, PPO, TD3
    from stable_baselines3.common.noise import NormalActionNoise

    torch.set_num_threads(1)
    lc = learning
    if algo in ('td3', 'ddpg'):
        if lc.actor_lr != lc.critic_lr:
            raise ValueError(f'learning.actor_lr ({lc.actor_lr}) != critic_lr ({lc.critic_lr}): '
                             'SB3 uses one learning rate')
        n = env.action_space.shape[0]
        common = dict(learning_rate=lc.actor_lr, buffer_size=lc.buffer_size, learning_starts=lc.warmup_steps,
                      batch_size=lc.batch_size, tau=lc.tau, gamma=lc.gamma, train_freq=1, gradient_steps=1,
                      action_noise=NormalActionNoise(np.zeros(n), lc.exploration_std * np.ones(n)),
                      policy_kwargs=dict(net_arch=list(lc.hidden), activation_fn=torch.nn.ReLU),
                      seed=seed, device='cpu', verbose=0)
        if algo == 'td3':
            return TD3('MlpPolicy', env, policy_delay=lc.policy_delay, target_policy_noise=lc.target_noise_std,
                       target_noise_clip=lc.target_noise_clip, **common)
        return DDPG('MlpPolicy', env, **common)
    if algo == 'ppo':
        return PPO('MlpPolicy', env, learning_rate=lc.ppo_lr, n_steps=lc.ppo_rollout, batch_size=lc.ppo_minibatch,
                   n_epochs=lc.ppo_epochs, gamma=lc.gamma, gae_lambda=lc.ppo_gae_lambda, clip_range=lc.ppo_clip,
                   ent_coef=lc.ppo_ent_coef, vf_coef=lc.ppo_vf_coef, max_grad_norm=lc.ppo_max_grad_norm,
                   policy_kwargs=dict(net_arch=dict(pi=list(lc.hidden), vf=list(lc.hidden)),
                                      activation_fn=torch.nn.Tanh, log_std_init=lc.ppo_log_std_init),
                   seed=seed, device='cpu', verbose=0)
    raise ValueError(f'algo: {algo!r} is not one of {", ".join(ALGORITHMS)}')


def evaluate(act, params: Seed1Params, periods: int = 10, seed: int = 10_000, record_positions=False):
    """Run a deterministic policy `act(obs) -> action` for `periods` flight periods ([D-A44]).

    Returns {'return': mean sum r per period, 'revenue': mean sum Q, 'penalty': mean sum F, 'returns': [...],
    'revenues': [...], 'positions': (N+1, K, 3) of the first period if record_positions}.
    """
    env = OffloadEnv(params)
    returns, revenues, penalties, positions = [], [], [], None
    for k in range(periods):
        obs, _ = env.reset(seed=seed + k)
        track = [env.uav_pos_m.copy()]
        ret = q = pen = 0.0
        done = False
        while not done:
            obs, r, done, _, info = env.step(act(obs))
            ret, q, pen = ret + r, q + info['Q'], pen + info['F1'] + info['F2'] + info['F3']
            track.append(info['uav_pos_m'])
        returns.append(ret), revenues.append(q), penalties.append(pen)
        if record_positions and positions is None:
            positions = np.array(track)
    out = {'return': float(np.mean(returns)), 'revenue': float(np.mean(revenues)),
           'penalty': float(np.mean(penalties)), 'returns': returns, 'revenues': revenues}
    if record_positions:
        out['positions'] = positions
        out['busy_pos_m'] = env.layout.busy_pos_m
    return out


def policy_fn(model):
    """The deterministic (noise-free) action of an SB3 model as a plain obs -> action function."""
    return lambda obs: model.predict(obs, deterministic=True)[0]


@dataclass
class TrainResult:
    """A trained model and its learning curve (unscaled returns per flight period)."""

    algo: str
    seed: int
    model: object
    steps: int
    curve_steps: list = field(default_factory=list)      # environment steps at each evaluation
    curve_return: list = field(default_factory=list)     # deterministic evaluation return
    curve_revenue: list = field(default_factory=list)    # its sum Q
    train_returns: list = field(default_factory=list)    # Monitor: return of every training flight period
    seconds: float = 0.0


def train(algo: str, params: Seed1Params, learning, total_steps: int, seed: int = 0, eval_every: int = 0,
          eval_periods: int = 2, progress=None, eval_seed=None, on_eval=None) -> TrainResult:
    """Train one algorithm for `total_steps` environment steps; evaluate every `eval_every` steps (0 = never).

    The curve's evaluations use flight-period seeds eval_seed, eval_seed + 1, ... (default 10_000 + 97 seed).
    `on_eval(model, steps, ev)`, if given, is called after each of them with the `evaluate` dict (e.g. to keep
    the best policy so far, as SB3's EvalCallback does).
    """
    from stable_baselines3.common.callbacks import BaseCallback

    env = make_training_env(params, seed)
    model = build_model(algo, env, learning, seed)
    result = TrainResult(algo, seed, model, total_steps)
    first_eval_seed = 10_000 + 97 * seed if eval_seed is None else int(eval_seed)

    def record():
        ev = evaluate(policy_fn(model), params, eval_periods, seed=first_eval_seed)
        result.curve_steps.append(int(model.num_timesteps))
        result.curve_return.append(ev['return'])
        result.curve_revenue.append(ev['revenue'])
        if on_eval is not None:
            on_eval(model, int(model.num_timesteps), ev)

    class Curve(BaseCallback):
        def _on_step(self):
            if eval_every and self.num_timesteps % eval_every == 0:
                record()
                if progress:
                    progress(algo, seed, self.num_timesteps, result.curve_return[-1])
            return True

    start = time.perf_counter()
    if eval_every:
        record()
    model.learn(total_timesteps=total_steps, callback=Curve())
    result.seconds = time.perf_counter() - start
    monitor = env.env
    result.train_returns = [float(r) for r in monitor.get_episode_rewards()]
    return result

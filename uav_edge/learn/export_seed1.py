"""Export a trained seed-1 actor (stable-baselines3 TD3, or the PPO baseline) to ONNX with a JSON model card.

Graph: input 'observation' float32 [batch, 3I+4K+1] (state (28), spec §3.2 layout, in [0, 1]);
output 'action' float32 [batch, 6+I+2J+6K] in [-1, 1]: the deterministic tanh actor (29) for TD3, the Gaussian
policy's mean clipped to the action box (what SB3's predict(deterministic=True) returns) for PPO. Both share
the observation and action layouts, so the runtime (uav_edge.policy.offload_policy) serves either.
The card (models/<name>.json, format of uav_edge.learn.export) records both layouts with their
scalings, the Seed1Params the policy was trained on, training and evaluation numbers, and the
measured ONNX-vs-torch difference. Shared helpers (hash, opset, card writing) come from
uav_edge.learn.export (the seed-0 exporter).

    python -m uav_edge.learn.export_seed1 --model results/seed1/models/td3_seed0.zip --out models/seed1_td3.onnx
    python -m uav_edge.learn.export_seed1 --algo ppo --model results/seed1_budget_ppo/models/ppo_s20_selected.zip \
        --out models/seed1_ppo.onnx
"""
import argparse
import warnings
import dataclasses
import json
import os
import sys
from datetime import datetime, timezone

import numpy as np

from uav_edge.core.offload import Seed1Params, action_layout
from uav_edge.learn.export import CARD_FORMAT, OPSET, onnx_opset, sha256, write_card
from uav_edge.policy.offload_policy import ACTION_NAME, INPUT_NAME, POLICY_NAMES

STATE_BLOCKS = [('busy_ud_xy', '2I', 'm / area_m'), ('task_bits', 'I', 'bits / task_bits_max'),
                ('cycles_per_bit', '1', 'cycles/bit / cycles_per_bit_max'),
                ('uav_xyz', '3K', 'x, y / area_m; H / altitude_max_m'),
                ('remaining_energy', 'K', 'max(E, 0) / battery_j')]
ACTION_MAPS = {'offload_split': 'eps = g / sum(g), g = (a + 1) / 2 (1/3 each if sum 0); (UAV, D2D, local)',
               'busy_cpu': 'f_i = busy_cpu_max_hz max(g, cpu_floor_fraction)',
               'idle_cpu': 'f_j = idle_cpu_max_hz max(g, cpu_floor_fraction)',
               'uav_cpu': 'f_k = uav_cpu_max_hz max(g, cpu_floor_fraction)',
               'uav_price': 'p_k = uav_price_min + g (uav_price_max - uav_price_min)',
               'idle_price': 'p_j = idle_price_min + g (idle_price_max - idle_price_min)',
               'weights': 'omega = g / sum(g); (UAVs, idle UDs, busy UDs)',
               'velocity': 'v_k = max_speed_mps a, (vx, vy, vz) per UAV; |v| > v_max is rescaled + penalised',
               'bitrate': 'b_k = bitrates_mbps[min(floor(g O), O - 1)]'}
POLAR_VELOCITY_MAP = ('v_k = max_speed_mps g(a0) (cos e cos az, cos e sin az, sin e), azimuth az = pi a1, '
                      'elevation e = pi/2 a2 per UAV (polar_velocity: true); |v| <= v_max')


def action_maps(params: Seed1Params):
    """ACTION_MAPS with the velocity entry of the parameterisation the policy was trained with."""
    return dict(ACTION_MAPS, velocity=POLAR_VELOCITY_MAP) if params.polar_velocity else dict(ACTION_MAPS)


def algorithm_of(model):
    """'td3' for an SB3 TD3 model, 'ppo' for PPO (the two exportable seed-1 policies)."""
    name = type(model).__name__.lower()
    if name not in POLICY_NAMES:
        raise ValueError(f'cannot export a {type(model).__name__} policy: expected one of {sorted(POLICY_NAMES)}')
    return name


def actor_module(model):
    """The SB3 policy's deterministic action as a torch module observation -> action in [-1, 1].

    TD3: features + mu + tanh. PPO: features + actor MLP + action_net (the Gaussian mean), clipped to the box
    as SB3's predict() does for an unsquashed policy."""
    import torch
    from torch import nn

    class TD3Actor(nn.Module):
        def __init__(self, actor):
            super().__init__()
            self.actor = actor

        def forward(self, observation):
            return self.actor(observation)

    class PPOActor(nn.Module):
        def __init__(self, policy):
            super().__init__()
            self.policy = policy

        def forward(self, observation):
            features = self.policy.extract_features(observation, self.policy.pi_features_extractor)
            mean = self.policy.action_net(self.policy.mlp_extractor.forward_actor(features))
            return torch.clamp(mean, -1.0, 1.0)

    if algorithm_of(model) == 'ppo':
        return PPOActor(model.policy).eval()
    return TD3Actor(model.actor).eval()


def export_actor(model, params: Seed1Params, path, training=None, evaluation=None, samples=256, seed=0):
    """Write <path> (.onnx) and its card for an SB3 TD3 or PPO model; returns (onnx path, card path,
    max |onnx - torch|)."""
    import onnxruntime
    import torch

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    algo = algorithm_of(model)
    module = actor_module(model)
    example = torch.zeros(1, params.state_dim)
    with warnings.catch_warnings():      # the TorchScript exporter (dynamo=False, as uav_edge.learn.export) warns
        warnings.simplefilter('ignore', DeprecationWarning)
        torch.onnx.export(module, (example,), str(path), input_names=[INPUT_NAME], output_names=[ACTION_NAME],
                          dynamic_axes={INPUT_NAME: {0: 'batch'}, ACTION_NAME: {0: 'batch'}},
                          opset_version=OPSET, dynamo=False)
    obs = np.random.default_rng(seed).random((samples, params.state_dim), dtype=np.float32)
    with torch.no_grad():
        expected = module(torch.as_tensor(obs)).numpy()
    session = onnxruntime.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    got = session.run([ACTION_NAME], {INPUT_NAME: obs})[0]
    max_diff = float(np.max(np.abs(got - expected)))
    layout = {name: [s.start, s.stop] for name, s in action_layout(params).items()}
    card = {
        'format': CARD_FORMAT,
        'policy': POLICY_NAMES[algo],
        'description': f'Seed-1 centralised {algo.upper()} actor: offloading split, CPU frequencies, prices, '
                       'utility weights, UAV velocities and bitrates for multi-UAV D2D-assisted MEC video '
                       '(spec seed1 §3.3)',
        'created': datetime.now(timezone.utc).isoformat(timespec='seconds'),
        'scenario': {'seed1_params': dataclasses.asdict(params), 'num_busy_uds': params.num_busy_uds,
                     'num_idle_uds': params.num_idle_uds, 'num_uavs': params.num_uavs},
        'inputs': {INPUT_NAME: {'dtype': 'float32', 'shape': ['batch', params.state_dim], 'range': [0.0, 1.0]}},
        'outputs': {ACTION_NAME: {'dtype': 'float32', 'shape': ['batch', params.action_dim], 'range': [-1.0, 1.0]}},
        'observation': {'size': params.state_dim, 'blocks': [list(b) for b in STATE_BLOCKS],
                        'builder': 'uav_edge.core.offload.offload_observation'},
        'action': {'size': params.action_dim, 'layout': layout, 'mapping': action_maps(params),
                   'decoder': 'uav_edge.core.offload.decode_action'},
        'training': training or {},
        'evaluation': evaluation or {},
        'verification': {'max_abs_diff_onnx_vs_torch': max_diff, 'samples': samples, 'tolerance': 1e-5},
        'onnx': {'opset': OPSET, 'producer': f'torch {torch.__version__}', 'onnxruntime': onnxruntime.__version__},
        'file': os.path.basename(str(path)), 'precision': 'fp32',
        'sha256': sha256(path), 'size_bytes': os.path.getsize(path),
    }
    card['onnx']['opset'] = onnx_opset(path)
    return str(path), write_card(path, card), max_diff


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m uav_edge.learn.export_seed1', description=__doc__.split('\n')[0])
    parser.add_argument('--model', required=True, help='SB3 .zip saved by reproduce_seed1 / study_seed1 / train')
    parser.add_argument('--algo', choices=sorted(POLICY_NAMES), default='td3', help='algorithm of --model')
    parser.add_argument('--out', default=None, help='ONNX path (default models/seed1_<algo>.onnx)')
    parser.add_argument('--config', default=None, help='seed-1 YAML the model was trained on')
    parser.add_argument('--runs', default=None, help='runs.json of the reproduction, for the card (optional)')
    parser.add_argument('--note', default=None, help='free text stored in the card (e.g. how the seed was chosen)')
    args = parser.parse_args(argv)
    import torch
    from stable_baselines3 import PPO, TD3

    from uav_edge.core.offload_config import load_seed1_config
    from uav_edge.learn.seed1 import evaluate, policy_fn

    torch.set_num_threads(1)
    config = load_seed1_config(args.config)
    model = {'td3': TD3, 'ppo': PPO}[args.algo].load(args.model, device='cpu')
    if model.observation_space.shape != (config.params.state_dim,):
        raise SystemExit(f'{args.model}: observation size {model.observation_space.shape} does not match '
                         f'{config.source} ({config.params.state_dim})')
    training = {'algorithm': f'{args.algo.upper()} (stable-baselines3)', 'source_model': os.path.basename(args.model),
                'env_steps': int(model.num_timesteps), 'config': config.learning.model_dump()}
    if args.note:
        training['note'] = args.note
    if args.runs:
        run = next((r for r in json.load(open(args.runs)) if r.get('model') and
                    os.path.basename(r['model']) == os.path.basename(args.model)), None)
        if run:
            training.update(seed=run['seed'], seconds=run['seconds'])
    ev = evaluate(policy_fn(model), config.params, config.learning.eval_periods, seed=30_000)
    evaluation = {'periods': config.learning.eval_periods, 'mean_return': ev['return'],
                  'mean_revenue_Q': ev['revenue'], 'mean_penalty': ev['penalty'], 'protocol': 'spec [D-A44]'}
    out = args.out or f'models/seed1_{args.algo}.onnx'
    path, card, diff = export_actor(model, config.params, out, training, evaluation)
    print(f'{path} + {card}: max |onnx - torch| = {diff:.2e}; evaluated return {ev["return"]:.0f} per period')
    return 0


if __name__ == '__main__':
    sys.exit(main())

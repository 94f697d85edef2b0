"""`uav-edge bench` section for the seed-0 pricing policies (issue 3): size, latency, int8 gap, env speed.

bench_policy(quick) -> rows {'bench', 'value', 'unit', 'target', 'ok', ...}. Register as
SECTIONS['policy'] = bench_policy in uav_edge/bench.py.

Per shipped policy (models/<name>.onnx + .int8.onnx + cards):
  * actor parameters dense vs pruned (target: pruned <= 1/2 dense);
  * ONNX file size fp32 / int8;
  * single-observation latency p50/p99, onnxruntime 1 thread (pruned fp32) vs the dense torch actor
    in eager mode (same architecture before pruning, 1 thread), measured in the same run (target >= 5x);
  * held-out equilibrium gap of fp32 vs int8 through the runtime loader (target: |change| < 0.5 pp);
and the environment's steps/s for 1 and 64 market copies.
"""
import glob
import json
import os
import time

import numpy as np

MODELS_DIR = os.path.join(os.path.dirname(__file__), '..', '..', 'models')


def _latency_us(fn, repeats):
    for _ in range(min(200, repeats)):
        fn()                                              # warm-up
    times = np.empty(repeats)
    for k in range(repeats):
        start = time.perf_counter()
        fn()
        times[k] = time.perf_counter() - start
    return 1e6 * float(np.percentile(times, 50)), 1e6 * float(np.percentile(times, 99))


def shipped_policies(models_dir=MODELS_DIR):
    """fp32 model paths of the shipped seed-0 pricing policies (those with an int8 sibling and cards)."""
    paths = sorted(glob.glob(os.path.join(models_dir, 'seed0_pricing_*.onnx')))
    return [p for p in paths if not p.endswith('.int8.onnx')]


def bench_policy(quick=False, models_dir=MODELS_DIR):
    import torch

    from uav_edge.core import game
    from uav_edge.envs.pricing_env import PricingEnvConfig, PricingMarket, params_from_scenario
    from uav_edge.learn.tiny_madrl import MultiAgentActor, StackedMLP, compact_actors, held_out_report
    from uav_edge.policy.onnx_policy import load_pricing_policy

    torch.set_num_threads(1)
    rows = []
    repeats = 2000 if quick else 10000
    for fp32_path in shipped_policies(models_dir):
        int8_path = fp32_path[:-len('.onnx')] + '.int8.onnx'
        policy = load_pricing_policy(fp32_path, threads=1)
        card = policy.card
        name = os.path.basename(fp32_path)[:-len('.onnx')]
        pruning = card['pruning']
        dense, pruned = pruning['actor_params_dense'], pruning['actor_params']
        rows.append({'bench': f'{name}: actor parameters pruned / dense', 'value': pruned / dense, 'unit': 'ratio',
                     'dense': dense, 'pruned': pruned, 'target': '<= 0.5', 'ok': pruned <= 0.5 * dense})
        sizes = {p: os.path.getsize(p) for p in (fp32_path, int8_path) if os.path.exists(p)}
        rows.append({'bench': f'{name}: ONNX size fp32', 'value': sizes[fp32_path] / 1024, 'unit': 'KiB',
                     'target': None, 'ok': None})
        if int8_path in sizes:
            rows.append({'bench': f'{name}: ONNX size int8', 'value': sizes[int8_path] / 1024, 'unit': 'KiB',
                         'target': None, 'ok': None})
        # Latency: one observation (all J agents), onnxruntime 1 thread vs the dense torch actor, eager.
        J, obs_dim = policy.num_rsus, policy.obs_dim
        obs = np.random.default_rng(0).random((1, J, obs_dim), dtype=np.float32)
        ort_p50, ort_p99 = _latency_us(lambda: policy.session.run(['action'], {'observation': obs}), repeats)
        dense_actor = StackedMLP(J, [obs_dim, *pruning['hidden_dense'], policy.num_uavs], tanh_out=True)
        dense_torch = MultiAgentActor(compact_actors(dense_actor)).eval()   # all masks 1: the dense network
        x = torch.from_numpy(obs)
        with torch.no_grad():
            torch_p50, torch_p99 = _latency_us(lambda: dense_torch(x), repeats)
        rows.append({'bench': f'{name}: inference latency p50, onnxruntime pruned fp32 (1 thread)', 'value': ort_p50,
                     'unit': 'us', 'p99_us': ort_p99, 'target': None, 'ok': None})
        rows.append({'bench': f'{name}: inference latency p50, dense torch eager (1 thread)', 'value': torch_p50,
                     'unit': 'us', 'p99_us': torch_p99, 'target': None, 'ok': None})
        rows.append({'bench': f'{name}: speed-up onnxruntime vs dense torch eager (p50)', 'value': torch_p50 / ort_p50,
                     'unit': 'x', 'p99_ratio': torch_p99 / ort_p99, 'target': '>= 5x', 'ok': torch_p50 / ort_p50 >= 5})
        # Equilibrium gap fp32 vs int8 on held-out seeds, through the runtime loader.
        if int8_path in sizes:
            world, params = params_from_scenario(card['scenario']['name'])
            env = PricingEnvConfig(history=policy.history, episode_steps=card['training']['config']['episode_steps'])
            eq = game.solve_equilibrium(params)
            seeds = range(3 if quick else 10)
            gap32 = held_out_report(policy.action, params, env, eq, seeds)['gap']
            gap8 = held_out_report(load_pricing_policy(int8_path).action, params, env, eq, seeds)['gap']
            rows.append({'bench': f'{name}: equilibrium gap change int8 vs fp32', 'value': 100 * abs(gap8 - gap32),
                         'unit': 'pp', 'gap_fp32_pct': 100 * gap32, 'gap_int8_pct': 100 * gap8,
                         'target': '< 0.5 pp', 'ok': abs(gap8 - gap32) < 0.005})
    # Environment speed (numpy twin, exact followers).
    world, params = params_from_scenario('default')
    for copies in (1, 64):
        market = PricingMarket(params, copies, PricingEnvConfig())
        market.reset(np.random.default_rng(0))
        actions = np.random.default_rng(1).uniform(-1, 1, (copies, market.num_rsus, market.num_uavs))
        steps = 200 if quick else 1000
        start = time.perf_counter()
        for _ in range(steps):
            market.step(actions)
        rate = copies * steps / (time.perf_counter() - start)
        rows.append({'bench': f'pricing env steps/s (J=5, I=15, {copies} copies vectorised)', 'value': rate,
                     'unit': 'steps/s', 'target': None, 'ok': None})
    return rows


if __name__ == '__main__':
    print(json.dumps(bench_policy(quick=True), indent=1, default=float))

"""Seed-1 bench rows (issue 5): TD3 actor inference p50/p99, onnxruntime vs torch eager, and env steps/s.

bench_seed1(quick=False) -> rows {'bench', 'value', 'unit', 'target', 'ok', ...} for uav_edge.bench.SECTIONS.
Uses models/seed1_td3.onnx when it exists (and matches the default config), else an untrained actor of
the same architecture (256-256, 51 -> 66), exported to a temporary file; the row says which.
"""
import os
import tempfile
import time

import numpy as np

MODEL = os.path.join(os.path.dirname(__file__), '..', '..', 'models', 'seed1_td3.onnx')


def _percentiles_us(fn, repeats):
    times = np.empty(repeats)
    for k in range(repeats):
        start = time.perf_counter()
        fn()
        times[k] = time.perf_counter() - start
    return float(np.percentile(times, 50) * 1e6), float(np.percentile(times, 99) * 1e6)


def bench_seed1(quick=False):
    import onnx
    import onnxruntime
    import torch
    from onnx import numpy_helper

    from uav_edge.core.offload import heuristic_action
    from uav_edge.core.offload_config import load_seed1_config
    from uav_edge.envs.offload_env import OffloadEnv

    torch.set_num_threads(1)
    params = load_seed1_config().params
    repeats = 300 if quick else 3000
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path, source = os.path.abspath(MODEL), 'models/seed1_td3.onnx'
        if not os.path.isfile(path):
            from uav_edge.learn.export_seed1 import export_actor
            from uav_edge.learn.seed1 import build_model, make_training_env

            model = build_model('td3', make_training_env(params, 0), load_seed1_config().learning, 0)
            path, _, _ = export_actor(model, params, os.path.join(tmp, 'seed1_td3.onnx'), samples=8)
            source = 'untrained actor (no models/seed1_td3.onnx)'
        # torch eager with the same weights, rebuilt from the ONNX initialisers (Linear-ReLU-Linear-ReLU-Linear-Tanh)
        weights = [numpy_helper.to_array(t) for t in onnx.load(path).graph.initializer]
        mats = [w for w in weights if w.ndim == 2]
        biases = [w for w in weights if w.ndim == 1]
        layers = []
        for w, b in zip(mats, biases):
            w = w if w.shape[1] == (layers[-2].out_features if layers else params.state_dim) else w.T
            lin = torch.nn.Linear(w.shape[1], w.shape[0])
            lin.weight.data, lin.bias.data = torch.as_tensor(w.copy()), torch.as_tensor(b.copy())
            layers += [lin, torch.nn.ReLU()]
        actor = torch.nn.Sequential(*layers[:-1], torch.nn.Tanh()).eval()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(path, options, providers=['CPUExecutionProvider'])
        obs = np.random.default_rng(0).random((1, params.state_dim), dtype=np.float32)
        ort_out = session.run(None, {'observation': obs})[0]
        with torch.no_grad():
            torch_out = actor(torch.as_tensor(obs)).numpy()
            diff = float(np.max(np.abs(ort_out - torch_out)))
            t50, t99 = _percentiles_us(lambda: actor(torch.as_tensor(obs)), repeats)
        o50, o99 = _percentiles_us(lambda: session.run(None, {'observation': obs}), repeats)
    extra = {'model': source, 'threads': 1, 'batch': 1, 'max_abs_diff': diff}
    rows += [{'bench': 'seed1 TD3 actor inference p50 (onnxruntime)', 'value': o50, 'unit': 'us',
              'p99_us': o99, 'target': None, 'ok': None, **extra},
             {'bench': 'seed1 TD3 actor inference p99 (onnxruntime)', 'value': o99, 'unit': 'us',
              'target': '< 1 slot (1 s)', 'ok': o99 < 1e6, **extra},
             {'bench': 'seed1 TD3 actor inference p50 (torch eager)', 'value': t50, 'unit': 'us',
              'p99_us': t99, 'target': None, 'ok': None, **extra},
             {'bench': 'seed1 TD3 actor inference p99 (torch eager)', 'value': t99, 'unit': 'us',
              'target': None, 'ok': None, 'onnx_speedup_p50': t50 / o50, **extra}]
    env = OffloadEnv(params)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, (64, params.action_dim)).astype(np.float32)
    steps = 500 if quick else 5000
    start = time.perf_counter()
    for k in range(steps):
        _, _, done, _, _ = env.step(actions[k % 64])
        if done:
            env.reset()
    rate = steps / (time.perf_counter() - start)
    rows.append({'bench': 'seed1 OffloadEnv steps/s (I=10, J=10, K=5, random actions)', 'value': rate,
                 'unit': 'steps/s', 'target': None, 'ok': None, 'steps': steps})
    hover = heuristic_action(params)
    start = time.perf_counter()
    for k in range(steps // 5):
        env.step(hover)
        if env.slot >= params.num_slots:
            env.reset()
    rows.append({'bench': 'seed1 hover-heuristic decision + env step per s', 'value': steps / 5 /
                 (time.perf_counter() - start), 'unit': 'steps/s', 'target': None, 'ok': None})
    return rows


if __name__ == '__main__':
    for row in bench_seed1(quick=True):
        print(f"{row['bench']:<62} {row['value']:>10.1f} {row['unit']}")

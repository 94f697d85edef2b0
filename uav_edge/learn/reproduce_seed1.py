"""Reproduce seed 1's Figs. 3-8 (spec §7): PNG + JSON, and a check of every §7 claim on the numbers.

    Fig. 3  convergence of TD3 vs DDPG vs PPO (deterministic evaluation return vs environment steps)
    Fig. 4  final return vs number of UAVs K          Fig. 5  vs idle UDs J
    Fig. 6  vs busy UDs I                             Fig. 7  vs UAV f_k^max (TD3 [D-A47])
    Fig. 8  TD3 trajectories with I = 20, K = 3

Full run (spec [D-A44]): 5 seeds, 200 x 600 = 120k steps per training, sweeps at the spec's values.
--quick: 3 seeds x 2,500 steps for Fig. 3, and 3 sweep points x 1 seed x 2,000 steps, TD3 only, for
Figs. 4-8 (a few minutes on 2 cores; a smoke test of the pipeline, far below the paper's budget). Every point
also shows the spec's hand-made hover policy (not from the paper) as a reference. Intervals are 95 % Student-t
confidence intervals over seeds.

Entry point: main(argv) (hook: `uav-edge reproduce seed1` -> reproduce_seed1.main(argv)).
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from uav_edge import cli_types
from uav_edge.core.offload import heuristic_action
from uav_edge.learn.study import mean_ci

SWEEPS = {   # figure -> (Seed1Params field, full values [D-A44], quick values, fixed overrides, x label)
    4: ('num_uavs', [2, 3, 4, 5, 6], [2, 4, 6], {'num_busy_uds': 10, 'num_idle_uds': 10}, 'number of UAVs K'),
    5: ('num_idle_uds', [2, 4, 6, 8, 10], [2, 6, 10], {'num_busy_uds': 10, 'num_uavs': 5}, 'number of idle UDs J'),
    6: ('num_busy_uds', [4, 6, 8, 10, 12], [4, 8, 12], {'num_idle_uds': 10, 'num_uavs': 5}, 'number of busy UDs I'),
    7: ('uav_cpu_max_hz', [10e9, 15e9, 20e9, 25e9, 30e9], [10e9, 20e9, 30e9], {}, 'UAV max CPU f_k^max (GHz)'),
}
FIG8 = {'num_busy_uds': 20, 'num_idle_uds': 10, 'num_uavs': 3}   # [P] I = 20, K = 3; J = 10 [D-A3]


def confidence_interval(values, level=0.95):
    """(mean, half-width) of a Student-t interval over seeds (study.mean_ci); half-width 0 for a single value."""
    mean, half = mean_ci(values, level)
    return mean, 0.0 if half is None else half


def _job(spec):
    """One training run in a worker process: returns a JSON-able summary (and saves the model if asked)."""
    os.environ.setdefault('OMP_NUM_THREADS', '1')
    import warnings

    import torch

    from uav_edge.core.offload_config import load_seed1_config
    from uav_edge.learn.seed1 import evaluate, policy_fn, train

    warnings.filterwarnings('ignore', category=UserWarning)
    torch.set_num_threads(1)
    config = load_seed1_config(spec['config']).with_params(**spec['overrides'])
    res = train(spec['algo'], config.params, config.learning, spec['steps'], seed=spec['seed'],
                eval_every=spec['eval_every'], eval_periods=2)
    final = evaluate(policy_fn(res.model), config.params, spec['eval_periods'], seed=20_000 + spec['seed'],
                     record_positions=spec.get('positions', False))
    if spec.get('save'):
        Path(spec['save']).parent.mkdir(parents=True, exist_ok=True)
        res.model.save(spec['save'])
    out = {k: spec[k] for k in ('algo', 'seed', 'steps', 'overrides', 'tag')}
    out.update(final_return=final['return'], final_revenue=final['revenue'], final_penalty=final['penalty'],
               curve_steps=res.curve_steps, curve_return=res.curve_return, curve_revenue=res.curve_revenue,
               train_returns=res.train_returns, seconds=res.seconds, model=spec.get('save'))
    if 'positions' in final:
        out['positions'] = final['positions'].tolist()
        out['busy_pos_m'] = np.asarray(final['busy_pos_m']).tolist()
    print(f"  {spec['tag']:<34} {spec['algo']:<4} seed {spec['seed']}: return {final['return']:>10.0f} "
          f"(sum Q {final['revenue']:.0f}) in {res.seconds:.0f} s", flush=True)
    return out


def heuristic_point(config_path, overrides, periods):
    """Return of the spec's hand-made hover policy (not from the paper) on one configuration."""
    from uav_edge.core.offload_config import load_seed1_config
    from uav_edge.learn.seed1 import evaluate

    params = load_seed1_config(config_path).with_params(**overrides).params
    action = heuristic_action(params)
    return evaluate(lambda obs: action, params, periods, seed=20_000)


def plan(args):
    """The list of training jobs for the selected figures."""
    quick = args.quick
    steps = args.steps or (2500 if quick else 120_000)
    sweep_steps = args.sweep_steps or (2000 if quick else steps)
    seeds = list(range(args.seeds or (3 if quick else 5)))
    sweep_seeds = list(range(args.sweep_seeds or (1 if quick else len(seeds))))
    sweep_algos = ['td3'] if quick else ['td3', 'ddpg', 'ppo']
    periods = 5 if quick else 10
    jobs = []

    def add(tag, algo, seed, overrides, n, **extra):
        jobs.append(dict(tag=tag, algo=algo, seed=seed, overrides=overrides, steps=n, config=args.config,
                         eval_periods=periods, **extra))

    if 3 in args.figs:
        for algo in ('td3', 'ddpg', 'ppo'):
            for seed in seeds:
                add('fig3', algo, seed, {}, steps, eval_every=max(steps // 15, 200),
                    save=str(Path(args.out) / 'models' / f'td3_seed{seed}.zip') if algo == 'td3' else None)
    for fig, (name, full, short, fixed, _) in SWEEPS.items():
        if fig not in args.figs:
            continue
        for value in (short if quick else full):
            for algo in (['td3'] if fig == 7 else sweep_algos):
                for seed in sweep_seeds:
                    add(f'fig{fig}:{name}={value:g}', algo, seed, {**fixed, name: value}, sweep_steps, eval_every=0)
    if 8 in args.figs:
        add('fig8', 'td3', 0, dict(FIG8), sweep_steps, eval_every=0, positions=True)
    return jobs, periods


def run_jobs(jobs, workers):
    if workers <= 1:
        return [_job(j) for j in jobs]
    import multiprocessing as mp

    with mp.get_context('spawn').Pool(workers) as pool:
        return pool.map(_job, jobs, chunksize=1)


# --- figures ----------------------------------------------------------------------------------

COLORS = {'td3': 'tab:red', 'ddpg': 'tab:blue', 'ppo': 'tab:green'}


def fig3(results, out):
    import matplotlib.pyplot as plt

    data = {}
    fig, ax = plt.subplots(figsize=(6, 4))
    for algo in ('td3', 'ddpg', 'ppo'):
        runs = [r for r in results if r['tag'] == 'fig3' and r['algo'] == algo]
        if not runs:
            continue
        steps = runs[0]['curve_steps']
        curves = np.array([r['curve_return'] for r in runs])
        stats = [confidence_interval(curves[:, t]) for t in range(curves.shape[1])]
        mean, half = np.array([s[0] for s in stats]), np.array([s[1] for s in stats])
        ax.plot(steps, mean, color=COLORS[algo], label=f'{algo.upper()} ({len(runs)} seeds)')
        ax.fill_between(steps, mean - half, mean + half, color=COLORS[algo], alpha=0.2)
        final = confidence_interval([r['final_return'] for r in runs])
        data[algo] = {'steps': steps, 'mean': mean.tolist(), 'ci95': half.tolist(), 'seeds': [r['seed'] for r in runs],
                      'final_return_mean': final[0], 'final_return_ci95': final[1],
                      'final_returns': [r['final_return'] for r in runs],
                      'final_revenue_mean': float(np.mean([r['final_revenue'] for r in runs])),
                      'final_penalty_mean': float(np.mean([r['final_penalty'] for r in runs])),
                      'train_seconds_mean': float(np.mean([r['seconds'] for r in runs]))}
    ax.set_xlabel('environment steps')
    ax.set_ylabel('return per flight period (sum r, 50 slots)')
    ax.set_title('Fig. 3: convergence (mean, 95 % CI over seeds)')
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / 'fig3_convergence.png', dpi=120)
    plt.close(fig)
    return data


def fig_sweep(results, fig_no, out, heuristic):
    import matplotlib.pyplot as plt

    name, _, _, _, label = SWEEPS[fig_no]
    runs = [r for r in results if r['tag'].startswith(f'fig{fig_no}:')]
    data = {'parameter': name, 'algorithms': {}}
    fig, ax = plt.subplots(figsize=(6, 4))
    scale = 1e-9 if name == 'uav_cpu_max_hz' else 1.0
    for algo in ('td3', 'ddpg', 'ppo'):
        mine = [r for r in runs if r['algo'] == algo]
        if not mine:
            continue
        xs = sorted({r['overrides'][name] for r in mine})
        stats = [confidence_interval([r['final_return'] for r in mine if r['overrides'][name] == x]) for x in xs]
        ax.errorbar(np.array(xs) * scale, [s[0] for s in stats], yerr=[s[1] for s in stats], marker='o',
                    capsize=3, color=COLORS[algo], label=algo.upper())
        data['algorithms'][algo] = {'x': xs, 'mean': [s[0] for s in stats], 'ci95': [s[1] for s in stats],
                                    'revenue_mean': [float(np.mean([r['final_revenue'] for r in mine
                                                                    if r['overrides'][name] == x])) for x in xs]}
    if heuristic:
        xs = sorted(heuristic)
        ax.plot(np.array(xs) * scale, [heuristic[x] for x in xs], 'k--', marker='x',
                label='hover heuristic (not in paper)')
        data['hover_heuristic'] = {'x': xs, 'return': [heuristic[x] for x in xs]}
    ax.set_xlabel(label)
    ax.set_ylabel('final return per flight period')
    ax.set_title(f'Fig. {fig_no}: return vs {label}')
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / f'fig{fig_no}_{name}.png', dpi=120)
    plt.close(fig)
    return data


def fig8(results, out):
    import matplotlib.pyplot as plt

    run = next((r for r in results if r['tag'] == 'fig8'), None)
    if run is None:
        return None
    pos, ud = np.array(run['positions']), np.array(run['busy_pos_m'])
    dist = np.linalg.norm(pos[:, :, None, :2] - ud[None, None, :, :2], axis=-1)   # (T, K, I) horizontal
    nearest = dist.min(axis=1).mean(axis=1)        # mean over UDs of the distance to the closest UAV
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(ud[:, 0], ud[:, 1], c='k', s=12, label='busy UDs')
    for k in range(pos.shape[1]):
        ax.plot(pos[:, k, 0], pos[:, k, 1], '-', label=f'UAV {k}')
        ax.plot(pos[0, k, 0], pos[0, k, 1], 'o', color='gray')
        ax.plot(pos[-1, k, 0], pos[-1, k, 1], '*', markersize=12, color='gold', markeredgecolor='k')
    ax.set_xlim(0, 200), ax.set_ylim(0, 200), ax.set_aspect('equal')
    ax.set_title('Fig. 8: TD3 trajectories (I=20, K=3); o start, * end')
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / 'fig8_trajectories.png', dpi=120)
    plt.close(fig)
    return {'positions_m': run['positions'], 'busy_pos_m': run['busy_pos_m'], 'final_return': run['final_return'],
            'mean_ud_to_nearest_uav_horizontal_m': {'start': float(nearest[0]), 'end': float(nearest[-1])},
            'altitude_m': {'start': pos[0, :, 2].tolist(), 'end': pos[-1, :, 2].tolist()}}


def check_claims(figs):
    """Each §7 claim with the measured evidence: holds True/False/None (not measured)."""
    claims = {}
    f3 = figs.get('fig3') or {}
    if {'td3', 'ddpg', 'ppo'} <= set(f3):
        m = {a: f3[a]['final_return_mean'] for a in f3}
        ci = {a: f3[a]['final_return_ci95'] for a in f3}
        rises = {a: f3[a]['mean'][-1] > f3[a]['mean'][0] for a in f3}
        claims['R3.1'] = {'holds': all(rises.values()), 'evidence': {a: [f3[a]['mean'][0], f3[a]['mean'][-1]]
                                                                     for a in f3}}
        separated = all(m['td3'] - ci['td3'] > m[b] + ci[b] for b in ('ddpg', 'ppo'))
        claims['R3.2'] = {'holds': separated, 'evidence': {'final_mean': m, 'ci95': ci},
                          'note': 'holds = TD3 CI entirely above both baselines\' CIs'}

        def steps_to(algo, frac=0.9):
            mean = np.array(f3[algo]['mean'])
            target = mean[0] + frac * (mean.max() - mean[0])
            return int(f3[algo]['steps'][int(np.argmax(mean >= target))])
        t90 = {a: steps_to(a) for a in f3}
        claims['R3.3'] = {'holds': t90['td3'] <= min(t90['ddpg'], t90['ppo']),
                          'evidence': {'steps_to_90pct_of_own_gain': t90},
                          'note': 'speed to 90 % of each algorithm\'s own improvement; a higher final level counts too'}
        claims['R3.4'] = {'holds': m['td3'] > m['ppo'] > m['ddpg'], 'evidence': m}
    for fig_no, claim in ((4, 'R4.1'), (5, 'R5.1'), (6, 'R6.1'), (7, 'R7.1')):
        d = figs.get(f'fig{fig_no}')
        if not d:
            continue
        mono = {a: bool(np.all(np.diff(v['mean']) > 0)) for a, v in d['algorithms'].items()}
        claims[claim] = {'holds': all(mono.values()), 'evidence': {a: v['mean'] for a, v in d['algorithms'].items()},
                         'x': next(iter(d['algorithms'].values()))['x'], 'strictly_increasing': mono}
        if len(d['algorithms']) > 1:
            best = all(d['algorithms']['td3']['mean'][i] > max(v['mean'][i] for a, v in d['algorithms'].items()
                                                               if a != 'td3')
                       for i in range(len(d['algorithms']['td3']['mean'])))
            claims[{4: 'R4.2', 5: 'R5.2', 6: 'R6.x (TD3 best, not claimed)', 7: 'R7.x'}[fig_no]] = {'holds': best}
    f8 = figs.get('fig8')
    if f8:
        d = f8['mean_ud_to_nearest_uav_horizontal_m']
        claims['R8.1'] = {'holds': d['end'] < d['start'], 'evidence': d,
                          'note': 'mean horizontal distance from each busy UD to its nearest UAV, start vs end'}
    return claims


def main(argv=None):
    parser = argparse.ArgumentParser(prog='uav-edge reproduce seed1', description=__doc__.split('\n')[0])
    parser.add_argument('--quick', action='store_true', help='a few minutes on 2 cores (see module docstring)')
    parser.add_argument('--out', default='results/seed1', help='output directory (PNG + JSON)')
    parser.add_argument('--config', default=None, help='seed-1 YAML (default config/seed1/default.yaml)')
    parser.add_argument('--figs', default='3,4,5,6,7,8', help='comma-separated figure numbers')
    parser.add_argument('--seeds', type=cli_types.count, default=None, help='seeds for Fig. 3 (default 5, quick 3)')
    parser.add_argument('--sweep-seeds', type=cli_types.count, default=None,
                        help='seeds per sweep point (default = seeds, quick 1)')
    parser.add_argument('--steps', type=cli_types.count, default=None,
                        help='steps per Fig. 3 training (default 120000, quick 2500)')
    parser.add_argument('--sweep-steps', type=cli_types.count, default=None,
                        help='steps per sweep training (default = steps, quick 2000)')
    parser.add_argument('--workers', type=cli_types.count, default=2,
                        help='parallel training processes (1 torch thread each)')
    args = parser.parse_args(argv)
    try:
        args.figs = {int(f) for f in args.figs.split(',') if f.strip()}
    except ValueError:
        parser.error(f'--figs: expected numbers like 3,4,8, got {args.figs!r}')
    if not args.figs <= {3, 4, 5, 6, 7, 8}:
        parser.error(f'--figs: only 3-8 exist, got {sorted(args.figs)}')
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from uav_edge.core.offload_config import load_seed1_config
    load_seed1_config(args.config)        # fail fast on a bad config, before any worker starts

    jobs, periods = plan(args)
    print(f'seed1 reproduction: {len(jobs)} trainings on {args.workers} workers -> {out}', flush=True)
    start = time.perf_counter()
    results = run_jobs(jobs, args.workers)
    figs = {}
    if 3 in args.figs:
        figs['fig3'] = fig3(results, out)
    for fig_no, (name, full, short, fixed, _) in SWEEPS.items():
        if fig_no in args.figs:
            heur = {v: heuristic_point(args.config, {**fixed, name: v}, periods)['return']
                    for v in (short if args.quick else full)}
            figs[f'fig{fig_no}'] = fig_sweep(results, fig_no, out, heur)
    if 8 in args.figs:
        figs['fig8'] = fig8(results, out)
    summary = {'quick': args.quick, 'seconds': time.perf_counter() - start, 'jobs': len(jobs),
               'eval_periods': periods, 'claims': check_claims(figs)}
    for name, data in figs.items():
        (out / f'{name}.json').write_text(json.dumps(data, indent=1))
    (out / 'runs.json').write_text(json.dumps([{k: v for k, v in r.items() if k != 'positions'} for r in results],
                                              indent=1))
    (out / 'summary.json').write_text(json.dumps(summary, indent=1, default=str))
    for claim, verdict in summary['claims'].items():
        print(f"  {claim}: {'holds' if verdict['holds'] else 'does NOT hold'}")
    print(f'done in {summary["seconds"]:.0f} s; PNG + JSON in {out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())

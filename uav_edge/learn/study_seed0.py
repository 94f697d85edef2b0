"""Multi-seed convergence study of Tiny MADRL vs dense PPO, greedy and random (seed 0, spec §5.7, §7, C3.2/C3.3).

    python -m uav_edge.learn.study_seed0 --scenario small --seeds 0 1 2 3 4 --episodes 1000
    python -m uav_edge.learn.study_seed0 --scenario default --seeds 0 1 2 --episodes 400

Per training seed it trains Tiny MADRL and dense PPO (same config, same seed; only `prune` differs, so the
two runs are identical until the first pruning step t0) and runs the greedy bandit for the same number of
environment steps. Every `every` episodes (and before the first) the deterministic policy is evaluated on
held-out seeds: |gap| of the mean RSU utility to the SE, exploitability (best unilateral gain / profit, mean
over RSUs) and mean relative price error to the SE prices. Random prices and the untrained policy's mid
prices are measured on the same metrics as references.

Thresholds are fixed up front (THRESHOLDS); a run "settles" at the first checkpoint after which every later
checkpoint stays within the threshold. Runs that have not settled by the end are censored at the budget.
Writes <out>/runs/<algo>_s<seed>.json as it goes (an interrupted study resumes), <out>/summary.json
(mean +- 95 % CI over seeds, paired Tiny - PPO differences) and <out>/curves.png (mean curves, CI bands).
"""
import argparse
import json
import os
import time
from dataclasses import asdict, dataclass, replace

import numpy as np

from uav_edge.core import game
from uav_edge.envs.pricing_env import PricingEnvConfig, price_from_action
from uav_edge.learn.study import load_runs, mean_ci, paired, summary as summary_stat
from uav_edge.learn.tiny_madrl import (GreedyBandit, TrainConfig, exploitability, held_out_episodes,
                                     random_prices)

# Fixed before any run (the untrained policy's mid prices are about 0.4 % / -15 % off the SE in utility on
# the default / small scenario, 0.6-1.1 % exploitable on the default one; training reaches about 0.02 %).
THRESHOLDS = {'abs_gap': (0.02, 0.01, 0.005),            # |mean RSU utility / SE - 1|
              'exploitability': (0.005, 0.001, 0.0005),  # best unilateral gain / profit, mean over RSUs
              'price_error': (0.10, 0.05)}               # mean |p - p_SE| / p_SE over all (RSU, UAV) pairs
METRICS = tuple(THRESHOLDS)
LEARNERS = ('tiny_madrl', 'ppo')
ALGOS = LEARNERS + ('greedy', 'random')


@dataclass(frozen=True)
class StudyConfig:
    """What one study runs; defaults give the spec §5.5 budget on one scenario."""

    scenario: str = 'small'
    seeds: tuple = (0, 1, 2)
    episodes: int = 1000           # training episodes; the pruning schedule keeps the spec proportions
    every: int = 10                # episodes between held-out checkpoints
    eval_seeds: int = 3            # held-out episodes per checkpoint
    final_eval_seeds: int = 10     # held-out episodes for the final numbers
    random_draws: int = 20         # random price matrices for random's exploitability / price error
    algos: tuple = ALGOS

    def __post_init__(self):
        object.__setattr__(self, 'seeds', tuple(int(s) for s in self.seeds))
        object.__setattr__(self, 'algos', tuple(self.algos))
        for key in ('episodes', 'every', 'eval_seeds', 'final_eval_seeds', 'random_draws'):
            value = getattr(self, key)
            if not (isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 1):
                raise ValueError(f'study config: {key}: must be an integer >= 1, got {value!r}')
        if not self.seeds or min(self.seeds) < 0:
            raise ValueError(f'study config: seeds: need at least one seed >= 0, got {self.seeds}')
        unknown = sorted(set(self.algos) - set(ALGOS))
        if unknown or not self.algos:
            raise ValueError(f'study config: algos: unknown {unknown or "(none given)"}; known: {list(ALGOS)}')


# --- metrics of one policy ----------------------------------------------------------------------

def held_out_metrics(policy, params, env_cfg: PricingEnvConfig, equilibrium, seeds):
    """abs_gap, exploitability, price_error of a deterministic policy on held-out episodes (seeds + 1e6).

    Utility: mean per RSU per step over the episodes (as evaluate_policy); exploitability and price error:
    at the prices posted in the last step of the first held-out episode (as held_out_report).
    """
    utility, last_prices = held_out_episodes(policy, params, env_cfg, seeds)
    return price_metrics(last_prices.T, utility, params, equilibrium)          # (I, J) like the SE's prices


def price_metrics(prices, utility, params, equilibrium):
    """The three study metrics for prices (I, J) that earned a mean RSU utility `utility` per step."""
    theory = equilibrium.mean_rsu_utility
    return {'abs_gap': abs(utility - theory) / theory, 'gap': (utility - theory) / theory,
            'exploitability': float(exploitability(prices, params).mean()),
            'price_error': float(np.mean(np.abs(prices - equilibrium.prices) / equilibrium.prices))}


def settling_checkpoint(checkpoints, values, threshold):
    """First checkpoint after which every value stays <= threshold; None if the last one is above it."""
    above = [k for k, v in enumerate(values) if not v <= threshold]
    if not above:
        return checkpoints[0]
    return checkpoints[above[-1] + 1] if above[-1] + 1 < len(checkpoints) else None


def settling_table(curve, episodes):
    """{metric: {threshold: episodes to settle}} for a curve of checkpoints; unsettled runs count as `episodes`
    (censored; listed under 'censored')."""
    table, censored = {}, []
    for metric, thresholds in THRESHOLDS.items():
        table[metric] = {}
        for threshold in thresholds:
            ep = settling_checkpoint(curve['episodes'], curve[metric], threshold)
            if ep is None:
                censored.append(f'{metric}<={threshold}')
            table[metric][str(threshold)] = episodes if ep is None else ep
    return table, censored


# --- one run per algorithm -----------------------------------------------------------------------

def _empty_curve():
    return {'episodes': [], 'env_steps': [], **{m: [] for m in METRICS}, 'gap': []}


def _add_point(curve, episodes, env_steps, metrics):
    curve['episodes'].append(int(episodes))
    curve['env_steps'].append(int(env_steps))
    for key in (*METRICS, 'gap'):
        curve[key].append(float(metrics[key]))


def run_learner(algo, params, equilibrium, cfg: TrainConfig, seed, study: StudyConfig, progress=None):
    """Train Tiny MADRL (prune) or dense PPO with one seed; held-out metrics every `study.every` episodes."""
    import torch

    from uav_edge.learn.tiny_madrl import Trainer

    torch.set_num_threads(1)
    cfg = replace(cfg, prune=(algo == 'tiny_madrl'))
    trainer = Trainer(params, cfg, seed=seed, theoretical_value=equilibrium.mean_rsu_utility)
    eval_seeds = range(study.eval_seeds)
    curve = _empty_curve()
    _add_point(curve, 0, 0, held_out_metrics(trainer.act_deterministic, params, cfg.env, equilibrium, eval_seeds))

    def on_episode(row):
        if trainer.episode % study.every == 0 or trainer.episode == cfg.episodes:
            _add_point(curve, trainer.episode, trainer.env_steps,
                       held_out_metrics(trainer.act_deterministic, params, cfg.env, equilibrium, eval_seeds))
        if progress is not None:
            progress(row)

    start = time.perf_counter()
    trainer.train(on_episode)
    final = held_out_metrics(trainer.act_deterministic, params, cfg.env, equilibrium, range(study.final_eval_seeds))
    return {'curve': curve, 'final': final, 'train_seconds': time.perf_counter() - start,
            'train_reward': [row['reward'] for row in trainer.log],
            'active_actor_params': trainer.log[-1]['active_actor_params']}


def run_greedy(params, equilibrium, env_cfg: PricingEnvConfig, seed, study: StudyConfig, progress=None):
    """Greedy bandit (spec §7) for the learners' episode budget, its exploit-only prices checkpointed alike."""
    bandit = GreedyBandit(params.num_rsus, params.num_uavs, seed=seed)
    curve, train_reward = _empty_curve(), []
    while len(train_reward) < study.episodes:       # no checkpoint at 0: an untried bandit has no prices yet
        chunk = min(study.every, study.episodes - len(train_reward))
        train_reward += bandit.run(params, env_cfg, chunk).tolist()     # (each call restarts the warm-up stream)
        done = len(train_reward)
        _add_point(curve, done, done * env_cfg.episode_steps,
                   held_out_metrics(bandit.policy, params, env_cfg, equilibrium, range(study.eval_seeds)))
        if progress is not None:
            progress(chunk)
    final = held_out_metrics(bandit.policy, params, env_cfg, equilibrium, range(study.final_eval_seeds))
    return {'curve': curve, 'final': final, 'train_reward': train_reward}


def run_random(params, equilibrium, env_cfg: PricingEnvConfig, seed, study: StudyConfig):
    """Random prices U[c, pbar] (spec §7): utility over held-out-length episodes, metrics averaged over draws."""
    utility = float(random_prices(params, env_cfg, study.final_eval_seeds, seed=seed).mean())
    rng = np.random.default_rng([seed, 17])
    draws = [price_metrics(price_from_action(rng.uniform(-1, 1, (params.num_rsus, params.num_uavs)),
                                             params.cost, params.price_cap).T, utility, params, equilibrium)
             for _ in range(study.random_draws)]
    final = {key: float(np.mean([d[key] for d in draws])) for key in (*METRICS, 'gap')}
    return {'final': final}


def constant_price_metrics(action, params, equilibrium, env_cfg: PricingEnvConfig, study: StudyConfig):
    """Every price fixed at the scaled action `action` in [-1, 1]: 0 = the untrained actor's mid price
    (c + pbar) / 2, the reference at episode 0; +1 = pbar, the spec's secondary greedy variant `greedy_max`
    ("always charge pbar", spec §7)."""
    fixed = lambda obs: np.full((len(obs), params.num_rsus, params.num_uavs), float(action))
    return held_out_metrics(fixed, params, env_cfg, equilibrium, range(study.final_eval_seeds))


# --- statistics ----------------------------------------------------------------------------------

def summarise(runs, study: StudyConfig, cfg: TrainConfig, equilibrium, extra=None):
    """Mean +- 95 % CI per algorithm and the paired Tiny - PPO comparison over the seeds both finished."""
    summary = {'theoretical_value': equilibrium.mean_rsu_utility, 'thresholds': THRESHOLDS,
               'episode_steps': cfg.episode_steps * cfg.num_envs, 'prune_start': cfg.prune_start,
               'prune_end': cfg.prune_end, 'algos': {}, **(extra or {})}
    for algo, by_seed in runs.items():
        seeds = sorted(by_seed)
        if not seeds:
            continue
        entry = {'seeds': seeds, 'final': {k: summary_stat([by_seed[s]['final'][k] for s in seeds])
                                           for k in (*METRICS, 'gap')}}
        if 'curve' in by_seed[seeds[0]]:
            tables = [settling_table(by_seed[s]['curve'], study.episodes) for s in seeds]
            entry['settle_episodes'] = {m: {t: {**summary_stat([tab[m][t] for tab, _ in tables]),
                                                'censored': sum(f'{m}<={t}' in c for _, c in tables)}
                                            for t in tables[0][0][m]} for m in METRICS}
        if 'active_actor_params' in by_seed[seeds[0]]:
            entry['active_actor_params'] = by_seed[seeds[0]]['active_actor_params']
        summary['algos'][algo] = entry
    tiny, ppo = runs.get('tiny_madrl', {}), runs.get('ppo', {})
    both = sorted(set(tiny) & set(ppo))
    if both:
        paired = {'seeds': both, 'final': {}, 'settle_episodes': {}}
        for key in (*METRICS, 'gap'):
            paired['final'][key] = _paired([tiny[s]['final'][key] for s in both], [ppo[s]['final'][key] for s in both])
        for metric in METRICS:
            t_tab = [settling_table(tiny[s]['curve'], study.episodes)[0][metric] for s in both]
            p_tab = [settling_table(ppo[s]['curve'], study.episodes)[0][metric] for s in both]
            paired['settle_episodes'][metric] = {t: _paired([a[t] for a in t_tab], [b[t] for b in p_tab])
                                                 for t in t_tab[0]}
        summary['paired_tiny_minus_ppo'] = paired
    return summary


def _paired(tiny, ppo):
    """Per-seed differences Tiny - PPO (negative = Tiny lower, i.e. better for every study metric), with the
    two-sided sign-test p-value over the seeds that differ (1.0 when none differ)."""
    test = paired(tiny, ppo)
    return {**{k: test[k] for k in ('mean', 'ci95', 'values')}, 'tiny_lower': test['b_higher'],
            'equal': test['equal'], 'ppo_lower': test['a_higher'], 'sign_test_p': test['sign_test_p']}


# --- figure --------------------------------------------------------------------------------------

def plot_curves(runs, summary, path, title):
    """Mean curves (95 % CI bands) of the three metrics vs environment steps; random / mid prices as lines."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    labels = {'tiny_madrl': 'Tiny MADRL', 'ppo': 'dense PPO', 'greedy': 'greedy'}
    names = {'abs_gap': '|gap to SE utility|', 'exploitability': 'exploitability', 'price_error': 'price error'}
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.3))
    for ax, metric in zip(axes, METRICS):
        lowest = []
        for k, algo in enumerate(('tiny_madrl', 'ppo', 'greedy')):
            by_seed = runs.get(algo, {})
            if not by_seed:
                continue
            length = min(len(r['curve'][metric]) for r in by_seed.values())
            steps = np.array(next(iter(by_seed.values()))['curve']['env_steps'][:length])
            values = np.array([r['curve'][metric][:length] for r in by_seed.values()])
            stats = [mean_ci(values[:, c]) for c in range(length)]
            mean = np.array([m for m, _ in stats])
            half = np.array([h if h is not None else 0.0 for _, h in stats])
            floor = max(mean[mean > 0].min(initial=1.0) / 3, 1e-9)     # log axis: bands clipped at a floor
            lowest.append(floor)
            ax.plot(steps, mean, f'C{k}', label=f'{labels[algo]} (n={len(values)})')
            ax.fill_between(steps, np.maximum(mean - half, floor), mean + half, color=f'C{k}', alpha=0.2)
        for ref, color, style in (('random', 'C3', '--'), ('mid_price', 'k', ':'), ('greedy_max', 'C5', '--')):
            value = summary.get('algos', {}).get(ref, {}).get('final', {}).get(metric, {}).get('mean')
            if value is None and ref in ('mid_price', 'greedy_max'):
                value = summary.get(ref, {}).get(metric)
            if value is not None:
                ax.axhline(max(value, 1e-9), color=color, ls=style, lw=1, label=ref.replace('_', ' '))
        for threshold in THRESHOLDS[metric]:
            ax.axhline(threshold, color='0.6', lw=0.6)
        ax.axvline(summary['prune_start'] * summary['episode_steps'], color='0.4', ls='-.', lw=0.8,
                   label='first pruning step')
        ax.set(xlabel='environment steps', ylabel=names[metric], yscale='log', title=names[metric])
        if lowest:
            ax.set_ylim(bottom=min(lowest))
    axes[0].legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --- the study -----------------------------------------------------------------------------------

def study(study_cfg: StudyConfig, out_dir, train_cfg: TrainConfig = None, progress=print, bars=True):
    """Run (or resume) every missing run, then write summary.json and curves.png; return the summary."""
    from uav_edge.envs.pricing_env import params_from_scenario
    from uav_edge.learn.tiny_madrl import load_train_config

    cfg = (train_cfg or load_train_config()).scaled(study_cfg.episodes)
    cfg = replace(cfg, eval_every=cfg.episodes)      # the trainer's own evaluation is replaced by ours (no RNG use)
    _, params = params_from_scenario(study_cfg.scenario)
    eq = game.solve_equilibrium(params)
    run_dir = os.path.join(out_dir, 'runs')
    os.makedirs(run_dir, exist_ok=True)
    setup = {'study': {**asdict(study_cfg), 'seeds': list(study_cfg.seeds), 'algos': list(study_cfg.algos)},
             'train_config': cfg.to_dict()}
    setup_path = os.path.join(out_dir, 'study_config.json')
    if os.path.exists(setup_path):
        with open(setup_path) as fh:
            old = json.load(fh)
        if old['train_config'] != setup['train_config'] or old['study']['scenario'] != study_cfg.scenario or \
                old['study']['episodes'] != study_cfg.episodes or old['study']['every'] != study_cfg.every or \
                old['study']['eval_seeds'] != study_cfg.eval_seeds:
            raise ValueError(f'{out_dir}: holds a study with a different scenario/budget/config; use a new --out')
    with open(setup_path, 'w') as fh:
        json.dump(setup, fh, indent=1)
    progress(f'{study_cfg.scenario}: SE {eq.mean_rsu_utility:.4f} per RSU per step; {study_cfg.episodes} episodes '
             f'(pruning {cfg.prune_start}..{cfg.prune_end}), seeds {list(study_cfg.seeds)}, out {out_dir}')
    for seed in study_cfg.seeds:
        for algo in study_cfg.algos:
            path = os.path.join(run_dir, f'{algo}_s{seed}.json')
            if os.path.exists(path):
                continue
            start = time.perf_counter()
            bar = _bar(bars, study_cfg.episodes, f'{algo} s{seed}') if algo != 'random' else None
            tick = (lambda row: bar.update(1)) if bar is not None else None
            if algo in LEARNERS:
                result = run_learner(algo, params, eq, cfg, seed, study_cfg, tick)
            elif algo == 'greedy':
                result = run_greedy(params, eq, cfg.env, seed, study_cfg,
                                    bar.update if bar is not None else None)
            else:
                result = run_random(params, eq, cfg.env, seed, study_cfg)
            if bar is not None:
                bar.close()
            result.update(algo=algo, seed=seed, seconds=time.perf_counter() - start)
            with open(path + '.tmp', 'w') as fh:
                json.dump(result, fh)
            os.replace(path + '.tmp', path)
            f = result['final']
            progress(f'  {algo:10s} s{seed}: |gap| {100 * f["abs_gap"]:.3f} %, exploitability '
                     f'{100 * f["exploitability"]:.3f} %, price error {100 * f["price_error"]:.2f} % '
                     f'({result["seconds"]:.0f} s)')
    return write_summary(out_dir, study_cfg, cfg, params, eq)


def write_summary(out_dir, study_cfg, cfg, params, eq):
    runs = load_runs(out_dir)
    extra = {'scenario': study_cfg.scenario, 'episodes': study_cfg.episodes,
             'mid_price': constant_price_metrics(0.0, params, eq, cfg.env, study_cfg),
             'greedy_max': constant_price_metrics(1.0, params, eq, cfg.env, study_cfg)}
    summary = summarise(runs, study_cfg, cfg, eq, extra)
    with open(os.path.join(out_dir, 'summary.json'), 'w') as fh:
        json.dump(summary, fh, indent=1)
    plot_curves(runs, summary, os.path.join(out_dir, 'curves.png'),
                f'seed 0, scenario {study_cfg.scenario}: held-out metrics, mean and 95 % CI over training seeds')
    return summary


def _bar(enabled, total, desc):
    if not enabled:
        return None
    from tqdm import tqdm
    return tqdm(total=total, unit='ep', desc=desc, leave=False)


def format_summary(summary):
    """A few readable lines: final metrics and settling episodes, mean +- CI, and the paired differences."""
    fmt = lambda s, scale=100, unit='%': (f"{scale * s['mean']:.3g}{unit}" +
                                          (f" +- {scale * s['ci95']:.2g}" if s.get('ci95') is not None else ''))
    lines = [f"scenario {summary['scenario']}, SE {summary['theoretical_value']:.4f}; " + '; '.join(
        f'{name}: ' + ', '.join(f'{k} {100 * summary[ref][k]:.3g}%' for k in (*METRICS, 'gap'))
        for ref, name in (('mid_price', 'mid prices'), ('greedy_max', 'greedy_max (pbar)')) if ref in summary)]
    for algo, entry in summary['algos'].items():
        lines.append(f"{algo:10s} n={len(entry['seeds'])} final " +
                     ', '.join(f'{k} {fmt(entry["final"][k])}' for k in METRICS))
        for metric, table in entry.get('settle_episodes', {}).items():
            lines.append(f"{'':10s}   settle {metric}: " + ', '.join(
                f'<={float(t):g}: {fmt(s, 1, "")}' + (f' ({s["censored"]} never)' if s['censored'] else '')
                for t, s in table.items()))
    paired = summary.get('paired_tiny_minus_ppo')
    if paired:
        lines.append(f"paired Tiny - PPO over seeds {paired['seeds']} (negative = Tiny lower):")
        for metric, table in paired['settle_episodes'].items():
            lines.append(f'   settle {metric}: ' + ', '.join(
                f"<={float(t):g}: {fmt(s, 1, '')} ({s['tiny_lower']}/{s['equal']}/{s['ppo_lower']}, "
                f"p={s['sign_test_p']:.2g})"
                for t, s in table.items()))
        lines.append('   final: ' + ', '.join(f'{k} {fmt(paired["final"][k])}' for k in METRICS))
    return '\n'.join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--scenario', default='small', help='scenario name or YAML path (default: small)')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2], help='training seeds')
    parser.add_argument('--episodes', type=int, default=1000, help='training episodes per run')
    parser.add_argument('--every', type=int, default=10, help='episodes between held-out checkpoints')
    parser.add_argument('--eval-seeds', type=int, default=3, help='held-out episodes per checkpoint')
    parser.add_argument('--algos', nargs='+', default=list(ALGOS), choices=ALGOS)
    parser.add_argument('--out', default=None, help='output folder (default: results/seed0_study/<scenario>)')
    parser.add_argument('--summary-only', action='store_true', help='only re-summarise the finished runs')
    parser.add_argument('--quiet', action='store_true', help='no progress bars')
    args = parser.parse_args(argv)
    try:
        cfg = StudyConfig(scenario=args.scenario, seeds=tuple(args.seeds), episodes=args.episodes, every=args.every,
                          eval_seeds=args.eval_seeds, algos=tuple(args.algos))
    except ValueError as exc:
        parser.error(str(exc))
    out = args.out or os.path.join('results', 'seed0_study', os.path.splitext(os.path.basename(args.scenario))[0])
    if args.summary_only:
        from uav_edge.envs.pricing_env import params_from_scenario
        from uav_edge.learn.tiny_madrl import load_train_config

        train_cfg = replace(load_train_config().scaled(cfg.episodes), eval_every=cfg.episodes)
        _, params = params_from_scenario(cfg.scenario)
        summary = write_summary(out, cfg, train_cfg, params, game.solve_equilibrium(params))
    else:
        summary = study(cfg, out, bars=not args.quiet)
    print(format_summary(summary))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())

"""Reproduce the seed-0 paper's experiments (spec §8): Figs. 3-6 as PNG plus the JSON behind them.

    reproduce(out_dir, quick=True)   # a few minutes on 2 cores: shorter training, 1 training seed
    reproduce(out_dir)               # spec budgets: 1000 episodes, 3 training seeds, learned sweep points

Fig. 3  convergence, 5 RSUs / 15 UAVs (default scenario): Tiny MADRL, PPO, greedy, random, theoretical.
Fig. 4  price and demand dynamics, 2 RSUs / 3 UAVs (small scenario), Tiny MADRL, with SE levels.
Fig. 5  average reward vs bandwidth cost c and vs price cap pbar; Fig. 6 vs number of RSUs / UAVs.
        Theory = mean over 5 scenario seeds of the SE (spec §8.3); random/greedy on scenario seed 0;
        learned points (Tiny MADRL, PPO) in full mode only.
`claims` in the JSON states, per spec §8 claim id, whether it holds with the measured numbers.
"""
import json
import os
import time

import numpy as np

from uav_edge.core import game
from uav_edge.learn.tiny_madrl import (GreedyBandit, Trainer, TrainConfig, convergence_episode, held_out_report,
                                       load_train_config, random_prices)

FIG5_SIZES = [(3, 10), (3, 15), (5, 15)]                 # (J RSUs, I UAVs) curves, spec §6.3
FIG5_COSTS = [1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0]
FIG5_CAPS = [5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 35.0]
FIG6_RSUS = [2, 3, 4, 5, 6]
FIG6_UAVS = [3, 6, 9, 12, 15]
THEORY_SEEDS = range(5)


def _scenario(base, seed=0, J=None, I=None, cost=None, cap=None):
    changes = {'seed': seed}
    if J is not None:
        changes['rsus.count'] = J
    if I is not None:
        changes['uavs.count'] = I
    if cost is not None:
        changes['rsus.sample.cost'] = cost
    if cap is not None:
        changes['rsus.sample.price_cap'] = cap
    return base.with_overrides(changes)


def _params(base, **kw):
    return _scenario(base, **kw).sample().game_params()


def _train(params, cfg, seed, equilibrium):
    trainer = Trainer(params, cfg, seed=seed, theoretical_value=equilibrium.mean_rsu_utility)
    prices, demand = [], []
    trainer.train(lambda row: (prices.append(trainer.episode_prices.copy()),
                               demand.append(trainer.episode_demand.copy())))
    return trainer, np.array(prices), np.array(demand)


def _final(rewards, frac=0.1):
    """Mean of the last 10% of episodes (spec §5.7 uses the last 100 of 1000)."""
    rewards = np.asarray(rewards)
    return float(rewards[-max(1, int(len(rewards) * frac)):].mean())


def eval_convergence_episode(log, theory, band=0.02):
    """First evaluated episode after which the held-out deterministic reward stays within +-band of the SE."""
    evals = [(row['episode'], row['eval_reward']) for row in log if 'eval_reward' in row]
    outside = [ep for ep, value in evals if abs(value - theory) > band * theory]
    if not outside:
        return evals[0][0] if evals else None
    after = [ep for ep, _ in evals if ep > outside[-1]]
    return after[0] if after else None


def fig3(base, cfg, seeds, greedy_levels=21):
    """Convergence on the default scenario (spec §8.2 Fig. 3)."""
    params = _params(base)
    eq = game.solve_equilibrium(params)
    theory = eq.mean_rsu_utility
    result = {'theoretical_value': theory, 'episodes': cfg.episodes, 'seeds': list(seeds), 'runs': {}}
    for name, prune in (('tiny_madrl', True), ('ppo', False)):
        runs = []
        for seed in seeds:
            start = time.perf_counter()
            trainer, _, _ = _train(params, TrainConfig(**{**cfg.to_dict(), 'prune': prune}), seed, eq)
            rewards = [row['reward'] for row in trainer.log]
            runs.append({'seed': seed, 'train_seconds': time.perf_counter() - start, 'rewards': rewards,
                         'eval': [(row['episode'], row['eval_reward']) for row in trainer.log if 'eval_reward' in row],
                         'final_train_reward': _final(rewards),
                         'convergence_episode_spec': convergence_episode(rewards, max(1, len(rewards) // 10)),
                         'eval_within_2pct_episode': eval_convergence_episode(trainer.log, theory),
                         'active_actor_params': trainer.log[-1]['active_actor_params'],
                         'held_out': held_out_report(trainer.act_deterministic, params, cfg.env, eq, range(10))})
        result['runs'][name] = runs
    result['runs']['greedy'] = [{'rewards': GreedyBandit(*params.q.shape[::-1], levels=greedy_levels)
                                 .run(params, cfg.env, cfg.episodes).tolist()}]
    result['runs']['random'] = [{'rewards': random_prices(params, cfg.env, cfg.episodes).tolist()}]
    for name in ('greedy', 'random'):
        run = result['runs'][name][0]
        run['final_train_reward'] = _final(run['rewards'])
    summary = {}
    for name, runs in result['runs'].items():
        finals = [r['final_train_reward'] for r in runs]
        entry = {'final_train_reward': float(np.mean(finals)), 'final_train_gap': float(np.mean(finals) / theory - 1)}
        if 'held_out' in runs[0]:
            gaps = [r['held_out']['gap'] for r in runs]
            entry.update(held_out_gap_mean=float(np.mean(gaps)), held_out_gap_std=float(np.std(gaps)),
                         held_out_exploitability=float(np.mean([r['held_out']['exploitability_mean'] for r in runs])),
                         price_relative_error=float(np.mean([r['held_out']['price_relative_error'] for r in runs])),
                         convergence_episode_spec=float(np.mean([r['convergence_episode_spec'] for r in runs])),
                         eval_within_2pct_episode=[r['eval_within_2pct_episode'] for r in runs],
                         active_actor_params=runs[0]['active_actor_params'])
        summary[name] = entry
    result['summary'] = summary
    return result


def fig4(base_small, cfg, seed=0):
    """Price / demand dynamics of 2 RSUs and 3 UAVs (spec §8.2 Fig. 4)."""
    params = _params(base_small)
    eq = game.solve_equilibrium(params)
    trainer, prices, demand = _train(params, cfg, seed, eq)
    curves_conv = {}
    for kind, series in (('price', prices), ('demand', demand)):
        for j in range(series.shape[1]):
            for i in range(series.shape[2]):
                curves_conv[f'{kind}_rsu{j}_uav{i}'] = convergence_episode(series[:, j, i], max(1, len(series) // 10))
    return {'theoretical_value': eq.mean_rsu_utility,
            'se_prices': eq.prices.T.tolist(), 'se_demand': eq.demand.T.tolist(),
            'prices': prices.tolist(), 'demand': demand.tolist(), 'convergence_episode': curves_conv,
            'held_out': held_out_report(trainer.act_deterministic, params, cfg.env, eq, range(10))}


def _point(base, env, learn_cfg, greedy_episodes, **kw):
    """Theory (mean of 5 scenario seeds), random and greedy (seed 0), optional Tiny MADRL / PPO (seed 0)."""
    theory = [game.solve_equilibrium(_params(base, seed=s, **kw)).mean_rsu_utility for s in THEORY_SEEDS]
    params = _params(base, seed=0, **kw)
    eq = game.solve_equilibrium(params)
    row = {**kw, 'theory': float(np.mean(theory)), 'theory_seed0': eq.mean_rsu_utility,
           'random': float(random_prices(params, env, 2).mean()),
           'greedy': _final(GreedyBandit(*params.q.shape[::-1]).run(params, env, greedy_episodes), 0.2)}
    if learn_cfg is not None:
        for name, prune in (('tiny_madrl', True), ('ppo', False)):
            trainer, _, _ = _train(params, TrainConfig(**{**learn_cfg.to_dict(), 'prune': prune}), 0, eq)
            row[name] = held_out_report(trainer.act_deterministic, params, env, eq, range(3))['reward']
    return row


def fig5_6(base, env, learn_cfg, greedy_episodes):
    """Sweeps of Figs. 5-6 (spec §6.3 grids); learned points only when learn_cfg is given."""
    point = lambda learn, **kw: _point(base, env, learn, greedy_episodes, **kw)
    sweeps = {'fig5a': [], 'fig5b': []}
    for J, I in FIG5_SIZES:
        learn = learn_cfg if (J, I) == (3, 15) else None
        sweeps['fig5a'].append({'J': J, 'I': I,
                                'points': [point(learn, J=J, I=I, cost=c, cap=20.0) for c in FIG5_COSTS]})
        sweeps['fig5b'].append({'J': J, 'I': I, 'points': [point(learn, J=J, I=I, cost=2.5, cap=p) for p in FIG5_CAPS]})
    sweeps['fig6a'] = [point(learn_cfg, J=J, I=15) for J in FIG6_RSUS]
    sweeps['fig6b'] = [point(learn_cfg, J=3, I=I) for I in FIG6_UAVS]
    return sweeps


def fig6_learned(base, env, learn_cfg, greedy_episodes):
    """Only the Fig. 6 sweeps, with learned points: the C6a.2/C6a.3/C6b.2 checks at a chosen budget."""
    return {'fig6a': [_point(base, env, learn_cfg, greedy_episodes, J=J, I=15) for J in FIG6_RSUS],
            'fig6b': [_point(base, env, learn_cfg, greedy_episodes, J=3, I=I) for I in FIG6_UAVS]}


def learned_sweep_claims(sweeps):
    """C6a.2 / C6b.2 (Tiny MADRL closest to the SE) and C6a.3 (Tiny beats PPO), from the Fig. 6 sweeps.

    Closeness = mean over the sweep points of |reward - SE of that scenario|; None without learned points.
    """
    claims = {}
    for key in ('fig6a', 'fig6b'):
        pts, cid = sweeps[key], 'C6a.2' if key == 'fig6a' else 'C6b.2'
        if 'tiny_madrl' not in pts[0]:
            claims[cid] = {'holds': None, 'evidence': 'learned sweep points are computed in full mode only'}
            if key == 'fig6a':
                claims['C6a.3'] = dict(claims[cid])
            continue
        err = {m: float(np.mean([abs(p[m] - p['theory_seed0']) for p in pts])) for m in
               ('tiny_madrl', 'ppo', 'greedy', 'random')}
        evidence = 'mean |reward - SE|: ' + ', '.join(f'{k} {v:.3f}' for k, v in err.items())
        closest = err['tiny_madrl'] <= min(err.values())
        beats_ppo = err['tiny_madrl'] < err['ppo']
        claims[cid] = {'holds': bool(closest and beats_ppo if key == 'fig6b' else closest), 'evidence': evidence}
        if key == 'fig6a':
            claims['C6a.3'] = {'holds': bool(beats_ppo), 'evidence': evidence}
    return claims


def _decreasing(values):
    return bool(np.all(np.diff(values) < 0))


def _increasing(values):
    return bool(np.all(np.diff(values) > 0))


def check_claims(f3, f4, sweeps):
    """Spec §8 claims: {id: {'holds': bool | None, 'evidence': str}} (None = not checkable in this run)."""
    s, th = f3['summary'], f3['theoretical_value']
    tiny, ppo = s['tiny_madrl'], s['ppo']
    gap = {k: abs(v['final_train_gap']) for k, v in s.items()}
    claims = {}
    claims['C3.1'] = {'holds': bool(abs(tiny['final_train_gap']) < 0.05),
                      'evidence': f"Tiny MADRL final training reward {tiny['final_train_reward']:.3f} vs SE {th:.3f} "
                                  f"({100 * tiny['final_train_gap']:+.2f}%)"}
    t_conv, p_conv = tiny['eval_within_2pct_episode'], ppo['eval_within_2pct_episode']
    comparable = None not in t_conv + p_conv
    claims['C3.2'] = {'holds': bool(np.mean(t_conv) < np.mean(p_conv)) if comparable else None,
                      'evidence': f'episode after which held-out reward stays within 2% of SE: Tiny {t_conv}, '
                                  f'PPO {p_conv}; spec 5.7 +-5% criterion: '
                                  f'Tiny {tiny["convergence_episode_spec"]:.0f}, '
                                  f'PPO {ppo["convergence_episode_spec"]:.0f}'}
    claims['C3.3'] = {'holds': bool(gap['tiny_madrl'] < min(gap['ppo'], gap['greedy'], gap['random'])),
                      'evidence': '|final training gap|: ' + ', '.join(f'{k} {100 * v:.2f}%' for k, v in gap.items())
                                  + f"; held-out |gap| Tiny {100 * abs(tiny['held_out_gap_mean']):.2f}%, "
                                    f"PPO {100 * abs(ppo['held_out_gap_mean']):.2f}%"}
    conv = f4['convergence_episode']
    price_conv = [v for k, v in conv.items() if k.startswith('price')]
    demand_conv = [v for k, v in conv.items() if k.startswith('demand')]
    last = np.array(f4['prices'][-max(1, len(f4['prices']) // 10):]).mean(0)
    claims['C4.1'] = {'holds': bool(max(price_conv) < 0.9 * len(f4['prices'])),
                      'evidence': f'price convergence episodes {price_conv} of {len(f4["prices"])}; final prices '
                                  f'{np.round(last, 2).tolist()} vs SE {np.round(f4["se_prices"], 2).tolist()}'}
    claims['C4.2'] = {'holds': bool(abs(np.median(demand_conv) - 110) <= 55),
                      'evidence': f'demand convergence episodes {demand_conv} (paper: about 110)'}
    claims['C4.4'] = {'holds': True, 'evidence': 'follower best response is decreasing in own price by construction '
                                                 '(Eq. 17/23); tested in test_game.py'}
    for fig, key in (('5a', 'fig5a'), ('5b', 'fig5b')):
        curves = {(c['J'], c['I']): [p['theory'] for p in c['points']] for c in sweeps[key]}
        mono = all(_decreasing(v) for v in curves.values()) if fig == '5a' else \
            all(np.all(np.diff(v) >= -1e-9) for v in curves.values())
        claims[f'C{fig}.1'] = {'holds': bool(mono), 'evidence': 'theory curves: ' + '; '.join(
            f'J={J},I={I}: {np.round(v, 2).tolist()}' for (J, I), v in curves.items())}
        claims[f'C{fig}.2' if fig == '5a' else 'C5b.3'] = {
            'holds': bool(np.all(np.array(curves[(3, 15)]) > np.array(curves[(3, 10)]))
                          and np.all(np.array(curves[(5, 15)]) < np.array(curves[(3, 15)]))),
            'evidence': 'more UAVs (3,15) > (3,10); more RSUs (5,15) < (3,15) at every point (theory)'}
    caps = [p['theory'] for p in sweeps['fig5b'][0]['points']]
    claims['C5b.2'] = {'holds': bool(np.any(np.diff(caps) < -1e-6)),
                       'evidence': f'theory never falls with pbar (spec 8.2 note): {np.round(caps, 2).tolist()}'}
    f6a = [p['theory'] for p in sweeps['fig6a']]
    f6b = [p['theory'] for p in sweeps['fig6b']]
    claims['C6a.1'] = {'holds': _decreasing(f6a), 'evidence': f'theory vs J={FIG6_RSUS}: {np.round(f6a, 2).tolist()}'}
    claims['C6b.1'] = {'holds': _increasing(f6b), 'evidence': f'theory vs I={FIG6_UAVS}: {np.round(f6b, 2).tolist()}'}
    claims.update(learned_sweep_claims(sweeps))
    return claims


def plot_all(result, out_dir):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    f3 = result['fig3']
    fig, ax = plt.subplots(figsize=(7, 4.5))
    smooth = lambda x, w=10: np.convolve(x, np.ones(w) / w, mode='valid') if len(x) >= w else np.asarray(x)
    for name, style in (('tiny_madrl', 'C0'), ('ppo', 'C1'), ('greedy', 'C2'), ('random', 'C3')):
        curves = np.array([r['rewards'] for r in f3['runs'][name]])
        ax.plot(smooth(curves.mean(0)), style, label={'tiny_madrl': 'Tiny MADRL', 'ppo': 'PPO'}.get(name, name))
    ax.axhline(f3['theoretical_value'], color='k', ls='--', label='theoretical (SE)')
    ax.set(xlabel='episode', ylabel='average reward of RSUs (per RSU per step)', title='Fig. 3: 5 RSUs, 15 UAVs')
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, 'fig3_convergence.png'), dpi=110)
    plt.close(fig)

    f4 = result['fig4']
    prices, demand = np.array(f4['prices']), np.array(f4['demand'])
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for k, (ax, series, se, label) in enumerate(((axes[0], prices, f4['se_prices'], 'price'),
                                                 (axes[1], demand, f4['se_demand'], 'demand'))):
        for j in range(series.shape[1]):
            for i in range(series.shape[2]):
                line, = ax.plot(series[:, j, i], label=f'RSU {j + 1}, UAV {i + 1}')
                ax.axhline(se[j][i], color=line.get_color(), ls=':', lw=0.8)
        ax.set(xlabel='episode', ylabel=label, title=f'Fig. 4({"ab"[k]}): {label} (dotted: SE)')
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, 'fig4_dynamics.png'), dpi=110)
    plt.close(fig)

    sw = result['sweeps']
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, key, xkey, xlabel in ((axes[0], 'fig5a', 'cost', 'bandwidth cost c'),
                                  (axes[1], 'fig5b', 'cap', 'upper price pbar')):
        for curve in sw[key]:
            xs = [p[xkey] for p in curve['points']]
            line, = ax.plot(xs, [p['theory'] for p in curve['points']], 'o-',
                            label=f"theory J={curve['J']}, I={curve['I']}")
            ax.plot(xs, [p['greedy'] for p in curve['points']], 's:', color=line.get_color(), alpha=0.6)
            ax.plot(xs, [p['random'] for p in curve['points']], 'x:', color=line.get_color(), alpha=0.4)
            if 'tiny_madrl' in curve['points'][0]:
                ax.plot(xs, [p['tiny_madrl'] for p in curve['points']], '^-', color=line.get_color(), alpha=0.8,
                        label=f"Tiny MADRL J={curve['J']}, I={curve['I']}")
        ax.set(xlabel=xlabel, ylabel='average reward of RSUs', title=f'Fig. {key[3:]} (squares greedy, x random)')
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, 'fig5_reward_vs_cost_cap.png'), dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, key, xkey, xlabel in ((axes[0], 'fig6a', 'J', 'number of RSUs (I = 15)'),
                                  (axes[1], 'fig6b', 'I', 'number of UAVs (J = 3)')):
        pts = sw[key]
        xs = [p[xkey] for p in pts]
        for name in ('theory', 'tiny_madrl', 'ppo', 'greedy', 'random'):
            if name in pts[0]:
                ax.plot(xs, [p[name] for p in pts], 'o-' if name == 'theory' else '.--', label=name)
        ax.set(xlabel=xlabel, ylabel='average reward of RSUs', title=f'Fig. {key[3:]}')
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, 'fig6_reward_vs_counts.png'), dpi=110)
    plt.close(fig)


def reproduce(out_dir='results/seed0', quick=False, progress=print):
    """Run all seed-0 experiments; write fig3..fig6 PNGs and seed0_results.json to out_dir; return the dict."""
    import torch

    from uav_edge.core.scenario import resolve_scenario

    torch.set_num_threads(1)
    os.makedirs(out_dir, exist_ok=True)
    base_cfg = load_train_config()
    cfg = base_cfg.scaled(150 if quick else base_cfg.episodes)
    seeds = [0] if quick else [0, 1, 2]
    default, small = resolve_scenario('default'), resolve_scenario('small')
    start = time.perf_counter()
    result = {'quick': quick, 'config': cfg.to_dict()}
    progress(f'Fig. 3: Tiny MADRL vs PPO vs greedy vs random, {cfg.episodes} episodes x seeds {seeds}')
    result['fig3'] = fig3(default, cfg, seeds)
    progress('Fig. 4: price/demand dynamics (2 RSUs, 3 UAVs)')
    result['fig4'] = fig4(small, cfg)
    progress('Figs. 5-6: sweeps (theory over 5 scenario seeds, greedy, random' + ('' if quick else ', learned') + ')')
    sweep_cfg = None if quick else base_cfg.scaled(300)
    result['sweeps'] = fig5_6(default, cfg.env, sweep_cfg, greedy_episodes=20 if quick else 100)
    result['claims'] = check_claims(result['fig3'], result['fig4'], result['sweeps'])
    result['seconds'] = time.perf_counter() - start
    with open(os.path.join(out_dir, 'seed0_results.json'), 'w') as fh:
        json.dump(result, fh, default=float)
    plot_all(result, out_dir)
    return result


if __name__ == '__main__':
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='results/seed0')
    parser.add_argument('--quick', action='store_true')
    parser.add_argument('--fig6-learned', type=int, metavar='EPISODES', default=None,
                        help='only the Fig. 6 sweeps with learned points trained for EPISODES (C6a.2/C6a.3/C6b.2)')
    a = parser.parse_args()
    if a.fig6_learned is not None:
        import torch

        from uav_edge.core.scenario import resolve_scenario

        torch.set_num_threads(1)
        os.makedirs(a.out, exist_ok=True)
        learn = load_train_config().scaled(a.fig6_learned)
        start = time.perf_counter()
        sweeps = fig6_learned(resolve_scenario('default'), learn.env, learn, greedy_episodes=a.fig6_learned)
        res = {'episodes': a.fig6_learned, 'config': learn.to_dict(), 'sweeps': sweeps,
               'claims': learned_sweep_claims(sweeps), 'seconds': time.perf_counter() - start}
        with open(os.path.join(a.out, 'fig6_learned.json'), 'w') as fh:
            json.dump(res, fh, default=float)
    else:
        res = reproduce(a.out, a.quick)
    for cid, claim in res['claims'].items():
        print(cid, claim['holds'], claim['evidence'])

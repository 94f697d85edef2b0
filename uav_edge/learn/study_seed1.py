"""Multi-seed study of seed 1's TD3 vs DDPG vs PPO with validation-based model selection (issue 5, spec R3.2/R3.4).

    python -m uav_edge.learn.study_seed1 --steps 30000 --seeds 3 4 5 6 7 --algos td3 ddpg ppo \\
        --out results/seed1_study --set learning.actor_lr=3e-4 learning.critic_lr=3e-4 --jobs 2

Protocol (fixed before any run, identical for every algorithm):
  * training: `uav_edge.learn.seed1.train` with the config (default config/seed1/default.yaml + --set overrides);
  * every `eval_every` (1000) environment steps: deterministic evaluation on VALIDATION flight periods
    (val_periods = 3, seeds 30000 + 97 seed, 30000 + 97 seed + 1, ...); the policy with the best validation
    return so far (checkpoints at steps >= eval_every; the untrained step-0 policy is plotted but not a
    candidate; ties keep the earlier one) is copied, as SB3's EvalCallback does;
  * at the end: TEST on held-out periods (test_periods = 10, seeds 20000 + seed, ...: the final-evaluation
    convention of docs/seed1.md) of BOTH the last policy and the validation-selected one. Test periods are
    never used for selection. The spec's hover heuristic is evaluated on the same test periods as a reference.
Runs are ordered off-policy first (td3 s3, ddpg s3, td3 s4, ...), then PPO, so a cut-short study has paired seeds.

Writes <out>/runs/<algo>_s<seed>.json as runs finish (an interrupted study resumes; finished runs are skipped),
<out>/progress.log (one line per evaluation), <out>/summary.json (per algorithm: per seed and mean +- 95 %
t-interval of last / selected test return, sum Q, penalties; Welch t-tests TD3 vs each baseline; CPU seconds),
<out>/study.png (validation curves with CI bands; test returns with CI error bars) and, for TD3 and PPO (the
exportable policies, uav_edge.learn.export_seed1), the selected policy of the seed with the best validation return
as <out>/models/<algo>_s<seed>_selected.zip (the other seeds' zips are deleted).
"""
import argparse
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from uav_edge.learn.seed1 import ALGORITHMS
from uav_edge.learn.study import load_runs, mean_ci, paired, welch, summary as summary_stat

SAVED_ALGOS = ('td3', 'ppo')     # algorithms whose selected policy is kept for export

VAL_SEED, VAL_STRIDE, TEST_SEED = 30_000, 97, 20_000
OFF_POLICY = ('td3', 'ddpg')


def validation_seed(seed):
    """First flight-period seed of the validation set of training seed `seed`."""
    return VAL_SEED + VAL_STRIDE * seed


def test_seed(seed):
    """First flight-period seed of the held-out test set of training seed `seed` (docs/seed1.md convention)."""
    return TEST_SEED + seed


@dataclass(frozen=True)
class StudyConfig:
    steps: int = 30_000
    seeds: tuple = (3, 4, 5, 6, 7)
    algos: tuple = ALGORITHMS
    eval_every: int = 1000
    val_periods: int = 3
    test_periods: int = 10
    config: str = None                          # seed-1 YAML (None: config/seed1/default.yaml)
    overrides: dict = field(default_factory=dict)   # {'learning.actor_lr': 3e-4, ...}

    def __post_init__(self):
        object.__setattr__(self, 'seeds', tuple(int(s) for s in self.seeds))
        object.__setattr__(self, 'algos', tuple(self.algos))
        for key in ('steps', 'eval_every', 'val_periods', 'test_periods'):
            value = getattr(self, key)
            if not (isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 1):
                raise ValueError(f'study config: {key}: must be an integer >= 1, got {value!r}')
        if self.steps < self.eval_every:
            raise ValueError(f'study config: steps ({self.steps}) must be >= eval_every ({self.eval_every})')
        if not self.seeds or min(self.seeds) < 0 or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f'study config: seeds: need distinct seeds >= 0, got {list(self.seeds)}')
        unknown = sorted(set(self.algos) - set(ALGORITHMS))
        if unknown or not self.algos:
            raise ValueError(f'study config: algos: unknown {unknown or "(none given)"}; known: {list(ALGORITHMS)}')
        for s in self.seeds:     # validation and test flight periods never overlap
            val = set(range(validation_seed(s), validation_seed(s) + self.val_periods))
            if val & set(range(test_seed(s), test_seed(s) + self.test_periods)):
                raise ValueError(f'study config: seed {s}: validation and test flight periods overlap')

    def load(self):
        from uav_edge.core.offload_config import load_seed1_config
        return load_seed1_config(self.config, self.overrides)

    def to_dict(self):
        return {**asdict(self), 'seeds': list(self.seeds), 'algos': list(self.algos)}


def run_order(seeds, algos):
    """Off-policy learners interleaved by seed (td3 s3, ddpg s3, td3 s4, ...), then the others (PPO) by seed."""
    first = [(a, s) for s in seeds for a in algos if a in OFF_POLICY]
    return first + [(a, s) for s in seeds for a in algos if a not in OFF_POLICY]


# --- one run ---------------------------------------------------------------------------------------

def run_one(algo, seed, study: StudyConfig, save_selected=None, log=print):
    """Train one (algo, seed) with validation checkpoints; test the last and the selected policy. JSON-able dict."""
    import torch

    from uav_edge.learn.seed1 import evaluate, policy_fn, train

    torch.set_num_threads(1)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    config = study.load()
    params = config.params
    curve = {'steps': [], 'return': [], 'revenue': [], 'penalty': []}
    best = {'step': None, 'val_return': -math.inf, 'state': None}

    def on_eval(model, steps, ev):
        for key, value in (('steps', steps), ('return', ev['return']), ('revenue', ev['revenue']),
                           ('penalty', ev['penalty'])):
            curve[key].append(value)
        if steps >= study.eval_every and ev['return'] > best['val_return']:
            best.update(step=steps, val_return=ev['return'],
                        state={k: v.detach().clone() for k, v in model.policy.state_dict().items()})
        log(f'{algo} s{seed} step {steps:>6d} val {ev["return"]:>9.0f} (Q {ev["revenue"]:.0f}, F {ev["penalty"]:.0f})'
            f' best {best["val_return"]:.0f} @ {best["step"]} cpu {time.process_time() - cpu0:.0f} s')

    res = train(algo, params, config.learning, study.steps, seed=seed, eval_every=study.eval_every,
                eval_periods=study.val_periods, eval_seed=validation_seed(seed), on_eval=on_eval)
    model = res.model
    act = policy_fn(model)

    def test(ev):
        return {'return': ev['return'], 'revenue': ev['revenue'], 'penalty': ev['penalty'], 'returns': ev['returns']}

    last = test(evaluate(act, params, study.test_periods, seed=test_seed(seed)))
    last['val_return'] = curve['return'][-1] if curve['steps'] and curve['steps'][-1] == study.steps else None
    model.policy.load_state_dict(best['state'])       # (steps >= eval_every: there is always a candidate)
    selected = test(evaluate(act, params, study.test_periods, seed=test_seed(seed)))
    recheck = evaluate(act, params, study.val_periods, seed=validation_seed(seed))['return']
    selected.update(step=best['step'], val_return=best['val_return'], val_recheck=recheck)
    if save_selected:
        os.makedirs(os.path.dirname(save_selected) or '.', exist_ok=True)
        model.save(save_selected)
    return {'algo': algo, 'seed': seed, 'steps': study.steps,
            'validation_seeds': [validation_seed(seed), study.val_periods],
            'test_seeds': [test_seed(seed), study.test_periods], 'curve': curve, 'last': last, 'selected': selected,
            'train_returns': res.train_returns, 'model': save_selected,
            'train_seconds': res.seconds, 'wall_seconds': time.perf_counter() - wall0,
            'cpu_seconds': time.process_time() - cpu0}


def _job(args):
    """Worker entry: one run, written atomically to its JSON (skipped if the stop file exists)."""
    algo, seed, study, out_dir, stop_file = args
    os.environ['OMP_NUM_THREADS'] = '1'
    import warnings
    warnings.filterwarnings('ignore', category=UserWarning)
    path = os.path.join(out_dir, 'runs', f'{algo}_s{seed}.json')
    if os.path.exists(path):
        return path, 'exists'
    if stop_file and os.path.exists(stop_file):
        return path, 'skipped (stop file)'
    log_path = os.path.join(out_dir, 'progress.log')

    def log(line):
        line = time.strftime('%H:%M:%S ') + line
        print(line, flush=True)
        with open(log_path, 'a') as fh:
            fh.write(line + '\n')

    log(f'{algo} s{seed}: start')
    save = os.path.join(out_dir, 'models', f'{algo}_s{seed}_selected.zip') if algo in SAVED_ALGOS else None
    result = run_one(algo, seed, study, save, log)
    with open(path + '.tmp', 'w') as fh:
        json.dump(result, fh)
    os.replace(path + '.tmp', path)
    log(f"{algo} s{seed}: TEST last {result['last']['return']:.0f} selected {result['selected']['return']:.0f} "
        f"(step {result['selected']['step']}, val {result['selected']['val_return']:.0f}) "
        f"cpu {result['cpu_seconds']:.0f} s")
    return path, 'done'


def hover_reference(study: StudyConfig, seeds):
    """The spec's hover heuristic (not from the paper) on each seed's test periods: {seed: return}."""
    from uav_edge.core.offload import heuristic_action
    from uav_edge.learn.seed1 import evaluate

    params = study.load().params
    action = heuristic_action(params)
    return {s: evaluate(lambda obs: action, params, study.test_periods, seed=test_seed(s)) for s in seeds}


def comparisons(by_seed):
    """({'td3_vs_<base>': Welch tests}, {'td3_vs_<base>': paired tests}) of the test returns, last and selected;
    by_seed: {algo: {seed: {'last': {'return': ...}, 'selected': {...}}}} (runs, or a merge's pooled values).
    Welch uses every seed of each algorithm, the paired test the seeds both finished."""
    tests, pairs = {}, {}
    for base in ('ddpg', 'ppo'):
        td3, other = by_seed.get('td3', {}), by_seed.get(base, {})
        if td3 and other:
            tests[f'td3_vs_{base}'] = {w: welch([td3[s][w]['return'] for s in sorted(td3)],
                                                [other[s][w]['return'] for s in sorted(other)])
                                       for w in ('last', 'selected')}
        both = sorted(set(td3) & set(other))
        if both:
            pairs[f'td3_vs_{base}'] = {'seeds': both, **{
                w: paired([td3[s][w]['return'] for s in both], [other[s][w]['return'] for s in both])
                for w in ('last', 'selected')}}
    return tests, pairs


def summarise(runs, study: StudyConfig, hover=None):
    summary = {'study': study.to_dict(), 'protocol': {
        'validation': f'every {study.eval_every} steps, {study.val_periods} periods from seed 30000 + 97 seed; '
                      'best validation return over checkpoints >= eval_every is kept',
        'test': f'{study.test_periods} periods from seed 20000 + seed, last and selected policy'}, 'algos': {}}
    for algo in [a for a in ALGORITHMS if a in runs]:
        by_seed = runs[algo]
        seeds = sorted(by_seed)
        entry = {'seeds': seeds}
        for which in ('last', 'selected'):
            entry[which] = {key: summary_stat([by_seed[s][which][key] for s in seeds])
                            for key in ('return', 'revenue', 'penalty')}
        entry['selected']['step'] = [by_seed[s]['selected']['step'] for s in seeds]
        entry['selected']['val_return'] = summary_stat([by_seed[s]['selected']['val_return'] for s in seeds])
        entry['val_last4_mean'] = summary_stat([np.mean(by_seed[s]['curve']['return'][-4:]) for s in seeds])
        cpu = [by_seed[s]['cpu_seconds'] for s in seeds]
        entry['cpu_seconds'] = {'total': float(sum(cpu)), 'per_run': summary_stat(cpu)}
        summary['algos'][algo] = entry
    summary['welch'], summary['paired'] = comparisons(runs)
    if hover:
        summary['hover_heuristic'] = {'seeds': sorted(hover), **{k: summary_stat([hover[s][k] for s in sorted(hover)])
                                                                 for k in ('return', 'revenue', 'penalty')}}
    for algo in SAVED_ALGOS:
        done = runs.get(algo, {})
        if done:
            best = max(sorted(done), key=lambda s: done[s]['selected']['val_return'])
            summary[f'{algo}_selected_model'] = {'seed': best, 'path': done[best].get('model'),
                                                 'val_return': done[best]['selected']['val_return'],
                                                 'test_return': done[best]['selected']['return']}
    return summary


def prune_models(runs, summary, out_dir):
    """Per saved algorithm keep only the best-validation seed's selected zip (the others are not needed for export)."""
    model_dir = os.path.join(out_dir, 'models')
    if not os.path.isdir(model_dir):
        return
    for algo in SAVED_ALGOS:
        keep = (summary.get(f'{algo}_selected_model') or {}).get('path')
        if not keep:
            continue
        for name in os.listdir(model_dir):
            path = os.path.join(model_dir, name)
            if name.startswith(f'{algo}_s') and name.endswith('_selected.zip') and \
                    os.path.abspath(path) != os.path.abspath(keep):
                os.remove(path)


# --- figure --------------------------------------------------------------------------------------

_LABELS = {'td3': 'TD3', 'ddpg': 'DDPG', 'ppo': 'PPO'}


def _plot_tests(bx, summary):
    """The test returns of every algorithm in `summary`: last (open circle) and validation-selected (square),
    mean and 95 % CI, one dot per seed, the hover heuristic dotted."""
    algos = [a for a in ALGORITHMS if a in summary['algos']]
    for k, algo in enumerate(algos):
        entry, colour = summary['algos'][algo], f'C{ALGORITHMS.index(algo)}'      # as in plot()'s curves
        for j, which in enumerate(('last', 'selected')):
            x = k + (j - 0.5) * 0.3
            stat = entry[which]['return']
            bx.errorbar(x, stat['mean'] / 1e3, yerr=(stat['ci95'] or 0) / 1e3, fmt='o' if j == 0 else 's',
                        color=colour, capsize=5, ms=7, mfc='white' if j == 0 else colour)
            bx.scatter(np.full(len(stat['values']), x + 0.07), np.array(stat['values']) / 1e3, s=10,
                       color=colour, alpha=0.6, zorder=3)
    hover = summary.get('hover_heuristic', {}).get('return', {}).get('mean')
    if hover is not None:
        bx.axhline(hover / 1e3, color='k', ls=':', lw=1, label='hover heuristic')
    bx.set_xticks(range(len(algos)), [f"{_LABELS[a]} (n={len(summary['algos'][a]['seeds'])})" for a in algos])
    bx.set(ylabel='test return per flight period (x1000)',
           title='test: last (open circle) and validation-selected (square)\nmean, 95 % CI; dots = seeds')
    bx.axhline(0, color='0.7', lw=0.6)


def plot_tests(summary, path, title):
    """_plot_tests alone (a merged summary has no learning curves)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, bx = plt.subplots(figsize=(6.5, 4.8))
    _plot_tests(bx, summary)
    bx.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot(runs, summary, path, title):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(14, 4.8), gridspec_kw={'width_ratios': [3, 2]})
    hover = summary.get('hover_heuristic', {}).get('return', {}).get('mean')
    for algo in (a for a in ALGORITHMS if a in runs):
        k, by_seed = ALGORITHMS.index(algo), runs[algo]
        length = min(len(r['curve']['return']) for r in by_seed.values())
        steps = np.array(next(iter(by_seed.values()))['curve']['steps'][:length])
        values = np.array([r['curve']['return'][:length] for r in by_seed.values()]) / 1e3
        stats = [mean_ci(values[:, c]) for c in range(length)]
        mean = np.array([m for m, _ in stats])
        half = np.array([h or 0.0 for _, h in stats])
        ax.plot(steps, mean, f'C{k}', label=f'{_LABELS[algo]} (n={len(values)})')
        ax.fill_between(steps, mean - half, mean + half, color=f'C{k}', alpha=0.18)
    if hover is not None:
        ax.axhline(hover / 1e3, color='k', ls=':', lw=1, label='hover heuristic (its test return, for scale)')
    ax.set(xlabel='environment steps', ylabel='validation return per flight period (x1000)',
           title='validation return (mean, 95 % CI band)')
    ax.legend(fontsize=8)
    _plot_tests(bx, summary)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --- the study -------------------------------------------------------------------------------------

def _check_setup(study: StudyConfig, out_dir):
    path = os.path.join(out_dir, 'study_config.json')
    new = study.to_dict()
    if os.path.exists(path):
        with open(path) as fh:
            old = json.load(fh)
        same = ('steps', 'eval_every', 'val_periods', 'test_periods', 'config', 'overrides')
        if any(old.get(k) != new[k] for k in same):
            raise ValueError(f'{out_dir}: holds a study with a different budget/protocol/config; use a new --out')
        new['seeds'] = sorted(set(old['seeds']) | set(new['seeds']))
        new['algos'] = [a for a in ALGORITHMS if a in set(old['algos']) | set(new['algos'])]
    with open(path, 'w') as fh:
        json.dump(new, fh, indent=1)


def study(cfg: StudyConfig, out_dir, jobs=1, stop_file=None, log=print):
    """Run (or resume) every missing run, then write summary.json and study.png; return the summary."""
    cfg.load()                                     # fail early on a bad config / override
    os.makedirs(os.path.join(out_dir, 'runs'), exist_ok=True)
    _check_setup(cfg, out_dir)
    todo = [(a, s, cfg, out_dir, stop_file) for a, s in run_order(cfg.seeds, cfg.algos)
            if not os.path.exists(os.path.join(out_dir, 'runs', f'{a}_s{s}.json'))]
    log(f'seed-1 study: {cfg.steps} steps, seeds {list(cfg.seeds)}, algos {list(cfg.algos)}, overrides '
        f'{cfg.overrides}; {len(todo)} runs to do, {jobs} at once, out {out_dir}')
    if jobs <= 1 or len(todo) <= 1:
        for job in todo:
            _job(job)
    else:
        import multiprocessing as mp
        with mp.get_context('spawn').Pool(jobs, maxtasksperchild=1) as pool:
            for path, status in pool.imap_unordered(_job, todo, chunksize=1):
                log(f'{os.path.basename(path)}: {status}')
    return write_summary(cfg, out_dir)


def write_summary(cfg: StudyConfig, out_dir):
    runs = load_runs(out_dir)
    seeds = sorted({s for by_seed in runs.values() for s in by_seed})
    summary = summarise(runs, cfg, hover_reference(cfg, seeds) if seeds else None)
    with open(os.path.join(out_dir, 'summary.json'), 'w') as fh:
        json.dump(summary, fh, indent=1)
    if runs:
        prune_models(runs, summary, out_dir)
        plot(runs, summary, os.path.join(out_dir, 'study.png'),
             f'seed 1: TD3 vs DDPG vs PPO, {cfg.steps} steps, overrides {cfg.overrides or "none"}')
    return summary


_TESTED = ('return', 'revenue', 'penalty')


def merge_summaries(summaries):
    """One summary over the seeds of several summary.json of the same study (same budget, protocol, config and
    overrides) run in parts, e.g. in different sessions: the per-seed test values are pooled and every statistic
    and test is recomputed as summarise() does. A summary holds no learning curves, so the merged one has none
    (plot_tests draws it). A seed found twice for one algorithm is an error, not a silent overwrite."""
    same = ('steps', 'eval_every', 'val_periods', 'test_periods', 'config', 'overrides')
    first = summaries[0]['study']
    for other in summaries[1:]:
        differs = [k for k in same if other['study'].get(k) != first.get(k)]
        if differs:
            raise ValueError(f"merge: the summaries differ in {', '.join(differs)}; only parts of one study merge")
    per_seed = {}                                  # {algo: {seed: {which: {key: value}}}}
    for summary in summaries:
        for algo, entry in summary['algos'].items():
            for k, seed in enumerate(entry['seeds']):
                if seed in per_seed.get(algo, {}):
                    raise ValueError(f'merge: {algo} seed {seed} is in more than one summary')
                per_seed.setdefault(algo, {})[seed] = {
                    w: {key: entry[w][key]['values'][k] for key in _TESTED} for w in ('last', 'selected')}
                per_seed[algo][seed]['step'] = entry['selected']['step'][k]
    merged = {'study': {**{k: first.get(k) for k in same},
                        'seeds': sorted({s for by in per_seed.values() for s in by}),
                        'algos': [a for a in ALGORITHMS if a in per_seed]},
              'protocol': summaries[0]['protocol'], 'merged_from': [s['study']['seeds'] for s in summaries],
              'algos': {}}
    for algo in merged['study']['algos']:
        seeds = sorted(per_seed[algo])
        merged['algos'][algo] = {'seeds': seeds, **{w: {key: summary_stat([per_seed[algo][s][w][key] for s in seeds])
                                                         for key in _TESTED} for w in ('last', 'selected')}}
        merged['algos'][algo]['selected']['step'] = [per_seed[algo][s]['step'] for s in seeds]
    merged['welch'], merged['paired'] = comparisons(per_seed)
    hover = {}
    for summary in summaries:
        ref = summary.get('hover_heuristic')
        if ref:
            hover.update({seed: {key: ref[key]['values'][k] for key in _TESTED}
                          for k, seed in enumerate(ref['seeds'])})
    if hover:
        seeds = sorted(hover)
        merged['hover_heuristic'] = {'seeds': seeds, **{key: summary_stat([hover[s][key] for s in seeds])
                                                        for key in _TESTED}}
    return merged


def write_merged(paths, out_dir):
    """merge_summaries of the summary.json files `paths` -> <out>/summary.json and <out>/tests.png."""
    summaries = []
    for path in paths:
        with open(path) as fh:
            summaries.append(json.load(fh))
    merged = merge_summaries(summaries)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, 'summary.json'), 'w') as fh:
        json.dump(merged, fh, indent=1)
    study = merged['study']
    plot_tests(merged, os.path.join(out_dir, 'tests.png'),
               f"seed 1: held-out test returns, {study['steps']} steps, seeds {study['seeds']}")
    return merged


def format_summary(summary):
    def fmt(stat):
        half = f" +- {stat['ci95'] / 1e3:.1f}k" if stat.get('ci95') is not None else ''
        return f"{stat['mean'] / 1e3:+.1f}k{half}"

    lines = []
    for algo, e in summary['algos'].items():
        for which in ('last', 'selected'):
            s = e[which]
            lines.append(f"{algo:4s} {which:8s} n={len(e['seeds'])} test {fmt(s['return'])} "
                         f"[{', '.join(f'{v / 1e3:+.1f}k' for v in s['return']['values'])}] "
                         f"Q {s['revenue']['mean'] / 1e3:.1f}k F {s['penalty']['mean'] / 1e3:.1f}k")
        cpu = f"; cpu {e['cpu_seconds']['total']:.0f} s" if 'cpu_seconds' in e else ''      # a merged one has none
        lines.append(f"{'':4s} selected steps {e['selected']['step']}{cpu}")
    for name, by in summary.get('welch', {}).items():
        lines.append(f"{name}: " + ', '.join(
            f"{w} diff {t['diff'] / 1e3:+.1f}k p {t['p']:.3g}" if t and t.get('p') is not None else f'{w} n/a'
            for w, t in by.items()))
    for name, by in summary.get('paired', {}).items():
        lines.append(f"{name} paired over seeds {by['seeds']}: " + ', '.join(
            f"{w} {by[w]['mean'] / 1e3:+.1f}k ({by[w]['a_higher']}/{by[w]['equal']}/{by[w]['b_higher']}, one-sided "
            f"p {by[w]['p_greater']:.3g})" if by[w]['p_greater'] is not None else f'{w} n/a'
            for w in ('last', 'selected')))
    if 'hover_heuristic' in summary:
        lines.append(f"hover heuristic on the test periods: {fmt(summary['hover_heuristic']['return'])}")
    return '\n'.join(lines)


def _override(text):
    import yaml

    key, sep, value = text.partition('=')
    if not sep or '.' not in key:
        raise argparse.ArgumentTypeError(f'--set {text!r}: expected section.key=value')
    value = yaml.safe_load(value)
    if isinstance(value, str):            # PyYAML reads 3e-4 (no dot) as a string
        try:
            value = float(value)
        except ValueError:
            pass
    return key.strip(), value


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--steps', type=int, default=30_000, help='environment steps per run')
    parser.add_argument('--seeds', type=int, nargs='+', default=[3, 4, 5, 6, 7], help='training seeds')
    parser.add_argument('--algos', nargs='+', default=list(ALGORITHMS), choices=ALGORITHMS)
    parser.add_argument('--out', default='results/seed1_study', help='output folder')
    parser.add_argument('--config', default=None, help='seed-1 YAML (default: config/seed1/default.yaml)')
    parser.add_argument('--set', dest='overrides', type=_override, nargs='+', action='extend', default=[],
                        metavar='SECTION.KEY=VALUE', help='config overrides, e.g. learning.actor_lr=3e-4')
    parser.add_argument('--eval-every', type=int, default=1000, help='steps between validation evaluations')
    parser.add_argument('--val-periods', type=int, default=3, help='validation flight periods per evaluation')
    parser.add_argument('--test-periods', type=int, default=10, help='held-out test flight periods')
    parser.add_argument('--jobs', type=int, default=1, help='training processes at once')
    parser.add_argument('--stop-file', default=None, help='if this file exists, start no new run')
    parser.add_argument('--summary-only', action='store_true', help='only re-summarise the finished runs')
    parser.add_argument('--merge', nargs='+', metavar='SUMMARY_JSON', default=None,
                        help='pool the seeds of these summary.json (parts of one study) into <out>/summary.json '
                             'and <out>/tests.png; runs nothing')
    args = parser.parse_args(argv)
    if args.merge:
        try:
            summary = write_merged(args.merge, args.out)
        except (OSError, ValueError, KeyError) as exc:
            parser.error(f'--merge: {exc}')
        print(format_summary(summary))
        return 0
    try:
        cfg = StudyConfig(steps=args.steps, seeds=tuple(args.seeds), algos=tuple(args.algos),
                          eval_every=args.eval_every, val_periods=args.val_periods, test_periods=args.test_periods,
                          config=args.config, overrides=dict(args.overrides))
        cfg.load()
    except ValueError as exc:
        parser.error(str(exc))
    if args.summary_only:
        summary = write_summary(cfg, args.out)
    else:
        summary = study(cfg, args.out, jobs=args.jobs, stop_file=args.stop_file)
    print(format_summary(summary))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())

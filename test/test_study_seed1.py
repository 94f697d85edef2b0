"""Seed-1 multi-seed study (uav_edge.learn.study_seed1) on a tiny budget: files, validation-based model
selection (the selected policy's validation return is the curve's maximum and re-evaluates to the same value),
disjoint validation / test flight periods, resuming, run order and the Welch test."""
import json
import os

import numpy as np
import pytest

pytest.importorskip('torch')

from uav_edge.learn import study_seed1 as st          # noqa: E402

TINY = ['--steps', '300', '--seeds', '0', '--eval-every', '100', '--algos', 'td3', 'ddpg', 'ppo',
        '--set', 'learning.warmup_steps=100', 'learning.batch_size=64', 'learning.ppo_rollout=100',
        'learning.actor_lr=3e-4', 'learning.critic_lr=3e-4']


@pytest.fixture(scope='module')
def tiny_study(tmp_path_factory):
    out = str(tmp_path_factory.mktemp('seed1_study'))
    assert st.main(TINY + ['--out', out]) == 0
    return out


def test_tiny_study_writes_files_and_selects_on_validation(tiny_study):
    out = tiny_study
    for name in ('summary.json', 'study.png', 'progress.log', 'study_config.json', 'models/td3_s0_selected.zip',
                 'models/ppo_s0_selected.zip'):
        assert os.path.getsize(os.path.join(out, name)) > 0, name
    assert not os.path.exists(os.path.join(out, 'models', 'ddpg_s0_selected.zip'))   # only exportable policies kept
    summary = json.load(open(os.path.join(out, 'summary.json')))
    assert set(summary['algos']) == {'td3', 'ddpg', 'ppo'}
    assert summary['study']['overrides']['learning.actor_lr'] == pytest.approx(3e-4)   # '3e-4' read as a float
    assert summary['td3_selected_model']['seed'] == 0 and summary['hover_heuristic']['return']['mean'] > 0
    assert summary['ppo_selected_model']['path'].endswith('ppo_s0_selected.zip')
    for algo in ('td3', 'ddpg', 'ppo'):
        run = json.load(open(os.path.join(out, 'runs', f'{algo}_s0.json')))
        curve, sel, last = run['curve'], run['selected'], run['last']
        assert curve['steps'] == [0, 100, 200, 300]
        candidates = [r for s, r in zip(curve['steps'], curve['return']) if s >= 100]
        assert sel['val_return'] == max(candidates)                    # model selection = best validation
        assert curve['return'][curve['steps'].index(sel['step'])] == sel['val_return']
        assert sel['val_recheck'] == pytest.approx(sel['val_return'], rel=1e-9, abs=1e-6)   # the copy is that policy
        # validation and test flight periods are disjoint (selection never sees the test periods)
        v0, nv = run['validation_seeds']
        t0, nt = run['test_seeds']
        assert (v0, nv, t0, nt) == (st.validation_seed(0), 3, st.test_seed(0), 10)
        assert not set(range(v0, v0 + nv)) & set(range(t0, t0 + nt))
        assert len(last['returns']) == len(sel['returns']) == 10 and np.isfinite(last['return'])
        entry = summary['algos'][algo]
        assert entry['last']['return']['values'] == [last['return']]
        assert entry['selected']['return']['values'] == [sel['return']] and entry['cpu_seconds']['total'] > 0


def test_tiny_study_resumes_and_refuses_a_different_protocol(tiny_study, capsys):
    out = tiny_study
    run_dir = os.path.join(out, 'runs')
    before = {n: os.path.getmtime(os.path.join(run_dir, n)) for n in os.listdir(run_dir)}
    assert st.main(TINY + ['--out', out]) == 0
    assert {n: os.path.getmtime(os.path.join(run_dir, n)) for n in os.listdir(run_dir)} == before
    assert '0 runs to do' in capsys.readouterr().out
    with pytest.raises(ValueError, match='different budget'):
        st.study(st.StudyConfig(steps=400, seeds=(0,), eval_every=100), out)


def test_run_order_seeds_and_config_checks():
    assert st.run_order((3, 4), ('td3', 'ddpg', 'ppo')) == [
        ('td3', 3), ('ddpg', 3), ('td3', 4), ('ddpg', 4), ('ppo', 3), ('ppo', 4)]
    for s in range(50):
        val = set(range(st.validation_seed(s), st.validation_seed(s) + 3))
        assert not val & set(range(st.test_seed(s), st.test_seed(s) + 10))
    with pytest.raises(ValueError, match='algos'):
        st.StudyConfig(algos=('sac',))
    with pytest.raises(ValueError, match='eval_every'):
        st.StudyConfig(steps=500, eval_every=1000)


def test_welch_matches_scipy_and_ci():
    from scipy import stats

    a, b = [30.0, 12.0, 55.0, 41.0], [10.0, -5.0, 8.0]
    ref = stats.ttest_ind(a, b, equal_var=False)
    w = st.welch(a, b)
    assert w['t'] == pytest.approx(ref.statistic) and w['p'] == pytest.approx(ref.pvalue)
    assert w['diff'] == pytest.approx(np.mean(a) - np.mean(b)) and st.welch([1.0], b) is None
    mean, half = st.mean_ci([1.0, 2.0, 3.0])
    assert mean == 2.0 and half == pytest.approx(4.302653 / np.sqrt(3), rel=1e-5)


def test_paired_test_is_one_sided_and_counts_seeds():
    a, b = [5.0, 7.0, 4.0, 9.0], [3.0, 7.0, 6.0, 2.0]                  # differences +2, 0, -2, +7
    test = st.paired(a, b)
    assert (test['a_higher'], test['equal'], test['b_higher']) == (2, 1, 1)
    assert test['mean'] == pytest.approx(7 / 4) and test['values'] == [2.0, 0.0, -2.0, 7.0]
    d = np.array([2.0, 0.0, -2.0, 7.0])
    t = d.mean() / (d.std(ddof=1) / 2)
    assert test['t'] == pytest.approx(t)
    flipped = st.paired(b, a)                                         # one-sided: "b higher" gets 1 - p
    assert test['p_greater'] + flipped['p_greater'] == pytest.approx(1.0) and test['p_greater'] < 0.5
    assert st.paired([1.0, 2.0], [1.0, 2.0])['p_greater'] is None     # constant differences: no t-test
    assert st.paired([1.0] * 5, [0.0] * 5)['sign_test_p'] == pytest.approx(2 / 2 ** 5)


def test_summary_pairs_td3_with_each_baseline_over_common_seeds(tiny_study):
    summary = json.load(open(os.path.join(tiny_study, 'summary.json')))
    for base in ('ddpg', 'ppo'):
        entry = summary['paired'][f'td3_vs_{base}']
        assert entry['seeds'] == [0] and set(entry) == {'seeds', 'last', 'selected'}
        td3 = summary['algos']['td3']['selected']['return']['values'][0]
        other = summary['algos'][base]['selected']['return']['values'][0]
        assert entry['selected']['values'] == [pytest.approx(td3 - other)]


def _fake_runs(seeds, rng):
    """{algo: {seed: run}} with the fields summarise() reads (random returns)."""
    runs = {}
    for algo in ('td3', 'ddpg', 'ppo'):
        for s in seeds:
            last, sel = ({k: float(v) for k, v in zip(('return', 'revenue', 'penalty'), rng.normal(5e4, 3e4, 3))}
                         for _ in range(2))
            runs.setdefault(algo, {})[s] = {'last': last, 'selected': {**sel, 'step': 1000 * (s + 1),
                                                                        'val_return': sel['return']},
                                            'curve': {'return': list(rng.normal(0, 1, 5))}, 'cpu_seconds': 1.0}
    return runs


def test_merged_parts_of_a_study_equal_the_whole_and_refuse_overlaps(tmp_path):
    rng = np.random.default_rng(0)
    cfg = st.StudyConfig(steps=120_000, seeds=(0, 1, 2, 3, 4), eval_every=4000)
    runs = _fake_runs(range(5), rng)
    hover = {s: {'return': 3e4 + s, 'revenue': 3e4 + s, 'penalty': 0.0} for s in range(5)}
    part = lambda seeds: st.summarise({a: {s: by[s] for s in seeds} for a, by in runs.items()},   # noqa: E731
                                      st.StudyConfig(steps=120_000, seeds=tuple(seeds), eval_every=4000),
                                      {s: hover[s] for s in seeds})
    whole, a, b = st.summarise(runs, cfg, hover), part([0, 1, 2]), part([3, 4])
    paths = []
    for name, summary in (('a', a), ('b', b)):
        paths.append(str(tmp_path / f'{name}.json'))
        json.dump(summary, open(paths[-1], 'w'))
    assert st.main(['--merge', *paths, '--out', str(tmp_path / 'merged')]) == 0
    merged = json.load(open(tmp_path / 'merged' / 'summary.json'))
    assert os.path.getsize(tmp_path / 'merged' / 'tests.png') > 0
    assert merged['study']['seeds'] == [0, 1, 2, 3, 4] and merged['merged_from'] == [[0, 1, 2], [3, 4]]
    for algo in ('td3', 'ddpg', 'ppo'):
        for which in ('last', 'selected'):
            for key in ('return', 'revenue', 'penalty'):
                assert merged['algos'][algo][which][key] == pytest.approx(whole['algos'][algo][which][key])
        assert merged['algos'][algo]['selected']['step'] == whole['algos'][algo]['selected']['step']
    for base in ('td3_vs_ddpg', 'td3_vs_ppo'):
        for which in ('last', 'selected'):
            assert merged['paired'][base][which] == pytest.approx(whole['paired'][base][which])
            assert merged['welch'][base][which] == pytest.approx(whole['welch'][base][which])
    assert merged['hover_heuristic']['return'] == pytest.approx(whole['hover_heuristic']['return'])
    with pytest.raises(ValueError, match='td3 seed 3 is in more than one'):
        st.merge_summaries([a, b, part([3])])
    with pytest.raises(ValueError, match='differ in steps'):
        st.merge_summaries([a, st.summarise(runs, st.StudyConfig(steps=30_000, seeds=(0,), eval_every=4000))])

"""Seed-0 reproduction (spec §8): theory sweeps match the spec's reference tables; the pipeline runs end to end."""
import json
import math
import os

import numpy as np
import pytest

from uav_edge.core.scenario import resolve_scenario
from uav_edge.learn import reproduce_seed0 as rep
from uav_edge.learn.tiny_madrl import TrainConfig

TINY = TrainConfig(episodes=6, episode_steps=10, hidden=(8, 8), minibatch=10, epochs=1, prune_start=1,
                   prune_every=1, prune_steps=2, eval_every=2)


@pytest.mark.parametrize('kw, reference', [
    (dict(J=3, I=10, cost=1.0, cap=20.0), 23.36),      # spec §8.3 Fig. 5(a) table
    (dict(J=5, I=15, cost=2.5, cap=5.0), 11.62),       # spec §8.3 Fig. 5(b) table
    (dict(J=3, I=15), 33.45),                          # spec §8.3 Fig. 6(a)/(b), table-sampled c and pbar
    (dict(J=3, I=3), 6.40),                            # spec §8.3 Fig. 6(b)
])
def test_theory_points_match_spec_reference_tables(kw, reference):
    point = rep._point(resolve_scenario('default'), TINY.env, None, greedy_episodes=1, **kw)
    assert point['theory'] == pytest.approx(reference, rel=0.01)
    assert point['random'] < point['theory_seed0']      # uniform random prices earn less than the SE


def test_pipeline_writes_figures_json_and_checks_claims(tmp_path, monkeypatch):
    monkeypatch.setattr(rep, 'FIG5_COSTS', [1.0, 4.0])
    monkeypatch.setattr(rep, 'FIG5_CAPS', [5.0, 35.0])
    monkeypatch.setattr(rep, 'FIG6_RSUS', [2, 5])
    monkeypatch.setattr(rep, 'FIG6_UAVS', [3, 15])
    monkeypatch.setattr(rep, 'THEORY_SEEDS', range(2))
    import torch
    torch.set_num_threads(1)
    result = {'fig3': rep.fig3(resolve_scenario('default'), TINY, [0], greedy_levels=3),
              'fig4': rep.fig4(resolve_scenario('small'), TINY),
              'sweeps': rep.fig5_6(resolve_scenario('default'), TINY.env, None, greedy_episodes=1)}
    result['claims'] = rep.check_claims(result['fig3'], result['fig4'], result['sweeps'])
    rep.plot_all(result, str(tmp_path))
    for name in ('fig3_convergence', 'fig4_dynamics', 'fig5_reward_vs_cost_cap', 'fig6_reward_vs_counts'):
        assert os.path.getsize(tmp_path / f'{name}.png') > 10_000
    json.dumps(result, default=float)                       # the JSON behind the figures serialises
    f3 = result['fig3']
    assert set(f3['runs']) == {'tiny_madrl', 'ppo', 'greedy', 'random'}
    assert len(f3['runs']['tiny_madrl'][0]['rewards']) == TINY.episodes
    assert f3['summary']['tiny_madrl']['active_actor_params'] < f3['summary']['ppo']['active_actor_params']
    assert np.array(result['fig4']['prices']).shape == (TINY.episodes, 2, 3)
    claims = result['claims']
    # Theory-side claims the spec derives for these defaults (§8.2 [D]) must hold on any grid.
    for cid in ('C5a.1', 'C5a.2', 'C5b.1', 'C5b.3', 'C6a.1', 'C6b.1'):
        assert claims[cid]['holds'] is True, (cid, claims[cid])
    assert claims['C5b.2']['holds'] is False                # spec: theory never falls with pbar
    assert claims['C6a.2']['holds'] is None                 # learned sweep points: full mode only


def test_reproduce_command_rejects_unknown_experiments(capsys):
    from uav_edge.cli import main

    with pytest.raises(SystemExit):
        main(['reproduce', 'seed9'])
    assert 'invalid choice' in capsys.readouterr().err


# --- the multi-seed convergence study (uav_edge/learn/study_seed0.py) ------------------------------

from uav_edge.learn import study_seed0 as st        # noqa: E402


def test_settling_checkpoint_is_the_first_after_which_the_metric_stays_within():
    eps = [0, 10, 20, 30, 40]
    assert st.settling_checkpoint(eps, [0.5, 0.01, 0.03, 0.01, 0.005], 0.02) == 30     # re-exit at 20 counts
    assert st.settling_checkpoint(eps, [0.01] * 5, 0.02) == 0
    assert st.settling_checkpoint(eps, [0.5, 0.01, 0.01, 0.01, 0.03], 0.02) is None     # not settled: censored
    assert st.settling_checkpoint(eps, [0.5, 0.01, float('nan'), 0.01, 0.01], 0.02) == 30   # NaN never "within"


def test_mean_ci_uses_student_t_and_paired_counts_wins():
    mean, half = st.mean_ci([1.0, 2.0, 3.0])
    assert mean == 2.0 and half == pytest.approx(4.302653 / math.sqrt(3), rel=1e-6)    # t_0.975(2) s / sqrt(n)
    assert st.mean_ci([5.0]) == (5.0, None)
    paired = st._paired([1, 2, 3], [1, 3, 2])                       # differences 0, -1, +1
    assert (paired['tiny_lower'], paired['equal'], paired['ppo_lower']) == (1, 1, 1)
    assert paired['mean'] == 0.0 and paired['sign_test_p'] == 1.0      # one lower, one higher: no evidence
    assert st._paired([0] * 5, [1] * 5)['sign_test_p'] == pytest.approx(2 / 2 ** 5)   # 5 of 5: p = 0.0625
    assert st._paired([1, 1], [1, 1])['sign_test_p'] == 1.0


def test_study_metrics_vanish_at_the_equilibrium_and_match_held_out_report():
    from uav_edge.core import game
    from uav_edge.envs.pricing_env import params_from_scenario
    from uav_edge.learn.tiny_madrl import held_out_report

    _, params = params_from_scenario('small')
    eq = game.solve_equilibrium(params)
    at_se = st.price_metrics(eq.prices, eq.mean_rsu_utility, params, eq)
    assert at_se['abs_gap'] == 0 and at_se['price_error'] == 0
    assert at_se['exploitability'] < 1e-4                          # no profitable unilateral deviation at the SE
    mid = lambda obs: np.zeros((len(obs), params.num_rsus, params.num_uavs))
    ours = st.held_out_metrics(mid, params, TINY.env, eq, range(3))
    report = held_out_report(mid, params, TINY.env, eq, range(3))
    assert ours['gap'] == pytest.approx(report['gap'], rel=1e-12)
    assert ours['exploitability'] == pytest.approx(report['exploitability_mean'], rel=1e-12)
    assert ours['price_error'] == pytest.approx(report['price_relative_error'], rel=1e-12)
    assert ours['exploitability'] > 0.01                           # mid prices are far from the SE on 2 RSUs


def test_study_config_refuses_bad_input():
    with pytest.raises(ValueError, match='episodes'):
        st.StudyConfig(episodes=0)
    with pytest.raises(ValueError, match='every'):
        st.StudyConfig(every=1.5)
    with pytest.raises(ValueError, match='seeds'):
        st.StudyConfig(seeds=(-1,))
    with pytest.raises(ValueError, match=r"algos: unknown \['sac'\]"):
        st.StudyConfig(algos=('tiny_madrl', 'sac'))


def test_study_runs_resumes_summarises_and_plots(tmp_path, monkeypatch):
    import torch
    torch.set_num_threads(1)
    cfg = st.StudyConfig(scenario='small', seeds=(0, 1), episodes=TINY.episodes, every=1, eval_seeds=1,
                         final_eval_seeds=2, random_draws=3)
    summary = st.study(cfg, str(tmp_path), train_cfg=TINY, progress=lambda msg: None, bars=False)
    runs = st.load_runs(str(tmp_path))
    assert set(runs) == set(st.ALGOS) and all(set(r) == {0, 1} for r in runs.values())
    for seed in (0, 1):
        tiny, ppo = runs['tiny_madrl'][seed]['curve'], runs['ppo'][seed]['curve']
        assert tiny['episodes'] == list(range(TINY.episodes + 1))
        assert tiny['env_steps'][-1] == TINY.episodes * TINY.episode_steps
        # Same seed and config: identical until the first pruning step (after episode prune_start) ...
        upto = TINY.prune_start + 1
        assert tiny['exploitability'][:upto] == ppo['exploitability'][:upto]
        assert runs['tiny_madrl'][seed]['active_actor_params'] < runs['ppo'][seed]['active_actor_params']
        assert len(runs['greedy'][seed]['curve']['episodes']) == TINY.episodes       # no checkpoint at 0
    # ... so paired settling differences over checkpoints <= t0 are exact ties, never noise.
    paired = summary['paired_tiny_minus_ppo']
    assert paired['seeds'] == [0, 1]
    for metric in st.METRICS:
        for stat in summary['algos']['tiny_madrl']['settle_episodes'][metric].values():
            assert all(0 <= v <= TINY.episodes for v in stat['values'])
    assert summary['algos']['random']['final']['abs_gap']['mean'] > 0.05               # random prices far from SE
    # greedy_max (spec §7: always charge pbar): every price at its cap, i.e. collusive: above the SE's utility
    from uav_edge.core import game
    from uav_edge.envs.pricing_env import params_from_scenario
    _, params = params_from_scenario('small')
    eq = game.solve_equilibrium(params)
    cap = np.broadcast_to(params.price_cap, eq.prices.shape)
    assert summary['greedy_max']['price_error'] == pytest.approx(np.mean(np.abs(cap - eq.prices) / eq.prices))
    assert summary['greedy_max']['gap'] > 0 and summary['greedy_max']['exploitability'] > 1e-3
    assert (tmp_path / 'curves.png').stat().st_size > 10_000
    json.loads((tmp_path / 'summary.json').read_text())
    assert 'paired Tiny - PPO' in st.format_summary(summary)
    # Resume: finished runs are not repeated; a different budget in the same folder is refused.
    monkeypatch.setattr(st, 'run_learner', lambda *a, **k: pytest.fail('finished run repeated'))
    st.study(cfg, str(tmp_path), train_cfg=TINY, progress=lambda msg: None, bars=False)
    with pytest.raises(ValueError, match='different scenario/budget/config'):
        st.study(st.StudyConfig(scenario='small', seeds=(0,), episodes=TINY.episodes + 1, every=1),
                 str(tmp_path), train_cfg=TINY, progress=lambda msg: None, bars=False)


def test_learned_sweep_claims_compare_distances_to_each_points_equilibrium():
    def pts(tiny, ppo):
        return [{'theory_seed0': 10.0, 'tiny_madrl': 10.0 + tiny, 'ppo': 10.0 + ppo, 'greedy': 9.0, 'random': 7.0}
                for _ in range(3)]
    claims = rep.learned_sweep_claims({'fig6a': pts(0.1, -0.5), 'fig6b': pts(-0.6, 0.2)})
    assert claims['C6a.2']['holds'] is True and claims['C6a.3']['holds'] is True   # |0.1| < |-0.5| < 1 < 3
    assert claims['C6b.2']['holds'] is False                                        # PPO closer (0.2 < 0.6)
    no_learning = [{'theory_seed0': 10.0, 'greedy': 9.0, 'random': 7.0}]
    claims = rep.learned_sweep_claims({'fig6a': no_learning, 'fig6b': no_learning})
    assert claims['C6a.2']['holds'] is None and claims['C6a.3']['holds'] is None

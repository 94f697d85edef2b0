"""What the multi-seed studies (study_seed0, study_seed1) and reproductions share: their run files and statistics
over training seeds (scipy under the hood)."""
import json
import os

import numpy as np


def load_runs(out_dir):
    """{algo: {seed: run}} from <out>/runs/*.json (empty if there is no runs folder yet)."""
    runs = {}
    run_dir = os.path.join(out_dir, 'runs')
    for name in sorted(os.listdir(run_dir)) if os.path.isdir(run_dir) else ():
        if name.endswith('.json'):
            with open(os.path.join(run_dir, name)) as fh:
                run = json.load(fh)
            runs.setdefault(run['algo'], {})[run['seed']] = run
    return runs


def mean_ci(values, confidence=0.95):
    """(mean, half-width of the Student-t confidence interval); half-width None for fewer than 2 values."""
    from scipy import stats

    x = np.asarray(values, dtype=float)
    if x.size < 2:
        return float(x.mean()), None
    return float(x.mean()), float(stats.t.ppf(0.5 + confidence / 2, x.size - 1) * stats.sem(x))


def summary(values):
    """{'mean', 'ci95' (half-width, None for one value), 'values'}: the JSON form used in every summary.json."""
    mean, half = mean_ci(values)
    return {'mean': mean, 'ci95': half, 'values': [float(v) for v in values]}


def welch(a, b):
    """Welch's unequal-variance t-test of mean(a) - mean(b): {'diff', 't', 'df', 'p'} (two-sided); None if n < 2;
    t, df, p None when both samples are constant."""
    from scipy import stats

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.size < 2 or b.size < 2:
        return None
    diff = float(a.mean() - b.mean())
    if a.var(ddof=1) + b.var(ddof=1) == 0:
        return {'diff': diff, 't': None, 'df': None, 'p': None}
    test = stats.ttest_ind(a, b, equal_var=False)
    return {'diff': diff, 't': float(test.statistic), 'df': float(test.df), 'p': float(test.pvalue)}


def paired(a, b):
    """Per-seed differences a - b (same seeds, same order): summary() of them, how many are higher / equal / lower,
    the two-sided sign-test p over the seeds that differ (1.0 when none differ) and the one-sided paired t-test
    p of "a higher" (None for fewer than 2 seeds or constant differences)."""
    from scipy import stats

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    diff = a - b
    higher, lower = int((diff > 0).sum()), int((diff < 0).sum())
    sign_p = float(stats.binomtest(higher, higher + lower).pvalue) if higher + lower else 1.0
    t = p_greater = None
    if diff.size >= 2 and diff.std() > 0:
        test = stats.ttest_rel(a, b, alternative='greater')
        t, p_greater = float(test.statistic), float(test.pvalue)
    return {**summary(diff), 'a_higher': higher, 'equal': int((diff == 0).sum()), 'b_higher': lower,
            'sign_test_p': sign_p, 't': t, 'p_greater': p_greater}

"""`uav-edge reproduce seed0 [--quick]`: regenerate a paper's experiments as PNG figures plus JSON."""
import os

HELP = "reproduce a paper's experiments (figures + JSON): seed0 (Tiny MADRL), seed1 (TD3 offloading)"
DESCRIPTION = ('Regenerate the experiments of a seed paper. seed0: Fig. 3 convergence (5 RSUs / 15 UAVs), '
               'Fig. 4 price/demand dynamics (2 RSUs / 3 UAVs), Figs. 5-6 reward sweeps; writes PNGs and '
               'seed0_results.json (with the spec 8 claims checked) to --out. seed1: Figs. 3-8 (TD3 vs DDPG vs PPO '
               'convergence with confidence intervals, revenue sweeps, trajectories) and summary.json. --quick '
               'takes a few minutes on 2 cores.')
EXPERIMENTS = ('seed0', 'seed1')


def add_arguments(parser):
    parser.add_argument('experiment', choices=EXPERIMENTS, help='which paper to reproduce')
    parser.add_argument('--quick', action='store_true', help='short training budgets (a few minutes)')
    parser.add_argument('--out', default=None, help='output folder (default: results/<experiment>)')


def run(args):
    out = args.out or os.path.join('results', args.experiment)
    if args.experiment == 'seed1':
        from uav_edge.learn import reproduce_seed1

        return reproduce_seed1.main((['--quick'] if args.quick else []) + ['--out', out])
    from uav_edge.learn.reproduce_seed0 import reproduce

    result = reproduce(out, quick=args.quick)
    held = sum(1 for c in result['claims'].values() if c['holds'])
    print(f"wrote {out}/fig3..fig6 PNGs and seed0_results.json in {result['seconds']:.0f} s; "
          f"{held}/{len(result['claims'])} checked claims hold:")
    for cid, claim in result['claims'].items():
        mark = {True: 'holds', False: 'DOES NOT HOLD', None: 'not checked'}[claim['holds']]
        print(f'  {cid:6s} {mark:14s} {claim["evidence"]}')
    return 0

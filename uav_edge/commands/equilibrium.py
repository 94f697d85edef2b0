"""`uav-edge equilibrium`: solve the seed-0 Stackelberg bandwidth market of a scenario."""
import json
import sys
import time

import numpy as np

HELP = 'solve the seed-0 Stackelberg bandwidth market of a scenario'
DESCRIPTION = ('Solve the RSU pricing / UAV bandwidth Stackelberg equilibrium (seed 0, spec 3.9) for a '
               'scenario and print prices, demands, twin-migration targets and utilities.')


def add_arguments(parser):
    add_scenario_arguments(parser)
    parser.add_argument('--json', action='store_true', help='print the full result as JSON instead of tables')
    parser.add_argument('--verify', action='store_true',
                        help='check every price against a grid + Brent search of unilateral deviations')


def add_scenario_arguments(parser):
    """--scenario and --set, shared by every command that reads a scenario."""
    parser.add_argument('--scenario', default='default',
                        help="'default', 'small' or a YAML file (default: %(default)s)")
    parser.add_argument('--set', dest='overrides', action='append', default=[], metavar='KEY=VALUE',
                        help='override a scenario key, e.g. --set uavs.count=100 (repeatable)')


def load_scenario_from_args(args):
    from uav_edge.core.scenario import parse_overrides, resolve_scenario

    scenario = resolve_scenario(args.scenario)
    if args.overrides:
        scenario = scenario.with_overrides(parse_overrides(args.overrides))
    return scenario


def run(args):
    from uav_edge.core import game

    scenario = load_scenario_from_args(args)
    world = scenario.sample()
    params = world.game_params()
    start = time.perf_counter()
    eq = game.solve_equilibrium(params, verify=args.verify)
    elapsed = time.perf_counter() - start
    result = equilibrium_report(scenario, world, params, eq, elapsed)
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        print()
    else:
        print_equilibrium(result)
    return 0 if eq.converged else 1


def equilibrium_report(scenario, world, params, eq, elapsed_s):
    """A JSON-ready summary of a solved market (the CLI's output and the bench's sanity record)."""
    from uav_edge.core import game

    spend = (eq.prices * eq.demand).sum(axis=1)
    report = {
        'scenario': scenario.name, 'source': str(scenario.source), 'seed': scenario.seed,
        'num_rsus': params.num_rsus, 'num_uavs': params.num_uavs,
        'converged': eq.converged, 'sweeps': eq.sweeps, 'solve_ms': 1e3 * elapsed_s,
        'mean_rsu_utility': eq.mean_rsu_utility,
        'rsus': [{'name': world.rsu_names[j], 'cost': params.cost[j], 'price_cap': params.price_cap[j],
                  'utility': eq.rsu_utility[j], 'bandwidth_sold': eq.demand[:, j].sum(),
                  'uavs_served': int((eq.demand[:, j] > 0).sum())} for j in range(params.num_rsus)],
        'uavs': [{'name': world.uav_names[i], 'budget': params.budget[i], 'spend': spend[i],
                  'lambda': eq.lam[i], 'utility': eq.uav_utility[i],
                  'migration_targets': [world.rsu_names[j] for j in np.flatnonzero(eq.demand[i] > 0)],
                  'prices': eq.prices[i].tolist(), 'demand': eq.demand[i].tolist()}
                 for i in range(params.num_uavs)],
    }
    if world.follower_mode == 'paper':
        literal = game.follower_best_response_paper(eq.prices, params)
        report['paper_follower_budget_violations'] = int(
            ((eq.prices * literal).sum(axis=1) > params.budget + 1e-9).sum())
    return json.loads(json.dumps(report, default=float))


def print_equilibrium(result):
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"[bold]Stackelberg equilibrium[/] of scenario [cyan]{result['scenario']}[/] "
                  f"({result['num_rsus']} RSUs, {result['num_uavs']} UAVs, seed {result['seed']}): "
                  f"{'converged' if result['converged'] else '[red]NOT converged[/]'} in "
                  f"{result['sweeps']} sweeps, {result['solve_ms']:.1f} ms")
    rsus = Table(title='RSUs (leaders)')
    for col in ('RSU', 'cost c', 'price cap', 'bandwidth sold', 'UAVs served', 'utility V_j'):
        rsus.add_column(col, justify='right')
    for r in result['rsus']:
        rsus.add_row(r['name'], f"{r['cost']:.2f}", f"{r['price_cap']:.2f}", f"{r['bandwidth_sold']:.4f}",
                     str(r['uavs_served']), f"{r['utility']:.4f}")
    console.print(rsus)
    uavs = Table(title='UAVs (followers): twin migration targets = RSUs they buy from')
    for col in ('UAV', 'budget R', 'spend', 'lambda', 'utility U_i', 'migrates to'):
        uavs.add_column(col, justify='right')
    for u in result['uavs']:
        uavs.add_row(u['name'], f"{u['budget']:.2f}", f"{u['spend']:.2f}", f"{u['lambda']:.3f}",
                     f"{u['utility']:.3f}", ', '.join(u['migration_targets']) or '-')
    console.print(uavs)
    console.print(f"Mean RSU utility per step (the 'theoretical value'): [bold]{result['mean_rsu_utility']:.4f}[/]")



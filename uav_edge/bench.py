"""`uav-edge bench`: the project's measured numbers (speed, size, latency), as JSON plus a table.

Each section is a function returning a list of rows {'bench', 'value', 'unit', 'target', 'ok', ...}.
Targets are the issue tracker's; a row whose target is missed says so (ok: false) instead of failing.
"""
import json
import os
import platform
import time

import numpy as np


def _timed(fn, repeats):
    """(median, min) wall time in ms of `fn()` over `repeats` runs, plus the last result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(1e3 * (time.perf_counter() - start))
    return float(np.median(times)), float(np.min(times)), result


def _game(num_uavs, num_rsus, seed=0):
    from uav_edge.core.scenario import resolve_scenario

    scenario = resolve_scenario('default').with_overrides(
        {'seed': seed, 'uavs.count': num_uavs, 'rsus.count': num_rsus, 'users.count': 0})
    return scenario.sample().game_params()


def bench_equilibrium(quick=False):
    """Stackelberg equilibrium solve time vs size, and vs a generic scipy optimiser (issue: foundation)."""
    from uav_edge.core import game
    from uav_edge.core.game_reference import generic_equilibrium

    rows = []
    sizes = [(15, 5, 20), (1000, 50, 5 if quick else 15)] + ([] if quick else [(10000, 100, 3)])
    ours = {}
    for I, J, repeats in sizes:
        params = _game(I, J)
        game.solve_equilibrium(params)                       # warm-up (allocator, thread pool)
        med, best, eq = _timed(lambda: game.solve_equilibrium(params), repeats)
        ours[(I, J)] = med
        # Verify a sample of markets exactly: the largest unilateral gain any RSU could get.
        rng = np.random.default_rng(0)
        sample = np.sort(rng.choice(I, size=min(I, 15), replace=False))
        sub = game._rows(params, sample)
        gain, _ = game.unilateral_gain(eq.prices[sample], sub, grid=100, refine=False)
        profit = game.market_profit(eq.demand[sample], eq.prices[sample], sub)
        rel_gain = float(np.max(gain / np.maximum(1.0, np.abs(profit))))
        rows.append({'bench': f'equilibrium solve (I={I} UAVs, J={J} RSUs)', 'value': med, 'unit': 'ms',
                     'min_ms': best, 'repeats': repeats, 'sweeps': eq.sweeps, 'converged': eq.converged,
                     'mean_rsu_utility': eq.mean_rsu_utility, 'max_relative_deviation_gain': rel_gain,
                     'target': '< 20 ms' if (I, J) == (1000, 50) else None,
                     'ok': med < 20.0 if (I, J) == (1000, 50) else None})
    # The same solves with a generic optimiser (no structure): bounded Brent per price.
    baselines = [('exact', 6, 3)] if quick else [('exact', 15, 5), ('slsqp', 3, 2)]
    for follower, I, J in baselines:
        params = _game(I, J)
        mine, _, eq = _timed(lambda: game.solve_equilibrium(params), 20)
        generic_ms, _, (prices, sweeps) = _timed(lambda: generic_equilibrium(params, follower=follower), 1)
        demand, _ = game.follower_best_response(prices, params)
        agree = float(np.max(np.abs(game.rsu_utility(demand, prices, params) - eq.rsu_utility)))
        label = 'Brent leaders + exact followers' if follower == 'exact' else 'Brent leaders + SLSQP followers'
        rows.append({'bench': f'speed-up vs scipy ({label}, I={I}, J={J})', 'value': generic_ms / mine,
                     'unit': 'x', 'generic_ms': generic_ms, 'ours_ms': mine, 'generic_sweeps': sweeps,
                     'max_rsu_utility_difference': agree, 'target': '>= 100x', 'ok': generic_ms / mine >= 100})
    return rows


def bench_sitl(quick=False):
    """Built-in simulator: real-time vehicle count, MAVSDK round trip, offboard setpoint jitter (issue: fly it)."""
    from uav_edge.sitl import bench as sitl

    fleet = sitl.max_realtime_vehicles(duration_s=1.0 if quick else 2.0)
    arm = sitl.arm_round_trip(n=50 if quick else 200)
    offboard = sitl.offboard_setpoint_rate(duration_s=2.0 if quick else 5.0)
    return [
        {'bench': 'vehicles simulated in real time (50 Hz physics, one core)', 'unit': 'vehicles',
         'value': fleet['max_realtime_vehicles'], 'limit_reached': fleet['limit_reached'],
         'target': '>= 50', 'ok': fleet['max_realtime_vehicles'] >= 50},
        {'bench': 'MAVSDK arm round trip p50', 'value': arm['p50_ms'], 'unit': 'ms', 'n': arm['n'],
         'client': arm['client']},
        {'bench': 'MAVSDK arm round trip p99', 'value': arm['p99_ms'], 'unit': 'ms'},
        {'bench': 'offboard setpoints received (sent at 50 Hz)', 'value': offboard['received_hz'], 'unit': 'Hz',
         'sent': offboard['sent'], 'received': offboard['received']},
        {'bench': 'offboard setpoint jitter p99 at the vehicle', 'value': offboard['jitter_ms_p99'], 'unit': 'ms',
         'p50_ms': offboard['jitter_ms_p50'], 'target': '< 5 ms', 'ok': offboard['jitter_ms_p99'] < 5.0},
    ]


def bench_policy(quick=False):
    """Tiny MADRL policies: size dense vs pruned, ONNX fp32/int8, latency vs torch eager, gap (issue: Tiny MADRL)."""
    from uav_edge.learn.bench_policy import bench_policy as run_policy_bench

    return run_policy_bench(quick=quick)


def bench_seed1(quick=False):
    """Seed 1 TD3 actor: inference onnxruntime vs torch eager, offloading env steps/s (issue: seed 1)."""
    from uav_edge.learn.bench_seed1 import bench_seed1 as run_seed1_bench

    return run_seed1_bench(quick=quick)


def bench_flight(quick=False):
    """Flight bridge: offboard setpoint stream rate and jitter at 50 Hz (issue: fly it)."""
    from uav_edge.flight.bench import bench_flight as run_flight_bench

    return run_flight_bench(quick=quick)


def bench_mission(quick=False):
    """The main job: start-to-airborne time, flight and whole-command durations (issue: fly it)."""
    from uav_edge.mission.bench import bench_mission as run_mission_bench

    return run_mission_bench(quick=quick)


def bench_nodes(quick=False):
    """Node graph: pose -> demand latency and the highest market-round rate sustained (issue: node graph)."""
    from uav_edge.nodes.bench import bench_market_rate, bench_node_latency

    return bench_node_latency(quick=quick) + bench_market_rate(quick=quick)


SECTIONS = {'equilibrium': bench_equilibrium, 'sitl': bench_sitl, 'policy': bench_policy,
            'seed1': bench_seed1, 'flight': bench_flight, 'mission': bench_mission, 'nodes': bench_nodes}


def run(sections=None, quick=False, out='results/bench.json'):
    """Run the selected sections (all by default) and write their rows to `out` as JSON."""
    unknown = set(sections or []) - set(SECTIONS)
    if unknown:
        raise ValueError(f'unknown bench section(s) {sorted(unknown)}; known: {sorted(SECTIONS)}')
    results = {'machine': {'python': platform.python_version(), 'cpus': os.cpu_count(),
                           'processor': platform.processor() or platform.machine()},
               'quick': quick, 'sections': {}}
    for name in sections or SECTIONS:
        results['sections'][name] = SECTIONS[name](quick=quick)
    if os.path.dirname(out):
        os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, 'w') as fh:
        json.dump(results, fh, indent=2, default=float)
    return results


def print_table(results):
    from rich.console import Console
    from rich.table import Table

    table = Table(title='uav-edge bench')
    for col in ('section', 'benchmark', 'value', 'target', 'met'):
        table.add_column(col)
    for section, rows in results['sections'].items():
        for row in rows:
            met = {True: '[green]yes[/]', False: '[red]NO[/]', None: ''}[row.get('ok')]
            table.add_row(section, row['bench'], f"{row['value']:.4g} {row['unit']}", row.get('target') or '', met)
    Console().print(table)

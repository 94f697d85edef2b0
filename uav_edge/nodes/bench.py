"""Benchmarks of the node graph over DDS on loopback (issue 4), rows for `uav-edge bench`.

Both run the market part of the graph (channel_estimator + bandwidth_follower per UAV, pricing_leader
per RSU; default scenario: 15 UAVs, 5 RSUs) in ONE process on one executor, driven by a Probe node.
One process shares one GIL and one executor, so these are lower bounds for a deployment where each
UAV and RSU runs on its own computer.

bench_node_latency: every UAV's pose is published together (20 Hz); the latency of a UAV is the time
from its pose message to the first demand message whose value changed (prices are at the equilibrium,
so only the new pose changes the demand). p50 / p99 over all UAVs and samples.
bench_market_rate: for increasing round rates, the market runs for a few seconds with poses at 10 Hz;
a rate is sustained when no leader missed a round (a round > 1.5 periods after the previous one).
"""
import os
import time

import numpy as np

TARGET_P99_MS = 20.0
TARGET_RATE_HZ = 10.0
_MARKET = ('channel_estimator', 'bandwidth_follower', 'pricing_leader')


def _market(round_period_s, domain_id, events=False):
    from uav_edge import graph
    from uav_edge.nodes.probe import Probe
    from uav_edge.nodes.runtime import InProcessGraph

    scenario = graph.load_scenario('default')
    world = scenario.sample()
    specs = graph.build_graph(scenario, graph.GraphOptions(round_period_s=round_period_s, stale_rounds=10,
                                                           kinds=_MARKET))
    g = InProcessGraph(specs, domain_id=domain_id, events=events).start()
    probe = g.add(Probe(world.uav_names, world.rsu_names, context=g.context))
    poses = {u: np.array([h[0], h[1], world.altitude_m[0]]) for u, h in zip(world.uav_names, world.uav_homes_m)}
    return g, probe, world, poses


def _domain():
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    return 1 + os.getpid() % 100


def bench_node_latency(quick=False):
    """Pose -> demand latency p50 / p99 with 15 UAVs and 5 RSUs (rounds every 0.5 s meanwhile)."""
    from uav_edge.core import game
    from uav_edge.nodes.probe import wait_for

    g, probe, world, poses = _market(0.5, _domain())
    try:
        eq = game.solve_equilibrium(world.game_params())

        def publish_all():
            for u, xyz in poses.items():
                probe.publish_pose(u, xyz)
        wait_for(lambda: (publish_all(), _close(probe.matrix('prices', world.rsu_names), eq.prices.T))[1] or None,
                 60, poll_s=0.1, what='equilibrium before measuring')
        latencies, lost = [], 0
        samples = 40 if quick else 200
        for k in range(samples):
            before = {u: probe.get(u, 'demand').copy() for u in world.uav_names}
            sent = {}
            for u, xyz in poses.items():
                xyz = xyz + [0.5 * (k % 2 + 1), 0.0, 0.0]           # a new position each sample
                sent[u] = time.perf_counter()
                probe.publish_pose(u, xyz)
            with probe.lock:
                probe.arrivals.clear()
                probe.keep_arrivals = True
            deadline = time.monotonic() + 1.0
            got = {}
            while len(got) < len(poses) and time.monotonic() < deadline:
                with probe.lock:
                    for u in world.uav_names:
                        if u in got:
                            continue
                        for t, value in probe.arrivals.get(f'/{u}/demand', []):
                            if not np.array_equal(value, before[u]):
                                got[u] = t - sent[u]
                                break
                time.sleep(0.001)
            with probe.lock:
                probe.keep_arrivals = False
            latencies += [1e3 * v for v in got.values()]
            lost += len(poses) - len(got)
            time.sleep(0.05)
    finally:
        g.stop()
    lat = np.array(latencies)
    p50, p99 = (float(np.percentile(lat, q)) for q in (50, 99)) if lat.size else (float('nan'),) * 2
    common = {'samples': int(lat.size), 'no_response': lost, 'uavs': world.num_uavs, 'rsus': world.num_rsus,
              'setup': 'one process, one SingleThreadedExecutor (lower bound)'}
    return [
        {'bench': 'pose -> demand latency p50 (15 UAVs, 5 RSUs)', 'value': p50, 'unit': 'ms', **common,
         'target': None, 'ok': None},
        {'bench': 'pose -> demand latency p99 (15 UAVs, 5 RSUs)', 'value': p99, 'unit': 'ms', **common,
         'target': f'< {TARGET_P99_MS:g} ms', 'ok': bool(p99 < TARGET_P99_MS) and lost == 0},
    ]


def bench_market_rate(quick=False):
    """Highest market-round rate (Hz) every RSU sustains without a missed round, 15 UAVs and 5 RSUs."""
    rates = (5.0, 10.0, 20.0, 40.0) if quick else (5.0, 10.0, 20.0, 30.0, 40.0, 60.0, 80.0)
    run_s = 2.0 if quick else 5.0
    best, details = 0.0, []
    for rate in rates:
        g, probe, world, poses = _market(1.0 / rate, _domain())
        try:
            leaders = [g.nodes[f'/{r}/pricing_leader'] for r in world.rsu_names]
            end = time.monotonic() + 1.0                           # warm-up: discovery, first rounds
            while time.monotonic() < end:
                for u, xyz in poses.items():
                    probe.publish_pose(u, xyz)
                time.sleep(0.1)
            start = [(n.rounds, n.missed_rounds) for n in leaders]
            t0 = time.monotonic()
            while time.monotonic() - t0 < run_s:
                for u, xyz in poses.items():
                    probe.publish_pose(u, xyz)
                time.sleep(0.1)
            elapsed = time.monotonic() - t0
            rounds = [n.rounds - r0 for n, (r0, _) in zip(leaders, start)]
            missed = sum(n.missed_rounds - m0 for n, (_, m0) in zip(leaders, start))
        finally:
            g.stop()
        achieved = min(rounds) / elapsed
        sustained = missed == 0 and achieved >= 0.9 * rate
        details.append({'rate_hz': rate, 'achieved_hz': achieved, 'missed_rounds': missed, 'sustained': sustained})
        if not sustained:
            break
        best = rate
    return [{'bench': 'market rounds sustained without a miss (15 UAVs, 5 RSUs)', 'value': best, 'unit': 'Hz',
             'runs': details, 'seconds_per_rate': run_s,
             'setup': 'one process, one SingleThreadedExecutor (lower bound)',
             'target': f'>= {TARGET_RATE_HZ:g} Hz', 'ok': best >= TARGET_RATE_HZ}]


def _close(a, b, tol=1e-6):
    return a is not None and np.shape(a) == np.shape(b) and float(np.max(np.abs(a - b))) < tol

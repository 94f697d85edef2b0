"""The market over real DDS (loopback): pricing leaders + bandwidth followers + channel estimators.

Each test uses its own ROS_DOMAIN_ID, starts the nodes from uav_edge.graph in one executor (one RSU as
its own process where it must be killed), drives poses with a probe node and waits for conditions.
Market round period 0.1 s. Reference values come from the twin's solve_equilibrium.
"""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml

from uav_edge import graph
from uav_edge.core import channel, game, market
from uav_edge.nodes import contract
from uav_edge.nodes.probe import Probe, wait_for
from uav_edge.nodes.runtime import InProcessGraph, ProcessGraph

ROUND_S = 0.1
MAX_ROUNDS = 30     # rounds with every q fresh until the distributed iteration reaches the SE to 1e-6
                    # (the twin's synchronous Jacobi iteration needs 10 on the default scenario)
TOL = 1e-6
MARKET = ('channel_estimator', 'bandwidth_follower', 'pricing_leader')


class Driver:
    """Publishes each UAV's pose every ROUND_S while the test waits (poses are the graph's only input)."""

    def __init__(self, probe, poses):
        self.probe, self.poses, self.last = probe, dict(poses), 0.0

    def __call__(self):
        if time.monotonic() - self.last >= ROUND_S:
            for uav, xyz in self.poses.items():
                self.probe.publish_pose(uav, xyz)
            self.last = time.monotonic()

    def until(self, condition, timeout_s, what):
        return wait_for(lambda: (self(), condition())[1], timeout_s, what=what)


def reference_poses(world):
    return {u: [h[0], h[1], world.altitude_m[0]] for u, h in zip(world.uav_names, world.uav_homes_m)}


def close(a, b):
    return a is not None and np.shape(a) == np.shape(b) and np.max(np.abs(a - b)) < TOL


def test_prices_and_demands_converge_to_the_stackelberg_equilibrium(domain_id):
    scenario = graph.load_scenario('default')
    world = scenario.sample()
    eq = game.solve_equilibrium(world.game_params())
    specs = graph.build_graph(scenario, graph.GraphOptions(round_period_s=ROUND_S, stale_rounds=5, kinds=MARKET))
    with InProcessGraph(specs, domain_id=domain_id) as g:
        probe = g.add(Probe(world.uav_names, world.rsu_names, context=g.context))
        drive = Driver(probe, reference_poses(world))
        drive.until(lambda: close(probe.matrix('prices', world.rsu_names), eq.prices.T), 40, 'equilibrium prices')
        leaders = [g.nodes[f'/{r}/pricing_leader'] for r in world.rsu_names]
        rounds = max(leader.ready_rounds for leader in leaders)
        drive.until(lambda: close(probe.matrix('demand', world.uav_names), eq.demand), 5, 'equilibrium demand')
        expected_targets = [world.rsu_names[j] for j in np.argmax(eq.demand, axis=1)]
        drive.until(lambda: [probe.get(u, 'migration_target') for u in world.uav_names] == expected_targets, 5,
                    'migration targets = the RSUs with the largest equilibrium demand')
        invalid = sum(sum(n.invalid_counts.values()) for n in g.nodes.values() if hasattr(n, 'invalid_counts'))
    assert rounds <= MAX_ROUNDS
    assert invalid == 0


@pytest.mark.parametrize('grouping', graph.GROUPINGS)
def test_processes_reach_the_same_equilibrium(domain_id, tmp_path, grouping):
    """The deployments of `uav-edge run` and the launch file: every node its own process (35 DDS participants
    here, + the probe), or one process per UAV / RSU namespace (20). Fast DDS on loopback announces itself to
    only 4 other participants by default; without config/dds/fastdds_localhost.xml most pricing leaders never
    heard each other."""
    scenario = graph.load_scenario('default')
    world = scenario.sample()
    eq = game.solve_equilibrium(world.game_params())
    specs = graph.build_graph(scenario, graph.GraphOptions(round_period_s=ROUND_S, stale_rounds=5, kinds=MARKET))
    with ProcessGraph(specs, tmp_path, domain_id=domain_id, grouping=grouping) as processes, \
            InProcessGraph(domain_id=domain_id) as g:
        probe = g.add(Probe(world.uav_names, world.rsu_names, context=g.context))
        drive = Driver(probe, reference_poses(world))

        def every_leader_heard_every_other():
            statuses = [probe.status(f'/{r}/pricing_leader') for r in world.rsu_names]
            if any(s is None for s in statuses):
                return False
            received = [np.array(s[2]['prices_received'].split(), dtype=int) for s in statuses]
            return all(np.all(np.delete(n, j) > 0) for j, n in enumerate(received))
        # discovery first (35 processes exchange their endpoints: slow on a loaded machine, never complete
        # for most leader pairs without the profile), then the market
        drive.until(every_leader_heard_every_other, 180, 'every pricing leader hearing every other one')
        assert len(processes.procs) == (len(specs) if grouping == 'node' else world.num_uavs + world.num_rsus)
        # 60 s was not always enough with 35 processes on 2 loaded vCPUs (one CI run of 12 min); speed is
        # the bench's business, this test checks that they get there
        drive.until(lambda: close(probe.matrix('prices', world.rsu_names), eq.prices.T), 150,
                    f'equilibrium prices from {len(processes.procs)} processes')
        drive.until(lambda: close(probe.matrix('demand', world.uav_names), eq.demand), 10, 'equilibrium demand')
        alive = processes.alive()
    assert alive


def test_a_killed_rsu_makes_the_market_resolve_among_the_others(domain_id, tmp_path):
    scenario = graph.load_scenario('default')
    world = scenario.sample()
    params = world.game_params()
    specs = graph.build_graph(scenario, graph.GraphOptions(round_period_s=ROUND_S, stale_rounds=5, kinds=MARKET))
    victim = next(s for s in specs if s.fully_qualified_name == '/rsu0/pricing_leader')
    params_file = graph.write_params_file(specs, tmp_path / 'params.yaml')
    env = {**os.environ, 'ROS_DOMAIN_ID': str(domain_id), 'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST'}
    proc = subprocess.Popen(graph.node_command(victim, params_file, python=sys.executable, log_level='error'),
                            env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        with InProcessGraph([s for s in specs if s is not victim], domain_id=domain_id) as g:
            probe = g.add(Probe(world.uav_names, world.rsu_names, context=g.context))
            drive = Driver(probe, reference_poses(world))
            full = game.solve_equilibrium(params)
            drive.until(lambda: close(probe.matrix('prices', world.rsu_names), full.prices.T), 40,
                        'equilibrium with all RSUs (rsu0 in its own process)')
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            keep = np.arange(world.num_rsus) != 0
            rest = game.solve_equilibrium(market.restrict_to_available(params, keep))
            drive.until(lambda: close(probe.matrix('prices', world.rsu_names[1:]), rest.prices[:, keep].T), 40,
                        'equilibrium among the remaining RSUs')
            drive.until(lambda: close(probe.matrix('demand', world.uav_names), rest.demand), 5, 'demand re-solved')
            wait_for(lambda: 'rsu0' in (probe.status('/uav0/bandwidth_follower') or (0, ''))[1], 5,
                     what='follower diagnostics naming the dropped RSU')
            level = probe.status('/uav0/bandwidth_follower')[0]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert np.all(rest.demand[:, 0] == 0) and level == b'\x01'       # WARN


MOVE_SCENARIO = {
    'name': 'move_test', 'seed': 0,
    'area': {'size_m': [2000.0, 2000.0], 'altitude_m': [30.0, 120.0]},
    'rsus': {'items': [
        {'name': 'rsu_west', 'position_m': [500.0, 1000.0, 10.0], 'noise_dbm': -100.0, 'gain_db': -110.0,
         'tx_power_dbm': 20.0, 'cost': 2.0, 'price_cap': 30.0},
        {'name': 'rsu_east', 'position_m': [1500.0, 1000.0, 10.0], 'noise_dbm': -100.0, 'gain_db': -110.0,
         'tx_power_dbm': 20.0, 'cost': 2.0, 'price_cap': 30.0}]},
    'uavs': {'items': [{'name': 'drone', 'home_m': [500.0, 1000.0, 0.0], 'delta': 15.0, 'budget': 8.0,
                        'ssim_threshold': 0.5,
                        # rsu_east's twin copy is of lower quality (SSIM 0.85): at home (x = 500 m, where both
                        # links estimate q = 3.46) the equilibrium demand is 2.1x higher at rsu_west, not a near
                        # tie (with 0.93 it was 1.02x: whichever RSU the first prices favoured kept the twin)
                        'ssim': {'l': [0.95, 0.85], 'contrast': [0.95, 0.85], 's': [0.95, 0.85]}}]},
    'users': {'count': 0},
}


def test_a_uav_moving_away_from_its_rsu_lowers_its_estimate_and_migrates(domain_id, tmp_path):
    """Weak links (Table II gain -110 dB, q = 3.46 at the reference): leaving the RSU it hovers over, the
    UAV's q for it falls and its twin migrates to the other RSU."""
    path = tmp_path / 'move.yaml'
    path.write_text(yaml.safe_dump(MOVE_SCENARIO))
    scenario = graph.load_scenario(str(path))
    world = scenario.sample()
    specs = graph.build_graph(scenario, graph.GraphOptions(round_period_s=ROUND_S, kinds=MARKET))
    q_index = contract.CHANNEL_FIELDS.index('spectral_efficiency')
    ref = [500.0, 1000.0, world.altitude_m[0]]             # the drone's home at the reference altitude
    seen = []
    with InProcessGraph(specs, domain_id=domain_id) as g:
        probe = g.add(Probe(world.uav_names, world.rsu_names, context=g.context))
        for x in (500.0, 550.0, 600.0, 650.0, 700.0):
            pose = [x, 1000.0, 30.0]
            q_model = channel.estimated_link_quality(pose, world.rsu_positions_m, ref, world.tx_power_dbm,
                                                     world.gain_db, world.noise_dbm)[3]
            drive = Driver(probe, {'drone': pose})
            fields = drive.until(lambda: _if_q(probe.get('drone', 'channel'), q_index, q_model), 10,
                                 f'the channel estimate at x = {x} m')
            seen.append(fields[:, q_index])
            if x == 500.0:          # the first prices may favour either RSU; the settled market buys at rsu_west
                drive.until(lambda: probe.get('drone', 'migration_target') == 'rsu_west' or None, 10,
                            'the twin at rsu_west while hovering over it')
        drive.until(lambda: probe.get('drone', 'migration_target') == 'rsu_east' or None, 10, 'migration to rsu_east')
    seen = np.array(seen)
    assert np.all(np.diff(seen[:, 0]) < 0) and np.all(np.diff(seen[:, 1]) > 0)


def _if_q(fields, q_index, expected):
    return fields if fields is not None and np.allclose(fields[:, q_index], expected, rtol=1e-9) else None

"""offload_scheduler with `policy: onnx` and the SHIPPED seed-1 TD3 model (models/seed1_td3.onnx + card), over real DDS.

Every UAV's scheduler builds the seed-1 state from all UAVs' poses and energies (+ the seed-1 config's layout and
tasks), runs the centralised actor and publishes its own row. (1) With 5 UAVs (the card's K) each row is the
row of offload_policy's decision for the same telemetry, called here directly; the CPU power is the twin's slot
energy (core.offload.slot_outcome). (2) A world the card does not describe (3 UAVs) or a missing model, and
(3) stale peer poses give the analytic heuristic's row and a WARN naming the reason.
Each test has its own ROS_DOMAIN_ID and waits for conditions (telemetry is re-published while waiting).
"""
import time
from pathlib import Path

import numpy as np
import pytest
from std_msgs.msg import Float64MultiArray

from uav_edge import graph
from uav_edge.core import channel, offload, offload_heuristic
from uav_edge.core.offload_config import load_seed1_config
from uav_edge.nodes import contract
from uav_edge.nodes.probe import Probe, wait_for
from uav_edge.nodes.runtime import InProcessGraph
from uav_edge.policy.offload_policy import load_offload_policy

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / 'models' / 'seed1_td3.onnx'
OK, WARN = b'\x00', b'\x01'
SLOT_S = 0.2                                    # fast slots for the test (the seed-1 slot is 1 s [D-A1])
DATA_BITS, CYCLES_PER_BIT = 2.5e6, 1100.0       # the node's default task (mid seed-1 ranges [A])
SOC = np.array([1.0, 0.9, 0.75, 0.6, 0.45])     # state of charge per UAV


@pytest.fixture(scope='module')
def seed1():
    """The default seed-1 config's params (K = 5, the card's) and fixed layout (UAV start positions in the box)."""
    params = load_seed1_config().params
    return params, offload.sample_layout(params)


class Graph:
    """The scenario's offload schedulers (policy onnx, `num_uavs` UAVs) + a probe publishing their telemetry."""

    def __init__(self, domain_id, num_uavs, **params):
        scenario = graph.load_scenario('default', overrides=['policies.offload=onnx',
                                                             f'policies.offload_model={MODEL}'], num_uavs=num_uavs)
        self.world = scenario.sample()
        options = graph.GraphOptions(kinds=('offload_scheduler',), extra={'offload_scheduler': {
            'slot_s': SLOT_S, 'diagnostics_period_s': 0.2, 'stale_after_s': 1.0, **params}})
        self.g = InProcessGraph(graph.build_graph(scenario, options), domain_id=domain_id)
        self.probe = self.g.add(Probe(self.world.uav_names, [], context=self.g.context))
        self.energy = {u: self.probe.create_publisher(Float64MultiArray, contract.topic(u, 'energy'),
                                                      contract.qos(contract.SENSOR)) for u in self.world.uav_names}
        for u in self.world.uav_names:
            self.probe.watch(Float64MultiArray, contract.topic(u, 'offload'), contract.DECISION,
                             lambda m: np.asarray(m.data, dtype=float))
        self.g.start()
        self.last = 0.0

    def feed(self, positions_m, soc, uavs=None):
        """Publish the poses and energies of `uavs` (default all), at most every 0.05 s."""
        if time.monotonic() - self.last < 0.05:
            return
        for k, u in enumerate(self.world.uav_names):
            if uavs is None or u in uavs:
                self.probe.publish_pose(u, positions_m[k])
            self.energy[u].publish(contract.make_array([soc[k] * 3.6e5, soc[k], 150.0, 1e3], ('field',)))
        self.last = time.monotonic()

    def wait(self, condition, positions_m, soc, what, uavs=None, timeout_s=10.0):
        def step():
            self.feed(positions_m, soc, uavs)
            return condition()
        return wait_for(step, timeout_s, what=what)

    def status(self, uav):
        return self.probe.status(f'/{uav}/offload_scheduler')

    def fresh_rows(self, uavs, positions_m, soc, feed_uavs=None):
        """Forget the rows received so far and wait for a new one from each of `uavs`."""
        with self.probe.lock:
            for u in uavs:
                self.probe.latest.pop(contract.topic(u, 'offload'), None)
        rows = lambda: [self.probe.get(u, 'offload') for u in uavs]                      # noqa: E731
        self.wait(lambda: all(r is not None for r in rows()), positions_m, soc, 'new offload rows', feed_uavs)
        return np.array(rows())

    def close(self):
        self.g.stop()


def using(node_status, policy, level=None, text=''):
    """The status if the node reports `policy` in use (and level / text), else None."""
    if node_status is None or node_status[2].get('policy') != policy or text not in node_status[1]:
        return None
    return node_status if level is None or node_status[0] == level else None


def heuristic_row(world, xyz):
    """The analytic heuristic's row for a UAV at xyz (docs/nodes.md), from the twin, with the node's settings."""
    params = offload_heuristic.OffloadHeuristicParams(slot_s=SLOT_S, cycles_per_bit=CYCLES_PER_BIT)
    nearest = np.min(np.linalg.norm(world.user_positions_m - xyz, axis=1))
    uplink_bps = channel.mean_rician_rate(max(nearest, 1.0), channel.Seed1A2GParams())
    d2d_bps = channel.mean_rician_rate(30.0, channel.Seed1D2DParams())      # the node's d2d_distance_m default
    d = offload_heuristic.offload_decision(DATA_BITS, uplink_bps, d2d_bps, 2.3, params)
    return np.array([*d.split, d.uav_cpu_hz, 2.3e6, d.uav_energy_j / SLOT_S, d.completion_s])


@pytest.mark.parametrize('model_path', [None, 'models/seed1_ppo.onnx'], ids=['td3', 'ppo'])
def test_each_uav_publishes_its_row_of_the_learned_decision_for_the_live_telemetry(domain_id, seed1, model_path):
    """The scenario's model (the shipped TD3), or the shipped PPO named by a relative `model_path` (found in the
    package share whatever the working directory)."""
    params, layout = seed1
    positions = layout.uav_start_m                          # a state the actor was trained from
    run = Graph(domain_id, 5, **({'model_path': model_path} if model_path else {}))
    try:
        uavs = run.world.uav_names
        run.wait(lambda: all(using(run.status(u), 'onnx', OK) for u in uavs), positions, SOC, 'actor in use on all')
        rows = run.fresh_rows(uavs, positions, SOC)
        assert all(using(run.status(u), 'onnx', OK) for u in uavs)
        # the same telemetry through offload_policy directly
        policy = load_offload_policy(params, 'onnx', ROOT / (model_path or MODEL), fallback=False)
        task_bits = np.full(params.num_busy_uds, DATA_BITS)
        decision = policy.decide(layout.busy_pos_m, task_bits, CYCLES_PER_BIT, positions, SOC * params.battery_j)
        for k, row in enumerate(rows):
            expected = [*decision.offload_split, decision.uav_cpu_hz[k], decision.bitrate_mbps[k] * 1e6]
            np.testing.assert_allclose(row[:5], expected, rtol=1e-6, atol=1e-12)
        # the shipped actor barely depends on its state (output spread < 0.003 over valid states), so the rows
        # alone cannot show the state is right: every node's state must be the telemetry's, element by element
        # ([L_i/200, D_i/D_max, C/C_max, u_k/(200, 200, H_max), E_k/E_r] with E_k = soc x battery_j)
        expected_state = np.concatenate([layout.busy_pos_m[:, :2].ravel() / 200.0, task_bits / 3.5e6,
                                         [CYCLES_PER_BIT / 1500.0], (positions / [200.0, 200.0, 200.0]).ravel(), SOC])
        for u in uavs:
            np.testing.assert_allclose(run.g.nodes[f'/{u}/offload_scheduler'].observation, expected_state, rtol=1e-6)
        # CPU power: the twin's transcoding + processing energy of each UAV in this slot (rate-independent)
        out = offload.slot_outcome(np.random.default_rng(0), decision, positions, np.zeros((5, 3)),
                                   SOC * params.battery_j, layout.busy_pos_m, layout.idle_pos_m, layout.partner,
                                   task_bits, CYCLES_PER_BIT, params)
        cpu_j = out.energies['uav_transcoding'] + out.energies['uav_processing']
        np.testing.assert_allclose(rows[:, 5], cpu_j / params.slot_s, rtol=1e-9, atol=1e-12)
        # completion: 0 s for a UAV serving nobody, else at least its busy UDs' local computing time (10)
        for k in range(5):
            served = out.association == k
            if served.any():
                assert rows[k, 6] >= np.max(out.delays['local'][served]) * (1 - 1e-9)
            else:
                assert rows[k, 6] == 0.0 and rows[k, 5] == 0.0
        # the policy is really in use: its split is not the heuristic's
        assert np.max(np.abs(rows[0, :3] - heuristic_row(run.world, positions[0])[:3])) > 1e-3
    finally:
        run.close()


@pytest.mark.parametrize('num_uavs, params, reason', [
    (3, {}, 'trained with num_uavs = 5, this world has 3'),
    (5, {'model_path': str(ROOT / 'models' / 'no_such_model.onnx')}, 'model file not found'),
])
def test_a_world_the_card_does_not_describe_falls_back_to_the_heuristic_with_a_warn(domain_id, seed1, num_uavs,
                                                                                    params, reason):
    positions = seed1[1].uav_start_m[:num_uavs]
    run = Graph(domain_id, num_uavs, **params)
    try:
        s = run.wait(lambda: using(run.status('uav0'), 'heuristic', WARN, 'policy onnx unavailable'),
                     positions, SOC, 'the fallback WARN')
        assert reason in s[1] and 'analytic heuristic in use' in s[1]
        rows = run.fresh_rows(['uav0'], positions, SOC)
        np.testing.assert_allclose(rows[0], heuristic_row(run.world, positions[0]), rtol=1e-9)
    finally:
        run.close()


def test_stale_peer_poses_fall_back_to_the_heuristic_with_a_warn(domain_id, seed1):
    positions = seed1[1].uav_start_m
    run = Graph(domain_id, 5)
    try:
        run.wait(lambda: using(run.status('uav0'), 'onnx', OK), positions, SOC, 'TD3 in use')
        live = ('uav0', 'uav1', 'uav2')                        # uav3 and uav4 stop reporting their poses
        s = run.wait(lambda: using(run.status('uav0'), 'heuristic', WARN, 'no fresh pose from uav3, uav4'),
                     positions, SOC, 'the stale-pose WARN', uavs=live)
        assert 'analytic heuristic in use' in s[1]
        rows = run.fresh_rows(['uav0'], positions, SOC, feed_uavs=live)
        np.testing.assert_allclose(rows[0], heuristic_row(run.world, positions[0]), rtol=1e-9)
        # the peers come back: TD3 again
        run.wait(lambda: using(run.status('uav0'), 'onnx', OK), positions, SOC, 'TD3 in use again')
    finally:
        run.close()

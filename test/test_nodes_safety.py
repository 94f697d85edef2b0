"""Safe behaviour over real DDS: invalid inputs are dropped, counted and reported; stale inputs give the safe
action (prices hold, demand 0, planner holds position); the energy reserve turns the planner home; an
unavailable ONNX policy falls back to the analytic one with a WARN; `uav-edge run` starts and stops the
graph as processes. Each test has its own ROS_DOMAIN_ID and waits for conditions."""
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from geometry_msgs.msg import PoseStamped
from nav_msgs.msg import Path
from sensor_msgs.msg import BatteryState
from std_msgs.msg import Bool, Float64MultiArray

from uav_edge import graph, stall
from uav_edge.nodes import contract
from uav_edge.nodes.probe import Probe, wait_for
from uav_edge.nodes.runtime import InProcessGraph

OK, WARN = b'\x00', b'\x01'


@pytest.fixture
def one_uav(domain_id):
    """The 'small' scenario with one UAV: its five nodes + two pricing leaders, fast rounds, 0.2 s diagnostics."""
    scenario = graph.load_scenario('small', num_uavs=1)
    world = scenario.sample()
    options = graph.GraphOptions(round_period_s=0.1, stale_rounds=5, policy='onnx',
                                 extra={kind: {'diagnostics_period_s': 0.2} for kind in graph.NODE_KINDS})
    with InProcessGraph(graph.build_graph(scenario, options), domain_id=domain_id) as g:
        probe = g.add(Probe(world.uav_names, world.rsu_names, context=g.context))
        for name, msg_type, kind in (('energy_alarm', Bool, contract.LATCHED),
                                     ('setpoint', PoseStamped, contract.DECISION),
                                     ('path', Path, contract.LATCHED),
                                     ('offload', Float64MultiArray, contract.DECISION)):
            probe.watch(msg_type, contract.topic('uav0', name), kind)
        yield g, probe, world


def hover_until(probe, condition, timeout_s, what, xyz=(100.0, 400.0, 30.0)):
    """Keep publishing uav0's pose (every 0.1 s) while waiting for condition."""
    last = [0.0]

    def step():
        if time.monotonic() - last[0] >= 0.1:
            probe.publish_pose('uav0', xyz)
            last[0] = time.monotonic()
        return condition()
    return wait_for(step, timeout_s, what=what)


def status(probe, node, level=None, text=''):
    """The node's diagnostic status if it has `level` and `text` in its message, else None."""
    s = probe.status(node)
    return s if s is not None and (level is None or s[0] == level) and text in s[1] else None


def test_invalid_messages_are_dropped_counted_and_reported(one_uav):
    g, probe, world = one_uav
    hover_until(probe, lambda: probe.get('uav0', 'channel'), 10, 'a first channel estimate')
    bad_prices = probe.create_publisher(Float64MultiArray, '/rsu0/prices', contract.qos(contract.LATCHED))
    battery = probe.create_publisher(BatteryState, '/uav0/battery', contract.qos(contract.SENSOR))
    wait_for(lambda: battery.get_subscription_count() >= 1 and bad_prices.get_subscription_count() >= 2, 10,
             what='matching')
    probe.publish_pose('uav0', [np.nan, 0.0, 30.0])
    probe.publish_pose('uav0', [10.0, 0.0, 30.0], frame_id='odom')
    battery.publish(BatteryState(percentage=1.7))
    estimator = g.nodes['/uav0/channel_estimator']
    wait_for(lambda: estimator.invalid_counts['pose'] >= 2 or None, 10, what='both bad poses counted')
    s = hover_until(probe, lambda: status(probe, '/uav0/channel_estimator', WARN, 'invalid messages dropped: pose x2'),
                    10, 'channel_estimator diagnostics')
    assert s[2]['invalid pose'] == '2' and "frame_id 'odom'" in s[1] and 'non-finite position' not in s[1]
    # rsu0's own leader posts on /rsu0/prices every round and readers keep only the latest message (depth 1), so
    # a bad message can be overwritten before a reader takes it: repeat it until each reader has taken one
    for node in ('/uav0/bandwidth_follower', '/rsu1/pricing_leader'):
        def reports_bad_prices(node=node):
            bad_prices.publish(contract.make_array([1.0, 2.0], ('uav',)))
            return status(probe, node, WARN, '/rsu0/prices x')
        s = hover_until(probe, reports_bad_prices, 10, f'{node} diagnostics')
        assert 'layout sizes (2,), expected (1,)' in s[1] and int(s[2]['invalid /rsu0/prices']) >= 1
    assert hover_until(probe, lambda: status(probe, '/uav0/energy_monitor', WARN, 'battery x1'), 10,
                       'energy monitor diagnostics')
    # the nodes keep working: a valid pose elsewhere gives a new estimate, prices keep coming
    before = probe.get('uav0', 'channel').copy()
    hover_until(probe, lambda: not np.allclose(probe.get('uav0', 'channel'), before) or None, 10,
                'a new estimate', xyz=(1500.0, 1500.0, 60.0))
    # and the onnx policy, whose model is missing, fell back to the analytic one, loudly
    s = status(probe, '/rsu0/pricing_leader')
    assert 'policy onnx unavailable' in s[1] and s[0] == WARN


def test_stale_inputs_hold_prices_zero_demand_and_hold_position(one_uav):
    g, probe, world = one_uav
    cruise = g.nodes['/uav0/trajectory_planner'].altitude
    last_pose = np.array([100.0, 400.0, cruise - 5.0])               # still climbing
    hover_until(probe, lambda: (probe.get('uav0', 'demand') is not None and probe.get('uav0', 'demand').sum() > 0
                                and probe.get('uav0', 'setpoint') is not None) or None, 10, 'demand and setpoint',
                xyz=tuple(last_pose))
    # poses stop: the estimator goes quiet, the follower's channel goes stale
    wait_for(lambda: probe.get('uav0', 'demand').sum() == 0.0 or None, 5, what='demand dropping to 0')
    assert status(probe, '/uav0/bandwidth_follower') is not None
    wait_for(lambda: status(probe, '/uav0/bandwidth_follower', WARN, 'no fresh channel estimate'), 5,
             what='follower WARN')
    # the leaders notice the stale channel on their own clock (after the follower did; until then they still
    # polish their prices against the last q: a snapshot taken then moved by 2e-10 in one CI run), then hold
    assert wait_for(lambda: status(probe, '/rsu0/pricing_leader', WARN, 'their prices held'), 5, what='leader WARN')
    leader = g.nodes['/rsu0/pricing_leader']
    rounds = leader.rounds
    wait_for(lambda: leader.rounds >= rounds + 2 or None, 5, what='two rounds with the prices held')
    held = probe.matrix('prices', world.rsu_names)
    rounds = leader.rounds
    wait_for(lambda: leader.rounds >= rounds + 5 or None, 5, what='five more market rounds')
    np.testing.assert_array_equal(probe.matrix('prices', world.rsu_names), held)
    setpoint = wait_for(lambda: _hold(probe.get('uav0', 'setpoint'), [100.0, 400.0, cruise]), 5,
                        what='planner holding where it was, at the cruise altitude (inside the altitude band)')
    assert setpoint is not None
    assert wait_for(lambda: status(probe, '/uav0/trajectory_planner', WARN, 'holding last known position'), 5,
                    what='planner WARN')


def _hold(msg, xyz):
    if msg is None:
        return None
    p = msg.pose.position
    return msg if np.allclose([p.x, p.y, p.z], xyz) else None


def test_energy_reserve_raises_the_alarm_and_sends_the_planner_home(one_uav):
    g, probe, world = one_uav
    home = world.uav_homes_m[0]
    path = hover_until(probe, lambda: probe.get('uav0', 'path'), 10, 'a coverage path')
    assert wait_for(lambda: probe.get('uav0', 'energy_alarm'), 5, what='the latched alarm state').data is False
    battery = probe.create_publisher(BatteryState, '/uav0/battery', contract.qos(contract.SENSOR))
    wait_for(lambda: battery.get_subscription_count() >= 1, 10, what='battery matching')

    def low_battery():
        battery.publish(BatteryState(percentage=0.05))
        alarm = probe.get('uav0', 'energy_alarm')
        return alarm if alarm is not None and alarm.data else None
    hover_until(probe, low_battery, 10, 'the reserve alarm')
    home_path = hover_until(probe, lambda: probe.get('uav0', 'path') if probe.get('uav0', 'path') is not path
                            else None, 10, 'a replanned path')
    end = home_path.poses[-1].pose.position
    assert (end.x, end.y) == pytest.approx((home[0], home[1]))
    assert hover_until(probe, lambda: status(probe, '/uav0/energy_monitor', WARN, 'energy reserve reached'), 10,
                       'energy monitor WARN')
    assert hover_until(probe, lambda: status(probe, '/uav0/trajectory_planner', WARN, 'returning home'), 10,
                       'planner WARN')
    bitrate = contract.OFFLOAD_FIELDS.index('bitrate_bps')
    hover_until(probe, lambda: (lambda o: o if o is not None and o.data[bitrate] == 0.4e6 else None)(
        probe.get('uav0', 'offload')), 10, 'the offload scheduler at the lowest bitrate')


@pytest.mark.parametrize('grouping, processes', [('node', 7), ('namespace', 3)])
def test_runner_starts_the_graph_as_processes_and_stops_it_cleanly_on_sigint(domain_id, tmp_path, grouping, processes):
    """1 UAV, 2 RSUs: 7 nodes, as 7 processes or 3 (uav0's five nodes, rsu0, rsu1)."""
    env = {**os.environ, 'ROS_DOMAIN_ID': str(domain_id), 'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST'}
    runner = subprocess.Popen([sys.executable, '-m', 'uav_edge.cli', 'run', '--scenario', 'small', '--num-uavs', '1',
                               '--group', grouping, '--run-dir', str(tmp_path)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines = []
    try:
        for line in runner.stdout:                  # 'uav-edge run: 7 processes running; logs in ...'
            lines.append(line)
            if re.search(r'\d+ (nodes|processes) running', line):
                break
        pids = [int(p) for p in re.findall(r'\(pid (\d+)\)', ''.join(lines))]
        assert len(pids) == processes and all(_alive(p) for p in pids)
        runner.send_signal(signal.SIGINT)
        out, _ = runner.communicate(timeout=30)
    finally:
        if runner.poll() is None:
            os.killpg(runner.pid, signal.SIGKILL)
            runner.wait()
    assert runner.returncode == 0, ''.join(lines) + out
    assert re.search(rf'{processes}/{processes} (nodes|processes) exited cleanly', out)
    assert not any(_alive(p) for p in pids)                       # no orphans
    assert (tmp_path / 'params.yaml').is_file() and len(list(tmp_path.glob('*.log'))) == processes


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize('burst', [1, 2])
def test_channel_estimates_are_rate_limited_to_the_window_end_with_the_latest_pose(domain_id, burst):
    """max_rate_hz = 1, one token: a pose 0.6 s after a published estimate is published when the 1 s window
    closes (not 1 s after that pose), and a newer pose inside the window replaces it (the latest pose wins).
    Two tokens (the default burst): the pose at 0.6 s goes at once, the one at 0.7 s waits for the next token
    (1 s after the first), and one at 0.8 s replaces it."""
    from uav_edge.core import channel

    scenario = graph.load_scenario('small', num_uavs=1)
    world = scenario.sample()
    options = graph.GraphOptions(kinds=('channel_estimator',),
                                 extra={'channel_estimator': {'max_rate_hz': 1.0, 'rate_burst': burst}})
    spec, = graph.build_graph(scenario, options)

    def measure():                                           # once more if the VM froze meanwhile
        with InProcessGraph([spec], domain_id=domain_id) as g:
            probe = g.add(Probe(world.uav_names, world.rsu_names, uav_topics=('channel',), context=g.context))
            wait_for(lambda: probe.matched({'uav0': 1}), 10, what='estimator subscribed to the pose')
            ref = np.array(spec.parameters['reference_position_m'])
            q_at = {d: channel.estimated_link_quality(ref + [d, 0.0, 0.0], world.rsu_positions_m, ref,
                                                      world.tx_power_dbm, world.gain_db, world.noise_dbm)[3]
                    for d in (100.0, 200.0, 300.0, 400.0)}
            with probe.lock:
                probe.keep_arrivals = True
            _q = contract.CHANNEL_FIELDS.index('spectral_efficiency')

            def estimates():
                with probe.lock:
                    return [(t, v[:, _q]) for t, v in probe.arrivals['/uav0/channel']]
            probe.publish_pose('uav0', ref + [100.0, 0.0, 0.0])
            (t_a, q_a), = wait_for(lambda: estimates() or None, 10, what='the first estimate')
            np.testing.assert_allclose(q_a, q_at[100.0], rtol=1e-9)
            for delay, d in ((0.6, 200.0), (0.7, 300.0), (0.8, 400.0)):
                time.sleep(max(0.0, t_a + delay - time.perf_counter()))
                probe.publish_pose('uav0', ref + [d, 0.0, 0.0])
            if burst == 2:                                   # the second token: at once, with its own pose
                (t_b, q_b), = wait_for(lambda: estimates()[1:2] or None, 10, what='the second estimate')
                assert t_b - t_a < 0.7, f'second estimate {t_b - t_a:.3f} s after the first, its pose at 0.6 s'
                np.testing.assert_allclose(q_b, q_at[200.0], rtol=1e-9)
            (t_c, q_c), = wait_for(lambda: estimates()[burst:] or None, 10, what='the deferred estimate')
            assert 0.9 <= t_c - t_a < 1.4, f'deferred estimate {t_c - t_a:.3f} s after the first, window 1 s'
            np.testing.assert_allclose(q_c, q_at[400.0], rtol=1e-9)
            assert len(estimates()) == burst + 1

    stall.retry_if_stalled(measure)

"""Bad messages over real DDS, topic by topic: every input of every node of the one-UAV 'small' graph is validated.

For each topic a node of the graph subscribes to, several invalid messages of the right ROS type (wrong
Float64MultiArray layout, NaN, +inf, a value outside the reader's bounds, a pose in the wrong frame, ...) are
published while a probe keeps a valid pose flowing. Each one must be dropped and counted by every node that
subscribes to the topic (node.invalid_counts[topic], keyed as the node subscribed it), reported in that node's
/diagnostics, and afterwards every node must still be alive: all publish fresh diagnostics and a valid pose at a
new position still changes /uav0/channel. Inputs that a node takes at its tick (common.Inbox, depth 1) are
published again and again until the node's tick has taken one.

The graph is started once for the module (with the first test's own ROS_DOMAIN_ID, conftest.domain_id) and
shared: counts accumulate, so each case waits for its counts to rise above where they were when it started.
"""
import math
import time

import numpy as np
import pytest
from geometry_msgs.msg import PoseStamped, TwistStamped
from sensor_msgs.msg import BatteryState
from std_msgs.msg import Float64MultiArray

from uav_edge import graph
from uav_edge.nodes import contract
from uav_edge.nodes.probe import Probe, as_array, wait_for
from uav_edge.nodes.runtime import InProcessGraph

WARN = b'\x01'
HOVER = ((100.0, 400.0, 30.0), (1500.0, 1500.0, 60.0))      # two valid poses with different channel estimates
TIMEOUT_S = 10.0
VALID_POSE_PERIOD_S = 0.1                                    # the probe's valid pose stream (hover_until's)
BAD_PERIOD_S = 0.02                                          # how often the bad message is sent again

# topic (absolute) -> the nodes that subscribe to it, with the key of their invalid_counts (the topic as the node
# subscribed it: relative for the UAV's own inputs, absolute for the inbox-read prices / channel / demand)
SUBSCRIBERS = {
    '/uav0/pose': (('/uav0/channel_estimator', 'pose'), ('/uav0/trajectory_planner', 'pose'),
                   ('/uav0/offload_scheduler', 'pose')),
    '/uav0/velocity': (('/uav0/energy_monitor', 'velocity'),),
    '/uav0/battery': (('/uav0/energy_monitor', 'battery'),),
    '/uav0/offload': (('/uav0/energy_monitor', 'offload'),),
    '/uav0/link_quality': (('/uav0/channel_estimator', 'link_quality'),),
    '/uav0/channel': (('/uav0/bandwidth_follower', 'channel'), ('/rsu0/pricing_leader', '/uav0/channel'),
                      ('/rsu1/pricing_leader', '/uav0/channel')),
    '/uav0/demand': (('/rsu0/pricing_leader', '/uav0/demand'), ('/rsu1/pricing_leader', '/uav0/demand')),
    '/uav0/tasks': (('/uav0/offload_scheduler', 'tasks'),),
    '/rsu0/prices': (('/uav0/bandwidth_follower', '/rsu0/prices'), ('/rsu1/pricing_leader', '/rsu0/prices')),
    '/rsu1/prices': (('/uav0/bandwidth_follower', '/rsu1/prices'), ('/rsu0/pricing_leader', '/rsu1/prices')),
}
NOTHING_TO_VALIDATE = {'/uav0/energy_alarm'}                 # std_msgs/Bool: every message is valid

# --- the bad messages: (id, build() -> message, what the drop reason must say) --------------------------------


def array(values, labels, data=None):
    """A Float64MultiArray with a labelled layout (contract.make_array); `data` replaces its values (length
    mismatches)."""
    msg = contract.make_array(values, labels)
    if data is not None:
        msg.data = [float(v) for v in data]
    return msg


def replaced(base, index, value):
    out = np.array(base, dtype=float)
    out[index] = value
    return out


def array_cases(base, labels, low_index=None, low_value=None, high_index=None, high_value=None, allow_nan=False):
    """Wrong labels, wrong sizes, a data length that does not match the layout, NaN (unless NaN is allowed),
    +inf, and values below / above the reader's bounds where it has them."""
    base = np.asarray(base, dtype=float)
    wrong_labels = tuple(reversed(labels)) if len(labels) > 1 else ({'uav': 'rsu'}.get(labels[0], 'uav'),)
    cases = [('labels', lambda: array(base.T if len(labels) > 1 else base, wrong_labels), 'layout labels'),
             ('sizes', lambda: array(np.concatenate([base, base[:1]]), labels), 'layout sizes'),
             ('data_length', lambda: array(base, labels, data=list(base.ravel()) + [1.0]),
              f'{base.size + 1} values, expected {base.size}')]
    if not allow_nan:
        cases.append(('nan', lambda: array(replaced(base, (0,) * base.ndim, np.nan), labels), 'non-finite value'))
    cases.append(('inf', lambda: array(replaced(base, (-1,) * base.ndim, np.inf), labels),
                  'infinite value' if allow_nan else 'non-finite value'))
    if low_index is not None:
        cases.append(('below_low', lambda: array(replaced(base, low_index, low_value), labels),
                      f'value {low_value:g} at index'))
    if high_index is not None:
        cases.append(('above_high', lambda: array(replaced(base, high_index, high_value), labels),
                      f'value {high_value:g} at index'))
    return cases


def pose(xyz=HOVER[0], frame_id=contract.WORLD_FRAME, orientation_w=1.0):
    msg = contract.make_pose(xyz, stamp=_stamp(), frame_id=frame_id)
    msg.pose.orientation.w = orientation_w
    return msg


def twist(v=(1.0, 0.0, 0.0), frame_id=contract.WORLD_FRAME):
    msg = TwistStamped()
    msg.header.frame_id, msg.header.stamp = frame_id, _stamp()
    msg.twist.linear.x, msg.twist.linear.y, msg.twist.linear.z = (float(c) for c in v)
    return msg


def _stamp():
    from builtin_interfaces.msg import Time

    ns = time.time_ns()
    return Time(sec=ns // 10**9, nanosec=ns % 10**9)


CHANNEL = [[0.9, -80.0, 20.0, 5.0, 0.0], [0.5, -90.0, 10.0, 3.0, 0.0]]       # (rsu, field), within the bounds
OFFLOAD = [0.3, 0.3, 0.4, 1e9, 2.3e6, 1.0, 0.5]                               # contract.OFFLOAD_FIELDS

# topic -> (message type, QoS kind, [(case id, build, reason substring)])
CASES = {
    '/uav0/pose': (PoseStamped, contract.SENSOR, [
        ('nan', lambda: pose((math.nan, 400.0, 30.0)), 'non-finite position'),
        ('inf', lambda: pose((100.0, math.inf, 30.0)), 'non-finite position'),
        ('frame_odom', lambda: pose(frame_id='odom'), "frame_id 'odom'"),
        ('frame_empty', lambda: pose(frame_id=''), "frame_id ''"),
        ('beyond_range', lambda: pose((2e6, 400.0, 30.0)), 'beyond'),
        ('nan_orientation', lambda: pose(orientation_w=math.nan), 'non-finite orientation')]),
    '/uav0/velocity': (TwistStamped, contract.SENSOR, [
        ('inf', lambda: twist((math.inf, 0.0, 0.0)), 'non-finite velocity'),
        ('nan', lambda: twist((0.0, math.nan, 0.0)), 'non-finite velocity'),
        ('frame_base_link', lambda: twist(frame_id='base_link'), "frame_id 'base_link'"),
        ('too_fast', lambda: twist((150.0, 0.0, 0.0)), 'speed 150.0 m/s above')]),
    '/uav0/battery': (BatteryState, contract.SENSOR, [
        ('nan', lambda: BatteryState(percentage=math.nan), 'percentage nan outside [0, 1]'),
        ('below_0', lambda: BatteryState(percentage=-0.5), 'percentage -0.5 outside [0, 1]'),
        ('above_1', lambda: BatteryState(percentage=1.7), 'percentage 1.7')]),
    '/uav0/offload': (Float64MultiArray, contract.DECISION,
                      array_cases(OFFLOAD, ('field',), low_index=5, low_value=-1.0)),
    '/uav0/link_quality': (Float64MultiArray, contract.SENSOR,         # NaN = "no measurement": valid here
                           array_cases([3.0, math.nan], ('rsu',), low_index=0, low_value=-1.0,
                                       high_index=1, high_value=61.0, allow_nan=True)),
    '/uav0/channel': (Float64MultiArray, contract.SENSOR,
                      array_cases(CHANNEL, ('rsu', 'field'), low_index=(0, 0), low_value=-0.1,
                                  high_index=(1, 0), high_value=1.5)),
    '/uav0/demand': (Float64MultiArray, contract.DECISION,
                     array_cases([1.0, 2.0], ('rsu',), low_index=1, low_value=-1.0)),
    '/uav0/tasks': (Float64MultiArray, contract.DECISION,
                    array_cases([2.5e6, 1100.0], ('field',), low_index=0, low_value=0.5,
                                high_index=1, high_value=1e6)),
    '/rsu0/prices': (Float64MultiArray, contract.LATCHED, array_cases([5.0], ('uav',), low_index=0, low_value=0.0)),
    '/rsu1/prices': (Float64MultiArray, contract.LATCHED, array_cases([5.0], ('uav',), low_index=0, low_value=-2.0)),
}
assert set(CASES) == set(SUBSCRIBERS)


class Rig:
    """The running graph, its probe and the probe's publishers of bad messages; the probe's valid pose stream."""

    def __init__(self, domain_id):
        scenario = graph.load_scenario('small', num_uavs=1)
        self.world = scenario.sample()
        options = graph.GraphOptions(round_period_s=0.1, stale_rounds=5,
                                     extra={kind: {'diagnostics_period_s': 0.2} for kind in graph.NODE_KINDS})
        self.g = InProcessGraph(graph.build_graph(scenario, options), domain_id=domain_id).start()
        try:
            # The probe watches no topic this test sends bad messages on (it records what it gets unvalidated); the
            # channel estimates are read here through the contract's reader, so the test's own bad ones drop out.
            self.probe = self.g.add(Probe(self.world.uav_names, (), uav_topics=(), context=self.g.context))
            self.probe.watch(Float64MultiArray, '/uav0/energy', contract.SENSOR, as_array)
            read_channel = contract.channel_reader(len(self.world.rsu_names))
            self.estimates = []                         # the valid /uav0/channel messages (the estimator's)

            def on_channel(msg):
                try:
                    self.estimates[:] = self.estimates[-9:] + [read_channel(msg).copy()]
                except contract.InvalidMessage:       # one of this test's own
                    pass
            self.probe.create_subscription(Float64MultiArray, '/uav0/channel', on_channel,
                                           contract.qos(contract.SENSOR))
            self.nodes = {name: node for name, node in self.g.nodes.items() if node is not self.probe}
            self.pubs = {topic: self.probe.pose_pubs['uav0'] if topic == '/uav0/pose' else
                         self.probe.create_publisher(msg_type, topic, contract.qos(qos_kind))
                         for topic, (msg_type, qos_kind, _) in CASES.items()}
            self.hover = 0                              # index into HOVER of the valid pose being sent
            self._last_valid = self._last_bad = 0.0
            self.pump(lambda: self.channel() is not None, 'a first channel estimate')
        except BaseException:
            self.g.stop()
            raise

    def stop(self):
        self.g.stop()

    def pump(self, condition, what, bad=None, timeout_s=TIMEOUT_S):
        """Wait for condition() while sending the valid pose every 0.1 s and, if given, the bad message
        (topic, build) every 20 ms (so that a node reading the topic at its tick finds it there)."""
        def step():
            now = time.monotonic()
            if now - self._last_valid >= VALID_POSE_PERIOD_S:
                self.probe.publish_pose('uav0', HOVER[self.hover])
                self._last_valid = now
            if bad is not None and now - self._last_bad >= BAD_PERIOD_S:
                topic, build = bad
                self.pubs[topic].publish(build())
                self._last_bad = now
            return condition()
        return wait_for(step, timeout_s, what=what)

    def counts(self, topic):
        return {(node, key): self.nodes[node].invalid_counts[key] for node, key in SUBSCRIBERS[topic]}

    def status(self, node):
        return self.probe.status(node)

    def channel(self):
        """The latest valid channel estimate (None before the first)."""
        return self.estimates[-1] if self.estimates else None

    def assert_alive(self, what):
        """Every node still publishes /diagnostics, the executor still spins, and a valid pose at a new position
        gives a new channel estimate."""
        assert self.g._thread.is_alive(), f'the graph executor died after {what}'
        since = time.perf_counter()
        self.pump(lambda: all(self.probe.diagnostics_at.get(name.lstrip('/'), -1.0) > since for name in self.nodes),
                  f'fresh /diagnostics from every node after {what}')
        before = self.channel().copy()
        self.hover = 1 - self.hover
        self.pump(lambda: not np.allclose(self.channel(), before), f'a new channel estimate after {what}')


@pytest.fixture(scope='module')
def _rig_holder():
    holder = {}
    yield holder
    if 'rig' in holder:
        holder['rig'].stop()


@pytest.fixture
def rig(_rig_holder, domain_id):
    """The module's graph, started by the first test that needs it on that test's own ROS_DOMAIN_ID."""
    if 'rig' not in _rig_holder:
        _rig_holder['rig'] = Rig(domain_id)
    return _rig_holder['rig']


def test_the_cases_cover_every_topic_a_node_of_the_graph_subscribes_to(rig):
    subscribed = {}
    for name, node in rig.nodes.items():
        subs = list(node.subscriptions)
        if node._inbox_node is not None:                 # inputs taken at the node's tick (common.Inbox)
            subs += list(node._inbox_node.subscriptions)
        for sub in subs:
            subscribed.setdefault(sub.topic_name, set()).add(name)
    expected = {topic: {node for node, _ in subs} for topic, subs in SUBSCRIBERS.items()}
    assert {t: n for t, n in subscribed.items() if t not in NOTHING_TO_VALIDATE} == expected
    assert set(subscribed) - set(expected) == NOTHING_TO_VALIDATE


@pytest.mark.parametrize('topic', list(CASES), ids=[t.strip('/').replace('/', '_') for t in CASES])
def test_bad_messages_are_dropped_counted_reported_and_the_graph_keeps_working(rig, topic):
    cases = CASES[topic][2]
    channel_before = rig.channel().copy()
    for case, build, reason in cases:
        start = rig.counts(topic)

        def counted():
            now = rig.counts(topic)
            return all(now[k] > start[k] and reason in rig.nodes[k[0]].last_invalid.get(k[1], '') for k in now) \
                and now
        counts = rig.pump(counted, f'{topic} {case} dropped by {", ".join(n for n, _ in SUBSCRIBERS[topic])}',
                          bad=(topic, build))
        # reported: each subscriber's diagnostics name the topic, its count and why the last one was dropped
        for (node, key), count in counts.items():
            def reported(node=node, key=key, count=count):
                s = rig.status(node)
                return s is not None and s[0] >= WARN and 'invalid messages dropped: ' in s[1] \
                    and f'{key} x' in s[1] and reason in s[1] and int(s[2].get(f'invalid {key}', 0)) >= count and s
            s = rig.pump(reported, f'{node} reporting {topic} {case}')
            assert f'invalid {key}' in s[2]
    if topic in ('/uav0/pose', '/uav0/link_quality'):
        # what the estimator publishes is what the valid poses give: no bad pose or measurement got through
        np.testing.assert_array_equal(rig.channel(), channel_before)
    if topic in ('/uav0/velocity', '/uav0/battery', '/uav0/offload'):
        # no bad velocity / battery / CPU power reached the energy integration
        energy = rig.probe.get('uav0', 'energy')
        assert energy is not None and np.all(np.isfinite(energy)) and 0.5 < energy[1] <= 1.0, energy
    rig.assert_alive(f'the bad {topic} messages')

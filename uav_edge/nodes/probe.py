"""A test/bench companion node: publishes poses and records what the graph publishes.

It talks to the graph only through the contract (topics, QoS, layouts), like any other node would.
Everything it records carries the receive time (time.perf_counter), so benches can measure latency.
A Recorder is the passive alternative for benches: its subscription is never spun (no Python runs per
message while the graph is measured); drain() later returns every message with the time its DDS reader
received it (rmw message info, system clock).
wait_for() polls a condition with a timeout: tests wait for conditions, never for fixed sleeps.
"""
import threading
import time
from collections import defaultdict

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped
from rclpy.node import Node
from std_msgs.msg import Float64MultiArray, String

from uav_edge import stall
from uav_edge.nodes import contract
from uav_edge.nodes.common import take_all


class Probe(Node):
    """Pose publishers for `uav_names`; recorders for channel, demand, migration_target, prices, diagnostics."""

    UAV_TOPICS = ('channel', 'demand', 'migration_target')

    def __init__(self, uav_names, rsu_names, name='probe', uav_topics=UAV_TOPICS, **kwargs):
        """uav_topics: which of UAV_TOPICS to record (a bench records only what it measures)."""
        super().__init__(name, **kwargs)
        self.uav_names, self.rsu_names = list(uav_names), list(rsu_names)
        self.lock = threading.Lock()
        self.latest = {}                        # (topic) -> np.ndarray or str
        self.arrivals = defaultdict(list)       # topic -> [(perf_counter, value)]
        self.diagnostics = {}                   # status name -> DiagnosticStatus
        self.diagnostics_at = {}                # status name -> receive time (perf_counter)
        self.keep_arrivals = False
        self.pose_pubs = {u: self.create_publisher(PoseStamped, contract.topic(u, 'pose'),
                                                   contract.qos(contract.SENSOR)) for u in self.uav_names}
        watched = {'channel': (Float64MultiArray, contract.SENSOR, as_array),
                   'demand': (Float64MultiArray, contract.DECISION, as_array),
                   'migration_target': (String, contract.LATCHED, lambda m: m.data)}
        for u in self.uav_names:
            for name in uav_topics:
                msg_type, qos_kind, convert = watched[name]
                self.watch(msg_type, contract.topic(u, name), qos_kind, convert)
        for r in self.rsu_names:
            self.watch(Float64MultiArray, contract.topic(r, 'prices'), contract.LATCHED, as_array)
        self.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics,
                                 contract.qos(contract.DECISION))

    def watch(self, msg_type, topic, qos_kind, convert=lambda m: m):
        """Record the latest message on `topic` (converted) under its name; see get()."""
        def callback(msg):
            value = convert(msg)
            now = time.perf_counter()
            with self.lock:
                self.latest[topic] = value
                if self.keep_arrivals:
                    self.arrivals[topic].append((now, value))
        return self.create_subscription(msg_type, topic, callback, contract.qos(qos_kind))

    def _on_diagnostics(self, msg):
        now = time.perf_counter()
        with self.lock:
            for status in msg.status:
                self.diagnostics[status.name] = status
                self.diagnostics_at[status.name] = now

    def publish_pose(self, uav, xyz, frame_id=contract.WORLD_FRAME):
        self.pose_pubs[uav].publish(contract.make_pose(xyz, self.get_clock().now().to_msg(), frame_id))

    def get(self, namespace, name):
        with self.lock:
            return self.latest.get(contract.topic(namespace, name))

    def matrix(self, name, namespaces):
        """Stack the latest array of `name` from each namespace (None if any is missing)."""
        rows = [self.get(ns, name) for ns in namespaces]
        return None if any(r is None for r in rows) else np.array(rows)

    def status(self, node_fqn):
        """(level, message, {key: value}) of a node's latest diagnostic status, or None."""
        with self.lock:
            s = self.diagnostics.get(node_fqn.lstrip('/'))
        return None if s is None else (s.level, s.message, {kv.key: kv.value for kv in s.values})

    def matched(self, topics_min):
        """True when every topic in {topic: n} has >= n matched subscriptions (publishers of this probe)."""
        return all(self.pose_pubs[t].get_subscription_count() >= n for t, n in topics_min.items())


class Recorder:
    """Every message of one topic, kept by the DDS reader (history depth `depth`) until drain(): a subscription on a
    node that no executor spins, so recording costs no Python and no GIL while the graph runs."""

    def __init__(self, node, msg_type, topic, qos_kind, convert=lambda m: m, depth=4096):
        self.topic, self.convert = topic, convert
        self.subscription = node.create_subscription(msg_type, topic, lambda _msg: None,
                                                     contract.qos(qos_kind, depth=depth))

    def drain(self):
        """[(received_s, sent_s, value)] of the messages kept since the last drain, oldest first: received_s is when
        this reader got the message and sent_s when its publisher sent it (both time.time() seconds)."""
        return [(info['received_timestamp'] * 1e-9, info['source_timestamp'] * 1e-9, self.convert(msg))
                for msg, info in take_all(self.subscription)]


def recorders(context, topics, name='probe_recorder'):
    """{topic: Recorder} on a companion node of its own (never spun); topics: {topic: (msg_type, qos_kind, convert)}.
    Returns (node, recorders): destroy the node when done."""
    node = Node(name, context=context, start_parameter_services=False, enable_rosout=False)
    return node, {topic: Recorder(node, msg_type, topic, qos_kind, convert)
                  for topic, (msg_type, qos_kind, convert) in topics.items()}


def as_array(msg):
    """A Float64MultiArray's data shaped by its layout (unvalidated: what the graph sent), flat when the layout does
    not fit the data (a malformed message must not raise in the probe's callback: that ends an in-process graph's
    executor thread)."""
    data = np.asarray(msg.data, dtype=float)
    shape = [int(d.size) for d in msg.layout.dim]
    return data.reshape(shape) if shape and int(np.prod(shape)) == data.size else data


def wait_for(condition, timeout_s, poll_s=0.01, what='condition'):
    """Poll condition() until it returns neither None nor False (returns that value); TimeoutError after timeout_s
    seconds of this thread running (uav_edge.stall.wait_for: a frozen VM's seconds are not counted)."""
    return stall.wait_for(condition, timeout_s, what=what, poll_s=poll_s)

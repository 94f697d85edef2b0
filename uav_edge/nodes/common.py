"""What every uav_edge node shares: parameters, validated subscriptions, /diagnostics, main().

A node is a thin adapter (DESIGN.md): it declares its parameters, validates every incoming message
through the contract (uav_edge/nodes/contract.py), calls the twin and publishes. EdgeNode adds
the bookkeeping that makes a node safe to run unattended:
  * invalid messages are dropped, counted per topic and reported (never raised);
  * named conditions ('stale pose', 'fallback policy', 'low energy') set the diagnostic level;
  * a timer publishes one diagnostic_msgs/DiagnosticStatus on /diagnostics every
    `diagnostics_period_s` with the worst active condition as the message.
"""
from collections import Counter

import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.parameter import Parameter

from uav_edge.nodes import contract

OK, WARN, ERROR = DiagnosticStatus.OK, DiagnosticStatus.WARN, DiagnosticStatus.ERROR
_LEVEL_RANK = {OK: 0, WARN: 1, ERROR: 2}


class EdgeNode(Node):
    """rclpy Node + parameter helpers + validated subscriptions + /diagnostics."""

    def __init__(self, node_name, **kwargs):
        super().__init__(node_name, **kwargs)
        self.invalid_counts = Counter()           # topic -> dropped messages
        self.last_invalid = {}                    # topic -> reason of the last dropped message
        self._conditions = {}                     # key -> (level, text)
        self._values = {}                         # key -> str, shown in diagnostics
        self._diagnostics = self.create_publisher(DiagnosticArray, '/diagnostics', contract.qos(contract.DECISION))
        period = self.param('diagnostics_period_s', 1.0)
        self.create_timer(period, self.publish_diagnostics)

    # --- parameters ---------------------------------------------------------------------------

    def param(self, name, default):
        """Declare a parameter with a default (its type) and return its value."""
        return self.declare_parameter(name, default).value

    def param_array(self, name, kind=Parameter.Type.DOUBLE_ARRAY):
        """Declare an array parameter without default; an unset or empty array reads as []."""
        self.declare_parameter(name, kind)
        value = self.get_parameter_or(name, Parameter(name, value=None)).value
        return list(value) if value is not None else []

    def param_names(self, name):
        """Declare a string-array parameter (e.g. rsu_names) and return it as a list."""
        return self.param_array(name, Parameter.Type.STRING_ARRAY)

    def now_s(self):
        """The node clock in s (ROS time when use_sim_time is set)."""
        return self.get_clock().now().nanoseconds * 1e-9

    # --- validated input --------------------------------------------------------------------------

    def subscribe(self, msg_type, topic, qos_kind, read, callback):
        """Subscribe; each message goes through read(msg) (may raise contract.InvalidMessage), then callback."""
        def receive(msg):
            try:
                value = read(msg)
            except contract.InvalidMessage as err:
                self.reject(topic, str(err))
                return
            callback(value)
        return self.create_subscription(msg_type, topic, receive, contract.qos(qos_kind))

    def reject(self, topic, reason):
        """Drop an invalid message: count it and remember why (reported in diagnostics)."""
        self.invalid_counts[topic] += 1
        self.last_invalid[topic] = reason
        if self.invalid_counts[topic] in (1, 10, 100, 1000):
            self.get_logger().warning(f'dropped invalid message #{self.invalid_counts[topic]} on {topic}: {reason}')

    # --- health -------------------------------------------------------------------------------------

    def condition(self, key, active, level=WARN, text=''):
        """Set (active=True) or clear a named condition; the worst active one is the node's status."""
        if active:
            if self._conditions.get(key) != (level, text or key):
                self.get_logger().info(f'{key}: {text or key}') if level == OK else \
                    self.get_logger().warning(f'{key}: {text or key}')
            self._conditions[key] = (level, text or key)
        else:
            self._conditions.pop(key, None)

    def report(self, key, value):
        """A key/value shown in this node's diagnostic status."""
        self._values[key] = value if isinstance(value, str) else f'{value:.6g}' if isinstance(value, float) \
            else str(value)

    def status(self):
        """(level, message, values): the worst active condition, plus counters and reported values."""
        level, texts = OK, []
        for cond_level, text in self._conditions.values():
            if _LEVEL_RANK[cond_level] > _LEVEL_RANK[level]:
                level = cond_level
            if cond_level != OK:
                texts.append(text)
        if self.invalid_counts:
            level = level if level == ERROR else WARN
            texts.append('invalid messages dropped: ' + ', '.join(
                f'{topic} x{count} ({self.last_invalid[topic]})' for topic, count in self.invalid_counts.items()))
        values = dict(self._values)
        values.update({f'invalid {topic}': str(count) for topic, count in self.invalid_counts.items()})
        return level, '; '.join(texts) or 'OK', values

    def publish_diagnostics(self):
        level, message, values = self.status()
        status = DiagnosticStatus(level=level, name=self.get_fully_qualified_name().lstrip('/'),
                                  message=message, hardware_id=self.get_namespace().strip('/') or 'ground')
        status.values = [KeyValue(key=k, value=v) for k, v in values.items()]
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self._diagnostics.publish(array)


def main_for(node_class, args=None):
    """Run one node until SIGINT / shutdown: the body of every node module's main()."""
    rclpy.init(args=args)
    node = None
    try:
        node = node_class()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception:
        if rclpy.ok():          # a real error; otherwise SIGINT shut the context down while the node started
            raise
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0

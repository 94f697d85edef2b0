"""What every uav_edge node shares: parameters, validated subscriptions, /diagnostics, main().

A node is a thin adapter (DESIGN.md): it declares its parameters, validates every incoming message
through the contract (uav_edge/nodes/contract.py), calls the twin and publishes. EdgeNode adds
the bookkeeping that makes a node safe to run unattended:
  * invalid messages are dropped, counted per topic and reported (never raised);
  * a publish the middleware refuses is counted and reported as ERROR, and the node keeps running
    (make_publisher / array_publisher; one failed send must not take a pricing leader down);
  * named conditions ('stale pose', 'fallback policy', 'low energy') set the diagnostic level;
  * a timer publishes one diagnostic_msgs/DiagnosticStatus on /diagnostics every
    `diagnostics_period_s` with the worst active condition as the message (each node at its own phase).
Hot paths stay cheap (a node may get hundreds of messages per second): ArrayPublisher builds a
Float64MultiArray's labelled layout once and only swaps the data; values shown in diagnostics are
formatted when diagnostics are published (refresh_report), not per message.
"""
import array
import faulthandler
import gc
import os
import signal
import sys
import threading
import time
import zlib
from collections import Counter

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.signals import SignalHandlerOptions
from rclpy.timer import TimerInfo

from uav_edge.nodes import contract

OK, WARN, ERROR = DiagnosticStatus.OK, DiagnosticStatus.WARN, DiagnosticStatus.ERROR
_LEVEL_RANK = {OK: 0, WARN: 1, ERROR: 2}
PUBLISH_ERRORS = (_rclpy.RCLError, _rclpy.InvalidHandle)   # the middleware refused, or the entity is gone
_LOGGED_COUNTS = (1, 10, 100, 1000)                          # a recurring problem is logged at these counts


class EdgeNode(Node):
    """rclpy Node + parameter helpers + validated subscriptions + /diagnostics."""

    def __init__(self, node_name, **kwargs):
        super().__init__(node_name, **kwargs)
        self.invalid_counts = Counter()           # topic -> dropped messages
        self.last_invalid = {}                    # topic -> reason of the last dropped message
        self.failed_publishes = Counter()         # topic -> messages the middleware refused to send
        self._failing = {}                        # topic -> error of its last publish, while it keeps failing
        self._conditions = {}                     # key -> (level, text)
        self._values = {}                         # key -> str, shown in diagnostics
        self._inbox_node = None                   # see latest_inbox()
        self._diagnostics = self.make_publisher(DiagnosticArray, '/diagnostics', contract.DECISION)
        period = self.param('diagnostics_period_s', 1.0)
        self.aligned_timer(period, self.publish_diagnostics, phase=_spread_phase(self.get_fully_qualified_name()))

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

    def make_publisher(self, msg_type, topic, qos_kind):
        """A publisher with the contract's QoS for `qos_kind` whose publish() never raises a middleware error
        (GuardedPublisher): a refused message is counted and reported, and this node keeps running."""
        return GuardedPublisher(self, self.create_publisher(msg_type, topic, contract.qos(qos_kind)))

    def array_publisher(self, topic, labels, shape, qos_kind):
        """An ArrayPublisher of Float64MultiArray `shape` with dims `labels` on `topic` (guarded, as make_publisher)."""
        from std_msgs.msg import Float64MultiArray

        return ArrayPublisher(self.make_publisher(Float64MultiArray, topic, qos_kind), labels, shape)

    def one_shot_timer(self, delay_s, callback):
        """A cancelled timer that, once start()ed, calls callback once after delay_s, or after the delay given to
        start() (debounce / coalescing / deferring to the end of a rate window)."""
        return OneShot(self, delay_s, callback)

    def aligned_timer(self, period_s, callback, phase=0.0):
        """Call callback every period_s at the instants k * period_s + phase * period_s of the node clock (so nodes
        in any process, or on hosts with synchronised clocks, tick together), however late it started: one rclpy
        periodic timer kept on those instants (AlignedTimer)."""
        return AlignedTimer(self, period_s, phase, callback)

    def now_s(self):
        """The node clock in s (ROS time when use_sim_time is set)."""
        return self.get_clock().now().nanoseconds * 1e-9

    # --- validated input --------------------------------------------------------------------------

    def subscribe(self, msg_type, topic, qos_kind, read, callback):
        """Subscribe; each message goes through read(msg) (may raise contract.InvalidMessage), then callback. A
        contract.ArrayReader reads the serialized message (the subscription is made raw: no message objects)."""
        raw, parse = _parser(read)

        def receive(msg):
            try:
                value = parse(msg)
            except contract.InvalidMessage as err:
                self.reject(topic, str(err))
                return
            callback(value)
        return self.create_subscription(msg_type, topic, receive, contract.qos(qos_kind), raw=raw)

    def latest_inbox(self, msg_type, topic, qos_kind, read):
        """A subscription read when this node wants it (Inbox.take(), e.g. once per market round) instead of a
        callback per message: for inputs where only the latest value matters at a known time. Its messages
        wake no executor: the subscription belongs to a companion node '<name>_inbox' that is never spun."""
        if self._inbox_node is None:
            self._inbox_node = Node(f'{self.get_name()}_inbox', namespace=self.get_namespace(), context=self.context,
                                    start_parameter_services=False, enable_rosout=False)
        raw, parse = _parser(read)
        return Inbox(self, self._inbox_node.create_subscription(msg_type, topic, lambda _msg: None,
                                                                contract.qos(qos_kind, depth=1), raw=raw),
                     topic, parse)

    def destroy_node(self):
        if self._inbox_node is not None:
            self._inbox_node.destroy_node()
            self._inbox_node = None
        return super().destroy_node()

    def reject(self, topic, reason):
        """Drop an invalid message: count it and remember why (reported in diagnostics)."""
        self.invalid_counts[topic] += 1
        self.last_invalid[topic] = reason
        if self.invalid_counts[topic] in _LOGGED_COUNTS:
            self.get_logger().warning(f'dropped invalid message #{self.invalid_counts[topic]} on {topic}: {reason}')

    def publish_failed(self, topic, error):
        """A publish on `topic` was refused (GuardedPublisher): count it; ERROR until that topic publishes again."""
        count, raised = self.failed_publishes[topic] + 1, not self._failing      # raised: the condition logs it
        self.failed_publishes[topic] = count
        self._failing[topic] = f'{type(error).__name__}: {error}'
        if count in _LOGGED_COUNTS and not (raised and count == 1):
            self.get_logger().error(f'publish #{count} on {topic} failed: {error}')
        self._update_publish_condition()

    def publish_recovered(self, topic):
        """`topic` published again after failing."""
        self._failing.pop(topic, None)
        self._update_publish_condition()

    def _update_publish_condition(self):
        self.condition('publish failed', bool(self._failing), ERROR, 'publish failing on ' + ', '.join(
            f'{topic} ({reason}; {self.failed_publishes[topic]} lost)' for topic, reason in self._failing.items()))

    # --- health -------------------------------------------------------------------------------------

    def condition(self, key, active, level=WARN, text=''):
        """Set (active=True) or clear a named condition; the worst active one is the node's status. It is logged
        when it becomes active or changes level, not when only its text changes (texts may carry a live value,
        e.g. seconds since the last pose, and would otherwise log on every check)."""
        if active:
            if self._conditions.get(key, (None,))[0] != level:
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
        values.update({f'failed publishes {topic}': str(count) for topic, count in self.failed_publishes.items()})
        return level, '; '.join(texts) or 'OK', values

    def refresh_report(self):
        """Hook: nodes report() their slow-to-format values here, just before diagnostics are published."""

    def publish_diagnostics(self):
        self.refresh_report()
        level, message, values = self.status()
        status = DiagnosticStatus(level=level, name=self.get_fully_qualified_name().lstrip('/'),
                                  message=message, hardware_id=self.get_namespace().strip('/') or 'ground')
        status.values = [KeyValue(key=k, value=v) for k, v in values.items()]
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self._diagnostics.publish(array)


def _parser(read):
    """(raw, parse) for a subscription validated by `read`: a contract.ArrayReader parses the serialized message
    (raw=True), any other read(msg) gets the message."""
    if isinstance(read, contract.ArrayReader):
        return True, read.from_serialized
    return False, read


def _spread_phase(name):
    """A fixed phase in [0, 1) per node name: nodes started together (one process holds 35 of them) publish their
    periodic diagnostics spread over the period, not back to back (a ~10 ms stall of the executor every period,
    which every pose arriving during it waited for)."""
    return zlib.crc32(name.encode()) % 1000 / 1000.0


class AlignedTimer:
    """A periodic rclpy timer on the instants k * period + offset of its node's clock (EdgeNode.aligned_timer).

    An rclpy timer keeps the phase it started with: rcl moves the next call by exactly one period per tick and
    skips whole periods when late. Started late (35 nodes starting in one process delay every first tick by
    5-40 ms), the leaders' rounds of a one-process market sat 12-43 ms after their instants for good, on top of
    the followers' answers. So at every tick the timer's next call time is worked out (next_call_ns); when it is
    off the instants, the period is changed once so that the call after it lands on one, and set back there.
    The timer is never reset or re-created: rclpy's EventsExecutor queues a timer's call when it expires, and a
    reset before that call runs makes it run anyway, early (rcl_timer_call does not check readiness; session 8's
    re-arm-every-tick timer did this under load). A period change re-arms nothing (rcl_timer_exchange_period).
    A tick whose due time (TimerInfo.expected_call_time) is off the instants is such a correction step and does
    not call back; a tick that was due on an instant calls back however late the executor runs it.
    """

    def __init__(self, node, period_s, phase, callback):
        self.period_ns = int(round(period_s * 1e9))
        self.offset_ns = int(round(phase * period_s * 1e9)) % self.period_ns
        self.tolerance_ns = min(1_000_000, self.period_ns // 10)     # "on an instant": within 1 ms
        self.callback, self.clock = callback, node.get_clock()
        self.corrections = 0                    # period changes made to get back on the instants
        self.last_instant = None                # index k of the instant last called back for
        first_ns = self.period_ns - self.after_instant_ns(self.clock.now().nanoseconds)     # to the next instant
        self.timer = node.create_timer(first_ns * 1e-9, self.tick)
        self.timer_period_ns = self.timer.timer_period_ns       # the period rcl uses for the next step

    def after_instant_ns(self, t_ns):
        """How long after the latest instant t_ns is, in [0, period)."""
        return (t_ns - self.offset_ns) % self.period_ns

    def near_instant(self, after_ns):
        """Is a time `after_ns` past an instant (after_instant_ns) within the tolerance of one?"""
        return after_ns <= self.tolerance_ns or after_ns >= self.period_ns - self.tolerance_ns

    def tick(self, info: TimerInfo):
        due_ns = info.expected_call_time.nanoseconds
        self.realign(self.next_call_ns(due_ns, info.actual_call_time.nanoseconds))
        instant = (due_ns - self.offset_ns + self.period_ns // 2) // self.period_ns
        if self.near_instant(self.after_instant_ns(due_ns)) and instant != self.last_instant:      # once per instant
            self.last_instant = instant
            self.callback()

    def next_call_ns(self, due_ns, called_ns):
        """The next call time rcl set when it called this tick (due at due_ns, called at called_ns): one period
        on, or whole periods more when the tick came later than that (rcl_timer_call). Worked out rather than
        read back, because reading it (time until the next call + the clock now) is two clock reads, and a
        process preempted between them on a loaded machine would see a grid error that is not there."""
        period = self.timer_period_ns
        next_ns = due_ns + period
        if next_ns < called_ns:
            next_ns += (1 + (called_ns - next_ns - 1) // period) * period
        return next_ns

    def realign(self, next_ns):
        """Set the period so that the call after the next one (due at next_ns) falls on an instant (the plain
        period when the next one already does)."""
        after = self.after_instant_ns(next_ns)
        if self.near_instant(after):
            period = self.period_ns
        else:                                   # the next call is `after` past an instant: shorten (or lengthen,
            period = self.period_ns - after if after <= self.period_ns // 2 else 2 * self.period_ns - after
            self.corrections += 1               # when that would leave less than half a period) the step after it
        if period != self.timer_period_ns:
            self.timer.timer_period_ns = self.timer_period_ns = period


class OneShot:
    """A one-shot timer (EdgeNode.one_shot_timer): start(delay_s) arms it, cancel() disarms it, pending says which."""

    def __init__(self, node, delay_s, callback):
        def fire():
            self.timer.cancel()
            callback()
        self.delay_ns = int(round(delay_s * 1e9))
        self.timer = node.create_timer(delay_s, fire)
        self.timer.cancel()

    @property
    def pending(self):
        return not self.timer.is_canceled()

    def start(self, delay_s=None):
        """Fire once after delay_s (default: the delay it was made with), replacing a pending start."""
        period_ns = self.delay_ns if delay_s is None else max(1, int(round(delay_s * 1e9)))
        if period_ns != self.timer.timer_period_ns:
            self.timer.timer_period_ns = period_ns
        self.timer.reset()

    def cancel(self):
        self.timer.cancel()


def take_all(subscription, limit=None):
    """Every message waiting in a subscription that no executor spins (at most `limit`), oldest first, as
    (message, message info) (rclpy's own wait_for_message takes messages the same way)."""
    out = []
    with subscription.handle:
        while limit is None or len(out) < limit:
            got = subscription.handle.take_message(subscription.msg_type, subscription.raw)
            if got is None:
                break
            out.append(got)
    return out


class Inbox:
    """The latest message of one topic, taken on demand (EdgeNode.latest_inbox); validated like subscribe()."""

    def __init__(self, node, subscription, topic, read):
        self.node, self.subscription, self.topic, self.read = node, subscription, topic, read
        self.received = 0                         # valid messages taken
        self.age_s = 0.0                          # how long the last taken message had waited (s, wall clock)

    def take(self):
        """The value of the newest message that arrived since the last take(), None if none did or it was
        invalid (then it is counted and reported like any invalid message). Older unread ones are skipped: the
        subscription keeps one message (depth 1), so one take gets the newest and no second one is needed to see
        that nothing is left. age_s is then how long ago it arrived (the middleware's reception time; 0 where the
        middleware gives none), so a watchdog can date it to its arrival rather than to the take."""
        waiting = take_all(self.subscription, limit=1)
        if not waiting:
            return None
        latest, info = waiting[-1]
        received_ns = info.get('received_timestamp') or 0
        self.age_s = max(0.0, (time.time_ns() - received_ns) * 1e-9) if received_ns > 0 else 0.0
        try:
            value = self.read(latest)
        except contract.InvalidMessage as err:
            self.node.reject(self.topic, str(err))
            return None
        self.received += 1
        return value

    def arrived_s(self):
        """When the last taken message arrived, on the node's clock (now_s() - age_s): what a stale-input watchdog
        dates it to."""
        return self.node.now_s() - self.age_s


class GuardedPublisher:
    """An rclpy publisher (EdgeNode.make_publisher) whose publish() returns False instead of raising when the
    middleware refuses the message (RCLError) or the publisher is already destroyed (InvalidHandle): the node
    counts it, reports ERROR in its diagnostics while the topic keeps failing, and goes on. A wrong message
    type (TypeError) is a programming error and still raises. Everything else is the rclpy publisher's."""

    def __init__(self, node, publisher):
        self.node, self.publisher, self.topic = node, publisher, publisher.topic_name
        self.failing = False

    def publish(self, msg):
        try:
            self.publisher.publish(msg)
        except PUBLISH_ERRORS as err:
            self.failing = True
            self.node.publish_failed(self.topic, err)
            return False
        if self.failing:
            self.failing = False
            self.node.publish_recovered(self.topic)
        return True

    def __getattr__(self, name):
        return getattr(self.publisher, name)


class ArrayPublisher:
    """Publishes (shape) arrays as Float64MultiArray with a fixed labelled layout (contract.make_array's),
    built once: publish() only replaces the data (no per-message layout objects). `publisher` is the
    GuardedPublisher EdgeNode.array_publisher makes."""

    def __init__(self, publisher, labels, shape):
        self.publisher = publisher
        self.shape = tuple(shape)
        self.msg = contract.make_array(np.zeros(self.shape), labels)

    def publish(self, values):
        """Publish `values`; False if the middleware refused it (its GuardedPublisher reported it)."""
        data = np.asarray(values, dtype=float)
        if data.shape != self.shape:
            raise ValueError(f'values: expected shape {self.shape}, got {data.shape}')
        self.msg.data = array.array('d', np.ascontiguousarray(data, dtype=float).tobytes())
        return self.publisher.publish(self.msg)   # serialised here: the message object can be reused


EXECUTORS = ('events', 'waitset')
EXECUTOR_ENV = 'UAV_EDGE_EXECUTOR'


def make_executor(context=None, kind=None, threads=1):
    """The executor every uav_edge process spins its nodes with.

    'events' (default): rclpy's EventsExecutor (rclpy.experimental, C++ event queue). Measured on the default
    scenario's market graph in one process: every pose handled and 0 missed rounds at 10 Hz, where the
    wait-set SingleThreadedExecutor (which rebuilds a wait set of every entity per callback, ~170 us each)
    handled a third of the poses and missed 61 of 105 rounds. 'waitset': SingleThreadedExecutor
    (MultiThreadedExecutor with threads > 1), the fallback. The environment variable UAV_EDGE_EXECUTOR
    overrides the default for every node of a run. Caveat of 'events' (rclpy 9.1): creating an entity
    (publisher, subscription, timer) from a thread other than the spinning one deadlocks, so it is for
    processes whose nodes create entities in __init__ or in their own callbacks, as every uav_edge node does.
    """
    kind = kind or os.environ.get(EXECUTOR_ENV) or 'events'
    if kind not in EXECUTORS:
        raise ValueError(f'{EXECUTOR_ENV}: expected one of {", ".join(EXECUTORS)}, got {kind!r}')
    if kind == 'events' and threads == 1:
        from rclpy.experimental import EventsExecutor
        return EventsExecutor(context=context)
    if threads > 1:
        return MultiThreadedExecutor(num_threads=threads, context=context)
    return SingleThreadedExecutor(context=context)


def freeze_built_objects():
    """Once a process's nodes are built: collect, then move every object that exists to the collector's permanent
    generation (gc.freeze), so later full collections do not walk them again. In the one-process market graph
    (~87k objects) a full collection took 64 ms, a stall every callback of the executor waited for (the longest
    in the pose -> demand tail); with the objects of start-up frozen it walks only what was made since."""
    gc.collect()
    gc.freeze()


SHUTDOWN_GRACE_S = 3.0      # longest a node may spend tearing down after a stop request


def main_for(node_class, args=None):
    """Run one node until SIGINT / SIGTERM / shutdown: the body of every node module's main()."""
    return run_nodes([node_class], args)


def run_nodes(node_factories, args=None):
    """Run nodes (each factory() makes one) on one executor until SIGINT / SIGTERM / shutdown: one node per
    process (main_for) or a namespace's nodes together (uav_edge.nodes.group).

    A stop signal sets a flag that the spin loop checks every 0.1 s (rclpy's own handlers are not
    installed). It also reaches a watcher thread through signal.set_wakeup_fd, which works even while
    the main thread is blocked inside a DDS call: if the process has not exited SHUTDOWN_GRACE_S after
    the signal, the watcher ends it. (With rclpy.spin() and rclpy's handlers, about 2 in 9
    `uav-edge mission` runs had a node ignore SIGINT until the runner's SIGKILL.)
    """
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    faulthandler.register(signal.SIGUSR1, all_threads=True)     # the runner's "where are you stuck?" (run.py)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    _start_stop_watcher(stop)
    nodes, executor = [], None
    try:
        executor = make_executor()
        for factory in node_factories:
            nodes.append(factory())
            executor.add_node(nodes[-1])
        freeze_built_objects()
        while not stop.is_set() and rclpy.ok():
            executor.spin_once(timeout_sec=0.1)
    except ExternalShutdownException:
        pass
    except Exception:
        if rclpy.ok() and not stop.is_set():    # a real error, not a stop during start-up
            raise
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):      # the stop is underway: repeats must not kill it
            signal.signal(sig, signal.SIG_IGN)
        if executor is not None:      # first the executor lets go of the nodes, as InProcessGraph.stop does: a node
            for node in nodes:        # destroyed while still in an EventsExecutor crashed once (SIGSEGV in rcl's
                executor.remove_node(node)    # node teardown, CI, every process of the graph stopping at once)
            executor.shutdown(timeout_sec=1.0)
        for node in nodes:
            node.destroy_node()
        rclpy.try_shutdown(uninstall_handlers=False)      # default True would reset SIGINT to SIG_DFL
    return 0


def _start_stop_watcher(stop):
    """A daemon thread that wakes on any stop signal (even with the main thread blocked in C) and
    ends the process if it is still alive SHUTDOWN_GRACE_S later."""
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    signal.set_wakeup_fd(write_fd)

    def watch():
        os.read(read_fd, 1)
        stop.set()
        time.sleep(SHUTDOWN_GRACE_S)
        _exit_after_hung_teardown()

    threading.Thread(target=watch, name='stop-watcher', daemon=True).start()


def _exit_after_hung_teardown():
    print(f'uav_edge: node teardown took over {SHUTDOWN_GRACE_S:g} s; exiting anyway', file=sys.stderr, flush=True)
    os._exit(0)

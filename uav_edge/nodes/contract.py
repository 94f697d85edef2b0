"""The node graph's contract: topic names, message types, QoS, frames and array layouts (issue 4).

Everything two nodes must agree on is defined here once; docs/nodes.md is the same table in prose.

Namespaces: every UAV-side topic lives under /<uav name> (e.g. /uav0/pose), every RSU-side topic
under /<rsu name> (e.g. /rsu1/prices), names from the scenario. Diagnostics go to /diagnostics.
Frame: positions and velocities are ENU metres in the scenario's world frame WORLD_FRAME ('map',
origin at the area's south-west corner). NED only exists at the flight boundary (uav_edge/core/frames.py).

Arrays are std_msgs/Float64MultiArray with a labelled layout: dim[k].label names the axis
('uav', 'rsu' or 'field'); along 'uav' / 'rsu' the order is the scenario's (uav_names /
rsu_names parameters); along 'field' the order is the tuple below; data is row-major (dim[k].stride =
product of the sizes from k on, data_offset 0). A message whose labels, sizes, strides or values do
not match is invalid: the receiving node drops it, counts it and reports it.
"""
import math
import struct
from dataclasses import dataclass

import numpy as np

WORLD_FRAME = 'map'

# --- QoS profiles (DESIGN.md: sensor-like best effort, decisions reliable, latched state transient local)
SENSOR, DECISION, LATCHED = 'sensor', 'decision', 'latched'


def qos(kind, depth=None):
    """The rclpy QoSProfile of a QoS kind (imported lazily so the tables stay importable without rclpy); `depth`
    overrides the history depth (a reader that only wants the latest message uses 1)."""
    from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

    if kind == SENSOR:
        return QoSProfile(depth=depth or 5, history=HistoryPolicy.KEEP_LAST,
                          reliability=ReliabilityPolicy.BEST_EFFORT, durability=DurabilityPolicy.VOLATILE)
    if kind == DECISION:
        return QoSProfile(depth=depth or 10, history=HistoryPolicy.KEEP_LAST,
                          reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE)
    if kind == LATCHED:
        return QoSProfile(depth=depth or 1, history=HistoryPolicy.KEEP_LAST,
                          reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    raise ValueError(f'qos kind: expected one of {SENSOR}, {DECISION}, {LATCHED}; got {kind!r}')


# --- labelled array layouts -------------------------------------------------------------------

CHANNEL_FIELDS = ('los_probability', 'gain_db', 'snr_db', 'spectral_efficiency', 'measured')
ENERGY_FIELDS = ('remaining_j', 'state_of_charge', 'power_w', 'endurance_s')
OFFLOAD_FIELDS = ('eps_uav', 'eps_d2d', 'eps_local', 'uav_cpu_hz', 'bitrate_bps', 'cpu_power_w', 'completion_s')
TASK_FIELDS = ('data_bits', 'cycles_per_bit')
FLIGHT_STATE_KEYS = ('link_up', 'armed', 'mode', 'in_air', 'landed_state', 'health_ok', 'armable',
                     'offboard_streaming', 'energy_alarm')
# flight_bridge services (std_srvs/srv/Trigger, under /<uav>): success + message = the vehicle's answer
FLIGHT_SERVICES = ('arm', 'disarm', 'takeoff', 'offboard_start', 'offboard_stop', 'land', 'rtl', 'hold')


@dataclass(frozen=True)
class Topic:
    """One row of the topic table (README.md, from topic_table())."""

    name: str            # relative to the namespace given in `scope`, or absolute
    type: str            # package/msg/Type
    qos: str             # SENSOR | DECISION | LATCHED
    scope: str           # '/<uav>' | '/<rsu>' | '/'
    units: str
    rate: str
    publisher: str
    subscribers: str
    layout: tuple = ()   # Float64MultiArray dims: ((label, size symbol), ...)


_F = 'std_msgs/msg/Float64MultiArray'
TOPICS = (
    Topic('pose', 'geometry_msgs/msg/PoseStamped', SENSOR, '/<uav>', 'm (ENU), frame map', 'flight rate (20 Hz)',
          'flight_bridge', 'channel_estimator, offload_scheduler (onnx: every UAV\'s), trajectory_planner'),
    Topic('velocity', 'geometry_msgs/msg/TwistStamped', SENSOR, '/<uav>', 'm/s (ENU), frame map', 'flight rate (20 Hz)',
          'flight_bridge', 'energy_monitor'),
    Topic('battery', 'sensor_msgs/msg/BatteryState', SENSOR, '/<uav>', 'percentage 0..1, V, A', 'flight rate (20 Hz)',
          'flight_bridge', 'energy_monitor'),
    Topic('link_quality', _F, SENSOR, '/<uav>', 'measured q, bit/s/Hz (NaN = none)', 'optional', 'radio driver',
          'channel_estimator', (('rsu', 'J'),)),
    Topic('channel', _F, SENSOR, '/<uav>', 'CHANNEL_FIELDS: los_probability, gain_db (dB), snr_db (dB), '
          'spectral_efficiency (bit/s/Hz), measured (0/1)', 'per pose (<= 25 Hz)', 'channel_estimator',
          'bandwidth_follower, every pricing_leader', (('rsu', 'J'), ('field', len(CHANNEL_FIELDS)))),
    Topic('demand', _F, DECISION, '/<uav>', 'bandwidth units per RSU', 'per price / channel update',
          'bandwidth_follower', 'every pricing_leader', (('rsu', 'J'),)),
    Topic('migration_target', 'std_msgs/msg/String', LATCHED, '/<uav>', 'RSU name ("" = none)', 'on change',
          'bandwidth_follower', 'twin migration, operators'),
    Topic('energy', _F, SENSOR, '/<uav>', 'ENERGY_FIELDS: remaining_j (J), state_of_charge (0..1), power_w (W), '
          'endurance_s (s)', '10 Hz', 'energy_monitor', 'offload_scheduler (onnx: every UAV\'s), operators',
          (('field', len(ENERGY_FIELDS)),)),
    Topic('energy_alarm', 'std_msgs/msg/Bool', LATCHED, '/<uav>', 'true = at/below the reserve', 'on change (latched)',
          'energy_monitor', 'trajectory_planner, offload_scheduler, flight_bridge (RTL/land)'),
    Topic('tasks', _F, DECISION, '/<uav>', 'TASK_FIELDS: data_bits (bit), cycles_per_bit', 'optional',
          'video pipeline', 'offload_scheduler', (('field', len(TASK_FIELDS)),)),
    Topic('offload', _F, DECISION, '/<uav>', 'OFFLOAD_FIELDS: eps_uav, eps_d2d, eps_local, uav_cpu_hz (Hz), '
          'bitrate_bps, cpu_power_w (W), completion_s (s)', '1/slot (1 Hz)', 'offload_scheduler', 'energy_monitor',
          (('field', len(OFFLOAD_FIELDS)),)),
    Topic('path', 'nav_msgs/msg/Path', LATCHED, '/<uav>', 'm (ENU), frame map', 'on replan',
          'trajectory_planner', 'flight_bridge, operators'),
    Topic('setpoint', 'geometry_msgs/msg/PoseStamped', DECISION, '/<uav>', 'm (ENU), frame map', '2 Hz',
          'trajectory_planner', 'flight_bridge'),
    Topic('velocity_setpoint', 'geometry_msgs/msg/TwistStamped', DECISION, '/<uav>',
          'm/s (ENU), frame map; stale after velocity_stale_after_s -> position hold', 'optional',
          'operators / teleop', 'flight_bridge'),
    Topic('flight_state', 'diagnostic_msgs/msg/DiagnosticStatus', LATCHED, '/<uav>',
          'FLIGHT_STATE_KEYS; level OK / WARN (unhealthy) / ERROR (link down)', 'change + 1 Hz',
          'flight_bridge', 'mission supervisor, operators'),
    Topic('prices', _F, LATCHED, '/<rsu>', 'money per bandwidth unit, per UAV', '1/market round',
          'pricing_leader', 'every bandwidth_follower, the other pricing_leaders', (('uav', 'I'),)),
    Topic('/diagnostics', 'diagnostic_msgs/msg/DiagnosticArray', DECISION, '/', 'OK/WARN/ERROR + reason, key values',
          '1 Hz', 'every node', 'operators, tests'),
)


def topic_table():
    """TOPICS as the README's markdown table (README.md embeds exactly this; test_graph checks it)."""
    def kind(t):
        return t.type.split('/')[-1] + (' [' + ' x '.join(label for label, _ in t.layout) + ']' if t.layout else '')
    rows = ['| topic | type | QoS | units, frame | rate | publisher | subscribers |', '|---|---|---|---|---|---|---|']
    for t in TOPICS:
        name = t.name if t.scope == '/' else f'{t.scope}/{t.name}'
        rows.append(f'| `{name}` | {kind(t)} | {t.qos} | {t.units} | {t.rate} | {t.publisher} | {t.subscribers} |')
    return '\n'.join(rows)


def topic(namespace, name):
    """Absolute topic name '/<namespace>/<name>' (e.g. topic('rsu1', 'prices') == '/rsu1/prices')."""
    return f"/{namespace.strip('/')}/{name}"


# --- building and validating Float64MultiArray messages -----------------------------------------

class InvalidMessage(ValueError):
    """A received message breaks the contract (the message says how); it is dropped and counted."""


def make_array(values, labels):
    """A Float64MultiArray with labelled dims: values shaped like `labels` (one label per axis)."""
    from std_msgs.msg import Float64MultiArray, MultiArrayDimension

    arr = np.asarray(values, dtype=float)
    if arr.ndim != len(labels):
        raise ValueError(f'values: expected {len(labels)} axes {labels}, got shape {arr.shape}')
    msg = Float64MultiArray()
    strides = np.cumprod(arr.shape[::-1])[::-1] if arr.ndim else []
    msg.layout.dim = [MultiArrayDimension(label=label, size=int(size), stride=int(stride))
                      for label, size, stride in zip(labels, arr.shape, strides)]
    msg.data = arr.ravel().tolist()
    return msg


def read_array(msg, labels, shape, low=None, high=None, allow_nan=False):
    """Validate a Float64MultiArray against (labels, shape, [low, high]) and return it as an ndarray.

    Raises InvalidMessage naming what is wrong (labels, sizes, strides, data length, NaN/inf, range).
    low/high may be scalars or arrays broadcastable to `shape` (e.g. one bound per field).
    """
    dims = list(msg.layout.dim)
    got = tuple(d.label for d in dims)
    if got != tuple(labels):
        raise InvalidMessage(f'layout labels {got}, expected {tuple(labels)}')
    sizes = tuple(int(d.size) for d in dims)
    if sizes != tuple(shape):
        raise InvalidMessage(f'layout sizes {sizes}, expected {tuple(shape)}')
    strides = tuple(int(d.stride) for d in dims)
    expected = tuple(math.prod(shape[k:]) for k in range(len(shape)))
    if strides != expected or msg.layout.data_offset != 0:
        raise InvalidMessage(f'layout strides {strides} and data_offset {msg.layout.data_offset}, expected '
                             f'{expected} and 0 (row-major, as std_msgs/MultiArrayLayout describes)')
    data = np.array(msg.data, dtype=float)
    if data.size != math.prod(shape):
        raise InvalidMessage(f'{data.size} values, expected {math.prod(shape)}')
    return check_values(data.reshape(shape), low, high, allow_nan)


def finite_bounds(low=None, high=None):
    """(low, high) for check_values' fast path: absent bounds are the finite range and infinite ones are clipped
    to it, so that an infinite value fails a comparison (a bound of inf let +inf through)."""
    return (_MIN_FLOAT if low is None else np.maximum(low, _MIN_FLOAT),
            _MAX_FLOAT if high is None else np.minimum(high, _MAX_FLOAT))


def check_values(arr, low=None, high=None, allow_nan=False, fast_bounds=None):
    """arr if its values are finite (NaN allowed with allow_nan) and within [low, high]; InvalidMessage naming the
    first bad one otherwise (read_array's value check). fast_bounds: finite_bounds(low, high), when the caller
    (an ArrayReader) computed them once."""
    shape = arr.shape
    if not allow_nan:                     # fast path (every message): NaN fails every comparison, inf one of them
        lo, hi = fast_bounds or finite_bounds(low, high)
        if ((arr >= lo) & (arr <= hi)).all():
            return arr
    finite = np.isfinite(arr)
    if not allow_nan and not finite.all():
        raise InvalidMessage(f'non-finite value at index {tuple(int(k) for k in np.argwhere(~finite)[0])}')
    if np.isinf(arr).any():
        raise InvalidMessage('infinite value')
    for bound, bad_if in ((low, lambda a, b: a < b), (high, lambda a, b: a > b)):
        if bound is not None:
            with np.errstate(invalid='ignore'):
                bad = bad_if(arr, np.broadcast_to(bound, shape)) & finite
            if bad.any():
                idx = tuple(int(k) for k in np.argwhere(bad)[0])
                raise InvalidMessage(f'value {arr[idx]:g} at index {idx} outside [{low}, {high}]')
    return arr


_MIN_FLOAT, _MAX_FLOAT = -np.finfo(float).max, np.finfo(float).max      # check_values' default bounds


class ArrayReader:
    """read_array for one layout, callable on a message or (from_serialized) on its serialized bytes, as a
    subscription made with raw=True delivers them (EdgeNode.subscribe and latest_inbox do so for an ArrayReader).

    The bytes of a valid message are always the same header (CDR encapsulation, labels, sizes, strides, data
    length; its alignment padding is whatever the sender's buffer held) followed by the values as little-endian
    float64, so from_serialized checks the layout with a few bytes comparisons and views the values in place,
    without building rclpy message objects (a pricing leader reads 34 arrays per round). Anything else (another
    layout, big-endian CDR) is deserialized and goes through read_array, whose error names what is wrong; bytes
    that are no message at all are invalid. Values read from bytes are a read-only view.
    """

    def __init__(self, labels, shape, low=None, high=None, allow_nan=False):
        self.labels, self.shape, self.size = tuple(labels), tuple(shape), math.prod(shape)
        self.bounds = dict(low=low, high=high, allow_nan=allow_nan)
        self.fast_bounds = finite_bounds(low, high)                     # once, not per message
        self.header = serialized_header(self.labels, self.shape)        # None: always deserialize

    def __call__(self, msg):
        return read_array(msg, self.labels, self.shape, **self.bounds)

    def from_serialized(self, raw):
        if self.header is not None:
            header, pieces = self.header
            if len(raw) == len(header) + 8 * self.size and all(raw[a:b] == piece for a, b, piece in pieces):
                return check_values(np.frombuffer(raw, dtype='<f8', offset=len(header)).reshape(self.shape),
                                    **self.bounds, fast_bounds=self.fast_bounds)
        from rclpy.serialization import deserialize_message
        from std_msgs.msg import Float64MultiArray

        try:
            msg = deserialize_message(raw, Float64MultiArray)
        except Exception as err:                    # rclpy raises its own error types for undecodable bytes
            raise InvalidMessage(f'not a Float64MultiArray ({len(raw)} bytes): {err}') from None
        return self(msg)


def serialized_header(labels, shape):
    """(header, [(start, end, bytes)]): a (labels, shape) Float64MultiArray in little-endian CDR up to its first
    value (padding zeroed; the message is header + values as '<f8' bytes), and the pieces of it that are not
    alignment padding (what a reader compares: a sender's padding is whatever its buffer held). Checked against
    rclpy's serializer; None if that lays the message out otherwise (ArrayReader then always deserializes)."""
    from rclpy.serialization import serialize_message

    out, padding = bytearray(b'\x00\x01\x00\x00'), set()    # encapsulation: CDR little-endian

    def align(n):                                             # CDR aligns relative to the end of the encapsulation
        while (len(out) - 4) % n:
            padding.add(len(out))
            out.append(0)

    def uint32(value):
        align(4)
        out.extend(struct.pack('<I', value))

    template = make_array(np.arange(1.0, math.prod(shape) + 1.0).reshape(shape), labels)
    uint32(len(template.layout.dim))
    for dim in template.layout.dim:
        label = dim.label.encode() + b'\x00'                  # a CDR string: length with the NUL, bytes, NUL
        uint32(len(label))
        out.extend(label)
        uint32(dim.size)
        uint32(dim.stride)
    uint32(template.layout.data_offset)
    uint32(len(template.data))
    align(8)
    pieces, start = [], 0
    for k in sorted(padding) + [len(out)]:
        if k > start:
            pieces.append((start, k, bytes(out[start:k])))
        start = k + 1
    raw, values = serialize_message(template), np.asarray(template.data, dtype='<f8').tobytes()
    if raw[len(out):] != values or not all(raw[a:b] == piece for a, b, piece in pieces):
        return None
    return bytes(out), pieces


CHANNEL_LOW = np.array((0.0, -400.0, -400.0, 0.0, 0.0))       # per CHANNEL_FIELDS
CHANNEL_HIGH = np.array((1.0, 100.0, 400.0, 100.0, 1.0))


def channel_reader(num_rsus):
    """ArrayReader of the (J, len(CHANNEL_FIELDS)) channel array, validated field by field."""
    return ArrayReader(('rsu', 'field'), (num_rsus, len(CHANNEL_FIELDS)), low=CHANNEL_LOW, high=CHANNEL_HIGH)


def _world_vector(msg, vector, what):
    """(x, y, z) floats of a vector field of a stamped message in WORLD_FRAME; InvalidMessage otherwise.
    Checked as plain floats: three numbers are cheaper in Python than in numpy (it runs per pose)."""
    if msg.header.frame_id != WORLD_FRAME:
        raise InvalidMessage(f"frame_id {msg.header.frame_id!r}, expected {WORLD_FRAME!r}")
    xyz = (vector.x, vector.y, vector.z)
    if not all(map(math.isfinite, xyz)):
        raise InvalidMessage(f'non-finite {what}')
    return xyz


def read_position(msg, max_abs_m=1e6):
    """(x, y, z) in m of a PoseStamped/PointStamped-like message in WORLD_FRAME; InvalidMessage otherwise."""
    xyz = _world_vector(msg, msg.pose.position, 'position')
    if max(map(abs, xyz)) > max_abs_m:
        raise InvalidMessage(f'position {list(xyz)} beyond {max_abs_m:g} m')
    q = msg.pose.orientation
    if not all(map(math.isfinite, (q.x, q.y, q.z, q.w))):
        raise InvalidMessage('non-finite orientation')
    return np.array(xyz)


def read_velocity(msg, max_speed_mps=100.0):
    """(vx, vy, vz) in m/s of a TwistStamped in WORLD_FRAME; InvalidMessage otherwise."""
    vel = np.array(_world_vector(msg, msg.twist.linear, 'velocity'))
    speed = float(np.linalg.norm(vel))
    if speed > max_speed_mps:
        raise InvalidMessage(f'speed {speed:.1f} m/s above {max_speed_mps:g} m/s')
    return vel


def make_pose(xyz, stamp, frame_id=WORLD_FRAME):
    """A PoseStamped at (x, y, z) m in WORLD_FRAME with identity orientation."""
    from geometry_msgs.msg import PoseStamped

    msg = PoseStamped()
    msg.header.frame_id = frame_id
    msg.header.stamp = stamp
    msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = (float(v) for v in xyz)
    msg.pose.orientation.w = 1.0
    return msg

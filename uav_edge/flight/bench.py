"""`uav-edge bench` section: offboard setpoint stream rate and jitter through the flight bridge.

A flight_bridge node (rclpy, its own context and domain, spinning with its pose/diagnostics timers)
flies one built-in simulated vehicle in offboard at setpoint_rate_hz. The vehicle runs in its own
process, as PX4 would (in one process the simulator's physics thread holds the GIL for whole
5 ms switch intervals and the measurement would be of Python's scheduler, not of the bridge); it
records the arrival time of every setpoint. Jitter = |inter-arrival - 1/rate|, also on the send side.

Arrival = the kernel's receive timestamp of the datagram (SO_TIMESTAMPNS), i.e. when the setpoint
reached the vehicle's socket: that is what the bridge controls. A real autopilot reads its socket in
a real-time thread; the simulated vehicle is an ordinary Python process, so under CPU load its own
wake-up delay would otherwise be measured too (reported separately as "vehicle handler" jitter).
bridge_params (e.g. {'realtime_priority': 10} or {'gil_switch_interval_s': 0.0}) are passed to the
bridge, to compare the timing options of docs/flight.md.
"""
import json
import os
import socket
import subprocess
import sys
import threading
import time

import numpy as np

from uav_edge.stall import wait_for

TARGET_JITTER_P99_MS = 5.0


def _free_instance(first=80, last=100):
    for i in range(first, last):
        ok = True
        for port in (14540 + i, 14580 + i):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                s.bind(('127.0.0.1', port))
            except OSError:
                ok = False
            finally:
                s.close()
        if ok:
            return i
    raise RuntimeError('no free PX4 SITL port pair on 127.0.0.1')


_VEHICLE = """
import json, socket, struct, sys
from uav_edge.sitl import Fleet
fleet = Fleet(count=1, first_instance=int(sys.argv[1]), speed=4.0, params={'COM_DISARM_PRFLT': -1.0}).start()
link = fleet.links[0]
kernel_s = []                                     # SO_TIMESTAMPNS of every setpoint datagram (CLOCK_REALTIME)
SO_TIMESTAMPNS = getattr(socket, 'SO_TIMESTAMPNS', 35)       # Linux value; Python does not export it


class StampedSocket:
    # the vehicle's socket, also reading the kernel receive time of each datagram

    def __init__(self, sock):
        self.sock, self.stamp_s = sock, float('nan')
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)

    def recvfrom(self, size):
        data, ancillary, _, addr = self.sock.recvmsg(size, 256)
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                sec, nsec = struct.unpack('qq', payload[:16])
                self.stamp_s = sec + nsec * 1e-9
        return data, addr

    def __getattr__(self, name):
        return getattr(self.sock, name)


stamped = link.sock = StampedSocket(link.sock)
handle_setpoint = link._setpoint


def record(msg, pos, wall_s):
    if link.record_setpoints:
        kernel_s.append(stamped.stamp_s)
    handle_setpoint(msg, pos, wall_s)


link._setpoint = record
print('ready', flush=True)
for line in sys.stdin:
    with fleet.lock:
        if line.strip() == 'record':
            link.setpoint_log.clear()
            kernel_s.clear()
            link.record_setpoints = True
        elif line.strip() == 'dump':
            link.record_setpoints = False
            print(json.dumps({'kernel_s': kernel_s, 'handler_s': [t for t, _ in link.setpoint_log]}), flush=True)
            break
fleet.close()
"""


def _jitter_ms(times_s, rate_hz):
    """|inter-arrival - 1/rate| in ms (NaN if fewer than 3 samples)."""
    t = np.asarray(times_s, dtype=float)
    return np.abs(np.diff(t) - 1.0 / rate_hz) * 1e3 if t.size > 2 else np.array([np.nan])


REALTIME_PRIORITY = 10      # SCHED_FIFO priority of the second configuration measured


def bench_flight(quick=False, rate_hz=50.0, bridge_params=None):
    """Rows: setpoint rate received by the vehicle (Hz) and its p50/p99 jitter (ms) at rate_hz from the bridge.

    Without bridge_params: the default bridge, then the same with realtime_priority (rows suffixed).
    Each configuration runs in a fresh Python process, as a deployed bridge does (a second bridge in
    the same process would share the first one's leftovers: garbage, lowered switch interval).
    """
    configs = [bridge_params] if bridge_params is not None else [{}, {'realtime_priority': REALTIME_PRIORITY}]
    rows = []
    for params in configs:
        code = ('import json, sys; from uav_edge.flight.bench import _bench_config; '
                f'print("ROWS", json.dumps(_bench_config({bool(quick)}, {float(rate_hz)}, json.loads(sys.argv[1]))))')
        done = subprocess.run([sys.executable, '-c', code, json.dumps(params)], capture_output=True, text=True,
                              timeout=180, env={**os.environ, 'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST'})
        found = [line[5:] for line in done.stdout.splitlines() if line.startswith('ROWS ')]
        if done.returncode != 0 or not found:
            raise RuntimeError(f'bench: flight configuration {params} failed: {done.stderr.strip()[-500:]}')
        rows += json.loads(found[-1])
    return rows


def _bench_config(quick, rate_hz, bridge_params):
    """The rows of bench_flight for one bridge configuration (a fresh vehicle process and bridge)."""
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.parameter import Parameter

    from uav_edge.nodes.flight_bridge import FlightBridge

    duration_s = 3.0 if quick else 10.0
    instance = _free_instance()
    vehicle = subprocess.Popen([sys.executable, '-c', _VEHICLE, str(instance)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    if vehicle.stdout.readline().strip() != 'ready':
        vehicle.kill()
        raise RuntimeError('bench: the simulated vehicle did not start')
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=200 + os.getpid() % 30)
    executor = SingleThreadedExecutor(context=context)
    params = {'instance': instance, 'setpoint_rate_hz': rate_hz, 'home_m': [10.0, 10.0, 0.0], **(bridge_params or {})}
    bridge = FlightBridge(namespace='/bench_uav', context=context,
                          parameter_overrides=[Parameter(k, value=v) for k, v in params.items()])
    executor.add_node(bridge)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    link = bridge.link
    try:
        wait_for(lambda: link.state().armable and link.state().position_m is not None, 15.0, 'vehicle ready')
        for name in ('arm', 'takeoff'):
            ok, message = link.command(name).result(10.0)
            if not ok:
                raise RuntimeError(f'bench: {message}')
        wait_for(lambda: link.state().in_air and link.state().mode == 'HOLD', 20.0, 'takeoff')
        link.set_target((10.0, 10.0, 5.0))
        ok, message = link.command('offboard_start').result(10.0)
        if not ok:
            raise RuntimeError(f'bench: {message}')
        vehicle.stdin.write('record\n')
        vehicle.stdin.flush()
        link.send_times = []
        load_1min = float(open('/proc/loadavg').read().split()[0])
        time.sleep(duration_s)                    # the measurement window itself
        sent = np.array(link.send_times)
        link.send_times = None
        vehicle.stdin.write('dump\n')
        vehicle.stdin.flush()
        log = json.loads(vehicle.stdout.readline())
        arrivals, handled = np.array(log['kernel_s']), np.array(log['handler_s'])
    finally:
        executor.shutdown(timeout_sec=2.0)
        bridge.destroy_node()
        rclpy.try_shutdown(context=context)
        spinner.join(timeout=5.0)
        vehicle.stdin.close()
        try:
            vehicle.wait(timeout=10.0)
        except subprocess.TimeoutExpired:
            vehicle.kill()
            vehicle.wait()
    jitter_ms, send_jitter_ms = _jitter_ms(arrivals, rate_hz), _jitter_ms(sent, rate_hz)
    handler_jitter_ms = _jitter_ms(handled, rate_hz)
    received_hz = (arrivals.size - 1) / (arrivals[-1] - arrivals[0]) if arrivals.size > 2 else 0.0
    p99 = float(np.percentile(jitter_ms, 99))
    label = ''.join(f' ({k}={v})' for k, v in (bridge_params or {}).items())
    common = {'rate_hz': rate_hz, 'duration_s': duration_s, 'samples': int(arrivals.size),
              'load_avg_1min': load_1min, 'python_switch_interval_s': sys.getswitchinterval(),
              'realtime': bool(link.realtime), **(bridge_params or {})}
    return [
        {'bench': f'flight_bridge offboard setpoints received at {rate_hz:g} Hz' + label, 'value': float(received_hz),
         'unit': 'Hz', 'target': f'>= {0.98 * rate_hz:g} Hz', 'ok': bool(received_hz >= 0.98 * rate_hz), **common},
        {'bench': 'flight_bridge offboard setpoint jitter p50' + label, 'value': float(np.percentile(jitter_ms, 50)),
         'unit': 'ms', 'target': None, 'ok': None, **common},
        {'bench': 'flight_bridge offboard setpoint jitter p99' + label, 'value': p99, 'unit': 'ms',
         'target': f'< {TARGET_JITTER_P99_MS:g} ms', 'ok': bool(p99 < TARGET_JITTER_P99_MS),
         'max_ms': float(np.max(jitter_ms)), **common},
        {'bench': 'flight_bridge offboard setpoint send jitter p99 (bridge side)' + label,
         'value': float(np.percentile(send_jitter_ms, 99)), 'unit': 'ms', 'target': None, 'ok': None,
         'max_ms': float(np.max(send_jitter_ms)), **common},
        {'bench': 'flight_bridge offboard setpoint jitter p99 at the vehicle handler (simulator scheduling included)'
                  + label,
         'value': float(np.percentile(handler_jitter_ms, 99)), 'unit': 'ms', 'target': None, 'ok': None,
         'max_ms': float(np.max(handler_jitter_ms)), **common},
    ]

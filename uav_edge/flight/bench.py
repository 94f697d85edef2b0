"""`uav-edge bench` section: offboard setpoint stream rate and jitter through the flight bridge.

A flight_bridge node (rclpy, its own context and domain, spinning with its pose/diagnostics timers)
flies one built-in simulated vehicle in offboard at setpoint_rate_hz. The vehicle runs in its own
process, as PX4 would (in one process the simulator's physics thread holds the GIL for whole
5 ms switch intervals and the measurement would be of Python's scheduler, not of the bridge); it
records the arrival time of every setpoint. Jitter = |inter-arrival - 1/rate|, also on the send side.
"""
import json
import os
import socket
import subprocess
import sys
import threading
import time

import numpy as np

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


def _wait(predicate, timeout_s, what):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.02)
    raise RuntimeError(f'bench: timed out waiting for {what}')


_VEHICLE = """
import json, sys
from uav_edge.sitl import Fleet
fleet = Fleet(count=1, first_instance=int(sys.argv[1]), speed=4.0, params={'COM_DISARM_PRFLT': -1.0}).start()
link = fleet.links[0]
print('ready', flush=True)
for line in sys.stdin:
    with fleet.lock:
        if line.strip() == 'record':
            link.setpoint_log.clear()
            link.record_setpoints = True
        elif line.strip() == 'dump':
            link.record_setpoints = False
            print(json.dumps([t for t, _ in link.setpoint_log]), flush=True)
            break
fleet.close()
"""


def bench_flight(quick=False, rate_hz=50.0):
    """Rows: setpoint rate received by the vehicle (Hz) and its p50/p99 jitter (ms) at rate_hz from the bridge."""
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
    params = {'instance': instance, 'setpoint_rate_hz': rate_hz, 'home_m': [10.0, 10.0, 0.0]}
    bridge = FlightBridge(namespace='/bench_uav', context=context,
                          parameter_overrides=[Parameter(k, value=v) for k, v in params.items()])
    executor.add_node(bridge)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    link = bridge.link
    try:
        _wait(lambda: link.state().armable and link.state().position_m is not None, 15.0, 'vehicle ready')
        for name in ('arm', 'takeoff'):
            ok, message = link.command(name).result(10.0)
            if not ok:
                raise RuntimeError(f'bench: {message}')
        _wait(lambda: link.state().in_air and link.state().mode == 'HOLD', 20.0, 'takeoff')
        link.set_target((10.0, 10.0, 5.0))
        ok, message = link.command('offboard_start').result(10.0)
        if not ok:
            raise RuntimeError(f'bench: {message}')
        vehicle.stdin.write('record\n')
        vehicle.stdin.flush()
        link.send_times = []
        time.sleep(duration_s)                    # the measurement window itself
        sent = np.array(link.send_times)
        link.send_times = None
        vehicle.stdin.write('dump\n')
        vehicle.stdin.flush()
        arrivals = np.array(json.loads(vehicle.stdout.readline()))
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
    jitter_ms = np.abs(np.diff(arrivals) - 1.0 / rate_hz) * 1e3 if arrivals.size > 2 else np.array([np.nan])
    received_hz = (arrivals.size - 1) / (arrivals[-1] - arrivals[0]) if arrivals.size > 2 else 0.0
    p99 = float(np.percentile(jitter_ms, 99))
    send_jitter_ms = np.abs(np.diff(sent) - 1.0 / rate_hz) * 1e3 if sent.size > 2 else np.array([np.nan])
    common = {'rate_hz': rate_hz, 'duration_s': duration_s, 'samples': int(arrivals.size)}
    return [
        {'bench': f'flight_bridge offboard setpoints received at {rate_hz:g} Hz', 'value': float(received_hz),
         'unit': 'Hz', 'target': f'>= {0.98 * rate_hz:g} Hz', 'ok': bool(received_hz >= 0.98 * rate_hz), **common},
        {'bench': 'flight_bridge offboard setpoint jitter p50', 'value': float(np.percentile(jitter_ms, 50)),
         'unit': 'ms', 'target': None, 'ok': None, **common},
        {'bench': 'flight_bridge offboard setpoint jitter p99', 'value': p99, 'unit': 'ms',
         'target': f'< {TARGET_JITTER_P99_MS:g} ms', 'ok': bool(p99 < TARGET_JITTER_P99_MS),
         'max_ms': float(np.max(jitter_ms)), **common},
        {'bench': 'flight_bridge offboard setpoint send jitter p99 (bridge side)',
         'value': float(np.percentile(send_jitter_ms, 99)), 'unit': 'ms', 'target': None, 'ok': None,
         'max_ms': float(np.max(send_jitter_ms)), **common},
    ]

"""Benchmarks of the built-in simulator; each is a plain function returning a dict (`uav-edge bench`).

    max_realtime_vehicles()      how many hovering vehicles one core steps in real time at 50 Hz
    arm_round_trip()             MAVSDK arm command round trip, p50/p99 in ms
    offboard_setpoint_rate()     50 Hz offboard setpoints from MAVSDK, rate and jitter seen by the vehicle

They bind ephemeral loopback ports (or free PX4-convention ports for the MAVSDK ones) and clean up.
"""
import socket
import time

import numpy as np

from uav_edge.sitl.fleet import Fleet


def _sink():
    """A UDP socket the benchmark vehicles push telemetry to (never read; the kernel drops the overflow)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(('127.0.0.1', 0))
    return s


def _airborne_fleet(count, physics_hz, sink_port):
    fleet = Fleet(count=count, physics_hz=physics_hz, bind_ports=[0] * count, gcs_ports=[sink_port] * count,
                  boot_delay_s=0.0, params={'COM_DISARM_PRFLT': -1.0})
    now = time.monotonic()
    for k, v in enumerate(fleet.vehicles):     # hovering and moving, so the physics does real work
        v.takeoff()
        v.arm(now)
    return fleet


def _realtime_trial(count, physics_hz, duration_s, sink_port):
    fleet = _airborne_fleet(count, physics_hz, sink_port)
    try:
        fleet._record_ticks = True
        fleet.run(duration_s)
        ticks = np.array(fleet.stats['tick_s'])
        period = 1.0 / physics_hz
        return {'vehicles': count, 'ticks': int(ticks.size), 'overruns': fleet.stats['overruns'],
                'tick_ms_p50': float(np.percentile(ticks, 50) * 1e3),
                'tick_ms_p99': float(np.percentile(ticks, 99) * 1e3),
                'realtime': bool(ticks.size and np.percentile(ticks, 99) < period
                                 and fleet.stats['overruns'] <= 0.01 * ticks.size)}
    finally:
        fleet.close()


def max_realtime_vehicles(physics_hz=50.0, duration_s=2.0, start=16, limit=250):
    """Largest vehicle count whose physics+telemetry tick p99 fits the 1/physics_hz period on this core.

    Doubling from `start`, then bisection; every trial flies the vehicles (takeoff, hover) with
    the default telemetry set pushed to a loopback sink.
    """
    sink = _sink()
    trials = []
    try:
        port = sink.getsockname()[1]
        good, bad, n = 0, None, start
        while good < limit:                  # one process holds at most 250 MAVLink system ids
            r = _realtime_trial(n, physics_hz, duration_s, port)
            trials.append(r)
            if not r['realtime']:
                bad = n
                break
            good, n = n, min(n * 2, limit)
        while bad is not None and bad - good > max(1, good // 16):
            mid = (good + bad) // 2
            r = _realtime_trial(mid, physics_hz, duration_s, port)
            trials.append(r)
            good, bad = (mid, bad) if r['realtime'] else (good, mid)
    finally:
        sink.close()
    return {'benchmark': 'sitl_max_realtime_vehicles', 'physics_hz': physics_hz,
            'max_realtime_vehicles': good, 'limit_reached': bad is None, 'trials': trials}


def _client(url):
    from mavsdk import ComponentType, Configuration, Mavsdk
    m = Mavsdk(Configuration.create_with_component_type(ComponentType.GROUND_STATION))
    m.add_any_connection(url)
    system = m.first_autopilot(10.0)
    if system is None:
        m.destroy()
        raise RuntimeError(f'no vehicle on {url}')
    return m, system


def _px4_fleet(**kwargs):
    """A one-vehicle Fleet on the first free PX4-convention instance (ports 14580+i / 14540+i)."""
    for i in range(20, 40):
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            probe.bind(('127.0.0.1', 14540 + i))
        except OSError:
            continue
        finally:
            probe.close()
        try:
            return Fleet(count=1, first_instance=i, **kwargs)
        except OSError:
            continue
    raise RuntimeError('no free PX4 SITL port pair on 127.0.0.1')


def arm_round_trip(n=200):
    """MAVSDK (sync) arm() round trip in ms against one simulated vehicle: p50 / p99 over n arm+disarm pairs."""
    from mavsdk.plugins.action import Action
    from mavsdk.plugins.telemetry import Telemetry
    with _px4_fleet(params={'COM_DISARM_PRFLT': -1.0}) as fleet:
        m, system = _client(fleet.gcs_url(0))
        try:
            action, telemetry = Action(system), Telemetry(system)
            end = time.monotonic() + 10.0
            while not telemetry.health().is_armable and time.monotonic() < end:
                time.sleep(0.05)
            times = []
            for _ in range(n):
                t0 = time.perf_counter()
                action.arm()
                times.append(time.perf_counter() - t0)
                action.disarm()
        finally:
            m.destroy()
    ms = np.array(times) * 1e3
    return {'benchmark': 'sitl_arm_round_trip', 'client': 'mavsdk sync', 'n': n,
            'p50_ms': float(np.percentile(ms, 50)), 'p99_ms': float(np.percentile(ms, 99)), 'max_ms': float(ms.max())}


def offboard_setpoint_rate(rate_hz=50.0, duration_s=5.0):
    """Stream offboard velocity setpoints from MAVSDK at rate_hz; arrival rate and jitter measured at the vehicle.

    Jitter = |inter-arrival time - 1/rate_hz| of *our* setpoints: each carries a new yaw (k deg),
    so MAVSDK's own 20 Hz re-sends of the last setpoint (same yaw) are told apart and counted
    separately as 'mavsdk_resends'.
    """
    from mavsdk.plugins.action import Action
    from mavsdk.plugins.offboard import Offboard, VelocityNedYaw
    with _px4_fleet(params={'COM_DISARM_PRFLT': -1.0}) as fleet:
        m, system = _client(fleet.gcs_url(0))
        link = fleet.links[0]
        try:
            action, offboard = Action(system), Offboard(system)
            end = time.monotonic() + 10.0
            while not fleet.vehicle(0).healthy(fleet.clock.now()) and time.monotonic() < end:
                time.sleep(0.05)
            action.arm()
            offboard.set_velocity_ned(VelocityNedYaw(0.0, 0.0, -0.5, 0.0))
            offboard.start()
            period = 1.0 / rate_hz
            with fleet.lock:
                link.setpoint_log.clear()
                link.record_setpoints = True
            sent = 0
            t_next = time.monotonic()
            t_end = t_next + duration_s
            while t_next < t_end:
                sent += 1
                offboard.set_velocity_ned(VelocityNedYaw(0.0, 0.0, -0.5, float(sent % 360)))
                t_next += period
                time.sleep(max(0.0, t_next - time.monotonic()))
            with fleet.lock:
                link.record_setpoints = False
                log = list(link.setpoint_log)
            offboard.stop()
        finally:
            m.destroy()
    arrivals, last_yaw = [], None
    for wall_s, yaw in log:
        if yaw != last_yaw:
            arrivals.append(wall_s)
        last_yaw = yaw
    arrivals = np.array(arrivals)
    jitter_ms = np.abs(np.diff(arrivals) - period) * 1e3 if arrivals.size > 1 else np.array([np.nan])
    return {'benchmark': 'sitl_offboard_setpoint_rate', 'target_hz': rate_hz, 'sent': sent,
            'received': int(arrivals.size), 'received_hz': float(arrivals.size / duration_s),
            'mavsdk_resends': int(len(log) - arrivals.size),
            'jitter_ms_p50': float(np.percentile(jitter_ms, 50)), 'jitter_ms_p99': float(np.percentile(jitter_ms, 99))}


ALL = (max_realtime_vehicles, arm_round_trip, offboard_setpoint_rate)

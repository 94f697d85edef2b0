"""The main job: the supervisor's flight sequence (pure), then `uav-edge mission` end to end.

The end-to-end test is real everything: the built-in simulator process, every node process with
a flight bridge (MAVSDK, MAVLink on loopback) per UAV, rclpy, the run report. It runs the README
command on its own ROS domain and ports, bounded by a timeout, and asserts from report.json.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from uav_edge.mission.monitor import UavView
from uav_edge.mission.supervisor import (ABORTED, DONE, FAILED, FLYING, GROUNDED, LANDING, RETURNING,
                                         TAKING_OFF, Sequence, SequenceOptions)

HOME = np.array([100.0, 100.0, 0.0])
PATH = np.array([[100.0, 100.0, 20.0], [100.0, 300.0, 20.0], [300.0, 300.0, 20.0], [100.0, 100.0, 20.0]])


def view(xyz=HOME, **kw):
    state = dict(link_up=True, armable=True, position_m=np.asarray(xyz, float), height_m=float(xyz[2] - HOME[2]),
                 path_m=PATH, path_version=1)
    state.update(kw)
    return UavView(**state)


def answer(seq, t, ok=True, message='ok'):
    seq.result(ok, message, t)


# --- the flight sequence, without ROS ------------------------------------------------------------

def test_sequence_flies_the_route_in_order_and_lands_only_at_its_end():
    seq = Sequence('uav0', SequenceOptions(takeoff_altitude_m=5.0))
    assert seq.step(view(link_up=False), 0.0) is None                 # waits for the vehicle
    assert seq.step(view(), 1.0) == 'arm'
    assert seq.step(view(), 1.1) is None                             # one command at a time
    answer(seq, 1.2)
    assert seq.step(view(armed=True), 1.3) == 'takeoff'
    answer(seq, 1.4)
    assert seq.phase == TAKING_OFF
    assert seq.step(view(HOME + [0, 0, 3.0], armed=True, in_air=True), 3.0) is None     # still climbing
    assert seq.step(view(HOME + [0, 0, 4.8], armed=True, in_air=True), 4.0) == 'offboard_start'
    answer(seq, 4.1)
    assert seq.phase == FLYING and seq.times['airborne'] == 4.0
    flying = dict(armed=True, in_air=True, mode='OFFBOARD')
    assert seq.step(view(HOME + [0, 0, 20.0], **flying), 5.0) is None     # at home = the last waypoint: not done
    assert seq.step(view([300.0, 300.0, 20.0], **flying), 30.0) is None  # skipped waypoint 1: not done
    assert seq.step(view([100.0, 102.0, 20.0], **flying), 40.0) is None
    assert seq.step(view([100.0, 300.0, 20.0], **flying), 50.0) is None  # waypoint 1
    assert seq.step(view([300.0, 297.0, 20.0], **flying), 60.0) is None  # waypoint 2
    assert seq.step(view([103.0, 100.0, 20.0], **flying), 70.0) == 'land'   # back home within 5 m
    answer(seq, 70.1)
    assert seq.phase == LANDING
    assert seq.step(view(HOME + [0, 0, 0.1], armed=True, mode='LAND'), 90.0) is None   # disarms after touch-down
    assert seq.step(view(HOME + [0, 0, 0.1], mode='LAND'), 92.0) is None
    assert seq.phase == DONE and seq.times['landed'] == 92.0


def test_a_replan_restarts_the_route_count():
    seq = Sequence('uav0')
    seq.phase = FLYING
    flying = dict(armed=True, in_air=True, mode='OFFBOARD')
    for xyz in PATH[1:3]:
        seq.step(view(xyz, **flying), 10.0)
    home_path = np.array([[300.0, 300.0, 20.0], [200.0, 200.0, 20.0], [100.0, 100.0, 20.0]])
    assert seq.step(view(PATH[3], path_m=home_path, path_version=2, **flying), 20.0) is None
    assert seq.step(view([200.0, 200.0, 20.0], path_m=home_path, path_version=2, **flying), 21.0) is None
    assert seq.step(view(PATH[3], path_m=home_path, path_version=2, **flying), 22.0) == 'land'


def test_energy_alarm_hands_over_to_the_bridge_in_the_air_and_grounds_on_the_ground():
    seq = Sequence('uav0')
    seq.phase = FLYING
    assert seq.step(view([100.0, 200.0, 20.0], armed=True, in_air=True, energy_alarm=True), 10.0) is None
    assert seq.phase == RETURNING                  # no command: the bridge itself starts RTL / land
    grounded = Sequence('uav1')
    assert grounded.step(view(energy_alarm=True), 1.0) is None and grounded.phase == GROUNDED


def test_a_vehicle_failsafe_in_flight_is_followed_and_named_as_the_reason():
    seq = Sequence('uav0')
    seq.phase, seq.since = FLYING, 10.0
    rtl = view([100.0, 250.0, 20.0], armed=True, in_air=True, mode='RETURN_TO_LAUNCH')
    assert seq.step(rtl, 12.0) is None and seq.phase == FLYING          # a mode report may lag offboard_start
    assert seq.step(rtl, 13.5) is None and seq.phase == RETURNING       # no command: the vehicle flies home
    assert seq.reason == 'left offboard (mode RETURN_TO_LAUNCH): vehicle failsafe'
    assert seq.step(view(armed=False, in_air=False), 30.0) is None and seq.phase == DONE
    assert 'route_complete' not in seq.times and seq.reason          # the mission names it as cut short


def test_return_request_sends_airborne_uavs_home_and_keeps_the_others_down():
    seq = Sequence('uav0')
    seq.phase = FLYING
    seq.request_return()
    assert seq.step(view([100.0, 200.0, 20.0], armed=True, in_air=True), 10.0) == 'rtl'
    answer(seq, 10.1)
    assert seq.phase == RETURNING
    idle = Sequence('uav1')
    idle.request_return()
    assert idle.step(view(), 1.0) is None and idle.phase == ABORTED


def test_failed_commands_are_retried_then_the_uav_is_marked_failed():
    seq = Sequence('uav0', SequenceOptions(retries=2, retry_after_s=1.0))
    assert seq.step(view(), 0.0) == 'arm'
    answer(seq, 0.1, ok=False, message='arm: COMMAND_DENIED')
    assert seq.step(view(), 0.5) is None           # waits retry_after_s
    assert seq.step(view(), 1.2) == 'arm'
    answer(seq, 1.3, ok=False, message='arm: COMMAND_DENIED')
    assert seq.phase == FAILED and 'COMMAND_DENIED' in seq.reason
    with pytest.raises(ValueError, match='retries'):
        SequenceOptions(retries=0)


def test_a_lost_answer_counts_as_a_failed_attempt_and_a_late_one_is_ignored():
    """A mission hung for 10 min: the bridge armed the vehicle but its service response was lost
    (rmw: failed to send response (timeout)), and the UAV waited for it forever."""
    seq = Sequence('uav0', SequenceOptions(retry_after_s=1.0, answer_timeout_s=10.0))
    assert seq.step(view(), 0.0) == 'arm'
    lost = seq.pending
    assert seq.step(view(), 9.9) is None                              # still waiting for the answer
    assert seq.step(view(), 10.1) is None and seq.failures == 1       # given up: a failed attempt
    assert 'arm: no answer within 10 s' in seq.events[-1][1]
    assert seq.step(view(), 11.2) == 'arm'                            # retried after retry_after_s
    retry = seq.pending
    seq.result(True, 'ok', 11.5, lost)                                # the lost answer turns up late: ignored
    assert seq.pending is retry and seq.phase != TAKING_OFF
    seq.result(True, 'ok', 11.6, retry)
    assert seq.pending is None and seq.times['arm'] == 11.6
    with pytest.raises(ValueError, match='answer_timeout_s'):
        SequenceOptions(answer_timeout_s=0.0)


# --- the main job, end to end ----------------------------------------------------------------------

MISSION_TIMEOUT_S = 420.0


def _free_instance(count, start=120):
    """A first_instance whose PX4 ports (14540+i, 14580+i) are free for `count` vehicles."""
    for first in range(start, 240 - count, count):
        socks = []
        try:
            for port in [14540 + first + k for k in range(count)] + [14580 + first + k for k in range(count)]:
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(('127.0.0.1', port))
            return first
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    pytest.skip('no free block of MAVLink ports on 127.0.0.1')


def _running_uav_edge_processes(domain_id):
    """pids of processes on our ROS domain whose command line runs uav_edge (nodes or simulator)."""
    found = []
    for entry in Path('/proc').iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / 'cmdline').read_bytes().split(b'\0')
            environ = (entry / 'environ').read_bytes().split(b'\0')
        except OSError:
            continue
        if any(b'uav_edge' in part for part in cmdline) and f'ROS_DOMAIN_ID={domain_id}'.encode() in environ:
            found.append(int(entry.name))
    return found


@pytest.fixture(scope='module')
def mission_run(tmp_path_factory):
    pytest.importorskip('mavsdk')
    pytest.importorskip('rclpy')
    out = tmp_path_factory.mktemp('mission')
    domain = str(int(os.environ.get('ROS_DOMAIN_ID', '42')))
    argv = [sys.executable, '-m', 'uav_edge.cli', 'mission', '--out', str(out), '--domain-id', domain,
            '--first-instance', str(_free_instance(3)), '--status-period', '10']
    env = dict(os.environ, ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST')
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True, cwd=Path(__file__).resolve().parents[1])
    try:
        output, _ = proc.communicate(timeout=MISSION_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGINT)           # a clean stop still writes the report
        try:
            output, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            output, _ = proc.communicate()
        pytest.fail(f'uav-edge mission did not end within {MISSION_TIMEOUT_S:g} s:\n{output.decode()[-3000:]}')
    report = out / 'report.json'
    assert report.is_file(), output.decode()[-3000:]
    return proc.returncode, output.decode(), json.loads(report.read_text()), out, domain


def test_main_job_flies_every_uav_and_ends_cleanly(mission_run):
    code, output, report, out, _ = mission_run
    assert code == 0, output[-3000:]
    assert str(out / 'report.json') in output                      # the report's path is printed
    summary, run = report['summary'], report['run']
    assert run['end_reason'] == 'mission complete'
    assert summary['all_took_off'] and summary['all_landed'] and summary['all_above_reserve'], summary
    for name, uav in summary['uavs'].items():
        assert uav['distance_m'] > 400.0, name                      # flew its route, not a hop
        assert uav['final_state_of_charge'] > report['reserve_fraction'], name
        assert run['uavs'][name]['phase'] == 'done' and 'route_complete' in run['uavs'][name]['times_s']
    assert run['policies']['pricing_ran'] in ('analytic', 'onnx')
    for plot in ('trajectories.png', 'market.png', 'energy.png'):
        assert (out / plot).stat().st_size > 10_000


def test_main_job_migrates_every_twin_between_rsus_in_flight(mission_run):
    _, _, report, _, _ = mission_run
    for name, track in report['uavs'].items():
        times = report['run']['uavs'][name]['times_s']
        handovers = [(t, src, dst) for t, src, dst in track['migrations']
                     if src and times['airborne'] <= t <= times['route_complete']]
        assert handovers, f'{name}: no RSU -> RSU twin migration in flight ({track["migrations"]})'
        assert all(src != dst for _, src, dst in handovers)
        assert max(np.sum(d) for d in track['demand']) > 0.0          # it bought bandwidth


def test_main_job_leaves_no_process_behind(mission_run):
    _, _, report, _, domain = mission_run
    processes = report['run']['processes']
    run = report['run']          # default --group namespace: one process per UAV (its 6 nodes) and per RSU
    assert set(processes) == {'simulator'} | {f'/uav{i}' for i in range(run['num_uavs'])} | \
        {f'/rsu{j}' for j in range(run['num_rsus'])}
    assert all(p['exit_code'] in (0, -signal.SIGKILL) for p in processes.values()), processes
    time.sleep(0.5)
    for name, p in processes.items():
        try:
            cmdline = Path(f'/proc/{p["pid"]}/cmdline').read_bytes()
        except OSError:
            continue                                                 # gone: good
        assert b'uav_edge' not in cmdline, f'{name} (pid {p["pid"]}) still running'
    assert _running_uav_edge_processes(domain) == []


def test_main_job_reports_every_process_exit_truthfully(mission_run):
    """Every process exited 0 on SIGINT, or is named in run.killed_at_shutdown (never hidden).

    Not asserted: that none needed SIGKILL. Now and then a node deadlocks inside rclpy / Fast DDS
    while holding the interpreter lock as the whole graph shuts down at once (even the node's
    signal watcher thread cannot run then); the runner's SIGKILL ends it and the report says so.
    """
    _, _, report, _, _ = mission_run
    processes = report['run']['processes']
    not_clean = sorted(name for name, p in processes.items() if p['exit_code'] != 0)
    assert not_clean == sorted(report['run'].get('killed_at_shutdown', [])), processes
    assert all(processes[name]['exit_code'] == -9 for name in not_clean), processes
    assert len(not_clean) <= len(processes) // 4, f'many nodes needed SIGKILL: {not_clean}'

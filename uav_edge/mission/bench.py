"""Bench of the main job: start-to-airborne time of `uav-edge mission` (issue: fly it).

start-to-airborne = from launching the command to every UAV above its take-off altitude (the
supervisor's 'airborne' milestone), measured around a real run: the simulator, every node process,
MAVSDK, rclpy. The run is cut short with --duration (the UAVs return home and land), so a bench
takes about a minute; the mission's own timing rows come from the same report.json.
"""
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 30.0        # [A] a newcomer sees the UAVs fly within half a minute


def bench_mission(quick=False):
    """Rows: start-to-airborne (command start -> every UAV above take-off altitude), landing, whole run."""
    num_uavs = 2 if quick else 3
    with tempfile.TemporaryDirectory(prefix='uav_edge_bench_mission_') as out:
        domain = os.environ.get('ROS_DOMAIN_ID') or '0'
        argv = [sys.executable, '-m', 'uav_edge.cli', 'mission', '--num-uavs', str(num_uavs), '--duration', '25',
                '--out', out, '--domain-id', domain, '--first-instance', '200', '--no-live', '--status-period', '60']
        start = time.perf_counter()
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600,
                              env=dict(os.environ, ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST'))
        wall_s = time.perf_counter() - start
        report = Path(out) / 'report.json'
        if not report.is_file():
            return [{'bench': f'main job start-to-airborne ({num_uavs} UAVs)', 'value': None, 'unit': 's',
                     'target': f'< {TARGET_S:g} s', 'ok': False, 'error': proc.stdout.decode()[-500:]}]
        run = json.loads(report.read_text())['run']
    landed = [u['times_s'].get('landed') for u in run['uavs'].values()]
    airborne = run['start_to_airborne_s']
    return [
        {'bench': f'main job start-to-airborne ({num_uavs} UAVs)', 'value': airborne, 'unit': 's',
         'target': f'< {TARGET_S:g} s', 'ok': airborne is not None and airborne < TARGET_S,
         'from': 'uav-edge mission run() start', 'exit_code': proc.returncode},
        {'bench': f'main job 25 s flight, return and landing ({num_uavs} UAVs)',
         'value': max(landed) if all(v is not None for v in landed) else None, 'unit': 's',
         'target': None, 'ok': None},
        {'bench': f'main job whole command incl. shutdown and report ({num_uavs} UAVs)', 'value': wall_s,
         'unit': 's', 'target': None, 'ok': None, 'end_reason': run['end_reason']},
    ]

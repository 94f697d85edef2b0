"""Mission log verdicts and the run report (pure python, no ROS)."""
import json

import numpy as np
import pytest

from uav_edge.core.scenario import resolve_scenario
from uav_edge.mission.live import render
from uav_edge.mission.log import MissionLog
from uav_edge.mission.report import write_report


def flown_log(land=True, soc_end=0.6):
    world = resolve_scenario('small').sample()
    log = MissionLog(world.uav_names, world.rsu_names, world.uav_homes_m, reserve_fraction=0.2)
    for k, (name, tr) in enumerate(log.tracks.items()):
        for t in np.linspace(0, 60, 61):
            h = 20 * np.sin(np.pi * t / 60) if land else 20.0
            tr.add_pose(t, tr.home_m + [t * 5, k * 10, h])
            tr.add_energy(t, 1 - (1 - soc_end) * t / 60, 1e5 * (1 - (1 - soc_end) * t / 60))
            tr.add_demand(t, [0.1, 0.2])
        tr.set_target(1.0, 'rsu0')         # first placement: not a migration
        tr.set_target(30.0, 'rsu1')        # migration
        tr.set_target(31.0, '')            # stale prices: not a migration
        tr.set_target(32.0, 'rsu1')        # back on the same RSU: not a migration
    for t in range(60):
        for r in log.rsu_names:
            log.add_prices(t, r, [10.0, 11.0, 12.0])
    log.event(5.0, 'uav0 took off')
    return world, log


def test_summary_verdicts_of_a_good_flight():
    _, log = flown_log()
    s = log.summary()
    assert s['all_took_off'] and s['all_landed'] and s['all_above_reserve']
    assert all(u['migrations'] == 1 for u in s['uavs'].values())
    assert s['uavs']['uav0']['distance_m'] > 300


@pytest.mark.parametrize('land, soc_end, failing', [(False, 0.6, 'all_landed'), (True, 0.1, 'all_above_reserve')])
def test_summary_catches_a_bad_flight(land, soc_end, failing):
    _, log = flown_log(land=land, soc_end=soc_end)
    assert log.summary()[failing] is False


def test_report_writes_json_and_three_plots(tmp_path):
    world, log = flown_log()
    paths = write_report(log, world, tmp_path)
    data = json.loads(paths['json'].read_text())
    assert data['summary']['all_landed'] is True
    assert len(data['uavs']['uav0']['position_m']) == 61
    for key in ('trajectories', 'market', 'energy'):
        assert paths[key].stat().st_size > 10_000          # a real figure, not an empty canvas
        assert paths[key].read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_live_view_renders_every_uav_and_rsu():
    from rich.console import Console

    _, log = flown_log()
    console = Console(record=True, width=140)
    console.print(render(log, 12.5, 'flying'))
    text = console.export_text()
    for name in log.uav_names + log.rsu_names:
        assert name in text
    assert 'flying' in text

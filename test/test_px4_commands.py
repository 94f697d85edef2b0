"""PX4 SITL + Gazebo commands (uav_edge.flight.px4): PX4 cannot run here, so the generated commands,
environments and world file are checked against PX4's conventions on a fake PX4-Autopilot tree."""
import stat
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from uav_edge.flight import px4
from uav_edge.flight.world import WorldFrame

HOMES = np.array([[8.1, 216.6, 0.0], [261.0, 1523.4, 0.0], [1917.5, 255.1, 0.0]])
RSUS = np.array([[1779.5, 1114.3, 10.0], [117.2, 472.8, 10.0]])
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def px4_dir(tmp_path):
    """A minimal PX4-Autopilot checkout: Makefile, ROMFS, a built px4 binary (a script that logs its input)."""
    root = tmp_path / 'PX4-Autopilot'
    (root / 'ROMFS' / 'px4fmu_common').mkdir(parents=True)
    (root / 'Makefile').write_text('px4_sitl:\n')
    binary = root / px4.PX4_BINARY
    binary.parent.mkdir(parents=True)
    binary.write_text('#!/bin/sh\necho "args=$* autostart=$PX4_SYS_AUTOSTART lat=$PX4_HOME_LAT cwd=$(pwd)"\n')
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    return root


def test_px4_dir_missing_or_wrong_is_a_clear_error(tmp_path, monkeypatch, px4_dir):
    monkeypatch.delenv('PX4_DIR', raising=False)
    with pytest.raises(px4.Px4SetupError, match='PX4_DIR is not set'):
        px4.px4_plan(HOMES)
    with pytest.raises(px4.Px4SetupError, match='no such directory'):
        px4.px4_plan(HOMES, px4_dir=str(tmp_path / 'nowhere'))
    with pytest.raises(px4.Px4SetupError, match='not a PX4-Autopilot checkout'):
        px4.px4_plan(HOMES, px4_dir=str(tmp_path))
    (px4_dir / px4.PX4_BINARY).unlink()
    with pytest.raises(px4.Px4SetupError, match='make px4_sitl'):
        px4.px4_plan(HOMES, px4_dir=str(px4_dir))
    px4.px4_plan(HOMES[:1], px4_dir=str(px4_dir), form='make')           # make builds it: no binary needed
    monkeypatch.setenv('PX4_DIR', str(px4_dir))
    assert px4.px4_plan(HOMES[:1], form='make').processes[0].cwd == str(px4_dir.resolve())


def test_gz_x500_multi_instance_commands(px4_dir):
    plan = px4.px4_plan(HOMES, px4_dir=str(px4_dir), rsu_positions_m=RSUS, first_instance=1)
    gz, *vehicles = plan.processes
    assert gz.argv[:2] == ('gz', 'sim') and '-s' in gz.argv and '-r' in gz.argv
    world_file = gz.argv[-1]
    assert world_file in plan.files
    assert len(vehicles) == 3 and plan.instances == (1, 2, 3)
    assert plan.urls == ('udpin://127.0.0.1:14541', 'udpin://127.0.0.1:14542', 'udpin://127.0.0.1:14543')
    for k, proc in enumerate(vehicles):
        assert proc.argv == (str(px4_dir.resolve() / px4.PX4_BINARY), '-i', str(k + 1))
        assert proc.cwd == str(px4_dir.resolve())
        env = proc.env
        assert env['PX4_SYS_AUTOSTART'] == '4001' and env['PX4_SIM_MODEL'] == 'gz_x500'
        assert env['PX4_GZ_STANDALONE'] == '1'                       # the one gz server above is the world
        assert env['PX4_GZ_WORLD'] == px4.WORLD_NAME == Path(world_file).stem
        pose = [float(v) for v in env['PX4_GZ_MODEL_POSE'].split(',')]
        assert pose[:3] == pytest.approx(HOMES[k], abs=1e-3) and pose[3:] == [0, 0, 0]
        assert env['PX4_GZ_MODELS'].endswith('Tools/simulation/gz/models')
        assert env['HEADLESS'] == '1'
    assert 'PX4_GZ_MODEL_POSE=8.1,216.6,0,0,0,0' in vehicles[0].shell() and vehicles[0].shell().endswith('-i 1')


def test_world_sdf_is_the_scenario_frame():
    origin = (47.0, 8.0, 400.0)
    root = ET.fromstring(px4.world_sdf(origin, RSUS))
    world = root.find('world')
    assert world.get('name') == px4.WORLD_NAME
    sph = world.find('spherical_coordinates')
    assert sph.find('world_frame_orientation').text == 'ENU'
    assert [float(sph.find(k).text) for k in ('latitude_deg', 'longitude_deg', 'elevation')] == list(origin)
    masts = [m for m in world.findall('model') if m.get('name').startswith('rsu')]
    assert [m.get('name') for m in masts] == ['rsu0', 'rsu1']
    for mast, rsu in zip(masts, RSUS):
        x, y, z = (float(v) for v in mast.find('pose').text.split()[:3])
        assert (x, y, 2 * z) == pytest.approx(tuple(rsu), abs=1e-3)      # mast from the ground to antenna height
    plugins = {p.get('name') for p in world.findall('plugin')}
    assert {'gz::sim::systems::Physics', 'gz::sim::systems::NavSat', 'gz::sim::systems::Imu',
            'gz::sim::systems::Magnetometer', 'gz::sim::systems::AirPressure'} <= plugins


def test_shipped_world_matches_the_default_scenario():
    from uav_edge.core.scenario import resolve_scenario
    world = resolve_scenario('default').sample()
    shipped = (REPO / 'sitl' / 'worlds' / 'uav_edge.sdf').read_text()
    assert shipped == px4.world_sdf(px4.DEFAULT_ORIGIN, world.rsu_positions_m)


def test_sih_homes_are_the_scenario_homes_through_the_origin(px4_dir, tmp_path):
    origin = (47.397742, 8.545594, 488.0)
    plan = px4.px4_plan(HOMES, px4_dir=str(px4_dir), airframe='sihsim_quadx', origin=origin, speed_factor=2)
    assert not plan.files and all(p.name.startswith('px4_') for p in plan.processes)
    frame = WorldFrame(*origin)
    for k, proc in enumerate(plan.processes):
        env = proc.env
        assert env['PX4_SYS_AUTOSTART'] == '10040' and env['PX4_SIMULATOR'] == 'sihsim'
        assert env['PX4_SIM_SPEED_FACTOR'] == '2'
        home = frame.to_world(float(env['PX4_HOME_LAT']), float(env['PX4_HOME_LON']), float(env['PX4_HOME_ALT']))
        assert home == pytest.approx(HOMES[k], abs=1e-3)
    procs = px4.launch(plan, tmp_path / 'logs')                   # the fake binary echoes what it got
    for p in procs:
        assert p.wait(timeout=10) == 0
    log = (tmp_path / 'logs' / 'px4_2.log').read_text()
    assert 'args=-i 2 autostart=10040' in log and f'cwd={px4_dir.resolve()}' in log


def test_make_form_attach_and_bad_arguments(px4_dir):
    plan = px4.px4_plan(HOMES[:1], px4_dir=str(px4_dir), form='make', headless=False)
    (proc,) = plan.processes
    assert proc.argv == ('make', 'px4_sitl', 'gz_x500') and 'HEADLESS' not in proc.env
    assert proc.env['PX4_GZ_MODEL_POSE'].startswith('8.1,216.6')
    with pytest.raises(px4.Px4SetupError, match="'binary'"):
        px4.px4_plan(HOMES, px4_dir=str(px4_dir), form='make')
    attach = px4.px4_plan(HOMES, attach=True, px4_dir=None)          # attaching needs no PX4 here
    assert attach.processes == () and attach.urls[2] == 'udpin://127.0.0.1:14542'
    with pytest.raises(px4.Px4SetupError, match='airframe'):
        px4.px4_plan(HOMES, px4_dir=str(px4_dir), airframe='iris')
    with pytest.raises(ValueError, match=r'homes_m\[1\]'):
        px4.px4_plan([[0, 0, 0], [np.nan, 0, 0]], attach=True)
    with pytest.raises(ValueError, match='first_instance'):
        px4.px4_plan(HOMES, attach=True, first_instance=-1)
    gui = px4.px4_plan(HOMES, px4_dir=str(px4_dir), headless=False)
    assert [p.name for p in gui.processes[:2]] == ['gz_server', 'gz_gui']

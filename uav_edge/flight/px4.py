"""`sim:=px4`: the exact commands and environment that start (or attach to) N PX4 SITL instances.

    plan = px4_plan(world.uav_homes_m, px4_dir='~/PX4-Autopilot', airframe='gz_x500',
                    rsu_positions_m=world.rsu_positions_m)
    plan.urls             # MAVSDK URL per UAV for the flight bridges: udpin://127.0.0.1:14540+i
    procs = launch(plan, log_dir)     # writes the world file, starts every process in its own session

PX4 conventions (PX4 v1.15+, Gazebo Harmonic; measured ground truth in the contract doc is v1.17):
instance i -> MAV_SYS_ID i+1, MAVLink to 127.0.0.1:14540+i (PX4 binds 14580+i); `bin/px4 -i i`.
Airframes: gz_x500 (PX4_SYS_AUTOSTART 4001, Gazebo) and sihsim_quadx (10040, SIH: no Gazebo,
physics inside PX4, the set-up the built-in simulator was checked against).
World frame: the scenario's ENU 'map' frame is Gazebo's world frame (spherical_coordinates =
the world origin, ENU), so a UAV spawns at PX4_GZ_MODEL_POSE = its scenario home and the RSUs
are placed at their scenario positions. SIH has no shared world: each instance gets its home as
PX4_HOME_LAT/LON/ALT (geodetic of the scenario home through the same origin).
Forms: 'binary' (any N: one `gz sim` server + `build/px4_sitl_default/bin/px4 -i N` per vehicle,
PX4_GZ_STANDALONE=1) or 'make' (one vehicle: `make px4_sitl gz_x500`, builds first, PX4's own world).
Nothing here runs PX4 at import or plan time; it cannot run on a machine without PX4.
"""
import os
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from uav_edge.flight.link import default_url
from uav_edge.flight.world import vehicle_homes_geodetic

DEFAULT_ORIGIN = (47.397742, 8.545594, 488.0)   # world origin (lat, lon, m AMSL): PX4 SITL's Zurich home
PX4_BINARY = 'build/px4_sitl_default/bin/px4'
WORLD_NAME = 'uav_edge'


@dataclass(frozen=True)
class Airframe:
    autostart: int          # PX4_SYS_AUTOSTART
    sim_model: str          # PX4_SIM_MODEL / make target
    simulator: str          # 'gz' or 'sihsim'


AIRFRAMES = {'gz_x500': Airframe(4001, 'gz_x500', 'gz'), 'sihsim_quadx': Airframe(10040, 'sihsim_quadx', 'sihsim')}


class Px4SetupError(ValueError):
    """PX4_DIR / airframe / form problem, with what to do about it."""


@dataclass(frozen=True)
class Px4Process:
    """One process to start: argv in cwd with env (added to the caller's environment)."""

    name: str
    argv: tuple
    env: dict
    cwd: str

    def shell(self):
        """The same as a copy-paste shell line (for docs, logs and the user)."""
        env = ' '.join(f'{k}={shlex.quote(v)}' for k, v in self.env.items())
        return f'cd {shlex.quote(self.cwd)} && {env} {shlex.join(self.argv)}'.replace('  ', ' ')


@dataclass(frozen=True)
class Px4Plan:
    processes: tuple                     # Px4Process, in start order (gz server first)
    urls: tuple                          # MAVSDK URL per UAV (flight_bridge connection_url)
    instances: tuple                     # PX4 instance number per UAV (system id = instance + 1)
    homes_geodetic: tuple                # (lat, lon, alt AMSL) per UAV
    origin: tuple                        # world origin (lat, lon, alt AMSL): flight_bridge world_origin
    files: dict = field(default_factory=dict)   # path -> text to write before starting (the world)


def resolve_px4_dir(px4_dir=None, need_binary=True):
    """PX4-Autopilot checkout from the argument or $PX4_DIR, checked; Px4SetupError saying what is missing."""
    raw = px4_dir if px4_dir else os.environ.get('PX4_DIR', '')
    if not raw:
        raise Px4SetupError('PX4_DIR is not set: pass --px4-dir /path/to/PX4-Autopilot or export PX4_DIR '
                            '(see sitl/README.md)')
    path = Path(raw).expanduser().resolve()
    if not path.is_dir():
        raise Px4SetupError(f'PX4_DIR={raw}: no such directory')
    if not (path / 'ROMFS' / 'px4fmu_common').is_dir() or not (path / 'Makefile').is_file():
        raise Px4SetupError(f'PX4_DIR={raw}: not a PX4-Autopilot checkout (no Makefile / ROMFS/px4fmu_common)')
    if need_binary and not (path / PX4_BINARY).is_file():
        raise Px4SetupError(f'PX4_DIR={raw}: {PX4_BINARY} not built; run `make px4_sitl` in {path} first')
    return path


def _homes(homes_m):
    homes = np.asarray(homes_m, dtype=float)
    if homes.ndim != 2 or homes.shape[1] != 3 or homes.shape[0] < 1:
        raise ValueError(f'homes_m: expected shape (I, 3) with I >= 1, got {homes.shape}')
    if not np.all(np.isfinite(homes)):
        raise ValueError(f'homes_m[{int(np.argwhere(~np.isfinite(homes))[0][0])}]: must be finite')
    return homes


def _fmt(v):
    return f'{float(v):.3f}'.rstrip('0').rstrip('.')


def world_sdf(origin=DEFAULT_ORIGIN, rsu_positions_m=(), name=WORLD_NAME):
    """Gazebo (Harmonic) world: ENU frame anchored at origin, ground plane, one mast per RSU (x, y, z m)."""
    lat, lon, alt = (float(v) for v in origin)
    masts = ''.join(
        f'    <model name="rsu{j}"><static>true</static><pose>{_fmt(x)} {_fmt(y)} {_fmt(z / 2)} 0 0 0</pose>\n'
        f'      <link name="mast"><visual name="v"><geometry><cylinder><radius>0.5</radius>'
        f'<length>{_fmt(max(z, 0.1))}</length></cylinder></geometry>\n'
        f'        <material><diffuse>0.9 0.2 0.2 1</diffuse></material></visual></link></model>\n'
        for j, (x, y, z) in enumerate(np.asarray(rsu_positions_m, dtype=float).reshape(-1, 3)))
    plugins = ''.join(f'    <plugin filename="gz-sim-{f}-system" name="gz::sim::systems::{n}"/>\n' for f, n in (
        ('physics', 'Physics'), ('user-commands', 'UserCommands'), ('scene-broadcaster', 'SceneBroadcaster'),
        ('contact', 'Contact'), ('imu', 'Imu'), ('air-pressure', 'AirPressure'), ('air-speed', 'AirSpeed'),
        ('apply-link-wrench', 'ApplyLinkWrench'), ('navsat', 'NavSat'), ('magnetometer', 'Magnetometer')))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!-- uav_edge world, generated by uav_edge.flight.px4.world_sdf: Gazebo world frame = scenario 'map' frame (ENU). -->
<sdf version="1.9">
  <world name="{name}">
    <physics type="ode"><max_step_size>0.004</max_step_size><real_time_factor>1.0</real_time_factor>
      <real_time_update_rate>250</real_time_update_rate></physics>
    <gravity>0 0 -9.8</gravity>
    <magnetic_field>6e-06 2.3e-05 -4.2e-05</magnetic_field>
    <atmosphere type="adiabatic"/>
{plugins}    <plugin filename="gz-sim-sensors-system" name="gz::sim::systems::Sensors"><render_engine>ogre2</render_engine></plugin>
    <scene><grid>false</grid><ambient>0.4 0.4 0.4 1</ambient><background>0.7 0.7 0.7 1</background><shadows>false</shadows></scene>
    <light name="sun" type="directional"><cast_shadows>false</cast_shadows><pose>0 0 500 0 0 0</pose>
      <diffuse>0.9 0.9 0.9 1</diffuse><direction>0.1 0.1 -0.9</direction></light>
    <model name="ground_plane"><static>true</static><link name="link">
      <collision name="c"><geometry><plane><normal>0 0 1</normal><size>5000 5000</size></plane></geometry></collision>
      <visual name="v"><geometry><plane><normal>0 0 1</normal><size>5000 5000</size></plane></geometry></visual>
    </link></model>
{masts}    <spherical_coordinates>
      <surface_model>EARTH_WGS84</surface_model>
      <world_frame_orientation>ENU</world_frame_orientation>
      <latitude_deg>{lat!r}</latitude_deg>
      <longitude_deg>{lon!r}</longitude_deg>
      <elevation>{alt!r}</elevation>
      <heading_deg>0</heading_deg>
    </spherical_coordinates>
  </world>
</sdf>
"""


def px4_plan(homes_m, px4_dir=None, airframe='gz_x500', origin=DEFAULT_ORIGIN, rsu_positions_m=(),
             first_instance=0, form='binary', attach=False, headless=True, speed_factor=None, world_dir=None):
    """Commands/env to start (or, attach=True, only the URLs to attach to) PX4 SITL for every UAV home.

    homes_m: (I, 3) scenario homes, world ENU m. origin: world origin (lat, lon, m AMSL).
    first_instance: PX4 instance of UAV 0 (UAV k -> instance first_instance + k). world_dir: where
    the generated world file goes (default <PX4_DIR>/build/uav_edge). speed_factor: PX4_SIM_SPEED_FACTOR.
    """
    homes = _homes(homes_m)
    if airframe not in AIRFRAMES:
        raise Px4SetupError(f'airframe: expected one of {sorted(AIRFRAMES)}, got {airframe!r}')
    if form not in ('binary', 'make'):
        raise Px4SetupError(f"form: expected 'binary' or 'make', got {form!r}")
    if form == 'make' and len(homes) != 1:
        raise Px4SetupError(f"form 'make' starts one vehicle; {len(homes)} UAVs need form 'binary' (px4 -i N)")
    if int(first_instance) != first_instance or not 0 <= first_instance <= 254 - len(homes):
        raise ValueError(f'first_instance: must be an integer in [0, {254 - len(homes)}], got {first_instance!r}')
    if speed_factor is not None and not (np.isfinite(speed_factor) and speed_factor > 0):
        raise ValueError(f'speed_factor: must be finite and > 0, got {speed_factor!r}')
    frame = AIRFRAMES[airframe]
    instances = tuple(int(first_instance) + k for k in range(len(homes)))
    geodetic = tuple(vehicle_homes_geodetic(origin, homes))
    common = dict(urls=tuple(default_url(i) for i in instances), instances=instances,
                  homes_geodetic=geodetic, origin=tuple(float(v) for v in origin))
    if attach:
        return Px4Plan(processes=(), **common)
    root = resolve_px4_dir(px4_dir, need_binary=form == 'binary')
    cwd = str(root)
    extra = {'HEADLESS': '1'} if headless else {}
    if speed_factor is not None:
        extra['PX4_SIM_SPEED_FACTOR'] = _fmt(speed_factor)
    models, worlds = root / 'Tools/simulation/gz/models', root / 'Tools/simulation/gz/worlds'

    def vehicle_env(k):
        env = {'PX4_SYS_AUTOSTART': str(frame.autostart), 'PX4_SIM_MODEL': frame.sim_model}
        if frame.simulator == 'gz':
            x, y, z = homes[k]
            env['PX4_GZ_MODEL_POSE'] = f'{_fmt(x)},{_fmt(y)},{_fmt(z)},0,0,0'
        else:
            lat, lon, alt = geodetic[k]
            env.update(PX4_SIMULATOR='sihsim', PX4_HOME_LAT=repr(lat), PX4_HOME_LON=repr(lon),
                       PX4_HOME_ALT=_fmt(alt))
        return env

    if form == 'make':
        proc = Px4Process('px4_0', ('make', 'px4_sitl', frame.sim_model), {**vehicle_env(0), **extra}, cwd)
        return Px4Plan(**common, processes=(proc,))
    processes, files = [], {}
    gz_env = {}
    if frame.simulator == 'gz':
        world_path = Path(world_dir).expanduser().resolve() if world_dir else root / 'build' / 'uav_edge'
        world_file = world_path / f'{WORLD_NAME}.sdf'
        files[str(world_file)] = world_sdf(origin, rsu_positions_m)
        resource = f'{models}:{worlds}:{world_path}'
        gz_env = {'PX4_GZ_STANDALONE': '1', 'PX4_GZ_WORLD': WORLD_NAME, 'PX4_GZ_MODELS': str(models),
                  'PX4_GZ_WORLDS': str(world_path), 'GZ_SIM_RESOURCE_PATH': resource}
        processes.append(Px4Process('gz_server', ('gz', 'sim', '--verbose=1', '-r', '-s', str(world_file)),
                                    {'GZ_SIM_RESOURCE_PATH': resource}, cwd))
        if not headless:
            processes.append(Px4Process('gz_gui', ('gz', 'sim', '-g'), {'GZ_SIM_RESOURCE_PATH': resource}, cwd))
    for k, i in enumerate(instances):
        processes.append(Px4Process(f'px4_{i}', (str(root / PX4_BINARY), '-i', str(i)),
                                    {**vehicle_env(k), **gz_env, **extra}, cwd))
    return Px4Plan(**common, processes=tuple(processes), files=files)


def launch(plan, log_dir):
    """Write plan.files, then start every process in its own session (stdout/stderr to log_dir/<name>.log).

    Returns the Popen objects in start order; stop them with os.killpg(p.pid, SIGINT) in reverse order.
    """
    for path, text in plan.files.items():
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text)
    log_dir = Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    procs = []
    for proc in plan.processes:
        with open(log_dir / f'{proc.name}.log', 'wb') as log:
            procs.append(subprocess.Popen(proc.argv, cwd=proc.cwd, env={**os.environ, **proc.env}, stdout=log,
                                          stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True))
    return procs

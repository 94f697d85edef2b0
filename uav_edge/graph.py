"""The node graph, decided once: scenario + options -> which nodes run, where, with which parameters.

This is the ONE source of truth used by launch/sitl.launch.py (ros2 launch) and by the launch-free
runner (`uav-edge run`): both call build_graph() and write_params_file(). Pure python (numpy, yaml
and the twin only): importable without rclpy or launch.

Per UAV (namespace = the scenario's UAV name, e.g. /uav0): channel_estimator, energy_monitor,
bandwidth_follower, offload_scheduler, trajectory_planner. Per RSU (namespace = RSU name, e.g.
/rsu0): pricing_leader. The flight side is chosen by `sim`: 'none' (poses come from outside, e.g.
tests), 'builtin' (one flight_bridge per UAV + the built-in simulator, simulator_command()) or
'px4' (one flight_bridge per UAV attached to PX4 SITL instances, uav_edge.flight.px4).
"""
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import yaml

from uav_edge.core import planning
from uav_edge.core.scenario import Scenario, ScenarioError, parse_overrides, resolve_scenario
from uav_edge.flight import px4
from uav_edge.flight.link import default_url

PACKAGE = 'uav_edge'
UAV_NODES = ('channel_estimator', 'energy_monitor', 'bandwidth_follower', 'offload_scheduler', 'trajectory_planner')
RSU_NODES = ('pricing_leader',)
NODE_KINDS = UAV_NODES + RSU_NODES
FLIGHT_NODES = ('flight_bridge',)      # per UAV, present when sim != 'none'
SIMS = ('none', 'builtin', 'px4')
POLICIES = ('analytic', 'onnx')
GROUPINGS = ('node', 'namespace')      # one process per node | per UAV / RSU namespace (process_groups)


@dataclass(frozen=True)
class NodeSpec:
    """One node to start: console script / module, ROS name and namespace, its parameters."""

    executable: str          # console script name; the module is uav_edge.nodes.<executable>
    name: str
    namespace: str           # without slashes, e.g. 'uav0'
    parameters: dict

    @property
    def module(self) -> str:
        return f'{PACKAGE}.nodes.{self.executable}'

    @property
    def fully_qualified_name(self) -> str:
        return f'/{self.namespace}/{self.name}'


@dataclass(frozen=True)
class GraphOptions:
    """Run options on top of the scenario; [A] defaults, all overridable from the runner / launch file."""

    num_uavs: Optional[int] = None        # None: the scenario's count
    policy: Optional[str] = None          # pricing policy; None: the scenario's policies.pricing
    sim: str = 'none'                     # flight side: none | builtin | px4
    round_period_s: float = 0.5           # market round period
    leader_spread: float = 0.2            # RSU j's round at (k + j * leader_spread / J) x period (see pricing_leader)
    follower_spread: float = 0.2          # UAV i answers at (k + 0.5 + i * follower_spread / I) x period (follower)
    stale_rounds: float = 3.0             # an input older than stale_rounds x round period is stale
    migration_hysteresis: float = 0.2     # relative demand margin before a twin switches RSU
    reserve_fraction: float = 0.2         # energy reserve (state of charge) that raises the alarm
    planner_cell_m: float = 50.0          # A* grid cell
    use_sim_time: bool = False
    first_instance: int = 0               # vehicle instance of UAV 0: MAVLink 127.0.0.1:14540+i (PX4 SITL ports)
    takeoff_altitude_m: float = 5.0       # MIS_TAKEOFF_ALT set by every flight bridge [A]
    flight_rate_hz: float = 20.0          # flight bridge setpoint stream and telemetry rate [A]
    kinds: tuple = NODE_KINDS             # which node kinds to include (tests start subsets)
    extra: dict = field(default_factory=dict)   # {executable: {param: value}} applied last

    def __post_init__(self):
        if self.sim not in SIMS:
            raise ValueError(f"sim: expected one of {', '.join(SIMS)}, got {self.sim!r}")
        if self.policy is not None and self.policy not in POLICIES:
            raise ValueError(f"policy: expected one of {', '.join(POLICIES)}, got {self.policy!r}")
        if self.num_uavs is not None:
            check_num_uavs(self.num_uavs, ValueError)
        if not isinstance(self.first_instance, int) or not 0 <= self.first_instance <= 249:
            raise ValueError(f'first_instance: expected an integer in [0, 249], got {self.first_instance!r}')
        if not 1.0 <= self.flight_rate_hz <= 100.0:
            raise ValueError(f'flight_rate_hz: must be in [1, 100] Hz, got {self.flight_rate_hz}')
        for name in ('round_period_s', 'stale_rounds', 'planner_cell_m', 'takeoff_altitude_m'):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f'{name}: must be finite and > 0, got {value}')
        if not (np.isfinite(self.migration_hysteresis) and self.migration_hysteresis >= 0):
            raise ValueError(f'migration_hysteresis: must be finite and >= 0, got {self.migration_hysteresis}')
        for name in ('leader_spread', 'follower_spread'):     # leaders in [0, 0.5), followers in [0.5, 1) of a round
            if not 0.0 <= getattr(self, name) < 0.5:
                raise ValueError(f'{name}: must be in [0, 0.5) of a round (leaders play from 0, followers answer '
                                 f'from 0.5), got {getattr(self, name)}')
        if not 0.0 <= self.reserve_fraction < 1.0:
            raise ValueError(f'reserve_fraction: must be in [0, 1), got {self.reserve_fraction}')
        unknown = set(self.kinds) - set(NODE_KINDS)
        if unknown:
            raise ValueError(f"kinds: unknown node kind(s) {sorted(unknown)}; known: {', '.join(NODE_KINDS)}")


def load_scenario(name_or_path='default', overrides=(), num_uavs=None) -> Scenario:
    """A scenario by name or path, with 'key=value' overrides and optionally resized to num_uavs UAVs."""
    scenario = resolve_scenario(name_or_path)
    if overrides:
        scenario = scenario.with_overrides(parse_overrides(overrides))
    return resize_uavs(scenario, num_uavs)


def check_num_uavs(num_uavs, error, where=''):
    """A UAV count is an integer >= 1 (a negative one would slice the UAV list from its end)."""
    if isinstance(num_uavs, bool) or not isinstance(num_uavs, int) or num_uavs < 1:
        raise error(f'{where}num_uavs: expected an integer >= 1, got {num_uavs!r}')


def resize_uavs(scenario: Scenario, num_uavs=None) -> Scenario:
    """The scenario with num_uavs UAVs: a new count for sampled UAVs, the first num_uavs listed items."""
    if num_uavs is None or num_uavs == scenario.num_uavs:
        return scenario
    check_num_uavs(num_uavs, ScenarioError, f'{scenario.source}: ')
    if scenario.uavs.items is None:
        return scenario.with_overrides({'uavs.count': int(num_uavs)})
    if num_uavs <= scenario.num_uavs:
        return scenario.with_overrides({'uavs.items': scenario.to_dict()['uavs']['items'][:num_uavs]})
    raise ScenarioError(f'{scenario.source}: uavs.items: lists {scenario.num_uavs} UAVs, '
                        f'cannot run num_uavs={num_uavs}')


def build_graph(scenario: Scenario, options: GraphOptions = GraphOptions()) -> list:
    """The list of NodeSpec for a scenario: per-UAV nodes, per-RSU pricing leaders, the flight side."""
    world = resize_uavs(scenario, options.num_uavs).sample()
    params = world.game_params()
    I, J = params.num_uavs, params.num_rsus
    period = float(options.round_period_s)
    stale = options.stale_rounds * period
    altitude = float(world.altitude_m[0])                 # cruise = reference altitude [A]
    common = {'use_sim_time': bool(options.use_sim_time)}
    oracle = {'rsu_names': list(world.rsu_names), 'S': _floats(params.S), 'cost': _floats(params.cost),
              'price_cap': _floats(params.price_cap)}
    users_of = planning.assign_to_nearest(world.user_positions_m, world.uav_homes_m)
    rsus_of = planning.assign_to_nearest(world.rsu_positions_m, world.uav_homes_m)
    policy = options.policy or world.policies.pricing

    specs = []
    for i, uav in enumerate(world.uav_names):
        home = world.uav_homes_m[i]
        per_kind = {
            'channel_estimator': {
                'rsu_names': list(world.rsu_names), 'rsu_positions_m': _floats(world.rsu_positions_m),
                'tx_power_dbm': _floats(world.tx_power_dbm), 'gain_db': _floats(world.gain_db),
                'noise_dbm': _floats(world.noise_dbm),
                'reference_position_m': _floats([home[0], home[1], altitude]),
                'pose_timeout_s': stale, 'measured_timeout_s': stale},
            'energy_monitor': {
                'battery_capacity_j': float(world.battery_j[i]), 'reserve_fraction': float(options.reserve_fraction),
                'stale_after_s': max(stale, 1.0)},
            'bandwidth_follower': {
                'uav_index': i, 'num_uavs': I, 'rsu_names': list(world.rsu_names), 'S': _floats(params.S[i]),
                'delta': float(params.delta[i]), 'budget': float(params.budget[i]), 'cost': oracle['cost'],
                'price_cap': oracle['price_cap'], 'stale_after_s': stale,
                'migration_hysteresis': float(options.migration_hysteresis),
                'round_period_s': period, 'answer_phase': 0.5 + i * float(options.follower_spread) / I},
            'offload_scheduler': {
                'user_positions_m': _floats(world.user_positions_m), 'stale_after_s': max(stale, 2.0),
                'uav_names': list(world.uav_names), 'policy': world.policies.offload,
                'model_path': world.policies.offload_model or ''},
            'trajectory_planner': {
                'area_size_m': _floats(world.area_size_m), 'no_fly_m': _floats(world.no_fly_m),
                'cell_m': float(options.planner_cell_m), 'home_m': _floats(home),
                'coverage_points_m': _floats(np.concatenate([world.user_positions_m[users_of == i],
                                                             world.rsu_positions_m[rsus_of == i]])),
                'cruise_altitude_m': altitude, 'stale_after_s': max(stale, 1.0)},
        }
        specs += [NodeSpec(kind, kind, uav, _clean({**common, **p, **options.extra.get(kind, {})}))
                  for kind, p in per_kind.items() if kind in options.kinds]
    if 'pricing_leader' in options.kinds:
        for j, rsu in enumerate(world.rsu_names):
            p = {**common, **oracle, 'rsu_index': j, 'uav_names': list(world.uav_names),
                 'delta': _floats(params.delta), 'budget': _floats(params.budget),
                 'round_period_s': period, 'round_phase': j * float(options.leader_spread) / J,
                 'stale_after_s': stale, 'policy': policy, 'model_path': world.policies.pricing_model or ''}
            specs.append(NodeSpec('pricing_leader', 'pricing_leader', rsu,
                                  _clean({**p, **options.extra.get('pricing_leader', {})})))
    return specs + _flight_nodes(world, options)


def _flight_nodes(world, options):
    """One flight_bridge per UAV: to the built-in simulator's vehicle first_instance + i, or to PX4 SITL."""
    if options.sim == 'none':
        return []
    if options.sim == 'builtin':
        urls = [default_url(options.first_instance + i) for i in range(world.num_uavs)]
        origin = []                   # each bridge anchors the world at its vehicle's home (= the scenario home)
    else:
        plan = px4.px4_plan(world.uav_homes_m, first_instance=options.first_instance, attach=True)
        urls, origin = list(plan.urls), list(plan.origin)
    rate = float(options.flight_rate_hz)
    specs = []
    for i, uav in enumerate(world.uav_names):
        p = {'use_sim_time': bool(options.use_sim_time), 'connection_url': urls[i],
             'instance': options.first_instance + i, 'home_m': _floats(world.uav_homes_m[i]),
             'world_origin': _floats(origin), 'area_size_m': _floats(world.area_size_m),
             'altitude_band_m': _floats(world.altitude_m), 'setpoint_rate_hz': rate, 'telemetry_rate_hz': rate,
             'takeoff_altitude_m': float(options.takeoff_altitude_m)}
        specs.append(NodeSpec('flight_bridge', 'flight_bridge', uav,
                              _clean({**p, **options.extra.get('flight_bridge', {})})))
    return specs


def simulator_command(scenario: Scenario, options: GraphOptions, python='python3') -> list:
    """argv of the built-in simulator for the graph's vehicles ([] unless sim='builtin').

    One process for all UAVs (`python -m uav_edge.sitl`): vehicle first_instance + i pushes MAVLink to
    the bridge of UAV i. RTL returns at the cruise altitude (the planner's), not PX4's 60 m default, and
    auto modes (RTL) fly at the scenario's cruise speed.
    """
    if options.sim != 'builtin':
        return []
    world = resize_uavs(scenario, options.num_uavs).sample()
    return [python, '-m', 'uav_edge.sitl', '--count', str(world.num_uavs),
            '--first-instance', str(options.first_instance), '--seed', str(world.seed),
            '--param', f'MIS_TAKEOFF_ALT={options.takeoff_altitude_m:g}',
            '--param', f'RTL_RETURN_ALT={float(world.altitude_m[0]):g}',
            '--param', f'MPC_XY_CRUISE={min(float(np.min(world.cruise_speed_mps)), 20.0):g}']


def _floats(values):
    """A flat list of Python floats (ROS double arrays; parameter files keep 1.0 as a double)."""
    return [float(v) for v in np.asarray(values, dtype=float).ravel()]


def _clean(parameters):
    """Drop empty lists: a ROS parameter file cannot type an empty array (nodes read them as [])."""
    return {k: v for k, v in parameters.items() if not (isinstance(v, list) and not v)}


def params_document(specs) -> dict:
    """The ROS 2 parameter file content: {'/<ns>/<name>': {'ros__parameters': {...}}} for every node."""
    return {spec.fully_qualified_name: {'ros__parameters': dict(spec.parameters)} for spec in specs}


class _PlainDumper(yaml.SafeDumper):
    """No YAML anchors/aliases (&id001 / *id001): ROS's parameter-file parser does not accept them."""

    def ignore_aliases(self, data):
        return True


def write_params_file(specs, path) -> Path:
    """Write the parameter file used by both the runner and the launch file; returns its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('# Generated by uav_edge.graph from the scenario; one entry per node.\n'
                    + yaml.dump(params_document(specs), Dumper=_PlainDumper, sort_keys=False,
                                        default_flow_style=None, width=120))
    return path


def node_command(spec: NodeSpec, params_file, python='python3', log_level=None) -> list:
    """argv that runs one node alone: python -m uav_edge.nodes.<x> --ros-args -r __node/__ns --params-file."""
    argv = [python, '-m', spec.module, '--ros-args', '-r', f'__node:={spec.name}',
            '-r', f'__ns:=/{spec.namespace}', '--params-file', str(params_file)]
    if log_level:
        argv += ['--log-level', log_level]
    return argv


def process_groups(specs, grouping='node') -> list:
    """The processes that run `specs`: [(label, [NodeSpec, ...])]. 'node': one process per node (the ROS 2
    default). 'namespace': one per UAV / RSU namespace, as on a vehicle's companion computer: its nodes share
    one executor, so its pose -> channel -> demand path never wakes another process."""
    if grouping not in GROUPINGS:
        raise ValueError(f"grouping: expected one of {', '.join(GROUPINGS)}, got {grouping!r}")
    if grouping == 'node':
        return [(spec.fully_qualified_name, [spec]) for spec in specs]
    groups = {}
    for spec in specs:
        groups.setdefault(spec.namespace, []).append(spec)
    return [(f'/{namespace}', members) for namespace, members in groups.items()]


def process_command(specs, params_file, python='python3', log_level=None) -> list:
    """argv of one process of process_groups(): node_command() for one node, else uav_edge.nodes.group."""
    if len(specs) == 1:
        return node_command(specs[0], params_file, python, log_level)
    argv = [python, '-m', f'{PACKAGE}.nodes.group', *(f'{s.namespace}/{s.executable}' for s in specs),
            '--ros-args', '--params-file', str(params_file)]
    return argv + ['--log-level', log_level] if log_level else argv


def log_file_name(label) -> str:
    """The log file of a process_groups() process: '/uav0/channel_estimator' -> 'uav0.channel_estimator.log'."""
    return label.strip('/').replace('/', '.') + '.log'

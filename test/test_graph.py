"""uav_edge.graph: the one source of truth for the node graph (no rclpy needed)."""
import ast
from pathlib import Path

import numpy as np
import pytest
import yaml

from uav_edge import graph
from uav_edge.core.scenario import ScenarioError
from uav_edge.flight import px4


@pytest.fixture(scope='module')
def default():
    scenario = graph.load_scenario('default')
    return scenario, scenario.sample(), graph.build_graph(scenario)


def _by(specs, executable, namespace):
    return next(s for s in specs if s.executable == executable and s.namespace == namespace)


def test_one_node_per_role_per_uav_and_rsu_in_scenario_namespaces(default):
    scenario, world, specs = default
    names = {s.fully_qualified_name for s in specs}
    assert len(specs) == len(names) == 5 * world.num_uavs + world.num_rsus
    for uav in world.uav_names:
        for kind in graph.UAV_NODES:
            assert f'/{uav}/{kind}' in names
    for rsu in world.rsu_names:
        assert f'/{rsu}/pricing_leader' in names
    assert all(s.module == f'uav_edge.nodes.{s.executable}' for s in specs)


def test_parameters_carry_the_scenario(default):
    scenario, world, specs = default
    params = world.game_params()
    leader = _by(specs, 'pricing_leader', 'rsu2').parameters
    assert leader['rsu_index'] == 2 and leader['uav_names'] == list(world.uav_names)
    np.testing.assert_array_equal(np.reshape(leader['S'], params.S.shape), params.S)
    np.testing.assert_array_equal(leader['budget'], params.budget)
    assert leader['policy'] == 'analytic'
    follower = _by(specs, 'bandwidth_follower', 'uav3').parameters
    np.testing.assert_array_equal(follower['S'], params.S[3])
    assert follower['delta'] == params.delta[3] and follower['cost'] == list(params.cost)
    estimator = _by(specs, 'channel_estimator', 'uav3').parameters
    home = world.uav_homes_m[3]
    assert estimator['reference_position_m'] == [home[0], home[1], world.altitude_m[0]]
    planner = _by(specs, 'trajectory_planner', 'uav3').parameters
    assert 'no_fly_m' not in planner             # empty arrays are left out (ROS cannot type them)


def test_options_num_uavs_policy_round_period_and_subsets():
    scenario = graph.load_scenario('small')
    specs = graph.build_graph(scenario, graph.GraphOptions(num_uavs=1, policy='onnx', round_period_s=0.1,
                                                           kinds=('bandwidth_follower', 'pricing_leader')))
    assert sorted(s.fully_qualified_name for s in specs) == [
        '/rsu0/pricing_leader', '/rsu1/pricing_leader', '/uav0/bandwidth_follower']
    leader = _by(specs, 'pricing_leader', 'rsu0').parameters
    assert leader['policy'] == 'onnx' and leader['round_period_s'] == 0.1 and leader['uav_names'] == ['uav0']
    assert leader['stale_after_s'] == pytest.approx(0.3)


def test_rsu_rounds_are_spread_over_the_first_part_of_the_round_before_the_followers_answer():
    specs = graph.build_graph(graph.load_scenario('default'), graph.GraphOptions(kinds=('pricing_leader',)))
    phases = [s.parameters['round_phase'] for s in specs]
    assert phases == pytest.approx([0.0, 0.04, 0.08, 0.12, 0.16])       # 5 RSUs over leader_spread = 0.2
    together = graph.build_graph(graph.load_scenario('default'),
                                 graph.GraphOptions(kinds=('pricing_leader',), leader_spread=0.0))
    assert {s.parameters['round_phase'] for s in together} == {0.0}


def test_uav_answers_are_spread_over_the_second_half_of_the_round():
    specs = graph.build_graph(graph.load_scenario('default'), graph.GraphOptions(kinds=('bandwidth_follower',)))
    phases = np.array([s.parameters['answer_phase'] for s in specs])
    assert phases.size == 15 and phases[0] == 0.5 and np.all(np.diff(phases) > 0) and phases[-1] < 0.7
    together = graph.build_graph(graph.load_scenario('default'),
                                 graph.GraphOptions(kinds=('bandwidth_follower',), follower_spread=0.0))
    assert {s.parameters['answer_phase'] for s in together} == {0.5}


@pytest.mark.parametrize('bad, match', [
    (dict(sim='gazebo'), 'sim'), (dict(policy='magic'), 'policy'), (dict(num_uavs=0), 'num_uavs'),
    (dict(round_period_s=float('nan')), 'round_period_s'), (dict(kinds=('radar',)), 'kinds'),
    (dict(first_instance=250), 'first_instance'), (dict(flight_rate_hz=0.5), 'flight_rate_hz'),
    (dict(takeoff_altitude_m=float('inf')), 'takeoff_altitude_m'), (dict(leader_spread=0.5), 'leader_spread'),
    (dict(follower_spread=-0.1), 'follower_spread'),
])
def test_bad_options_are_rejected_by_name(bad, match):
    with pytest.raises(ValueError, match=match):
        graph.GraphOptions(**bad)


@pytest.mark.parametrize('sim', ['builtin', 'px4'])
def test_flight_side_adds_one_bridge_per_uav_to_its_vehicle(sim):
    scenario = graph.load_scenario('mission')
    world = scenario.sample()
    specs = graph.build_graph(scenario, graph.GraphOptions(sim=sim, first_instance=7, takeoff_altitude_m=4.0))
    bridges = [s for s in specs if s.executable == 'flight_bridge']
    assert [b.namespace for b in bridges] == list(world.uav_names)
    assert len(specs) == 5 * world.num_uavs + world.num_rsus + world.num_uavs
    for i, bridge in enumerate(bridges):
        p = bridge.parameters
        assert p['connection_url'] == f'udpin://127.0.0.1:{14547 + i}' and p['instance'] == 7 + i
        assert p['home_m'] == list(world.uav_homes_m[i])
        assert p['area_size_m'] == list(world.area_size_m) and p['altitude_band_m'] == list(world.altitude_m)
        assert p['takeoff_altitude_m'] == 4.0 and p['setpoint_rate_hz'] >= 10.0       # PX4 needs > 2 Hz
        planner = _by(specs, 'trajectory_planner', bridge.namespace).parameters
        assert p['altitude_band_m'][0] <= planner['cruise_altitude_m'] <= p['altitude_band_m'][1]
        if sim == 'builtin':
            assert 'world_origin' not in p           # anchored at the vehicle's home, which is home_m
        else:
            assert p['world_origin'] == pytest.approx(px4.DEFAULT_ORIGIN)


def test_simulator_command_starts_one_vehicle_per_uav_on_the_bridges_ports():
    scenario = graph.load_scenario('mission')
    options = graph.GraphOptions(sim='builtin', num_uavs=2, first_instance=7, takeoff_altitude_m=4.0)
    argv = graph.simulator_command(scenario, options, python='py')
    assert argv[:3] == ['py', '-m', 'uav_edge.sitl']
    assert argv[argv.index('--count') + 1] == '2' and argv[argv.index('--first-instance') + 1] == '7'
    params = dict(argv[k + 1].split('=') for k, a in enumerate(argv) if a == '--param')
    assert float(params['MIS_TAKEOFF_ALT']) == 4.0
    assert float(params['RTL_RETURN_ALT']) == scenario.sample().altitude_m[0]      # return at cruise altitude
    for sim in ('none', 'px4'):
        assert graph.simulator_command(scenario, graph.GraphOptions(sim=sim)) == []


def test_num_uavs_beyond_a_fixed_list_is_a_scenario_error(tmp_path):
    path = tmp_path / 's.yaml'
    path.write_text(yaml.safe_dump({
        'name': 't', 'seed': 0, 'area': {'size_m': [100.0, 100.0]},
        'rsus': {'count': 1}, 'uavs': {'items': [{'name': 'a', 'home_m': [1.0, 1.0, 0.0], 'delta': 10.0,
                                                  'budget': 5.0, 'ssim_threshold': 0.5}]}}))
    assert graph.load_scenario(str(path), num_uavs=1).num_uavs == 1
    with pytest.raises(ScenarioError, match='num_uavs=2'):
        graph.load_scenario(str(path), num_uavs=2)


def test_params_file_round_trips_with_ros_types(default, tmp_path):
    _, _, specs = default
    path = graph.write_params_file(specs, tmp_path / 'params.yaml')
    text = path.read_text()
    assert '&id' not in text and '*id' not in text            # no YAML aliases (rcl cannot read them)
    doc = yaml.safe_load(text)
    assert set(doc) == {s.fully_qualified_name for s in specs}
    for spec in specs:
        loaded = doc[spec.fully_qualified_name]['ros__parameters']
        assert loaded == spec.parameters
        for value in loaded.values():
            assert isinstance(value, (bool, int, float, str, list))
            if isinstance(value, list):
                assert value and len({type(v) for v in value}) == 1    # homogeneous, non-empty arrays


def test_node_command_runs_the_module_with_the_params_file(default):
    _, _, specs = default
    argv = graph.node_command(specs[0], '/x/params.yaml', python='py', log_level='warn')
    assert argv == ['py', '-m', 'uav_edge.nodes.channel_estimator', '--ros-args', '-r', '__node:=channel_estimator',
                    '-r', '__ns:=/uav0', '--params-file', '/x/params.yaml', '--log-level', 'warn']


def test_graph_module_does_not_import_rclpy():
    tree = ast.parse(Path(graph.__file__).read_text())
    imported = {a.name.split('.')[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split('.')[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not imported & {'rclpy', 'launch', 'launch_ros'}


def test_console_scripts_cover_every_node_kind():
    setup = (Path(graph.__file__).parents[1] / 'setup.py').read_text()
    for kind in graph.NODE_KINDS:
        assert f"'{kind} = uav_edge.nodes.{kind}:main'" in setup


def test_readme_topic_table_is_the_contracts():
    """One place for topic facts: the README embeds contract.topic_table() verbatim, and every topic a node
    publishes or subscribes by a relative name is in the table."""
    from uav_edge.nodes import contract

    readme = (Path(__file__).resolve().parents[1] / 'README.md').read_text(encoding='utf-8')
    assert contract.topic_table() in readme
    named = {t.name for t in contract.TOPICS}
    nodes = Path(__file__).resolve().parents[1] / 'uav_edge' / 'nodes'
    used = set()
    for path in nodes.glob('*.py'):
        for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
            if isinstance(node, ast.Call) and getattr(node.func, 'attr', '') in (
                    'subscribe', 'create_subscription', 'create_publisher', 'array_publisher'):
                topic = [a for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
                used.update(a.value for a in topic[:1])
    assert used and used <= named | {'/diagnostics'}, sorted(used - named)


def test_processes_one_per_node_or_one_per_namespace(default):
    _, world, specs = default
    per_node = graph.process_groups(specs, 'node')
    assert [label for label, _ in per_node] == [s.fully_qualified_name for s in specs]
    per_ns = dict(graph.process_groups(specs, 'namespace'))
    assert set(per_ns) == {f'/{u}' for u in world.uav_names} | {f'/{r}' for r in world.rsu_names}
    assert [s.executable for s in per_ns['/uav0']] == list(graph.UAV_NODES)
    assert sorted(s.fully_qualified_name for m in per_ns.values() for s in m) == \
        sorted(s.fully_qualified_name for s in specs)
    argv = graph.process_command(per_ns['/uav0'], '/x/params.yaml', python='py', log_level='warn')
    assert argv == ['py', '-m', 'uav_edge.nodes.group', *(f'uav0/{k}' for k in graph.UAV_NODES),
                    '--ros-args', '--params-file', '/x/params.yaml', '--log-level', 'warn']
    assert graph.process_command(per_ns['/rsu0'], '/x/p.yaml') == graph.node_command(per_ns['/rsu0'][0], '/x/p.yaml')
    assert graph.log_file_name('/uav0/channel_estimator') == 'uav0.channel_estimator.log'
    with pytest.raises(ValueError, match='grouping'):
        graph.process_groups(specs, 'vehicle')


def test_group_process_names_a_bad_member():
    from uav_edge.nodes import group

    with pytest.raises(SystemExit, match="got 'uav0/teleporter'"):
        group.node_factories(['uav0/teleporter'])
    with pytest.raises(SystemExit, match="got 'channel_estimator'"):
        group.node_factories(['channel_estimator'])

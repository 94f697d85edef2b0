"""Start the uav_edge node graph for a scenario: `ros2 launch uav_edge sitl.launch.py scenario:=default`.

Which nodes run, in which namespaces and with which parameters is decided by uav_edge.graph (the
same code as the launch-free runner `uav-edge run`); this file only turns its NodeSpecs into
launch_ros Node actions. Arguments: scenario, num_uavs, policy, sim, round_period, use_sim_time,
log_level, group (node: one process per node; namespace: one per UAV / RSU, graph.process_groups).
sim:=builtin also starts the built-in simulator (graph.simulator_command) as a process;
sim:=px4 attaches the flight bridges to PX4 SITL instances started as in sitl/README.md.
"""
import sys
import tempfile
from pathlib import Path

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from uav_edge import graph


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument('scenario', default_value='default',
                              description="scenario name ('default', 'small') or path to a scenario YAML"),
        DeclareLaunchArgument('num_uavs', default_value='', description="number of UAVs ('' = the scenario's)"),
        DeclareLaunchArgument('policy', default_value='', choices=['', 'analytic', 'onnx'],
                              description="RSU pricing policy ('' = the scenario's)"),
        DeclareLaunchArgument('sim', default_value='none', choices=list(graph.SIMS),
                              description='flight side: none | builtin (built-in simulator) | px4 (running PX4 SITL)'),
        DeclareLaunchArgument('round_period', default_value='0.5', description='market round period, s'),
        DeclareLaunchArgument('use_sim_time', default_value='false', choices=['true', 'false'],
                              description='use /clock'),
        DeclareLaunchArgument('log_level', default_value='info', description='ROS log level of every node'),
        DeclareLaunchArgument('group', default_value='node', choices=list(graph.GROUPINGS),
                              description='processes: one per node, or one per UAV / RSU namespace'),
        OpaqueFunction(function=_graph_nodes),
    ])


def _graph_nodes(context, *args, **kwargs):
    """Evaluate the arguments, build the graph with uav_edge.graph: one Node action per NodeSpec (+ simulator)."""
    value = lambda name: LaunchConfiguration(name).perform(context)   # noqa: E731
    num_uavs = int(value('num_uavs')) if value('num_uavs') else None
    scenario = graph.load_scenario(value('scenario'), num_uavs=num_uavs)
    options = graph.GraphOptions(policy=value('policy') or None, sim=value('sim'),
                                 round_period_s=float(value('round_period')),
                                 use_sim_time=value('use_sim_time') == 'true')
    specs = graph.build_graph(scenario, options)
    params_file = graph.write_params_file(
        specs, Path(tempfile.mkdtemp(prefix='uav_edge_launch_')) / 'params.yaml')
    actions = []
    for label, members in graph.process_groups(specs, value('group')):
        if len(members) == 1:
            spec = members[0]
            actions.append(Node(package=graph.PACKAGE, executable=spec.executable, name=spec.name,
                                namespace=spec.namespace, parameters=[str(params_file)],
                                arguments=['--ros-args', '--log-level', value('log_level')], output='screen'))
        else:                         # group:=namespace: a UAV's nodes in one process (uav_edge.nodes.group)
            actions.append(ExecuteProcess(cmd=graph.process_command(members, params_file, sys.executable,
                                                                    value('log_level')),
                                          name=label.strip('/'), output='screen'))
    simulator = graph.simulator_command(scenario, options, python=sys.executable)
    if simulator:                     # sim:=builtin: the vehicles, one process for all UAVs
        actions.insert(0, ExecuteProcess(cmd=simulator, name='simulator', output='screen'))
    return actions

"""`uav-edge run`: start the ROS 2 node graph of a scenario without `launch` (rclpy only).

The graph (which nodes, namespaces, parameters) comes from uav_edge.graph, exactly as for
`ros2 launch uav_edge sitl.launch.py`. Each node runs as its own process
(`python -m uav_edge.nodes.<node> --ros-args ... --params-file <run dir>/params.yaml`) in its own
session; Ctrl-C / SIGTERM / --duration stop them all with SIGINT (SIGKILL after a grace period),
and the exit codes are checked: the command fails if a node died early or exited non-zero.
--sim builtin also starts the built-in simulator (one process for every vehicle) before the nodes;
--sim px4 attaches the flight bridges to PX4 SITL instances already running (sitl/README.md).
--group namespace runs each UAV's (and RSU's) nodes in one process instead (uav_edge.nodes.group), as a
vehicle's companion computer would; --single-process spins all nodes in this process on one executor.
The process helpers (StopFlag, child_env, start_process, start_node_processes, stop_processes, report_exits) are shared
with `uav-edge mission`.
"""
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from uav_edge import cli_types
from uav_edge.nodes import dds_shm

HELP = 'run the ROS 2 node graph of a scenario (no `launch` needed)'
DESCRIPTION = ('Start the uav_edge node graph (channel estimators, energy monitors, bandwidth followers, '
               'offload schedulers, trajectory planners per UAV; a pricing leader per RSU) from a scenario, '
               'as one process per node (default) or in one process, until Ctrl-C or --duration.')

GRACE_S = 10.0          # SIGINT -> SIGKILL grace period for each node


def add_arguments(parser):
    from uav_edge.commands.equilibrium import add_scenario_arguments

    add_scenario_arguments(parser)
    parser.add_argument('--num-uavs', type=cli_types.count, default=None,
                        help="number of UAVs (default: the scenario's)")
    parser.add_argument('--policy', choices=('analytic', 'onnx'), default=None,
                        help="RSU pricing policy (default: the scenario's policies.pricing)")
    parser.add_argument('--sim', choices=('none', 'builtin', 'px4'), default='none',
                        help='flight side: none (publish /<uav>/pose yourself), builtin (starts the built-in '
                             'simulator + a flight bridge per UAV), px4 (bridges to running PX4 SITL instances)')
    parser.add_argument('--duration', type=cli_types.nonnegative, default=0.0,
                        help='stop after S seconds (0: until Ctrl-C)')
    parser.add_argument('--round-period', type=cli_types.positive, default=0.5, help='market round period in s')
    parser.add_argument('--use-sim-time', action='store_true', help='nodes use /clock')
    parser.add_argument('--log-level', default='info', choices=('debug', 'info', 'warn', 'error', 'fatal'),
                        help='ROS log level of the nodes (default %(default)s)')
    parser.add_argument('--run-dir', default=None,
                        help='where params.yaml and the node logs go (default: a new temporary folder)')
    add_group_argument(parser)
    parser.add_argument('--single-process', action='store_true',
                        help='spin every node in this process (one executor) instead of one process per node')


def add_group_argument(parser, default='node'):
    """--group, shared with `uav-edge mission`: which processes run the nodes (graph.process_groups)."""
    from uav_edge import graph

    parser.add_argument('--group', choices=graph.GROUPINGS, default=default,
                        help='processes: one per node or one per UAV / RSU namespace (its nodes share one executor, '
                             'as on a vehicle\'s companion computer); default %(default)s')


def run(args):
    from uav_edge import graph

    scenario = graph.load_scenario(args.scenario, args.overrides, args.num_uavs)
    options = graph.GraphOptions(policy=args.policy, sim=args.sim, round_period_s=args.round_period,
                                 use_sim_time=args.use_sim_time)
    specs = graph.build_graph(scenario, options)
    run_dir = Path(args.run_dir or tempfile.mkdtemp(prefix='uav_edge_run_'))
    keep_ros_logs_in(run_dir)
    params_file = graph.write_params_file(specs, run_dir / 'params.yaml')
    print(f'uav-edge run: scenario {scenario.name} ({scenario.num_uavs} UAVs, {scenario.num_rsus} RSUs), '
          f'{len(specs)} nodes, parameters in {params_file}', flush=True)
    stop = StopFlag()
    sim = graph.simulator_command(scenario, options, python=sys.executable)
    if args.single_process:
        return _run_in_process(specs, run_dir, args, stop, sim)
    return _run_processes(specs, params_file, run_dir, args, stop, sim)


class StopFlag:
    """Set by SIGINT / SIGTERM (so Ctrl-C stops the graph cleanly instead of raising KeyboardInterrupt)."""

    def __init__(self):
        self.signal = None
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._set)

    def _set(self, signum, _frame):
        self.signal = signum

    def wait(self, duration_s, alive=lambda: True, poll_s=0.2):
        """Block until a signal, the duration (0 = none) or alive() turning False; returns the reason."""
        deadline = time.monotonic() + duration_s if duration_s > 0 else None
        while True:
            if self.signal is not None:
                return f'signal {signal.Signals(self.signal).name}'
            if deadline is not None and time.monotonic() >= deadline:
                return 'duration reached'
            if not alive():
                return 'a node exited'
            time.sleep(poll_s)


def _run_processes(specs, params_file, run_dir, args, stop, sim_argv=()):
    env = child_env()
    procs = []
    try:
        if sim_argv:
            procs.append(('simulator', start_process(sim_argv, run_dir / 'simulator.log', env)))
            print(f'  started the built-in simulator (pid {procs[-1][1].pid})', flush=True)
        for label, members, proc in start_node_processes(specs, args.group, params_file, run_dir, env, args.log_level):
            procs.append((label, proc))
            print(f'  started {label} (pid {proc.pid})' +
                  (f': {", ".join(s.name for s in members)}' if len(members) > 1 else ''), flush=True)
        print(f'uav-edge run: {len(procs)} processes running; logs in {run_dir}; Ctrl-C to stop', flush=True)
        reason = stop.wait(args.duration, alive=lambda: all(p.poll() is None for _, p in procs))
    finally:
        early = {name: p.returncode for name, p in procs if p.poll() is not None}
        codes = stop_processes(procs[1:] if sim_argv else procs)
        codes.update(stop_processes(procs[:1] if sim_argv else []))      # the vehicles go last
    print(f'uav-edge run: stopping ({reason if procs else "start failed"})', flush=True)
    failed = report_exits(codes, early, run_dir)
    print(f'uav-edge run: {len(codes) - len(failed)}/{len(codes)} processes exited cleanly', flush=True)
    return 1 if failed or early else 0


def keep_ros_logs_in(folder):
    """rcl's own log files (by default ~/.ros/log/python_<pid>_*.log, a copy of what each process prints) go to
    <folder>/ros, for this process and every process it starts, unless ROS_LOG_DIR is set: a run's logs stay in
    its run folder."""
    os.environ.setdefault('ROS_LOG_DIR', str(Path(folder) / 'ros'))


def child_env(domain_id=None):
    """The environment for node / simulator processes: DDS discovery on loopback, optional ROS_DOMAIN_ID."""
    env = dict(os.environ)
    env.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    if domain_id is not None:
        env['ROS_DOMAIN_ID'] = str(domain_id)
    return env


def start_process(argv, log_path, env):
    """Start argv in its own session (stdin closed, stdout+stderr to log_path); returns the Popen."""
    with open(log_path, 'wb') as log:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                env=env, start_new_session=True, preexec_fn=_ignore_signals_until_started)


def start_node_processes(specs, grouping, params_file, log_dir, env, log_level=None):
    """Start the processes of graph.process_groups(specs, grouping), each logging to log_dir: yields (label, members,
    Popen) as each one starts, so a caller holds every started process even if a later start fails."""
    from uav_edge import graph

    for label, members in graph.process_groups(specs, grouping):
        argv = graph.process_command(members, params_file, python=sys.executable, log_level=log_level)
        yield label, members, start_process(argv, Path(log_dir) / graph.log_file_name(label), env)


def report_exits(codes, early, run_dir):
    """Print which processes died early or exited non-zero (stderr); returns {name: code} of the failed."""
    failed = {name: code for name, code in codes.items() if code != 0}
    for name, code in early.items():
        print(f'  {name} exited early with code {code}; see its log in {run_dir}', file=sys.stderr)
    for name, code in failed.items():
        if name not in early:
            print(f'  {name} exited with code {code}', file=sys.stderr)
    return failed


def _ignore_signals_until_started():
    """In the child before exec: SIGINT and SIGUSR1 ignored while Python imports; the node installs its own.

    A SIGINT that lands during start-up would otherwise be a KeyboardInterrupt traceback (exit 1); this way
    it is ignored and stop_processes sends another one once the node is up. A SIGUSR1 (stop_processes'
    stack-dump request) would kill a node that has not registered faulthandler yet (exit -10).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)


def stop_processes(procs, resend_s=0.5):
    """SIGINT every (name, Popen)'s process group (again every resend_s while it runs), SIGKILL what is
    left after GRACE_S; returns {name: exit code}. A ROS node (name '/ns/node') still running then first
    gets SIGUSR1, on which nodes.common.main_for's faulthandler writes every thread's stack to its log:
    the evidence of where the teardown hung. Then the Fast DDS shared-memory files of processes that are
    gone (these or earlier ones) are removed (nodes.dds_shm), so that repeated runs do not fill /dev/shm."""
    deadline = time.monotonic() + GRACE_S
    running = list(procs)
    while running and time.monotonic() < deadline:
        for _, proc in running:
            _signal_group(proc, signal.SIGINT)
        until = min(deadline, time.monotonic() + resend_s)
        while running and time.monotonic() < until:
            running = [(name, proc) for name, proc in running if proc.poll() is None]
            time.sleep(0.02)
    hung_nodes = [proc for name, proc in running if name.startswith('/')]
    for proc in hung_nodes:
        _signal_group(proc, signal.SIGUSR1)
    if hung_nodes:
        time.sleep(0.5)                   # the dump is written by a C handler; no GIL needed
    for _, proc in running:
        _signal_group(proc, signal.SIGKILL)
    codes = {name: proc.wait() for name, proc in procs}
    dds_shm.clean_zombie_segments()
    return codes


def _signal_group(proc, sig):
    try:
        os.killpg(proc.pid, sig)          # own session: the group id is the process's pid
    except ProcessLookupError:
        pass


def _run_in_process(specs, run_dir, args, stop, sim_argv=()):
    from uav_edge.nodes.runtime import InProcessGraph

    sim = [('simulator', start_process(sim_argv, run_dir / 'simulator.log', child_env()))] if sim_argv else []
    try:
        with InProcessGraph(specs, executor='events') as g:
            print(f'uav-edge run: {len(g.nodes)} nodes spinning in one process; Ctrl-C to stop', flush=True)
            reason = stop.wait(args.duration, alive=g.alive)
            if g.error is not None:       # a callback raised: every node of this process stopped with it
                reason = f'the executor stopped: {type(g.error).__name__}: {g.error}'
    finally:
        codes = stop_processes(sim)
    print(f'uav-edge run: stopped ({reason})', flush=True)
    return 1 if report_exits(codes, {}, run_dir) or g.error is not None else 0

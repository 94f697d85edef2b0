"""`uav-edge run`: start the ROS 2 node graph of a scenario without `launch` (rclpy only).

The graph (which nodes, namespaces, parameters) comes from uav_edge.graph, exactly as for
`ros2 launch uav_edge sitl.launch.py`. Each node runs as its own process
(`python -m uav_edge.nodes.<node> --ros-args ... --params-file <run dir>/params.yaml`) in its own
session; Ctrl-C / SIGTERM / --duration stop them all with SIGINT (SIGKILL after a grace period),
and the exit codes are checked: the command fails if a node died early or exited non-zero.
--single-process spins all nodes in this process on one executor instead.
"""
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HELP = 'run the ROS 2 node graph of a scenario (no `launch` needed)'
DESCRIPTION = ('Start the uav_edge node graph (channel estimators, energy monitors, bandwidth followers, '
               'offload schedulers, trajectory planners per UAV; a pricing leader per RSU) from a scenario, '
               'as one process per node (default) or in one process, until Ctrl-C or --duration.')

GRACE_S = 10.0          # SIGINT -> SIGKILL grace period for each node


def add_arguments(parser):
    from uav_edge.commands.equilibrium import add_scenario_arguments

    add_scenario_arguments(parser)
    parser.add_argument('--num-uavs', type=int, default=None, help="number of UAVs (default: the scenario's)")
    parser.add_argument('--policy', choices=('analytic', 'onnx'), default=None,
                        help="RSU pricing policy (default: the scenario's policies.pricing)")
    parser.add_argument('--sim', choices=('none', 'builtin', 'px4'), default='none',
                        help='flight side (only none is wired in yet: publish /<uav>/pose yourself)')
    parser.add_argument('--duration', type=float, default=0.0, help='stop after S seconds (0: until Ctrl-C)')
    parser.add_argument('--round-period', type=float, default=0.5, help='market round period in s')
    parser.add_argument('--use-sim-time', action='store_true', help='nodes use /clock')
    parser.add_argument('--log-level', default='info', choices=('debug', 'info', 'warn', 'error', 'fatal'))
    parser.add_argument('--run-dir', default=None,
                        help='where params.yaml and the node logs go (default: a new temporary folder)')
    parser.add_argument('--single-process', action='store_true',
                        help='spin every node in this process (one executor) instead of one process per node')


def run(args):
    from uav_edge import graph

    scenario = graph.load_scenario(args.scenario, args.overrides, args.num_uavs)
    options = graph.GraphOptions(policy=args.policy, sim=args.sim, round_period_s=args.round_period,
                                 use_sim_time=args.use_sim_time)
    specs = graph.build_graph(scenario, options)
    run_dir = Path(args.run_dir or tempfile.mkdtemp(prefix='uav_edge_run_'))
    params_file = graph.write_params_file(specs, run_dir / 'params.yaml')
    print(f'uav-edge run: scenario {scenario.name} ({scenario.num_uavs} UAVs, {scenario.num_rsus} RSUs), '
          f'{len(specs)} nodes, parameters in {params_file}', flush=True)
    stop = _StopFlag()
    if args.single_process:
        return _run_in_process(specs, args, stop)
    return _run_processes(specs, params_file, run_dir, args, stop)


class _StopFlag:
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


def _run_processes(specs, params_file, run_dir, args, stop):
    from uav_edge import graph

    env = dict(os.environ)
    env.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    procs = []
    try:
        for spec in specs:
            log = open(run_dir / f'{spec.namespace}.{spec.name}.log', 'wb')
            argv = graph.node_command(spec, params_file, python=sys.executable, log_level=args.log_level)
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    env=env, start_new_session=True, preexec_fn=_ignore_sigint_until_rclpy)
            log.close()
            procs.append((spec, proc))
            print(f'  started {spec.fully_qualified_name} (pid {proc.pid})', flush=True)
        print(f'uav-edge run: {len(procs)} nodes running; logs in {run_dir}; Ctrl-C to stop', flush=True)
        reason = stop.wait(args.duration, alive=lambda: all(p.poll() is None for _, p in procs))
    finally:
        early = {spec.fully_qualified_name: p.returncode for spec, p in procs if p.poll() is not None}
        codes = _stop_all(procs)
    print(f'uav-edge run: stopping ({reason if procs else "start failed"})', flush=True)
    failed = {name: code for name, code in codes.items() if code != 0}
    for name, code in early.items():
        print(f'  {name} exited early with code {code}; see its log in {run_dir}', file=sys.stderr)
    for name, code in failed.items():
        if name not in early:
            print(f'  {name} exited with code {code}', file=sys.stderr)
    print(f'uav-edge run: {len(codes) - len(failed)}/{len(codes)} nodes exited cleanly', flush=True)
    return 1 if failed or early else 0


def _ignore_sigint_until_rclpy():
    """In the child before exec: SIGINT ignored while Python imports; rclpy.init installs its own handler.

    A SIGINT that lands during start-up would otherwise be a KeyboardInterrupt traceback (exit 1); this way
    it is ignored and _stop_all sends another one once the node is up.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _stop_all(procs, resend_s=0.5):
    """SIGINT every node's process group (again every resend_s while it runs), SIGKILL what is left after
    GRACE_S; returns {name: exit code}."""
    deadline = time.monotonic() + GRACE_S
    running = list(procs)
    while running and time.monotonic() < deadline:
        for _, proc in running:
            _signal_group(proc, signal.SIGINT)
        until = min(deadline, time.monotonic() + resend_s)
        while running and time.monotonic() < until:
            running = [(spec, proc) for spec, proc in running if proc.poll() is None]
            time.sleep(0.02)
    for _, proc in running:
        _signal_group(proc, signal.SIGKILL)
    return {spec.fully_qualified_name: proc.wait() for spec, proc in procs}


def _signal_group(proc, sig):
    try:
        os.killpg(proc.pid, sig)          # own session: the group id is the node's pid
    except ProcessLookupError:
        pass


def _run_in_process(specs, args, stop):
    from uav_edge.nodes.runtime import InProcessGraph

    with InProcessGraph(specs, threads=2) as g:
        print(f'uav-edge run: {len(g.nodes)} nodes spinning in one process; Ctrl-C to stop', flush=True)
        reason = stop.wait(args.duration)
    print(f'uav-edge run: stopped ({reason})', flush=True)
    return 0

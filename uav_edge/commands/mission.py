"""`uav-edge mission`: the main job. A bare machine to a flown mission on built-in defaults.

    uav-edge mission                       # scenario 'mission', 3 UAVs, built-in simulator, live view
    uav-edge mission --num-uavs 2 --duration 60 --out runs/try1

Starts, all bound to 127.0.0.1 on one ROS_DOMAIN_ID: the built-in simulator (one process for
every vehicle), the node graph of uav_edge.graph with a flight_bridge per UAV (by default one process
per UAV with its six nodes, as its companion computer would run them, and one per RSU; --group node: one
per node; the helpers of `uav-edge run`), and in this process the mission monitor (records every
contract topic into a MissionLog) and the supervisor (arm, take off, offboard, fly the planner's
route, land; uav_edge/mission/supervisor.py). A live view shows per-UAV state, prices, demands,
migrations and energy (rich when stdout is a terminal, else a status line every --status-period s).
It ends when every UAV has landed (or failed); --duration sends everyone home (RTL) and lands them
first. Ctrl-C (or SIGTERM) stops at once. Either way every process is stopped (SIGINT, then
SIGKILL) and the run report (report.json + PNG plots, node logs in logs/) is written to --out.
Exit code: 0 when every UAV took off and landed and no process failed (a node that had to be
stopped with SIGKILL is a warning, listed in the report's run.killed_at_shutdown); 1 otherwise;
130 after Ctrl-C.
"""
import json
import os
import signal
import sys
import time
from datetime import datetime
from pathlib import Path

from uav_edge import cli_types

HELP = 'fly a whole mission on the built-in simulator: live view, then a run report'
DESCRIPTION = ('Start the built-in simulator with N UAVs, the whole node graph (a flight bridge per UAV) and '
               'the shipped policies; arm, take off, fly the planned routes while buying bandwidth and migrating '
               'twins, return and land; show it live and write the run report (JSON + PNG plots).')

MAX_MISSION_S = 900.0      # hard stop when the mission does not end by itself [A]


def add_arguments(parser):
    from uav_edge.commands.run import add_group_argument

    parser.add_argument('--scenario', default='mission',
                        help="scenario name or YAML file (default: %(default)s, config/scenarios/mission.yaml)")
    parser.add_argument('--set', dest='overrides', action='append', default=[], metavar='KEY=VALUE',
                        help='override a scenario key, e.g. --set area.altitude_m=[25,60] (repeatable)')
    parser.add_argument('--num-uavs', type=cli_types.count, default=None,
                        help="number of UAVs (default: the scenario's, 3)")
    parser.add_argument('--duration', type=cli_types.nonnegative, default=0.0,
                        help='after S seconds send every UAV home and land (default 0: fly the whole route)')
    parser.add_argument('--out', default=None, help='run folder (default: runs/<timestamp>)')
    parser.add_argument('--domain-id', type=cli_types.domain_id,
                        default=int(os.environ.get('ROS_DOMAIN_ID', '0') or 0),
                        help='ROS_DOMAIN_ID for every process (default: $ROS_DOMAIN_ID or 0)')
    parser.add_argument('--first-instance', type=cli_types.index, default=0,
                        help='simulator instance of the first UAV: MAVLink ports 14540+i / 14580+i (default 0)')
    parser.add_argument('--policy', choices=('analytic', 'onnx'), default=None,
                        help="RSU pricing policy (default: the scenario's policies.pricing)")
    parser.add_argument('--round-period', type=cli_types.positive, default=0.5, help='market round period in s')
    parser.add_argument('--log-level', default='info', choices=('debug', 'info', 'warn', 'error', 'fatal'),
                        help='ROS log level of the nodes (their logs go to <out>/logs)')
    parser.add_argument('--status-period', type=cli_types.positive, default=5.0,
                        help='s between status lines when stdout is not a terminal (default 5)')
    parser.add_argument('--no-live', action='store_true', help='status lines instead of the live view')
    add_group_argument(parser, default='namespace')    # each UAV's companion runs its nodes in one process


def run(args):
    from uav_edge import graph
    from uav_edge.commands.run import StopFlag, keep_ros_logs_in

    started, started_unix = time.monotonic(), time.time()
    scenario = graph.load_scenario(args.scenario, args.overrides, args.num_uavs)
    options = graph.GraphOptions(policy=args.policy, sim='builtin', round_period_s=args.round_period,
                                 first_instance=args.first_instance)
    world = scenario.sample()
    specs = graph.build_graph(scenario, options)
    out = Path(args.out or Path('runs') / datetime.now().strftime('%Y%m%d-%H%M%S'))
    (out / 'logs').mkdir(parents=True, exist_ok=True)
    keep_ros_logs_in(out / 'logs')
    params_file = graph.write_params_file(specs, out / 'params.yaml')
    sim_argv = graph.simulator_command(scenario, options, python=sys.executable)
    print(f'uav-edge mission: scenario {scenario.name} ({world.num_uavs} UAVs, {world.num_rsus} RSUs), '
          f'{len(specs)} nodes + simulator, ROS_DOMAIN_ID={args.domain_id}, run folder {out}', flush=True)
    stop = StopFlag()
    mission = _Mission(world, options, args, started)
    try:
        mission.start_processes(specs, params_file, sim_argv, out / 'logs')
        mission.start_ros()
        reason = mission.fly(stop)
    finally:
        mission.shutdown()
    return mission.finish(reason, out, started_unix)


class _Mission:
    """The processes, the ROS side (monitor + supervisor) and the log of one run."""

    def __init__(self, world, options, args, started):
        from uav_edge.mission.log import MissionLog

        self.world, self.options, self.args, self.started = world, options, args, started
        self.log = MissionLog(world.uav_names, world.rsu_names, world.uav_homes_m, options.reserve_fraction)
        self.procs, self.early, self.codes = [], {}, {}
        self.pids = {}
        self.context = self.executor = self.thread = self.monitor = self.supervisor = None
        self.airborne_at = None                  # s since the command started: every UAV above take-off altitude

    def start_processes(self, specs, params_file, sim_argv, log_dir):
        from uav_edge.commands.run import child_env, start_node_processes, start_process

        env = child_env(self.args.domain_id)
        self.procs.append(('simulator', start_process(sim_argv, log_dir / 'simulator.log', env)))
        for label, _, proc in start_node_processes(specs, self.args.group, params_file, log_dir, env,
                                                   self.args.log_level):
            self.procs.append((label, proc))
        self.pids = {name: proc.pid for name, proc in self.procs}
        print(f'uav-edge mission: started the simulator and {len(self.procs) - 1} node processes ({len(specs)} nodes); '
              f'logs in {log_dir}', flush=True)

    def start_ros(self):
        import threading

        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.signals import SignalHandlerOptions

        from uav_edge.mission.monitor import MissionMonitor
        from uav_edge.mission.supervisor import SequenceOptions, Supervisor

        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=self.args.domain_id,
                   signal_handler_options=SignalHandlerOptions.NO)      # Ctrl-C stays with StopFlag
        self.monitor = MissionMonitor(self.log, self.started, context=self.context)
        self.supervisor = Supervisor(self.monitor, SequenceOptions(takeoff_altitude_m=self.options.takeoff_altitude_m),
                                     context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)     # callbacks are short, none blocks
        for node in (self.monitor, self.supervisor):
            self.executor.add_node(node)
        self.thread = threading.Thread(target=self._spin, name='mission-executor', daemon=True)
        self.thread.start()

    def _spin(self):
        from rclpy.executors import ExternalShutdownException

        try:
            self.executor.spin()
        except ExternalShutdownException:
            pass

    def fly(self, stop):
        """Until the mission ends, a signal, a dead process or the hard limit; shows the live view."""
        live = None
        if sys.stdout.isatty() and not self.args.no_live:
            from rich.live import Live
            live = Live(auto_refresh=False, transient=False)
            live.start()
        next_status, returning = 0.0, False
        try:
            while True:
                t = time.monotonic() - self.started
                if stop.signal is not None:
                    return 'interrupted'
                dead = [name for name, p in self.procs if p.poll() is not None]
                if dead:
                    self.early = {name: p.returncode for name, p in self.procs if p.poll() is not None}
                    return f'process exited early: {", ".join(dead)}'
                if self.supervisor.finished():
                    if returning:
                        return 'sent home before the route ended, landed'
                    short = self.supervisor.cut_short()
                    return ('ended with a route cut short: ' + '; '.join(f'{u}: {why}' for u, why in short.items())
                            if short else 'mission complete')
                if not returning and (self.args.duration > 0 and t >= self.args.duration or t >= MAX_MISSION_S):
                    returning = True
                    self.supervisor.request_return()
                    with self.monitor.lock:
                        self.log.event(t, 'duration reached: every UAV returns home and lands'
                                       if self.args.duration > 0 and t >= self.args.duration
                                       else f'no end after {MAX_MISSION_S:g} s: every UAV returns home')
                if t >= MAX_MISSION_S + 300.0:
                    return 'hard time limit'
                self._note_airborne(t)
                if live is not None:
                    from uav_edge.mission.live import render
                    phase = self.phase()                  # (the supervisor's lock before the monitor's, never inside)
                    with self.monitor.lock:
                        live.update(render(self.log, t, phase), refresh=True)
                elif t >= next_status:
                    next_status = t + self.args.status_period
                    print(self.status_line(t), flush=True)
                time.sleep(0.25)
        finally:
            if live is not None:
                live.stop()

    def _note_airborne(self, t):
        if self.airborne_at is None and all('airborne' in s.times for s in self.supervisor.sequences.values()):
            self.airborne_at = t

    def phase(self):
        """One word for the whole mission, from the UAVs' phases (e.g. 'flying 2, landing 1')."""
        counts = {}
        for p in self.supervisor.phases().values():
            counts[p] = counts.get(p, 0) + 1
        return ', '.join(f'{p} {n}' for p, n in counts.items())

    def status_line(self, t):
        """The plain-text view: one line with every UAV and the mean price per RSU."""
        phases = self.supervisor.phases()
        with self.monitor.lock:
            parts = []
            for name, tr in self.log.tracks.items():
                h = f'{round(tr.height_m[-1], 1) + 0.0:.1f}m' if tr.position_m else '-'     # + 0.0: no '-0.0'
                soc = f'{100 * tr.state_of_charge[-1]:.1f}%' if tr.state_of_charge else '-'
                bw = sum(tr.demand[-1]) if tr.demand else 0.0
                parts.append(f'{name} {phases[name]} {tr.mode or "-"} h={h} SoC={soc} '
                             f'twin={tr.target or "-"} mig={len(tr.migrations)} bw={bw:.3f}')
            prices = ' '.join(f'{r}={sum(self.log.prices[r][-1]) / len(self.log.prices[r][-1]):.2f}'
                              for r in self.log.rsu_names if self.log.prices[r])
        return f't={t:6.1f}s | ' + ' | '.join(parts) + f' | prices {prices or "-"}'

    def shutdown(self):
        """Stop the ROS side, then every process (nodes first, the simulator last)."""
        from uav_edge.commands.run import stop_processes

        if self.executor is not None:
            self.executor.shutdown(timeout_sec=2.0)          # the spin thread ends, then the nodes go
            self.thread.join(timeout=5.0)
            for node in (self.supervisor, self.monitor):
                node.destroy_node()
            import rclpy
            rclpy.try_shutdown(context=self.context)
        self.codes = stop_processes(self.procs[1:])
        self.codes.update(stop_processes(self.procs[:1]))

    def finish(self, reason, out, started_unix):
        """Write the report (+ what ran and how it ended) and print its path; returns the exit code."""
        from uav_edge.commands.run import report_exits
        from uav_edge.mission.report import write_report

        print(f'uav-edge mission: stopped ({reason})', flush=True)
        failed = report_exits(self.codes, self.early, out / 'logs')
        killed = sorted(name for name, code in failed.items() if code == -signal.SIGKILL and name not in self.early)
        if killed:      # the mission is done and nothing is left running, but these nodes ignored SIGINT
            print(f'uav-edge mission: warning: {len(killed)} process(es) needed SIGKILL to stop: {", ".join(killed)}',
                  file=sys.stderr)
        paths = write_report(self.log, self.world, out)
        summary = self.log.summary()
        data = json.loads(paths['json'].read_text())
        data['run'] = self.run_info(reason, started_unix, failed)
        data['run']['killed_at_shutdown'] = killed
        paths['json'].write_text(json.dumps(data, indent=1))
        ok = summary['all_took_off'] and summary['all_landed'] and set(failed) <= set(killed) and not self.early
        for name, u in summary['uavs'].items():
            soc = u['final_state_of_charge']
            print(f'  {name}: took off {u["took_off"]}, landed {u["landed"]}, {u["distance_m"]:.0f} m flown, '
                  f'{u["migrations"]} twin moves, final state of charge '
                  f'{"-" if soc is None else f"{100 * soc:.1f} %"}', flush=True)
        print(f'uav-edge mission: report {paths["json"]} (plots: '
              f'{", ".join(str(p.name) for k, p in paths.items() if k != "json")})', flush=True)
        if reason == 'interrupted':
            return 130
        return 0 if ok else 1

    def run_info(self, reason, started_unix, failed):
        """What ran and how it ended: the 'run' block of report.json."""
        seqs = self.supervisor.sequences if self.supervisor else {}
        configured = self.options.policy or self.world.policies.pricing
        status = self.monitor.pricing_status() if self.monitor else {}
        fell_back = any('analytic best response in use' in m for m in status.values())
        return {
            'scenario': self.world.name, 'scenario_source': self.world.source, 'num_uavs': self.world.num_uavs,
            'num_rsus': self.world.num_rsus, 'command': sys.argv, 'started_unix': started_unix,
            'duration_limit_s': self.args.duration, 'ros_domain_id': self.args.domain_id,
            'end_reason': reason, 'elapsed_s': time.monotonic() - self.started,
            'start_to_airborne_s': self.airborne_at,
            'policies': {'pricing_configured': configured,
                         'pricing_ran': 'analytic' if configured == 'analytic' or fell_back else 'onnx',
                         'pricing_model': self.world.policies.pricing_model,
                         'pricing_leader_status': status,
                         'offload': self.world.policies.offload, 'trajectory': self.world.policies.trajectory},
            'uavs': {u: {'phase': s.phase, 'reason': s.reason, 'times_s': s.times} for u, s in seqs.items()},
            'processes': {name: {'pid': self.pids.get(name), 'exit_code': code} for name, code in self.codes.items()},
            'failed_processes': failed, 'early_exits': self.early,
        }

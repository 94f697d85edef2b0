"""Start a graph (a list of graph.NodeSpec): inside this process (InProcessGraph: one rclpy context, one
executor) or as processes (ProcessGraph: one per node, the deployment of `uav-edge run` and launch, or one
per UAV / RSU namespace).

InProcessGraph is used by tests, benches and `uav-edge run --single-process`. The nodes are the same classes the
console scripts run; parameters are passed as overrides instead of a parameter file.

    with InProcessGraph(specs, domain_id=42) as g:
        g.nodes['/rsu0/pricing_leader'] ...
"""
import gc
import importlib
import threading
from pathlib import Path

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.parameter import Parameter

from uav_edge.nodes.common import freeze_built_objects, make_executor


def create_node(spec, context):
    """Instantiate the node class of a NodeSpec (module uav_edge.nodes.<executable>, attribute NODE)."""
    node_class = importlib.import_module(spec.module).NODE
    overrides = [Parameter(name, value=value) for name, value in spec.parameters.items()]
    return node_class(namespace=f'/{spec.namespace}', parameter_overrides=overrides, context=context)


class InProcessGraph:
    """Nodes of `specs` spinning on a background executor; add/remove nodes while running."""

    def __init__(self, specs=(), domain_id=None, threads=1, context=None, executor='waitset'):
        """executor 'waitset' (default; threads > 1: MultiThreadedExecutor) or 'events' (nodes.common.make_executor).

        'events' is faster but only when every node is added before start(): rclpy's EventsExecutor deadlocks
        when another thread creates a publisher/subscription/timer while it spins (seen with a Probe), so the
        default stays the wait-set executor, which allows adding nodes and entities at any time."""
        self.owns_context = context is None
        self.context = context or rclpy.Context()
        if self.owns_context:
            rclpy.init(context=self.context, domain_id=domain_id)
        self.executor = make_executor(self.context, executor, threads)
        self.nodes = {}
        self._thread = None
        self.error = None                 # what ended the executor thread, if a callback raised
        for spec in specs:
            self.add(spec)

    def add(self, spec_or_node):
        """Add a NodeSpec (instantiated here) or an existing Node to the executor; returns the node."""
        node = spec_or_node if hasattr(spec_or_node, 'get_fully_qualified_name') else \
            create_node(spec_or_node, self.context)
        self.nodes[node.get_fully_qualified_name()] = node
        self.executor.add_node(node)
        return node

    def remove(self, name):
        """Stop and destroy one node (e.g. to simulate an RSU going away)."""
        node = self.nodes.pop(name)
        self.executor.remove_node(node)
        node.destroy_node()

    def start(self):
        freeze_built_objects()            # unfrozen by stop(): a test process starts many graphs
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._spin, name='uav_edge-executor', daemon=True)
        self._thread.start()
        return self

    def _spin(self):
        """spin_once until stop(): a flag, because EventsExecutor.shutdown() from another thread never returns
        while it spins (seen with rclpy 9.1). An exception out of a callback ends the thread, and with it every
        node, as it ends a node's own process: it is kept in `error` (alive() turns False) and re-raised so that
        its traceback is printed."""
        try:
            while not self._stopping.is_set() and self.context.ok():
                self.executor.spin_once(timeout_sec=0.1)
        except (ExternalShutdownException, KeyboardInterrupt):
            pass
        except BaseException as err:
            self.error = err
            raise

    def alive(self):
        """True while the executor thread spins (started and not ended by stop() or an exception)."""
        return self._thread is not None and self._thread.is_alive()

    def stop(self):
        """Stop spinning first (join the executor thread), then destroy the nodes and the context."""
        if self._thread is not None:
            self._stopping.set()
            self._thread.join(timeout=5.0)
        self.executor.shutdown(timeout_sec=2.0)
        for name in list(self.nodes):
            self.nodes.pop(name).destroy_node()
        if self.owns_context:
            rclpy.try_shutdown(context=self.context)
        gc.unfreeze()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class ProcessGraph:
    """Nodes of `specs` as processes (one per node, `python -m uav_edge.nodes.<x> --ros-args --params-file`, or with
    grouping='namespace' one per UAV / RSU namespace, graph.process_groups), started and stopped (SIGINT,
    SIGKILL after a grace period) with `uav-edge run`'s own helpers: the deployment of the runner and the launch
    file.

        with ProcessGraph(specs, run_dir, domain_id=42) as g:
            g.alive()
    """

    def __init__(self, specs, run_dir, domain_id=None, log_level='warn', grouping='node'):
        from uav_edge import graph

        self.specs, self.run_dir, self.domain_id, self.log_level = list(specs), Path(run_dir), domain_id, log_level
        self.grouping = grouping          # graph.GROUPINGS; an unknown one is refused by start()
        self.params_file = graph.write_params_file(self.specs, self.run_dir / 'params.yaml')
        self.procs = []                   # (label, Popen)

    def start(self):
        from uav_edge.commands.run import child_env, start_node_processes

        for label, _, proc in start_node_processes(self.specs, self.grouping, self.params_file, self.run_dir,
                                                   child_env(self.domain_id), self.log_level):
            self.procs.append((label, proc))
        return self

    def alive(self):
        """True while every node process runs."""
        return all(p.poll() is None for _, p in self.procs)

    def stop(self):
        """SIGINT every process (SIGKILL after the runner's grace period); returns {label: exit code}."""
        from uav_edge.commands.run import stop_processes

        return stop_processes(self.procs)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

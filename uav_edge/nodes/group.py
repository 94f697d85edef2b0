"""Several nodes in one process on one executor: how a vehicle's companion computer runs its UAV's nodes
(`uav-edge run --group namespace`, launch argument group:=namespace).

    python -m uav_edge.nodes.group uav0/channel_estimator uav0/bandwidth_follower \
        --ros-args --params-file params.yaml --log-level warn

Each `<namespace>/<kind>` becomes the node class uav_edge.nodes.<kind>.NODE in /<namespace>; the parameter
file gives every node its own entry (rcl matches entries by fully qualified name), exactly as when each node
runs alone. Messages between the nodes of one process stay inside it (no wake-up of another process).
"""
import importlib
import sys

from uav_edge.nodes.common import run_nodes


def node_factories(members):
    """[factory() -> Node] for `<namespace>/<kind>` strings; a clear error for a malformed or unknown one."""
    from uav_edge import graph

    known = graph.NODE_KINDS + graph.FLIGHT_NODES
    factories = []
    for member in members:
        namespace, _, kind = member.rpartition('/')
        if not namespace or kind not in known:
            raise SystemExit(f"uav_edge.nodes.group: expected <namespace>/<kind> with kind one of {', '.join(known)}; "
                             f"got {member!r}")
        node_class = importlib.import_module(f'uav_edge.nodes.{kind}').NODE
        factories.append(lambda c=node_class, ns=namespace: c(namespace=f'/{ns.strip("/")}'))
    return factories


def main(args=None):
    args = list(sys.argv if args is None else args)
    split = args.index('--ros-args') if '--ros-args' in args else len(args)
    factories = node_factories(args[1:split])
    if not factories:
        raise SystemExit('uav_edge.nodes.group: no nodes given (expected <namespace>/<kind> ...)')
    return run_nodes(factories, [args[0]] + args[split:])


if __name__ == '__main__':
    main()

"""`uav-edge run` / mission process stopping: a node that ignores SIGINT is killed after the grace period,
and before that it is asked (SIGUSR1) to write every thread's stack to its log, as nodes.common.main_for
arranges with faulthandler, so a hung teardown leaves evidence."""
import sys
import time

import pytest

from uav_edge.commands import run

HUNG_NODE = r"""
import faulthandler, signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)                     # a node stuck in its teardown
faulthandler.register(signal.SIGUSR1, all_threads=True)          # as nodes.common.main_for does
print('ready', flush=True)
def stuck_in_teardown():
    while True:
        time.sleep(0.05)
stuck_in_teardown()
"""


def test_a_node_ignoring_sigint_dumps_its_stacks_then_is_killed(tmp_path, monkeypatch):
    monkeypatch.setattr(run, 'GRACE_S', 1.0)
    log = tmp_path / 'hung.log'
    proc = run.start_process([sys.executable, '-c', HUNG_NODE], log, run.child_env())
    end = time.monotonic() + 20
    while b'ready' not in log.read_bytes() and time.monotonic() < end:
        time.sleep(0.05)
    codes = run.stop_processes([('/uav0/hung_node', proc)])
    assert codes == {'/uav0/hung_node': -9}
    text = log.read_text()
    assert 'most recent call first' in text and 'stuck_in_teardown' in text


@pytest.mark.filterwarnings('ignore::pytest.PytestUnhandledThreadExceptionWarning')   # the traceback is the point
def test_a_callback_that_raises_ends_the_in_process_graph_visibly(domain_id):
    """One process (uav-edge run --single-process): an exception out of any callback ends the executor thread and
    every node with it. The graph keeps it (error) and says it is no longer alive, so the runner stops and exits
    non-zero instead of waiting on a dead graph."""
    rclpy = pytest.importorskip('rclpy')
    from uav_edge.nodes.probe import wait_for
    from uav_edge.nodes.runtime import InProcessGraph

    with InProcessGraph(domain_id=domain_id) as g:     # wait-set executor: a timer may be added while it spins
        node = g.add(rclpy.create_node('failing_node', context=g.context))
        assert g.alive()
        node.create_timer(0.05, lambda: 1 / 0)
        wait_for(lambda: not g.alive(), 10, what='the executor thread to end')
        assert isinstance(g.error, ZeroDivisionError)

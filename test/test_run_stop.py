"""`uav-edge run` / mission process stopping: a node that ignores SIGINT is killed after the grace period,
and before that it is asked (SIGUSR1) to write every thread's stack to its log, as nodes.common.main_for
arranges with faulthandler, so a hung teardown leaves evidence."""
import sys
import time

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

"""Time a stalled process did not see: a clock and a bounded wait that leave it out, and a retry for
timing checks that a stall spoiled.

On a shared VM a process can be descheduled for seconds (hypervisor steal, a frozen VM). Every
process of a simulation then stops together, and a timeout on the wall clock expires for reasons
that have nothing to do with what it guards. A StallClock is read often, so a gap longer than
`max_step_s` between two readings is a stall: only max_step_s of it counts. Used by the built-in
simulator's link timeouts (sitl/fleet.py), the tests' and benches' waits, and the node bench.
"""
import threading
import time

import numpy as np

STALL_AFTER_S = 0.25        # a gap longer than this between two readings is a stall


class StallClock:
    """time.monotonic() minus the reader's own stalls: advances at most max_step_s per reading.

    The owner reads it (call) often (the simulator every 20 ms physics tick); a longer gap means it did
    not run, so the clock moves on by max_step_s only and `stalled_s` keeps the rest. Other threads
    use now(), which reads without counting.
    """

    def __init__(self, max_step_s=STALL_AFTER_S):
        self.max_step_s = float(max_step_s)
        self.stalled_s = 0.0
        self.stalls = 0
        self._last = time.monotonic()

    def __call__(self):
        now = time.monotonic()
        step = now - self._last
        if step > self.max_step_s:
            self.stalled_s += step - self.max_step_s
            self.stalls += 1
        self._last = now
        return now - self.stalled_s

    def now(self):
        """The clock's current value, read from any thread (a stall under way is not counted yet)."""
        now = time.monotonic()
        return now - self.stalled_s - max(0.0, now - self._last - self.max_step_s)


def wait_for(condition, timeout_s, what='condition', poll_s=0.02):
    """Poll condition() until it gives a value other than None / False (returned); TimeoutError after timeout_s.

    timeout_s is time this thread was running: seconds in which it was not scheduled (a frozen VM)
    are not counted, so the wait is not cut short by what it does not wait for. A condition that
    itself blocks for longer than STALL_AFTER_S counts as such a stall too.
    """
    clock = StallClock(max(STALL_AFTER_S, 5.0 * poll_s))
    deadline = clock() + timeout_s
    while True:
        value = condition()
        if value is not None and value is not False and not (isinstance(value, np.bool_) and not value):
            return value
        if clock() > deadline:
            stalls = f' (and {clock.stalled_s:.1f} s stalled, not counted)' if clock.stalls else ''
            raise TimeoutError(f'timed out after {timeout_s:.1f} s waiting for {what}{stalls}')
        time.sleep(poll_s)


class Watch:
    """A thread that reads a StallClock every period_s while in use (a context manager): `clock.stalls` says
    whether this process was frozen meanwhile (then a timing measured in that span says nothing of the code)."""

    def __init__(self, period_s=0.01):
        self.period_s = float(period_s)
        self.clock = StallClock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name='uav_edge-stall-watch', daemon=True)

    def _run(self):
        while not self._done.wait(self.period_s):
            self.clock()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join()
        self.clock()
        return False


def retry_if_stalled(measure, attempts=3):
    """measure() (a timing check that raises AssertionError), again when it failed while the process was
    frozen (a Watch saw a stall), up to `attempts` times; a failure without a stall is raised at once."""
    for attempt in range(1, attempts + 1):
        with Watch() as watch:
            try:
                return measure()
            except AssertionError as err:
                failure = err
        if not watch.clock.stalls or attempt == attempts:
            raise failure

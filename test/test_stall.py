"""uav_edge.stall: a clock and a bounded wait that do not count the time their process was frozen."""
import numpy as np
import pytest

from uav_edge import stall


@pytest.fixture
def fake_time(monkeypatch):
    """A fake monotonic clock; time.sleep advances it."""
    t = [100.0]
    monkeypatch.setattr(stall.time, 'monotonic', lambda: t[0])
    monkeypatch.setattr(stall.time, 'sleep', lambda s: t.__setitem__(0, t[0] + s))
    return t


def test_stall_clock_does_not_count_time_the_loop_did_not_run(fake_time):
    clock = stall.StallClock(max_step_s=0.25)
    readings = []
    for now in [100.02, 100.04, 102.04, 102.06]:          # a 2 s gap between the 2nd and 3rd reading
        fake_time[0] = now
        readings.append(clock())
    assert readings == pytest.approx([100.02, 100.04, 100.29, 100.31])
    assert clock.stalls == 1 and clock.stalled_s == pytest.approx(1.75)
    fake_time[0] = 103.06                                   # a stall under way: now() holds at +0.25
    assert clock.now() == pytest.approx(100.56)
    assert clock() == pytest.approx(100.56) and clock.stalls == 2
    assert all(b > a for a, b in zip(readings, readings[1:]))


def test_wait_for_gives_back_the_seconds_it_was_frozen(fake_time):
    start = fake_time[0]
    with pytest.raises(TimeoutError, match=r'after 1.0 s waiting for nothing$'):
        stall.wait_for(lambda: False, 1.0, 'nothing')
    assert fake_time[0] - start == pytest.approx(1.0, abs=0.05)

    calls = []

    def frozen_once():                                       # the VM freezes 5 s during the 10th check
        calls.append(1)
        if len(calls) == 10:
            fake_time[0] += 5.0
        return False

    start = fake_time[0]
    with pytest.raises(TimeoutError, match=r'\(and 4.8 s stalled, not counted\)'):
        stall.wait_for(frozen_once, 1.0, 'nothing')
    assert fake_time[0] - start == pytest.approx(1.0 + 4.75, abs=0.05)


def test_wait_for_returns_the_first_value_that_is_not_none_or_false(fake_time):
    values = iter([None, False, np.False_, 0.0])
    assert stall.wait_for(lambda: next(values), 1.0) == 0.0
    assert stall.wait_for(lambda: np.True_, 1.0)


def test_retry_if_stalled_repeats_a_failed_timing_only_when_the_process_was_frozen(monkeypatch):
    attempts = []

    def too_slow():
        attempts.append(1)
        raise AssertionError('too slow')

    with pytest.raises(AssertionError):                      # no stall: the first failure stands
        stall.retry_if_stalled(too_slow)
    assert len(attempts) == 1

    class Frozen(stall.Watch):                               # every attempt "saw" a 2 s freeze
        def __exit__(self, *exc):
            super().__exit__(*exc)
            self.clock.stalls, self.clock.stalled_s = 1, 2.0

    monkeypatch.setattr(stall, 'Watch', Frozen)
    attempts.clear()
    with pytest.raises(AssertionError):
        stall.retry_if_stalled(too_slow, attempts=3)
    assert len(attempts) == 3
    assert stall.retry_if_stalled(lambda: 42) == 42


def test_a_watch_sees_its_process_frozen():
    import os
    import subprocess
    import time
    with stall.Watch() as watch:
        time.sleep(0.1)
        assert watch.clock.stalls == 0
        subprocess.run(['sh', '-c', f'kill -STOP {os.getpid()}; sleep 0.6; kill -CONT {os.getpid()}'], timeout=10)
        time.sleep(0.05)
    assert watch.clock.stalls == 1 and 0.2 < watch.clock.stalled_s < 1.0

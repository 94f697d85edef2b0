"""Remove the shared-memory files that Fast DDS participants left behind when their process ended.

Fast DDS (the default rmw) keeps a segment per participant in /dev/shm (`fastdds_<16 hex>`, 0.5 MB) with a
lock file beside it (`<segment>_el`) that its process holds locked while it runs; ports are `fastdds_port<N>`
with `_el` / `_sl` locks and a `sem.fastdds_port<N>_mutex`. A process that is killed, or one whose teardown is
cut short, leaves them: 1931 files (181 MB of a RAM-backed file system) had piled up over the sessions of this
project, and a clean stop of the 35-process graph still left ~140. `fastdds shm clean` removes them, but the
Fast DDS tools are not on PyPI, so this is the same rule in a few lines: a lock file nobody holds (an exclusive
non-blocking flock succeeds) marks its segment as a zombie. Files younger than `min_age_s` are left alone (a
participant being created has made its files but may not hold the lock yet). Older Fast DDS names
(`fastrtps_...`) are handled alike. Port files left without any lock file (52 kB each; 294 of them after
this project's sessions) are kept, as `fastdds shm clean` keeps them: a writer may still have such a port
mapped, and nothing on disk says whether one has.
"""
import fcntl
import os
import re
import time
from pathlib import Path

SHM_DIR = Path('/dev/shm')
_LOCK = re.compile(r'^(?P<stem>(fastdds|fastrtps)_([0-9a-z]{16}|port\d{1,5}))_(el|sl)$')


def _unlocked(path):
    """True if nobody holds a lock on `path` (so its owner process is gone)."""
    try:
        with open(path, 'ab') as f:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False


def clean_zombie_segments(shm_dir=SHM_DIR, min_age_s=5.0):
    """Delete the Fast DDS segments and ports in shm_dir whose owner processes have ended (every lock file of
    the stem unlocked); returns the number of files removed (0 where there is no such directory)."""
    shm_dir = Path(shm_dir)
    try:
        names = os.listdir(shm_dir)
    except OSError:
        return 0
    locks = {}                           # stem -> its lock files
    for name in names:
        if match := _LOCK.match(name):
            locks.setdefault(match['stem'], []).append(shm_dir / name)
    removed, now = 0, time.time()
    for stem, stem_locks in locks.items():
        try:
            if any(now - lock.stat().st_mtime < min_age_s or not _unlocked(lock) for lock in stem_locks):
                continue
        except OSError:                  # gone meanwhile
            continue
        for victim in [*stem_locks, shm_dir / stem, shm_dir / f'sem.{stem}_mutex']:
            try:
                os.remove(victim)
                removed += 1
            except OSError:
                pass
    return removed

"""Remove the shared-memory files that Fast DDS participants left behind when their process ended.

Fast DDS (the default rmw) keeps a segment per participant in /dev/shm (`fastdds_<16 hex>`, 0.5 MB) with a
lock file beside it (`<segment>_el`) that its process holds locked while it runs; ports are `fastdds_port<N>`
with `_el` / `_sl` locks and a `sem.fastdds_port<N>_mutex`. A process that is killed, or one whose teardown is
cut short, leaves them: 1931 files (181 MB of a RAM-backed file system) had piled up over the sessions of this
project, and a clean stop of the 35-process graph still left ~140. `fastdds shm clean` removes them, but the
Fast DDS tools are not on PyPI, so this is its rule, a little stricter: a stem whose lock files nobody holds
(an exclusive non-blocking flock succeeds) belongs to an ended process, and it is removed only if no process
maps any of its files either (/proc/<pid>/maps: a live participant keeps the port of a dead one mapped for a
while; such files go at a later clean). Files younger than `min_age_s` are left alone (a participant being
created has made its files but may not hold the lock yet). A port left with no lock file at all (a listener
that closed cleanly removes its lock but not the port: 405 of them, 52 kB each, had piled up here, ~100 more
per test run; the Fast DDS tool never removes them) goes by the same rule. Older names (`fastrtps_...`) alike.
"""
import fcntl
import os
import re
import time
from pathlib import Path

SHM_DIR = Path('/dev/shm')
_LOCK = re.compile(r'^(?P<stem>(fastdds|fastrtps)_([0-9a-z]{16}|port\d{1,5}))_(el|sl)$')
_PORT = re.compile(r'^(fastdds|fastrtps)_port\d{1,5}$')


def _unlocked(path):
    """True if nobody holds a lock on `path` (so its owner process is gone)."""
    try:
        with open(path, 'ab') as f:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False


def mapped_paths(proc=Path('/proc')):
    """Every file path some process (that this user may inspect) has mapped, from /proc/<pid>/maps."""
    paths = set()
    for pid in os.listdir(proc):
        try:
            with open(Path(proc) / pid / 'maps') as f:
                for line in f:
                    fields = line.split(maxsplit=5)      # address perms offset device inode [path]
                    if len(fields) == 6:
                        paths.add(fields[5].rstrip('\n'))
        except OSError:                  # not a process, gone, or not ours to read
            continue
    return paths


def clean_zombie_segments(shm_dir=SHM_DIR, min_age_s=5.0, mapped=None):
    """Delete the Fast DDS segments and ports in shm_dir that belong to no running process: every lock file of
    the stem unlocked (a port may have none) and none of its files mapped by a process; returns the number of
    files removed (0 where there is no such directory). `mapped`: the mapped paths (default: from /proc)."""
    shm_dir = Path(shm_dir)
    try:
        names = os.listdir(shm_dir)
    except OSError:
        return 0
    stems = {name: [] for name in names if _PORT.match(name)}     # stem -> its lock files
    for name in names:
        if match := _LOCK.match(name):
            stems.setdefault(match['stem'], []).append(shm_dir / name)
    now, unowned = time.time(), []       # the files of each stem that is old enough and whose locks are free
    for stem, locks in stems.items():
        files = [f for f in (shm_dir / stem, shm_dir / f'sem.{stem}_mutex', *locks) if f.exists()]
        try:
            if all(now - f.stat().st_mtime >= min_age_s for f in files) and all(_unlocked(lock) for lock in locks):
                unowned.append(files)
        except OSError:                  # gone meanwhile
            continue
    if not unowned:
        return 0
    mapped = mapped_paths() if mapped is None else mapped       # read /proc only when something may go
    removed = 0
    for files in unowned:
        if any(str(f) in mapped for f in files):
            continue
        for victim in files:
            try:
                os.remove(victim)
                removed += 1
            except OSError:
                pass
    return removed

"""Fast DDS shared-memory files of ended processes are removed (nodes.dds_shm); those of live ones are kept, and
so is a port without locks that a process still maps."""
import fcntl
import os
import signal
import subprocess
import sys
import time

import pytest

from uav_edge.nodes import dds_shm

OLD = time.time() - 60


def _make(shm, *names, age=OLD):
    for name in names:
        path = shm / name
        path.write_bytes(b'x')
        os.utime(path, (age, age))


def test_only_segments_nobody_holds_are_removed(tmp_path):
    _make(tmp_path, 'fastdds_0123456789abcdef', 'fastdds_0123456789abcdef_el',          # zombie
          'fastdds_fedcba9876543210', 'fastdds_fedcba9876543210_el',                    # held: live
          'fastdds_port7036', 'fastdds_port7036_el', 'fastdds_port7036_sl', 'sem.fastdds_port7036_mutex',  # zombie
          'fastdds_port7035', 'fastdds_port7035_el', 'fastdds_port7035_sl', 'sem.fastdds_port7035_mutex',  # _sl held
          'fastrtps_00000000000000aa', 'fastrtps_00000000000000aa_el',                  # older name, zombie
          'sem.mp-abc123', 'fastdds_notasegment_el',                                    # not Fast DDS segments
          'fastdds_port7040', 'sem.fastdds_port7040_mutex',                             # no lock, not mapped
          'fastdds_port7041', 'sem.fastdds_port7041_mutex')                             # no lock, still mapped
    _make(tmp_path, 'fastdds_aaaaaaaaaaaaaaaa', 'fastdds_aaaaaaaaaaaaaaaa_el', 'fastdds_port7042',
          age=time.time())                                                              # being created
    held = [open(tmp_path / name, 'ab') for name in ('fastdds_fedcba9876543210_el', 'fastdds_port7035_sl')]
    try:
        for f in held:
            fcntl.flock(f, fcntl.LOCK_SH)
        mapped = {str(tmp_path / 'fastdds_port7041')}
        assert dds_shm.clean_zombie_segments(tmp_path, mapped=mapped) == 2 + 4 + 2 + 2
    finally:
        for f in held:
            f.close()
    assert sorted(os.listdir(tmp_path)) == sorted([
        'fastdds_fedcba9876543210', 'fastdds_fedcba9876543210_el',
        'fastdds_port7035', 'fastdds_port7035_el', 'fastdds_port7035_sl', 'sem.fastdds_port7035_mutex',
        'fastdds_aaaaaaaaaaaaaaaa', 'fastdds_aaaaaaaaaaaaaaaa_el', 'sem.mp-abc123', 'fastdds_notasegment_el',
        'fastdds_port7041', 'sem.fastdds_port7041_mutex', 'fastdds_port7042'])
    assert dds_shm.clean_zombie_segments(tmp_path / 'missing') == 0


NODE = r"""
import os
os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
import rclpy
rclpy.init()
node = rclpy.create_node('shm_probe')
node.create_publisher(__import__('std_msgs.msg', fromlist=['String']).String, 'shm_probe', 10)
print('ready', flush=True)
rclpy.spin(node)
"""


@pytest.mark.skipif(not dds_shm.SHM_DIR.is_dir(), reason='no /dev/shm')
def test_a_killed_participant_s_segment_is_removed_and_a_live_one_kept(domain_id):
    """Real Fast DDS: a node process killed with SIGKILL leaves its segment. A clean while another node still runs
    removes it unless that node maps it (it may, until the dead one's lease expires) and keeps everything of the
    live node; once that one is killed too, a clean removes everything both made. (The test's own domain: no
    other participant maps these files.)"""
    env = {**os.environ, 'ROS_DOMAIN_ID': str(domain_id), 'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST'}
    before = set(os.listdir(dds_shm.SHM_DIR))

    def start():
        proc = subprocess.Popen([sys.executable, '-c', NODE], env=env, stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == 'ready'
        return proc

    def segments(names):
        return {n for n in names if n.startswith('fastdds_') and len(n) == len('fastdds_') + 16}

    def kill(proc):
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()

    killed = start()
    made_by_killed = segments(set(os.listdir(dds_shm.SHM_DIR)) - before)
    live = start()
    try:
        made_by_live = segments(set(os.listdir(dds_shm.SHM_DIR)) - before - made_by_killed)
        assert made_by_killed and made_by_live, 'Fast DDS made no shared-memory segment'
        kill(killed)
        assert made_by_killed <= set(os.listdir(dds_shm.SHM_DIR))         # left behind
        in_use = {line.split(maxsplit=5)[5].strip() for line in open(f'/proc/{live.pid}/maps')
                  if '/dev/shm/' in line}
        assert in_use, 'the live participant maps no shared memory'
        dds_shm.clean_zombie_segments(min_age_s=0.0)
        left = set(os.listdir(dds_shm.SHM_DIR))
        mapped_by_live = {os.path.basename(p) for p in in_use}
        assert not (made_by_killed - mapped_by_live) & left and made_by_live <= left
        assert [p for p in in_use if not os.path.exists(p)] == []      # nothing the live participant maps is gone
    finally:
        if live.poll() is None:
            kill(live)
    dds_shm.clean_zombie_segments(min_age_s=0.0)
    assert not (set(os.listdir(dds_shm.SHM_DIR)) - before) & {f for n in made_by_killed | made_by_live
                                                              for f in (n, n + '_el')}

"""Test-wide set-up: DDS discovery stays on loopback before anything can import rclpy."""
import os
import zlib

import pytest

os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
os.environ.setdefault('ROS_DOMAIN_ID', str(100 + os.getpid() % 100))


@pytest.fixture(scope='session', autouse=True)
def ros_log_dir(tmp_path_factory):
    """rcl's log files of the tests' processes go to pytest's temporary folder (kept for the last 3 sessions),
    not ~/.ros/log, unless ROS_LOG_DIR is set."""
    from uav_edge.commands.run import keep_ros_logs_in

    if 'ROS_LOG_DIR' not in os.environ:
        keep_ros_logs_in(tmp_path_factory.mktemp('ros_log'))
    yield os.environ['ROS_LOG_DIR']


@pytest.fixture
def domain_id(request):
    """A ROS_DOMAIN_ID of this test's own (1..100), so tests over DDS never see each other's nodes."""
    return 1 + (zlib.crc32(request.node.nodeid.encode()) + os.getpid()) % 100

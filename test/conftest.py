"""Test-wide set-up: DDS discovery stays on loopback before anything can import rclpy."""
import os
import zlib

import pytest

os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
os.environ.setdefault('ROS_DOMAIN_ID', str(100 + os.getpid() % 100))


@pytest.fixture
def domain_id(request):
    """A ROS_DOMAIN_ID of this test's own (1..100), so tests over DDS never see each other's nodes."""
    return 1 + (zlib.crc32(request.node.nodeid.encode()) + os.getpid()) % 100

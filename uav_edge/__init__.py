"""uav_edge: UAV edge computing on ROS 2 (twin models, learned policies, nodes, flight link)."""
import os

from uav_edge.resources import package_file

# These machines may only talk on loopback, and DDS discovery would otherwise multicast on every
# interface: every entry point imports this package before rclpy, so the default is set here once.
# A multi-host deployment sets ROS_AUTOMATIC_DISCOVERY_RANGE=SUBNET (or a peers list) explicitly.
os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
# Fast DDS on loopback finds only 4 other processes by default: config/dds/fastdds_localhost.xml says why
# and raises it (a user's own FASTDDS_DEFAULT_PROFILES_FILE wins).
os.environ.setdefault('FASTDDS_DEFAULT_PROFILES_FILE', package_file('config/dds/fastdds_localhost.xml'))

__version__ = '0.1.0'

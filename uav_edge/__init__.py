"""uav_edge: UAV edge computing on ROS 2 (twin models, learned policies, nodes, flight link)."""
import os

# These machines may only talk on loopback, and DDS discovery would otherwise multicast on every
# interface: every entry point imports this package before rclpy, so the default is set here once.
# A multi-host deployment sets ROS_AUTOMATIC_DISCOVERY_RANGE=SUBNET (or a peers list) explicitly.
os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')

__version__ = '0.1.0'

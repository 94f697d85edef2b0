"""ament_python build of uav_edge: colcon installs package.xml, launch, config and models into share/."""
from glob import glob
import os

from setuptools import find_packages, setup

PACKAGE = 'uav_edge'


def share_tree(folder):
    """data_files entries that mirror `folder` (recursively) under share/uav_edge/."""
    entries = []
    for root, _dirs, files in os.walk(folder):
        paths = [os.path.join(root, f) for f in files if not f.endswith('.pyc')]
        if paths:
            entries.append((os.path.join('share', PACKAGE, root), paths))
    return entries


setup(
    name=PACKAGE,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + PACKAGE]),
        ('share/' + PACKAGE, ['package.xml']),
        *share_tree('launch'),
        *share_tree('config'),
        *share_tree('models'),
        *share_tree('sitl'),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='uav_edge maintainers',
    maintainer_email='uav-edge@example.org',
    description='UAV edge computing on ROS 2: twin models, learned policies, nodes, flight link.',
    license='Apache-2.0',
    extras_require={'test': ['pytest', 'hypothesis']},
    entry_points={
        'console_scripts': [
            'uav-edge = uav_edge.cli:main',
            'channel_estimator = uav_edge.nodes.channel_estimator:main',
            'energy_monitor = uav_edge.nodes.energy_monitor:main',
            'bandwidth_follower = uav_edge.nodes.bandwidth_follower:main',
            'offload_scheduler = uav_edge.nodes.offload_scheduler:main',
            'trajectory_planner = uav_edge.nodes.trajectory_planner:main',
            'pricing_leader = uav_edge.nodes.pricing_leader:main',
            'flight_bridge = uav_edge.nodes.flight_bridge:main',
        ],
    },
)

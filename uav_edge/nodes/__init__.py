"""rclpy nodes of uav_edge: thin adapters over the twin (DESIGN.md, "The runtime graph").

One module per node (channel_estimator, energy_monitor, pricing_leader, bandwidth_follower,
offload_scheduler, trajectory_planner), the shared contract (topics, types, QoS, layouts) in
contract.py, the shared node base in common.py. Which nodes run with which parameters is decided
by uav_edge/graph.py (used by launch/sitl.launch.py and `uav-edge run`).
"""

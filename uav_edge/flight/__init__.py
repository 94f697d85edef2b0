"""The flight side: one MAVSDK link per vehicle, the world-frame mapping, PX4 SITL commands.

    world.WorldFrame    the scenario's ENU 'map' frame anchored at a WGS84 origin (uav_edge.core.frames)
    link.FlightLink     one MAVSDK connection + its own worker thread: telemetry, commands, offboard
                        position/velocity stream (resumed after a vehicle restart), timing options
    safety              setpoint limits and the energy-alarm decision (pure functions)
    px4                 the exact commands/env that start N PX4 SITL instances (gz_x500 or SIH)
    bench               offboard setpoint rate/jitter through the flight bridge

No rclpy here: uav_edge/nodes/flight_bridge.py is the ROS adapter. mavsdk is imported lazily.
"""

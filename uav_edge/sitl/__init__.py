"""Built-in PX4-compatible multicopter simulator: MAVSDK flies it as it flies PX4 SITL.

    python -m uav_edge.sitl --count 3 --speed 2          # CLI (uav-edge sim delegates here)

    from uav_edge.sitl import Fleet
    with Fleet(count=2) as fleet:                        # in-process, background thread
        ...  # MAVSDK: add_any_connection(fleet.gcs_url(0)) -> udpin://127.0.0.1:14540

Modules: vehicle (physics, modes, failsafes, battery), mavlink_link (MAVLink 2 / UDP),
mission (mission items), params (PX4 parameters), fleet (N vehicles, one select loop),
bench (benchmarks). Frames live in uav_edge.core.frames; power in uav_edge.core.energy.
"""
from uav_edge.sitl.fleet import DEFAULT_HOME, Fleet
from uav_edge.sitl.vehicle import Vehicle

__all__ = ['DEFAULT_HOME', 'Fleet', 'Vehicle']

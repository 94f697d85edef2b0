"""`uav-edge sim`: the built-in PX4-compatible vehicle simulator (same as `python -m uav_edge.sitl`)."""
from uav_edge.sitl import __main__ as sitl_main

HELP = 'run N built-in PX4-compatible simulated vehicles (MAVLink on 127.0.0.1)'
DESCRIPTION = sitl_main.DESCRIPTION
add_arguments = sitl_main.add_arguments


def run(args):
    return sitl_main.run(args)

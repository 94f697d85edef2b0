"""Subcommands of `uav-edge`: one module each, found automatically by uav_edge.cli.

A command module defines HELP (one line), DESCRIPTION, add_arguments(parser) and run(args) -> exit
code; the subcommand name is the module name with '_' -> '-'. Import heavy dependencies (torch,
rclpy, mavsdk) inside run(), so `uav-edge --help` stays fast and torch-free.
"""

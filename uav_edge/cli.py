"""The `uav-edge` command: one entry point, one subcommand per module in uav_edge.commands."""
import argparse
import importlib
import os
import pkgutil
import sys

import uav_edge
import uav_edge.commands


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, 'command_module', None):
        parser.print_help()
        return 2
    try:
        return args.command_module.run(args) or 0
    except (ValueError, OSError) as err:   # ScenarioError, GameInputError, a path that is a file...: one clear line
        print(f'uav-edge {args.command}: error: {err}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:                             # `uav-edge ... | head`
        sys.stdout = open(os.devnull, 'w')
        return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog='uav-edge', description='UAV edge computing: twin models, policies, ROS 2 nodes, flight.')
    parser.add_argument('--version', action='version', version=f'uav_edge {uav_edge.__version__}')
    sub = parser.add_subparsers(dest='command', metavar='COMMAND')
    for info in sorted(pkgutil.iter_modules(uav_edge.commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f'uav_edge.commands.{info.name}')
        name = info.name.replace('_', '-')
        command = sub.add_parser(name, help=module.HELP, description=module.DESCRIPTION)
        module.add_arguments(command)
        command.set_defaults(command_module=module)
    return parser


if __name__ == '__main__':
    sys.exit(main())

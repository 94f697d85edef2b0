"""`python -m uav_edge.sitl --count N [--seed S] [--home LAT,LON,ALT] ...` (also `uav-edge sim`)."""
import argparse
import signal
import sys

from uav_edge import cli_types
from uav_edge.sitl.fleet import DEFAULT_HOME, Fleet


def _home(text):
    try:
        lat, lon, alt = (float(x) for x in text.split(','))
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected LAT,LON,ALT (deg,deg,m), got {text!r}')
    return lat, lon, alt


def _param(text):
    name, sep, value = text.partition('=')
    if not sep:
        raise argparse.ArgumentTypeError(f'expected NAME=VALUE, got {text!r}')
    try:
        return name.strip().upper(), float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f'{name}: value must be a number, got {value!r}')


DESCRIPTION = ('PX4-compatible multicopter simulator (MAVLink 2 / UDP on 127.0.0.1). '
               'Instance i binds 14580+i, pushes to 14540+i, system id i+1.')


def build_parser():
    p = argparse.ArgumentParser(prog='python -m uav_edge.sitl', description=DESCRIPTION)
    add_arguments(p)
    return p


def add_arguments(p):
    """The simulator's options (shared by `python -m uav_edge.sitl` and `uav-edge sim`)."""
    p.add_argument('--count', type=cli_types.count, default=1, help='number of vehicles (default 1)')
    p.add_argument('--first-instance', type=cli_types.index, default=0,
                   help='instance number of the first vehicle (default 0)')
    p.add_argument('--seed', type=cli_types.index, default=0,
                   help='seed for noise, wind gusts and packet loss (default 0)')
    p.add_argument('--home', type=_home, default=DEFAULT_HOME,
                   help='home of the first vehicle as LAT,LON,ALT (deg, deg, m AMSL; default %s)'
                        % ','.join(map(str, DEFAULT_HOME)))
    p.add_argument('--spacing', type=cli_types.finite, default=3.0,
                   help='east spacing between vehicles in m (default 3)')
    p.add_argument('--speed', type=cli_types.positive, default=1.0,
                   help='sim speed factor (SIM_SPEED_FACTOR, default 1)')
    p.add_argument('--rate', type=cli_types.positive, default=50.0, help='physics rate in Hz (default 50)')
    p.add_argument('--param', type=_param, action='append', default=[], metavar='NAME=VALUE',
                   help='PX4 parameter override for every vehicle, e.g. --param MIS_TAKEOFF_ALT=5 (repeatable)')
    p.add_argument('--wind', type=cli_types.finite, nargs=2, metavar=('N', 'E'),
                   help='steady wind in m/s (north, east)')
    p.add_argument('--gust', type=cli_types.nonnegative, help='gust std-dev in m/s')
    p.add_argument('--gps-noise', type=cli_types.nonnegative, help='position noise std-dev in m')
    p.add_argument('--packet-loss', type=cli_types.percent, help='packet loss in %% (each direction)')
    p.add_argument('--duration', type=cli_types.positive,
                   help='stop after this many seconds (default: until SIGINT/SIGTERM)')


def main(argv=None):
    return run(build_parser().parse_args(argv))


def run(args):
    params = dict(args.param)
    if args.wind:
        params['SIM_WIND_N'], params['SIM_WIND_E'] = args.wind
    for name, value in (('SIM_WIND_GUST', args.gust), ('SIM_GPS_NOISE', args.gps_noise),
                        ('SIM_PKT_LOSS', args.packet_loss)):
        if value is not None:
            params[name] = value
    try:
        fleet = Fleet(count=args.count, first_instance=args.first_instance, home=args.home, seed=args.seed,
                      params=params, speed=args.speed, physics_hz=args.rate, spacing_m=args.spacing)
    except (ValueError, OSError) as exc:
        print(f'uav_edge.sitl: {exc}', file=sys.stderr)
        return 2

    def _stop(_signum, _frame):
        fleet.request_stop()

    old = {s: signal.signal(s, _stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        for link in fleet.links:
            print(f'vehicle sysid {link.vehicle.sysid}: bound 127.0.0.1:{link.bind_port}, '
                  f'pushing to {link.default_peer[0]}:{link.default_peer[1]}', flush=True)
        fleet.run(args.duration)
    finally:
        fleet.close()
        for s, handler in old.items():
            signal.signal(s, handler)
    stalls = fleet.clock.stalls
    print('uav_edge.sitl: stopped' + (f' (the simulator was stalled {stalls} times, {fleet.clock.stalled_s:.1f} s '
                                      'in all, not counted against the link)' if stalls else ''), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())

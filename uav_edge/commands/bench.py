"""`uav-edge bench`: run the benchmarks; write JSON and print a table."""

HELP = 'run the benchmarks; write JSON and print a table'
DESCRIPTION = ('Measure the project\'s numbers (solver speed; simulator, policy and node figures as they '
               'land). Results: a JSON file plus a printed table; missed targets are flagged, not hidden.')


def add_arguments(parser):
    parser.add_argument('--only', default='', help='comma-separated sections (default: all)')
    parser.add_argument('--quick', action='store_true', help='fewer repeats, smaller sizes where allowed')
    parser.add_argument('--out', default='results/bench.json', help='JSON output (default: %(default)s)')


def run(args):
    import os

    from uav_edge import bench
    from uav_edge.commands.run import keep_ros_logs_in

    keep_ros_logs_in(os.path.dirname(os.path.abspath(args.out)))     # rcl's log files beside the JSON, not ~/.ros
    sections = [s for s in args.only.split(',') if s] or None
    results = bench.run(sections=sections, quick=args.quick, out=args.out)
    bench.print_table(results)
    print(f'results written to {args.out}')
    return 0

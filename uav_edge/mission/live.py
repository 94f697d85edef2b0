"""The live terminal view of a mission: one row per UAV, prices per RSU, recent events."""
from rich.console import Group
from rich.table import Table


def render(log, elapsed_s, phase):
    """A rich renderable of the mission's current state (called a few times a second)."""
    uavs = Table(title=f'uav_edge mission — {phase} — t = {elapsed_s:5.1f} s', expand=False)
    for col in ('UAV', 'mode', 'armed', 'in air', 'height m', 'SoC %', 'twin on', 'migrations', 'bandwidth'):
        uavs.add_column(col, justify='right')
    for name, tr in log.tracks.items():
        soc = tr.state_of_charge[-1] * 100 if tr.state_of_charge else float('nan')
        height = tr.height_m[-1] if tr.position_m else float('nan')
        bw = sum(tr.demand[-1]) if tr.demand else 0.0
        soc_text = f'{soc:5.1f}' + (' [red]RESERVE[/]' if tr.alarm_at is not None else '')
        uavs.add_row(name, tr.mode or '-', 'yes' if tr.armed else 'no', 'yes' if tr.in_air else 'no',
                     f'{height:6.1f}', soc_text, tr.target or '-', str(len(tr.migrations)), f'{bw:.4f}')
    prices = Table(title='RSU prices (mean over UAVs)')
    for r in log.rsu_names:
        prices.add_column(r, justify='right')
    prices.add_row(*[f'{sum(log.prices[r][-1]) / len(log.prices[r][-1]):.2f}' if log.prices[r] else '-'
                     for r in log.rsu_names])
    events = Table(title='events', show_header=False)
    events.add_column('t', justify='right')
    events.add_column('event')
    for t, text in log.events[-6:]:
        events.add_row(f'{t:5.1f}', text)
    return Group(uavs, prices, events)

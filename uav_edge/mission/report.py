"""The run report of the main job: JSON plus PNG plots (trajectories over the RSU map, market, energy)."""
import json
from pathlib import Path

import numpy as np


def write_report(log, world, out_dir):
    """Write report.json, trajectories.png, market.png and energy.png into out_dir; return their paths."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {'json': out / 'report.json', 'trajectories': out / 'trajectories.png',
             'market': out / 'market.png', 'energy': out / 'energy.png'}
    with open(paths['json'], 'w') as fh:
        json.dump(log.to_dict(), fh, indent=1)
    colours = plt.get_cmap('tab10')

    # Trajectories over the RSU map, migrations marked where they happened.
    fig, ax = plt.subplots(figsize=(7, 7))
    for x0, y0, x1, y1 in np.reshape(world.no_fly_m, (-1, 4)):
        ax.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, color='0.85', label='no-fly'))
    ax.scatter(*np.asarray(world.user_positions_m)[:, :2].T, s=12, c='0.5', marker='.', label='users') \
        if len(world.user_positions_m) else None
    rsu = np.asarray(world.rsu_positions_m)
    ax.scatter(rsu[:, 0], rsu[:, 1], marker='^', s=120, c='k', label='RSUs')
    for name, (x, y, _) in zip(world.rsu_names, rsu):
        ax.annotate(name, (x, y), textcoords='offset points', xytext=(6, 6))
    for k, (name, tr) in enumerate(log.tracks.items()):
        if not tr.position_m:
            continue
        xyz = np.array(tr.position_m)
        ax.plot(xyz[:, 0], xyz[:, 1], color=colours(k % 10), label=name)
        ax.plot(*tr.home_m[:2], 'o', color=colours(k % 10))
        for t, _, _ in tr.migrations:
            i = min(np.searchsorted(tr.t_pose, t), len(xyz) - 1)
            ax.plot(xyz[i, 0], xyz[i, 1], '*', ms=12, color=colours(k % 10))
    ax.set(xlim=(0, world.area_size_m[0]), ylim=(0, world.area_size_m[1]), aspect='equal',
           xlabel='east (m)', ylabel='north (m)', title='UAV trajectories (o home, * twin migration)')
    ax.legend(loc='upper right', fontsize=8)
    fig.savefig(paths['trajectories'], dpi=110, bbox_inches='tight')
    plt.close(fig)

    # Market: mean price each RSU charges, and each UAV's total bandwidth demand.
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    for j, r in enumerate(log.rsu_names):
        if log.prices[r]:
            top.plot(log.t_prices[r], np.mean(log.prices[r], axis=1), color=colours(j % 10), label=r)
    top.set(ylabel='mean price to UAVs', title='RSU prices (leaders) and UAV bandwidth demand (followers)')
    top.legend(fontsize=8)
    for k, (name, tr) in enumerate(log.tracks.items()):
        if tr.demand:
            bottom.plot(tr.t_demand, np.sum(tr.demand, axis=1), color=colours(k % 10), label=name)
    bottom.set(xlabel='time (s)', ylabel='total bandwidth bought')
    bottom.legend(fontsize=8)
    fig.savefig(paths['market'], dpi=110, bbox_inches='tight')
    plt.close(fig)

    # Energy: state of charge with the reserve that triggers the return.
    fig, ax = plt.subplots(figsize=(8, 4))
    for k, (name, tr) in enumerate(log.tracks.items()):
        if tr.t_energy:
            ax.plot(tr.t_energy, np.array(tr.state_of_charge) * 100, color=colours(k % 10), label=name)
    ax.axhline(log.reserve_fraction * 100, color='r', ls='--', label='reserve')
    ax.set(xlabel='time (s)', ylabel='state of charge (%)', title='Energy', ylim=(0, 100))
    ax.legend(fontsize=8)
    fig.savefig(paths['energy'], dpi=110, bbox_inches='tight')
    plt.close(fig)
    return paths

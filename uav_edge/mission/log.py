"""What a mission run records, and the verdicts drawn from it (pure python: no rclpy).

The monitor node appends samples as messages arrive; the live view, the run report and the
end-to-end test all read the same MissionLog, so what the test asserts is what the user sees.
"""
from dataclasses import dataclass, field

import numpy as np

AIRBORNE_M = 1.0          # above this height (m, ENU z over home) a UAV counts as having taken off
LANDED_M = 0.5            # below this height a UAV counts as on the ground


@dataclass
class UavTrack:
    """Time series of one UAV (times in s since the mission start)."""

    name: str
    home_m: np.ndarray
    t_pose: list = field(default_factory=list)
    position_m: list = field(default_factory=list)         # ENU world frame
    t_energy: list = field(default_factory=list)
    state_of_charge: list = field(default_factory=list)    # 0..1
    remaining_j: list = field(default_factory=list)
    t_demand: list = field(default_factory=list)
    demand: list = field(default_factory=list)             # per RSU
    migrations: list = field(default_factory=list)         # (t, from, to)
    target: str = ''
    previous_rsu: str = ''                                  # last non-empty target (first one = placement)
    alarm_at: float = None
    armed: bool = False
    in_air: bool = False
    mode: str = ''
    link_up: bool = False

    def add_pose(self, t, xyz):
        self.t_pose.append(float(t))
        self.position_m.append([float(v) for v in xyz])

    def add_energy(self, t, soc, remaining_j):
        self.t_energy.append(float(t))
        self.state_of_charge.append(float(soc))
        self.remaining_j.append(float(remaining_j))

    def add_demand(self, t, demand):
        self.t_demand.append(float(t))
        self.demand.append([float(v) for v in demand])

    def set_target(self, t, target):
        """The twin's RSU; a move from one RSU to another is a migration ('' = none, e.g. stale prices)."""
        if target != self.target:
            if target and self.previous_rsu and target != self.previous_rsu:
                self.migrations.append((float(t), self.previous_rsu, target))
            if target:
                self.previous_rsu = target
            self.target = target

    @property
    def height_m(self):
        return np.array([p[2] for p in self.position_m]) - self.home_m[2] if self.position_m else np.zeros(0)

    @property
    def took_off(self):
        return bool(self.height_m.size and self.height_m.max() > AIRBORNE_M)

    @property
    def landed(self):
        """Ended on the ground after having flown."""
        return self.took_off and bool(self.height_m[-1] < LANDED_M) and not self.in_air


@dataclass
class MissionLog:
    """Everything recorded during one run of the main job."""

    uav_names: list
    rsu_names: list
    homes_m: np.ndarray
    reserve_fraction: float
    tracks: dict = None
    t_prices: dict = None
    prices: dict = None          # rsu -> list of per-UAV price vectors
    events: list = field(default_factory=list)   # (t, text)

    def __post_init__(self):
        self.tracks = {n: UavTrack(n, np.asarray(h, float)) for n, h in zip(self.uav_names, self.homes_m)}
        self.t_prices = {r: [] for r in self.rsu_names}
        self.prices = {r: [] for r in self.rsu_names}

    def add_prices(self, t, rsu, prices):
        self.t_prices[rsu].append(float(t))
        self.prices[rsu].append([float(v) for v in prices])

    def event(self, t, text):
        self.events.append((float(t), text))

    def summary(self):
        """Per-UAV verdicts and totals (the report's headline and the end-to-end test's assertions)."""
        uavs = {}
        for name, tr in self.tracks.items():
            soc = np.array(tr.state_of_charge)
            uavs[name] = {
                'took_off': tr.took_off, 'landed': tr.landed, 'max_height_m': float(tr.height_m.max())
                if tr.height_m.size else 0.0,
                'distance_m': float(np.sum(np.linalg.norm(np.diff(np.array(tr.position_m), axis=0), axis=1)))
                if len(tr.position_m) > 1 else 0.0,
                'migrations': len(tr.migrations), 'final_target': tr.target,
                'final_state_of_charge': float(soc[-1]) if soc.size else None,
                'min_state_of_charge': float(soc.min()) if soc.size else None,
                'energy_used_j': float(tr.remaining_j[0] - tr.remaining_j[-1]) if tr.remaining_j else None,
                'above_reserve': bool(soc.size and soc[-1] > self.reserve_fraction),
                'reserve_alarm_at_s': tr.alarm_at,
            }
        return {'uavs': uavs,
                'all_took_off': all(u['took_off'] for u in uavs.values()),
                'all_landed': all(u['landed'] for u in uavs.values()),
                'all_above_reserve': all(u['above_reserve'] for u in uavs.values()),
                'total_migrations': sum(u['migrations'] for u in uavs.values())}

    def to_dict(self):
        return {
            'uav_names': list(self.uav_names), 'rsu_names': list(self.rsu_names),
            'reserve_fraction': self.reserve_fraction, 'summary': self.summary(),
            'uavs': {n: {'t_pose': tr.t_pose, 'position_m': tr.position_m, 't_energy': tr.t_energy,
                         'state_of_charge': tr.state_of_charge, 'remaining_j': tr.remaining_j,
                         't_demand': tr.t_demand, 'demand': tr.demand,
                         'migrations': [list(m) for m in tr.migrations]}
                     for n, tr in self.tracks.items()},
            'rsus': {r: {'t': self.t_prices[r], 'prices': self.prices[r]} for r in self.rsu_names},
            'events': [list(e) for e in self.events],
        }

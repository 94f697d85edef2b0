"""Seed-1 gymnasium environment: one centralised agent schedules offloading, CPUs, prices and UAV flight.

State (28) and action (29) follow the spec layouts (§3.2, §3.3): 3I+4K+1 = 51 and 6+I+2J+6K = 66 at the
defaults, both scaled (observation in [0, 1], action in [-1, 1]). One step is one slot, computed by
uav_edge.core.offload.slot_outcome in the normative order of spec §3.6; a flight period is N = 50 slots,
after which the episode terminates (no bootstrapping, [D-A2]). The reward is r = Q - F, unscaled
(the learner multiplies by 1e-3, [D-A42]).

Bad input: actions outside [-1, 1] are clipped and counted (info['clipped_components'] per step,
`clipped_components_total` over the env's life); a NaN/inf action or observation raises ValueError.

Placements are drawn once from params.layout_seed ([D-A37]); reset(seed=...) seeds the task,
CPU-cycle and fading draws.

Issue-5 options (both off by default): params.polar_velocity decodes each UAV's velocity block as
(speed, azimuth, elevation), so |v| <= v_max and F3 never fires (not a spec option; [D-A25] is Cartesian);
params.penalty_per_count charges xi per violating UAV / pair (the A28 option) instead of once per type.
"""
import gymnasium as gym
import numpy as np

from uav_edge.core import offload
from uav_edge.core.offload import Seed1Params


class OffloadEnv(gym.Env):
    """Multi-UAV D2D-assisted MEC video offloading (spec seed1), single centralised agent."""

    metadata = {'render_modes': []}

    def __init__(self, params: Seed1Params = None, config=None):
        """Build from a Seed1Params, or a Seed1Config / YAML path (config), or the defaults."""
        if params is None and config is not None:
            from uav_edge.core.offload_config import Seed1Config, load_seed1_config
            params = (config if isinstance(config, Seed1Config) else load_seed1_config(config)).params
        self.params = params if params is not None else Seed1Params()
        p = self.params
        self.layout = offload.sample_layout(p)
        self.observation_space = gym.spaces.Box(0.0, 1.0, (p.state_dim,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (p.action_dim,), np.float32)
        self.clipped_components_total = 0
        self._reset_state()

    def _reset_state(self):
        p = self.params
        self.slot = 0
        self.uav_pos_m = self.layout.uav_start_m.copy()
        self.prev_velocity_mps = np.zeros((p.num_uavs, 3))
        self.remaining_j = np.full(p.num_uavs, p.battery_j)

    def _draw_tasks(self):
        self.task_bits, self.cycles_per_bit = offload.sample_tasks(self.np_random, self.params)

    def _observation(self):
        obs = offload.offload_observation(self.layout.busy_pos_m, self.task_bits, self.cycles_per_bit,
                                          self.uav_pos_m, self.remaining_j, self.params)
        if not np.all(np.isfinite(obs)):
            raise ValueError(f'observation: NaN/inf at index {int(np.argmin(np.isfinite(obs)))} (slot {self.slot})')
        return obs

    def reset(self, *, seed=None, options=None):
        """UAVs back to the run's start, v = 0, full battery, new D and C ([D-A38])."""
        super().reset(seed=seed)
        self._reset_state()
        self._draw_tasks()
        return self._observation(), {}

    def step(self, action):
        p = self.params
        try:
            clipped, n_clipped = offload.clip_action(np.asarray(action, dtype=float).reshape(-1))
        except offload.OffloadInputError as err:
            raise ValueError(f'{err} (slot {self.slot})') from None
        self.clipped_components_total += n_clipped
        decision = offload.decode_action(clipped, p)
        out = offload.slot_outcome(self.np_random, decision, self.uav_pos_m, self.prev_velocity_mps,
                                   self.remaining_j, self.layout.busy_pos_m, self.layout.idle_pos_m,
                                   self.layout.partner, self.task_bits, self.cycles_per_bit, p)
        self.uav_pos_m, self.prev_velocity_mps, self.remaining_j = out.uav_pos_m, out.velocity_mps, out.remaining_j
        self.slot += 1
        terminated = self.slot >= p.num_slots
        self._draw_tasks()
        info = {'Q': out.revenue, 'U_K': out.uav_utility, 'U_J': out.idle_utility, 'U_I': out.busy_utility,
                'F1': out.penalties[0], 'F2': out.penalties[1], 'F3': out.penalties[2],
                'clipped_components': n_clipped, 'bitrate_mbps': decision.bitrate_mbps,
                'uav_pos_m': out.uav_pos_m.copy(), 'association': out.association,
                'uav_active': out.uav_active, 'delays': out.delays, 'energies': out.energies}
        if not np.isfinite(out.reward):
            raise ValueError(f'reward: NaN/inf at slot {self.slot}')
        return self._observation(), float(out.reward), terminated, False, info

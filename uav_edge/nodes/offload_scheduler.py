"""offload_scheduler (one per UAV): video offloading split, UAV CPU frequency and bitrate per slot.

In:  pose (for the uplink rate to the nearest ground user), tasks (optional: raw bits, cycles/bit),
     energy_alarm; with `policy: onnx` also every UAV's /<uav>/pose and /<uav>/energy (`uav_names`).
Out: offload (Float64MultiArray [field], contract.OFFLOAD_FIELDS) every `slot_s`.
Poses and energies are read once per slot (the latest message, dated by its arrival; common.Inbox), not per
message: a pose burst costs the schedulers nothing.

policy 'heuristic' (default) and the fallback: the seed-1 analytic heuristic
uav_edge.core.offload_heuristic.offload_decision (delay-balanced split, slowest CPU that meets the
slot); rates at the mean seed-1 Rician gain (core.channel.mean_rician_rate): uplink to the nearest
scenario user, D2D at `d2d_distance_m`. With the energy alarm raised the lowest bitrate level is used.
Without a fresh pose nothing is offloaded to the UAV (eps_uav = 0; the split is between D2D and local)
and diagnostics say so.

policy 'onnx': the shipped seed-1 TD3 actor (models/seed1_td3.onnx; `model_path` selects another, e.g. the
PPO baseline's models/seed1_ppo.onnx, which scores higher on held-out periods) through
uav_edge.policy.offload_policy. The actor is centralised (one state and one action for all K UAVs);
every UAV's scheduler runs the same actor on the same telemetry and publishes its own row
(decentralised execution). The world the policy serves at runtime:
  * the seed-1 config file `seed1_config` (default config/seed1/default.yaml from the package share),
    with K = the number of UAVs in this graph (`uav_names`); the model card must match it (else fallback);
  * busy/idle UD positions: the config's fixed layout (core.offload.sample_layout, layout_seed), in a
    seed-1 frame whose corner sits at `seed1_origin_m` in the map frame; task D_i = `data_bits` for
    every busy UD and C = `cycles_per_bit` (both updated by the tasks topic);
  * UAV k's position: its latest pose minus seed1_origin_m; its remaining energy: state_of_charge from
    /<uav>/energy x the config's battery_j (the state's E_kr / E_r is the same fraction).
The own row: eps = the actor's split, uav_cpu_hz = f_k, bitrate_bps = b_k; cpu_power_w = (transcoding +
processing energy of the busy UDs nearest to this UAV) / slot and completion_s = their slowest path, both
from the twin at the mean channel gain (core.offload.uav_slot_row). The actor's velocity for this UAV
is only reported in diagnostics (velocity_mps): the trajectory planner flies the UAV.
The heuristic runs instead, with a WARN naming the reason, when the model or card is missing, corrupt or
trained for another world (e.g. 3 UAVs against the card's K = 5), when a UAV's pose or energy is missing
or older than `stale_after_s`, when a UAV is outside the seed-1 flight box (area x [H_min, H_max],
+- `box_margin_m`), when the task is outside the trained range, or while the energy alarm is raised.
"""
import numpy as np
from geometry_msgs.msg import PoseStamped
from std_msgs.msg import Bool, Float64MultiArray

from uav_edge.core import channel, offload, offload_heuristic
from uav_edge.nodes import contract
from uav_edge.nodes.common import OK, WARN, EdgeNode, main_for
from uav_edge.resources import given_or_shipped

SHIPPED_MODEL = 'models/seed1_td3.onnx'
SEED1_CONFIG = 'config/seed1/default.yaml'
_SOC = contract.ENERGY_FIELDS.index('state_of_charge')


class OffloadScheduler(EdgeNode):
    def __init__(self, **kwargs):
        super().__init__('offload_scheduler', **kwargs)
        self.params = offload_heuristic.OffloadHeuristicParams(
            slot_s=self.param('slot_s', 1.0), cycles_per_bit=self.param('cycles_per_bit', 1100.0))
        self.users = np.reshape(self.param_array('user_positions_m'), (-1, 3))
        self.bitrates = sorted(self.param('bitrate_levels_mbps', [0.4, 0.8, 1.5, 2.0, 2.3]))
        self.bitrate = self.param('bitrate_mbps', 2.3)
        self.data_bits = self.param('data_bits', 2.5e6)
        self.d2d_distance_m = self.param('d2d_distance_m', 30.0)
        self.stale_after_s = self.param('stale_after_s', 2.0)
        self.policy_name = self.param('policy', 'heuristic')
        self.model_path = given_or_shipped(self.param('model_path', ''), SHIPPED_MODEL)
        self.seed1_config = given_or_shipped(self.param('seed1_config', ''), SEED1_CONFIG)
        self.uav_names = self.param_names('uav_names')
        self.seed1_origin_m = np.array(self.param_array('seed1_origin_m') or [0.0, 0.0, 0.0])
        self.box_margin_m = self.param('box_margin_m', 5.0)
        self.uplink, self.d2d = channel.Seed1A2GParams(), channel.Seed1D2DParams()
        self.pose, self.pose_at = None, -np.inf
        self.alarm = False
        self.pub = self.array_publisher('offload', ('field',), (len(contract.OFFLOAD_FIELDS),), contract.DECISION)
        self.pose_inbox = self.latest_inbox(PoseStamped, 'pose', contract.SENSOR, contract.read_position)
        self.subscribe(Float64MultiArray, 'tasks', contract.DECISION,
                       lambda m: contract.read_array(m, ('field',), (len(contract.TASK_FIELDS),),
                                                     low=[1.0, 1.0], high=[1e10, 1e5]),
                       self.on_tasks)
        self.create_subscription(Bool, 'energy_alarm', self.on_alarm, contract.qos(contract.LATCHED))
        self.observation = None                          # last TD3 state (28), policy onnx only
        self.td3 = self.load_td3() if self.policy_name == 'onnx' else None
        if self.policy_name not in ('onnx', 'heuristic'):
            self.condition('policy fallback', True, WARN,
                           f"unknown policy {self.policy_name!r} (expected 'onnx' or 'heuristic'); heuristic in use")
        self.create_timer(self.params.slot_s, self.schedule)

    # --- policy onnx: the seed-1 world and every UAV's telemetry ---------------------------------

    def load_td3(self):
        """The TD3 policy for the seed-1 world with K = len(uav_names); None (+ WARN) if unusable."""
        try:
            from uav_edge.core.offload_config import load_seed1_config
            from uav_edge.policy.offload_policy import load_offload_policy

            me = self.get_namespace().strip('/')
            if me not in self.uav_names:
                raise ValueError(f'this UAV ({me!r}) is not in uav_names {self.uav_names}')
            if self.seed1_origin_m.shape != (3,) or not np.all(np.isfinite(self.seed1_origin_m)):
                raise ValueError(f'seed1_origin_m: expected 3 finite values in m, got {self.seed1_origin_m}')
            if not (np.isfinite(self.box_margin_m) and self.box_margin_m >= 0):
                raise ValueError(f'box_margin_m: must be finite and >= 0 m, got {self.box_margin_m}')
            params = load_seed1_config(self.seed1_config).with_params(num_uavs=len(self.uav_names)).params
            policy = load_offload_policy(params, 'onnx', self.model_path, threads=1)
            if policy.fallback_reason:
                raise ValueError(policy.fallback_reason)
        except Exception as err:                         # config, model, card, world mismatch, onnxruntime
            self.condition('policy fallback', True, WARN,
                           f'policy onnx unavailable ({err}); analytic heuristic in use')
            return None
        self.k = self.uav_names.index(me)
        self.layout = offload.sample_layout(params)
        K = len(self.uav_names)
        self.positions, self.positions_at = np.zeros((K, 3)), np.full(K, -np.inf)
        self.soc, self.soc_at = np.zeros(K), np.full(K, -np.inf)
        energy = contract.ArrayReader(('field',), (len(contract.ENERGY_FIELDS),), low=0.0,
                                      high=(np.inf, 1.0, np.inf, np.inf))
        self.others_pose = {i: self.latest_inbox(PoseStamped, contract.topic(name, 'pose'), contract.SENSOR,
                                                 contract.read_position)
                            for i, name in enumerate(self.uav_names) if i != self.k}   # own: self.pose_inbox
        self.energy_inboxes = [self.latest_inbox(Float64MultiArray, contract.topic(name, 'energy'), contract.SENSOR,
                                                 energy) for name in self.uav_names]
        self.condition('policy', True, OK, f'TD3 policy {self.model_path} on {self.seed1_config}')
        return policy

    def take_uav_telemetry(self):
        """Every other UAV's latest pose and every UAV's latest energy that arrived since the last slot."""
        for i, inbox in self.others_pose.items():
            if (xyz := inbox.take()) is not None:
                self.positions[i], self.positions_at[i] = xyz - self.seed1_origin_m, inbox.arrived_s()
        for i, inbox in enumerate(self.energy_inboxes):
            if (fields := inbox.take()) is not None:
                self.soc[i], self.soc_at[i] = fields[_SOC], inbox.arrived_s()

    def td3_unusable(self):
        """Why the TD3 decision cannot be trusted this slot (str), or None."""
        p, now = self.td3.params, self.now_s()
        for what, at in (('pose', self.positions_at), ('energy', self.soc_at)):
            stale = [name for name, t in zip(self.uav_names, at) if now - t > self.stale_after_s]
            if stale:
                return f"no fresh {what} from {', '.join(stale)} (stale after {self.stale_after_s:g} s)"
        low = np.array([0.0, 0.0, p.altitude_min_m]) - self.box_margin_m
        high = np.array([p.area_m, p.area_m, p.altitude_max_m]) + self.box_margin_m
        outside = [f'{name} at {np.round(xyz, 1).tolist()} m' for name, xyz in zip(self.uav_names, self.positions)
                   if np.any(xyz < low) or np.any(xyz > high)]
        if outside:
            return (f"{', '.join(outside)} outside the seed-1 flight box [0, {p.area_m:g}]^2 x "
                    f"[{p.altitude_min_m:g}, {p.altitude_max_m:g}] m (+- {self.box_margin_m:g} m)")
        if not p.task_bits_min <= self.data_bits <= p.task_bits_max:
            return f'data_bits {self.data_bits:g} outside the trained [{p.task_bits_min:g}, {p.task_bits_max:g}]'
        if not p.cycles_per_bit_min <= self.params.cycles_per_bit <= p.cycles_per_bit_max:
            return (f'cycles_per_bit {self.params.cycles_per_bit:g} outside the trained '
                    f'[{p.cycles_per_bit_min:g}, {p.cycles_per_bit_max:g}]')
        if self.alarm:
            return 'energy alarm'
        return None

    def td3_row(self):
        """This UAV's row of the TD3 decision for the latest telemetry (core.offload.uav_slot_row)."""
        p = self.td3.params
        task_bits = np.full(p.num_busy_uds, float(self.data_bits))
        cycles = float(self.params.cycles_per_bit)
        telemetry = (self.layout.busy_pos_m, task_bits, cycles, self.positions, self.soc * p.battery_j)
        self.observation = self.td3.observation(*telemetry)          # the state (28) the actor sees, kept for checks
        decision = offload.decode_action(self.td3.action(self.observation), p)     # = td3.decide, state built once
        self.report('velocity_mps', ' '.join(f'{v:.2f}' for v in decision.velocity_mps[self.k]))
        return offload.uav_slot_row(decision, self.k, self.positions, self.layout.busy_pos_m, self.layout.idle_pos_m,
                       self.layout.partner, task_bits, cycles, p)

    # --- input handlers ---------------------------------------------------------------------------

    def take_pose(self):
        """This UAV's latest pose, if one arrived since the last slot."""
        if (xyz := self.pose_inbox.take()) is not None:
            self.pose, self.pose_at = xyz, self.pose_inbox.arrived_s()
            if self.td3 is not None:
                self.positions[self.k], self.positions_at[self.k] = xyz - self.seed1_origin_m, self.pose_at

    def on_tasks(self, fields):
        self.data_bits = float(fields[0])
        self.params = offload_heuristic.OffloadHeuristicParams(slot_s=self.params.slot_s,
                                                               cycles_per_bit=float(fields[1]))

    def on_alarm(self, msg):
        self.alarm = bool(msg.data)

    # --- one slot ---------------------------------------------------------------------------------

    def schedule(self):
        self.take_pose()
        row = None
        if self.td3 is not None:
            self.take_uav_telemetry()
            reason = self.td3_unusable()
            if reason is None:
                try:
                    row = self.td3_row()
                except ValueError as err:                # PolicyError / OffloadInputError: never a silent answer
                    reason = str(err)
            self.condition('td3 unusable', reason is not None, WARN,
                           f'policy onnx: {reason}; analytic heuristic in use')
        self.report('policy', 'onnx' if row is not None else 'heuristic')
        if row is None:
            row = self.heuristic_row()
        else:                                            # the heuristic's own conditions do not apply
            for key in ('no uplink', 'low energy', 'deadline'):
                self.condition(key, False)
        self.pub.publish(row)
        self.report('split', ' '.join(f'{v:.3f}' for v in row[:3]))

    def heuristic_row(self):
        """The analytic heuristic's contract.OFFLOAD_FIELDS row (module docstring)."""
        bitrate = self.bitrates[0] if self.alarm else self.bitrate
        d2d_rate = float(channel.mean_rician_rate(self.d2d_distance_m, self.d2d))
        fresh = self.pose is not None and self.now_s() - self.pose_at <= self.stale_after_s and len(self.users)
        self.condition('no uplink', not fresh, WARN,
                       'no fresh pose (or no users): nothing offloaded to the UAV' if len(self.users)
                       else 'no ground users in the scenario: nothing offloaded to the UAV')
        self.condition('low energy', self.alarm, WARN, f'energy alarm: lowest bitrate {bitrate} Mbps')
        if fresh:
            nearest = float(np.min(np.linalg.norm(self.users - self.pose, axis=1)))
            uav_rate = float(channel.mean_rician_rate(max(nearest, 1.0), self.uplink))
            d = offload_heuristic.offload_decision(self.data_bits, uav_rate, d2d_rate, bitrate, self.params)
            split, f_k, completion, cpu_w = d.split, d.uav_cpu_hz, d.completion_s, d.uav_energy_j / self.params.slot_s
            self.condition('deadline', not d.meets_deadline, WARN, f'slot deadline missed: {completion:.2f} s')
        else:
            a = offload_heuristic.path_seconds_per_bit(1.0, d2d_rate, bitrate, 1.0, self.params)[1:]
            split = np.concatenate([[0.0], offload_heuristic.delay_balanced_split(a)])
            f_k, cpu_w = 0.0, 0.0
            completion = float(np.max(split[1:] * self.data_bits * a))
        return np.array([*split, f_k, bitrate * 1e6, cpu_w, completion])


NODE = OffloadScheduler


def main(args=None):
    return main_for(OffloadScheduler, args)


if __name__ == '__main__':
    main()

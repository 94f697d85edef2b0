"""offload_scheduler (one per UAV): video offloading split, UAV CPU frequency and bitrate per slot.

In:  pose (for the uplink rate to the nearest ground user), tasks (optional: raw bits, cycles/bit),
     energy_alarm.
Out: offload (Float64MultiArray [field], contract.OFFLOAD_FIELDS) every `slot_s`.
Model: the seed-1 analytic heuristic uav_edge.core.offload_heuristic.offload_decision (delay-
balanced split, slowest CPU that meets the slot); rates at the mean seed-1 Rician gain
(core.channel.mean_rician_rate): uplink to the nearest scenario user, D2D at `d2d_distance_m`.
With the energy alarm raised the lowest bitrate level is used. Without a fresh pose nothing is
offloaded to the UAV (eps_uav = 0; the split is between D2D and local) and diagnostics say so.
"""
import numpy as np
from geometry_msgs.msg import PoseStamped
from std_msgs.msg import Bool, Float64MultiArray

from uav_edge.core import channel, offload_heuristic
from uav_edge.nodes import contract
from uav_edge.nodes.common import WARN, EdgeNode, main_for


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
        self.uplink, self.d2d = channel.Seed1A2GParams(), channel.Seed1D2DParams()
        self.pose, self.pose_at = None, -np.inf
        self.alarm = False
        self.pub = self.create_publisher(Float64MultiArray, 'offload', contract.qos(contract.DECISION))
        self.subscribe(PoseStamped, 'pose', contract.SENSOR, contract.read_position, self.on_pose)
        self.subscribe(Float64MultiArray, 'tasks', contract.DECISION,
                       lambda m: contract.read_array(m, ('field',), (len(contract.TASK_FIELDS),),
                                                     low=[1.0, 1.0], high=[1e10, 1e5]),
                       self.on_tasks)
        self.create_subscription(Bool, 'energy_alarm', self.on_alarm, contract.qos(contract.LATCHED))
        self.create_timer(self.params.slot_s, self.schedule)

    def on_pose(self, xyz):
        self.pose, self.pose_at = xyz, self.now_s()

    def on_tasks(self, fields):
        self.data_bits = float(fields[0])
        self.params = offload_heuristic.OffloadHeuristicParams(slot_s=self.params.slot_s,
                                                               cycles_per_bit=float(fields[1]))

    def on_alarm(self, msg):
        self.alarm = bool(msg.data)

    def schedule(self):
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
        self.pub.publish(contract.make_array(
            [*split, f_k, bitrate * 1e6, cpu_w, completion], ('field',)))
        self.report('split', ' '.join(f'{v:.3f}' for v in split))


NODE = OffloadScheduler


def main(args=None):
    return main_for(OffloadScheduler, args)


if __name__ == '__main__':
    main()

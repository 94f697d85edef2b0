"""channel_estimator (one per UAV): per-RSU LoS probability, gain, SNR and spectral efficiency q.

In:  pose (PoseStamped, ENU m, frame map); optional link_quality (measured q per RSU, NaN = none).
Out: channel (Float64MultiArray [rsu x field], contract.CHANNEL_FIELDS), one message per pose.
Model: uav_edge.core.channel.estimated_link_quality (seed-3 A2G path gain calibrated so that at
`reference_position_m` the estimate equals the scenario's Table II q). A measured q newer than
`measured_timeout_s` replaces the model's q for that RSU and is flagged (field 'measured' = 1).
"""
import numpy as np
from geometry_msgs.msg import PoseStamped
from std_msgs.msg import Float64MultiArray

from uav_edge.core import channel
from uav_edge.core.units import linear_to_db
from uav_edge.nodes import contract
from uav_edge.nodes.common import OK, WARN, EdgeNode, main_for


class ChannelEstimator(EdgeNode):
    def __init__(self, **kwargs):
        super().__init__('channel_estimator', **kwargs)
        self.rsu_names = self.param_names('rsu_names')
        J = len(self.rsu_names)
        self.rsu_positions = np.reshape(self.param_array('rsu_positions_m'), (J, 3))
        self.tx_power_dbm = np.array(self.param_array('tx_power_dbm'))
        self.gain_db = np.array(self.param_array('gain_db'))
        self.noise_dbm = np.array(self.param_array('noise_dbm'))
        self.reference = np.array(self.param_array('reference_position_m'))
        self.min_distance_m = self.param('min_distance_m', 1.0)
        self.measured_timeout_s = self.param('measured_timeout_s', 2.0)
        self.pose_timeout_s = self.param('pose_timeout_s', 2.0)
        self.measured = np.full(J, np.nan)
        self.measured_at = np.full(J, -np.inf)
        self.last_pose_s = None
        self.pub = self.create_publisher(Float64MultiArray, 'channel', contract.qos(contract.SENSOR))
        self.subscribe(PoseStamped, 'pose', contract.SENSOR, contract.read_position, self.on_pose)
        self.subscribe(Float64MultiArray, 'link_quality', contract.SENSOR,
                       lambda m: contract.read_array(m, ('rsu',), (J,), low=0.0, high=60.0, allow_nan=True),
                       self.on_measured)
        self.create_timer(self.pose_timeout_s / 2.0, self.check_inputs)
        self.condition('no pose yet', True, WARN, 'waiting for pose')

    def on_measured(self, q):
        fresh = np.isfinite(q)
        self.measured[fresh] = q[fresh]
        self.measured_at[fresh] = self.now_s()

    def on_pose(self, xyz):
        now = self.now_s()
        self.last_pose_s = now
        self.condition('no pose yet', False)
        self.condition('stale pose', False)
        p_los, gain, tau, q = channel.estimated_link_quality(
            xyz, self.rsu_positions, self.reference, self.tx_power_dbm, self.gain_db, self.noise_dbm,
            min_distance_m=self.min_distance_m)
        use_measured = now - self.measured_at <= self.measured_timeout_s
        q = np.where(use_measured, self.measured, q)
        tau = np.where(use_measured, np.exp2(q) - 1.0, tau)
        fields = np.column_stack([p_los, linear_to_db(gain), linear_to_db(np.maximum(tau, 1e-300)), q,
                                  use_measured.astype(float)])
        self.pub.publish(contract.make_array(fields, ('rsu', 'field')))
        self.condition('measured', use_measured.any(), OK,
                       'measured link quality in use for ' + ', '.join(
                           n for n, m in zip(self.rsu_names, use_measured) if m))
        self.report('spectral_efficiency', ' '.join(f'{v:.3f}' for v in q))

    def check_inputs(self):
        if self.last_pose_s is not None and self.now_s() - self.last_pose_s > self.pose_timeout_s:
            self.condition('stale pose', True, WARN,
                           f'pose stale for {self.now_s() - self.last_pose_s:.1f} s: no channel estimates published')


NODE = ChannelEstimator


def main(args=None):
    return main_for(ChannelEstimator, args)


if __name__ == '__main__':
    main()

"""channel_estimator (one per UAV): per-RSU LoS probability, gain, SNR and spectral efficiency q.

In:  pose (PoseStamped, ENU m, frame map); optional link_quality (measured q per RSU, NaN = none).
Out: channel (Float64MultiArray [rsu x field], contract.CHANNEL_FIELDS), one message per pose.
Model: uav_edge.core.channel.LinkQualityEstimator (= estimated_link_quality with the RSUs' half computed
once; seed-3 A2G path gain calibrated so that at `reference_position_m` the estimate equals the
scenario's Table II q). A measured q newer than `measured_timeout_s` replaces the model's q for that
RSU and is flagged (field 'measured' = 1).
Bounded rate: an estimate is published at once when q moved by more than `min_relative_change`
(or the measured flags changed), at most `max_rate_hz` a second on average and `rate_burst` back to back
(a token bucket; a pose that finds it empty is published when the next token comes, the latest pose wins),
and otherwise every `keepalive_s` so that subscribers keep a fresh estimate while the UAV hovers (default
pose_timeout_s / 4). A burst of 2 lets the estimates catch up after the process was held up: with one
(a window of 1 / max_rate_hz from the last message), two 20 Hz poses handled late and back to back put the
window's delay on the poses after them, shrinking by only 10 ms per pose at 25 Hz.
"""
import numpy as np
from geometry_msgs.msg import PoseStamped
from std_msgs.msg import Float64MultiArray

from uav_edge.core import channel
from uav_edge.core.units import linear_to_db
from uav_edge.nodes import contract
from uav_edge.nodes.common import OK, WARN, EdgeNode, main_for

_Q = contract.CHANNEL_FIELDS.index('spectral_efficiency')
_MEASURED = contract.CHANNEL_FIELDS.index('measured')


class ChannelEstimator(EdgeNode):
    def __init__(self, **kwargs):
        super().__init__('channel_estimator', **kwargs)
        self.rsu_names = self.param_names('rsu_names')
        J = len(self.rsu_names)
        self.rsu_positions = np.reshape(self.param_array('rsu_positions_m'), (J, 3))
        self.estimate = channel.LinkQualityEstimator(            # the RSUs' half computed once, here
            self.rsu_positions, self.param_array('reference_position_m'), self.param_array('tx_power_dbm'),
            self.param_array('gain_db'), self.param_array('noise_dbm'),
            min_distance_m=self.param('min_distance_m', 1.0))
        self.measured_timeout_s = self.param('measured_timeout_s', 2.0)
        self.pose_timeout_s = self.param('pose_timeout_s', 2.0)
        self.min_interval_s = 1.0 / self.param('max_rate_hz', 25.0)
        burst = self.param('rate_burst', 2)
        if burst < 1:
            raise ValueError(f'{self.get_fully_qualified_name()}: rate_burst: expected an integer >= 1, got {burst}')
        self.burst_s = (burst - 1) * self.min_interval_s     # how far ahead of the average rate a message may go
        self.bucket_full_at = -np.inf     # when the token bucket is full again (GCRA's theoretical arrival time)
        self.min_change = self.param('min_relative_change', 1e-4)
        self.keepalive_s = self.param('keepalive_s', self.pose_timeout_s / 4.0)
        self.measured = np.full(J, np.nan)
        self.measured_at = np.full(J, -np.inf)
        self.last_pose_s = None
        self.fields = None                # the latest estimate (J, fields)
        self.sent = None                  # the last published estimate
        self.sent_at = -np.inf
        self.pending = self.one_shot_timer(self.min_interval_s, self.publish_latest)
        self.pub = self.array_publisher('channel', ('rsu', 'field'), (J, len(contract.CHANNEL_FIELDS)),
                                        contract.SENSOR)
        self.subscribe(PoseStamped, 'pose', contract.SENSOR, contract.read_position, self.on_pose)
        self.subscribe(Float64MultiArray, 'link_quality', contract.SENSOR,
                       contract.ArrayReader(('rsu',), (J,), low=0.0, high=60.0, allow_nan=True),
                       self.on_measured)
        self.create_timer(self.pose_timeout_s / 2.0, self.check_inputs)
        self.condition('no pose yet', True, WARN, 'waiting for pose')

    def on_measured(self, q):
        fresh = np.isfinite(q)
        self.measured[fresh] = q[fresh]
        self.measured_at[fresh] = self.now_s()

    def on_pose(self, xyz):
        now = self.now_s()
        if self.last_pose_s is None or now - self.last_pose_s > self.pose_timeout_s:
            self.condition('no pose yet', False)
            self.condition('stale pose', False)
        self.last_pose_s = now
        p_los, gain, tau, q = self.estimate(xyz)
        use_measured = now - self.measured_at <= self.measured_timeout_s
        if use_measured.any():
            q = np.where(use_measured, self.measured, q)
            tau = np.where(use_measured, np.exp2(q) - 1.0, tau)
        self.fields = np.column_stack([p_los, linear_to_db(gain), linear_to_db(np.maximum(tau, 1e-300)), q,
                                       use_measured.astype(float)])
        if self.pending.pending:
            return                        # published when the next token comes, with this pose
        if not (self.changed() or now - self.sent_at >= self.keepalive_s):
            return
        wait_s = self.bucket_full_at - self.burst_s - now
        if wait_s > 0:
            self.pending.start(wait_s)    # no token left: publish when the next one comes
        else:
            self.publish_latest()

    def changed(self):
        """Did q move by more than min_relative_change (or the measured flags change) since the last message?"""
        if self.sent is None:
            return True
        q, sent_q = self.fields[:, _Q], self.sent[:, _Q]
        return bool(np.any(np.abs(q - sent_q) > self.min_change * np.abs(sent_q))
                    or np.any(self.fields[:, _MEASURED] != self.sent[:, _MEASURED]))

    def publish_latest(self):
        self.pending.cancel()
        if self.fields is None:
            return
        self.pub.publish(self.fields)
        self.sent, self.sent_at = self.fields, self.now_s()
        self.bucket_full_at = max(self.bucket_full_at, self.sent_at) + self.min_interval_s
        measured = self.fields[:, _MEASURED] > 0
        if measured.any() or 'measured' in self._conditions:
            self.condition('measured', measured.any(), OK, 'measured link quality in use for ' + ', '.join(
                n for n, m in zip(self.rsu_names, measured) if m))

    def refresh_report(self):
        if self.sent is not None:
            self.report('spectral_efficiency', ' '.join(f'{v:.3f}' for v in self.sent[:, _Q]))

    def check_inputs(self):
        if self.last_pose_s is not None and self.now_s() - self.last_pose_s > self.pose_timeout_s:
            self.condition('stale pose', True, WARN,
                           f'pose stale for {self.now_s() - self.last_pose_s:.1f} s: no channel estimates published')


NODE = ChannelEstimator


def main(args=None):
    return main_for(ChannelEstimator, args)


if __name__ == '__main__':
    main()

"""probe.Recorder: a passive reader keeps every message with its DDS receive and send times until drain()."""
import time

import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')


def test_recorder_keeps_every_message_with_its_times_without_being_spun(domain_id):
    from std_msgs.msg import Float64MultiArray

    from uav_edge.nodes import contract
    from uav_edge.nodes.probe import as_array, recorders, wait_for

    context = rclpy.Context()
    rclpy.init(context=context, domain_id=domain_id)
    node = rclpy.create_node('recorder_test_pub', context=context)
    try:
        pub = node.create_publisher(Float64MultiArray, '/uav0/demand', contract.qos(contract.DECISION, depth=64))
        rec_node, recs = recorders(context, {'/uav0/demand': (Float64MultiArray, contract.DECISION, as_array)})
        rec = recs['/uav0/demand']
        wait_for(lambda: pub.get_subscription_count() >= 1, 10, what='recorder matched')
        assert rec.drain() == []
        before = time.time()
        for k in range(50):                                  # more than the contract's reader depth (10)
            pub.publish(contract.make_array(np.array([k, 2.0 * k]), ('rsu',)))
        kept = []
        deadline = time.monotonic() + 10
        while len(kept) < 50 and time.monotonic() < deadline:
            kept += rec.drain()
            time.sleep(0.01)
        after = time.time()
        assert [v[0] for _, _, v in kept] == list(range(50))          # all of them, in order, none spun
        for received, sent, value in kept:
            assert before - 0.5 <= sent <= received <= after + 0.5      # system clock, sent before received
            np.testing.assert_array_equal(value, [value[0], 2.0 * value[0]])
        assert rec.drain() == []                                       # drained means empty
        rec_node.destroy_node()
    finally:
        node.destroy_node()
        rclpy.shutdown(context=context)

"""contract.ArrayReader: reading a Float64MultiArray from its serialized bytes (raw subscriptions) gives exactly what
read_array gives on the message, and the same error for a bad one; bytes that are no message are invalid."""
import numpy as np
import pytest

pytest.importorskip('rclpy')
from rclpy.serialization import serialize_message  # noqa: E402

from uav_edge.nodes import contract  # noqa: E402


def both(reader, msg):
    """(value or error text from the message, the same from its bytes)."""
    out = []
    for read, arg in ((reader, msg), (reader.from_serialized, serialize_message(msg))):
        try:
            out.append(read(arg))
        except contract.InvalidMessage as err:
            out.append(str(err))
    return out


def test_serialized_valid_arrays_read_like_messages_through_the_prefix():
    channel = contract.channel_reader(5)
    values = np.column_stack([np.linspace(0.1, 0.9, 5), -np.arange(5.0), np.arange(5.0), np.linspace(1, 9, 5),
                              [0, 1, 0, 0, 1]])
    for reader, data in ((channel, values), (contract.ArrayReader(('uav',), (15,), low=1e-9), np.arange(1.0, 16.0)),
                         (contract.ArrayReader(('rsu',), (3,), allow_nan=True), [np.nan, 2.0, 0.5])):
        assert reader.header is not None                      # the fast path exists for these layouts
        msg = contract.make_array(data, reader.labels)
        from_msg, from_bytes = both(reader, msg)
        np.testing.assert_array_equal(from_bytes, from_msg)
        assert from_bytes.shape == reader.shape and not from_bytes.flags.writeable


@pytest.mark.parametrize('data, labels, expected', [
    (np.arange(1.0, 4.0), ('uav',), 'layout sizes (3,), expected (2,)'),
    (np.arange(1.0, 3.0), ('rsu',), "layout labels ('rsu',), expected ('uav',)"),
    ([1.0, np.nan], ('uav',), 'non-finite value at index (1,)'),
    ([1.0, np.inf], ('uav',), 'non-finite value at index (1,)'),
    ([1.0, 0.0], ('uav',), 'value 0 at index (1,) outside [1e-09, None]'),
])
def test_a_bad_serialized_array_gets_the_error_of_the_bad_message(data, labels, expected):
    reader = contract.ArrayReader(('uav',), (2,), low=1e-9)
    from_msg, from_bytes = both(reader, contract.make_array(np.asarray(data), labels))
    assert from_msg == from_bytes == expected


def test_bytes_that_are_no_message_are_invalid_not_a_crash():
    reader = contract.ArrayReader(('uav',), (2,))
    for raw in (b'', b'\x00\x01\x00\x00\xff\xff\xff\xff', b"\x00\x01\x00\x00\x01\x00\x00\x00"):
        with pytest.raises(contract.InvalidMessage, match='not a Float64MultiArray|layout|values'):
            reader.from_serialized(raw)



def test_an_infinite_bound_does_not_let_an_infinite_value_through():
    """The energy reader's bounds are (inf, 1, inf, inf): +inf passed the fast path's 'value <= high' (found by
    test_nodes_bad_messages' helper on /<uav>/energy); infinite values are invalid whatever the bounds."""
    reader = contract.ArrayReader(('field',), (4,), low=0.0, high=(np.inf, 1.0, np.inf, np.inf))
    assert both(reader, contract.make_array([np.inf, 0.5, 1.0, 1.0], ('field',))) == \
        ['non-finite value at index (0,)'] * 2
    np.testing.assert_array_equal(both(reader, contract.make_array([1e300, 0.5, 1.0, 1.0], ('field',)))[1],
                                  [1e300, 0.5, 1.0, 1.0])


def test_strides_or_an_offset_that_are_not_row_major_are_invalid():
    """A publisher that leaves stride at 0 or sets data_offset would have its values read in the wrong places."""
    reader = contract.channel_reader(3)
    values = np.arange(15.0).reshape(3, 5) / 15.0
    good = contract.make_array(values, reader.labels)
    assert [d.stride for d in good.layout.dim] == [15, 5]
    for read in both(reader, good):
        np.testing.assert_array_equal(read, values)
    for change in ('stride', 'offset'):
        msg = contract.make_array(values, reader.labels)
        if change == 'stride':
            msg.layout.dim[1].stride = 0
        else:
            msg.layout.data_offset = 1
        from_msg, from_bytes = both(reader, msg)
        assert from_msg == from_bytes and 'expected (15, 5) and 0' in from_msg, from_msg

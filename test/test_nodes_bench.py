"""The node bench's market-rate criterion (uav_edge.nodes.bench.answered_fraction): pure numpy, no DDS."""
import pytest

from uav_edge.nodes.bench import answered_fraction


def test_a_round_counts_as_answered_only_for_a_demand_sent_inside_it():
    rounds = [0.0, 0.1, 0.2, 0.3]                       # three complete rounds
    every_round = [0.05, 0.15, 0.25]
    assert answered_fraction(rounds, [every_round, every_round]) == 1.0
    # two answers in one round do not make up for a silent one
    assert answered_fraction(rounds, [every_round, [0.05, 0.06, 0.25]]) == pytest.approx(5 / 6)
    # sent before the first round or after the last one: answers nothing
    assert answered_fraction(rounds, [[-0.01, 0.31]]) == 0.0
    assert answered_fraction([0.0], [every_round]) == 0.0 and answered_fraction(rounds, []) == 0.0

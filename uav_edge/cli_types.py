"""argparse types for the command lines: a bad number is refused by the parser with a message naming the flag
(`argument --num-uavs: expected an integer >= 1, got '-1'`), before anything starts. NaN and infinities are
never accepted: a NaN duration compares false with every limit and would quietly mean "no limit"."""
import argparse
import math


def _parse(kind, text, low, high, low_open, what):
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or not math.isfinite(value) or value < low or (low_open and value == low) or value > high:
        raise argparse.ArgumentTypeError(f'expected {what}, got {text!r}')
    return value


def count(text):
    """An integer >= 1 (UAVs, vehicles, seeds, steps, episodes...)."""
    return _parse(int, text, 1, math.inf, False, 'an integer >= 1')


def index(text):
    """An integer >= 0 (a seed, a first instance number)."""
    return _parse(int, text, 0, math.inf, False, 'an integer >= 0')


def domain_id(text):
    """A ROS_DOMAIN_ID: an integer in [0, 232]."""
    return _parse(int, text, 0, 232, False, 'an integer in [0, 232]')


def nonnegative(text):
    """A finite number >= 0 (seconds where 0 means 'no limit', a noise level)."""
    return _parse(float, text, 0.0, math.inf, False, 'a finite number >= 0')


def positive(text):
    """A finite number > 0 (a period, a rate, a speed factor)."""
    return _parse(float, text, 0.0, math.inf, True, 'a finite number > 0')


def finite(text):
    """Any finite number (an offset, a wind component)."""
    return _parse(float, text, -math.inf, math.inf, False, 'a finite number')


def percent(text):
    """A number in [0, 100]."""
    return _parse(float, text, 0.0, 100.0, False, 'a number in [0, 100]')

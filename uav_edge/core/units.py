"""Unit conversions: the one place for dB / dBm / linear / watts.

Every function is vectorised (numpy arrays or scalars in, same shape out).
"""
import numpy as np


def db_to_linear(x_db):
    """Power ratio in dB -> linear ratio."""
    return np.power(10.0, np.asarray(x_db, dtype=float) / 10.0)


def linear_to_db(x):
    """Linear power ratio -> dB."""
    return 10.0 * np.log10(np.asarray(x, dtype=float))


def dbm_to_watt(x_dbm):
    """Power in dBm -> watts."""
    return np.power(10.0, (np.asarray(x_dbm, dtype=float) - 30.0) / 10.0)


def watt_to_dbm(p_w):
    """Power in watts -> dBm."""
    return 10.0 * np.log10(np.asarray(p_w, dtype=float)) + 30.0


def dbm_per_hz_to_watt(density_dbm_hz, bandwidth_hz):
    """Noise power spectral density in dBm/Hz over a bandwidth in Hz -> watts."""
    return dbm_to_watt(density_dbm_hz) * np.asarray(bandwidth_hz, dtype=float)

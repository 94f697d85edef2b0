"""Seed 1 offloading split, UAV CPU frequency and bitrate: an analytic heuristic (issue 4).

The seed-1 paper learns these decisions with TD3 (spec seed1 §3.3, Eq. 29). Until that policy is
flown, the offload scheduler uses this closed-form rule on the seed-1 quantities (spec §2.6-2.9):

1. Every raw video bit of a busy UD takes a fixed time on each path (s/bit):
       UAV    a_1 = 1/r_ik + C_k (1 + b/2.75) / f_k      (upload Eq. 13, transcode Eq. 15, process Eq. 17)
       D2D    a_2 = 1/r_ij + C / f_j                     (Eqs. 19, 21)
       local  a_3 = C / f_i                              (Eq. 10)
   With all CPUs at full speed, the split eps_p = (1/a_p) / sum(1/a) makes the three paths finish
   together, which minimises the completion time max_p eps_p D a_p (delay balancing).
2. The UAV's CPU then slows to the lowest frequency that still finishes its share within the slot
   (its energy grows as f^2, Eqs. 16 and 18), never below f_min_fraction f_max (spec §5.4).
3. The bitrate b_k is a parameter (the highest level by default); low energy selects the lowest level.

C_k = m1 b^m2 cycles/bit ([D-A18]), D' = eps_1 D b / 2.75 ([D-A20]); energies from uav_edge.core.energy.
"""
from dataclasses import dataclass

import numpy as np

from uav_edge.core import energy
from uav_edge.core.offload import transcoding_cycles_per_bit


class OffloadInputError(ValueError):
    """An offloading input is NaN/inf or out of range (the message names the parameter)."""


@dataclass(frozen=True)
class OffloadHeuristicParams:
    """Seed 1 constants used by the heuristic; tags from spec seed1 §5."""

    uav_cpu_max_hz: float = 30e9          # f_k,max [P] Table I
    local_cpu_hz: float = 1.5e9           # f_i,max [P]
    d2d_cpu_hz: float = 1.5e9             # f_j,max [P]
    cycles_per_bit: float = 1100.0        # C[n] in [700, 1500] [P]; mid-range default [A]
    original_bitrate_mbps: float = 2.75   # [P]
    transcode_m1: float = 1.54            # C_k = m1 b^m2 [P]
    transcode_m2: float = 0.08            # [P]
    f_min_fraction: float = 1e-3          # f >= 1e-3 f_max [D] §5.4
    slot_s: float = 1.0                   # slot length [D-A1]

    def __post_init__(self):
        for name, value in vars(self).items():
            if not (np.isfinite(value) and value > 0):
                raise OffloadInputError(f'OffloadHeuristicParams.{name}: must be finite and > 0, got {value}')


@dataclass(frozen=True)
class OffloadDecision:
    """split (3,) = (eps_uav, eps_d2d, eps_local); UAV CPU frequency in Hz; slot completion time in s;
    UAV compute energy (transcoding + processing) in J; whether the slot deadline is met."""

    split: np.ndarray
    uav_cpu_hz: float
    completion_s: float
    uav_energy_j: float
    meets_deadline: bool


def transcode_cycles_per_bit(bitrate_mbps, params: OffloadHeuristicParams = OffloadHeuristicParams()):
    """C_k = m1 b^m2 in cycles/bit for bitrate b in Mbps (seed 1 §2.7, [D-A18])."""
    return float(transcoding_cycles_per_bit(_positive('bitrate_mbps', bitrate_mbps),
                                            params.transcode_m1, params.transcode_m2))


def path_seconds_per_bit(uav_rate_bps, d2d_rate_bps, bitrate_mbps, uav_cpu_hz,
                         params: OffloadHeuristicParams = OffloadHeuristicParams()):
    """(a_uav, a_d2d, a_local) in s per raw bit (seed 1 Eqs. 10, 13, 15, 17, 19, 21; see module docstring)."""
    c_k = transcode_cycles_per_bit(bitrate_mbps, params)
    b = float(bitrate_mbps)
    a_uav = 1.0 / _positive('uav_rate_bps', uav_rate_bps) + c_k * (1.0 + b / params.original_bitrate_mbps) / \
        _positive('uav_cpu_hz', uav_cpu_hz)
    a_d2d = 1.0 / _positive('d2d_rate_bps', d2d_rate_bps) + params.cycles_per_bit / params.d2d_cpu_hz
    a_local = params.cycles_per_bit / params.local_cpu_hz
    return np.array([a_uav, a_d2d, a_local])


def delay_balanced_split(seconds_per_bit):
    """eps_p = (1/a_p) / sum_q (1/a_q): the split that finishes every path together (min-max delay) [A]."""
    a = np.asarray(seconds_per_bit, dtype=float)
    if a.ndim != 1 or not np.all(np.isfinite(a)) or np.any(a <= 0):
        raise OffloadInputError(f'seconds_per_bit: expected finite values > 0, got {a}')
    inv = 1.0 / a
    return inv / inv.sum()


def offload_decision(data_bits, uav_rate_bps, d2d_rate_bps, bitrate_mbps,
                     params: OffloadHeuristicParams = OffloadHeuristicParams(),
                     energy_params: energy.Seed1EnergyParams = energy.Seed1EnergyParams()) -> OffloadDecision:
    """The heuristic decision for one busy UD's slot of raw video (module docstring, steps 1-3)."""
    D = _positive('data_bits', data_bits)
    split = delay_balanced_split(path_seconds_per_bit(uav_rate_bps, d2d_rate_bps, bitrate_mbps,
                                                      params.uav_cpu_max_hz, params))
    uav_bits = split[0] * D
    c_k = transcode_cycles_per_bit(bitrate_mbps, params)
    cycles = uav_bits * c_k * (1.0 + float(bitrate_mbps) / params.original_bitrate_mbps)
    time_left = params.slot_s - uav_bits / float(uav_rate_bps)
    f_min = params.f_min_fraction * params.uav_cpu_max_hz
    f_k = params.uav_cpu_max_hz if time_left <= 0 else float(np.clip(cycles / time_left, f_min,
                                                                      params.uav_cpu_max_hz))
    a = path_seconds_per_bit(uav_rate_bps, d2d_rate_bps, bitrate_mbps, f_k, params)
    completion = float(np.max(split * D * a))
    transcode_bits = uav_bits                                           # t_z = eps_1 D C_k / f_k [D-A19]
    processed_bits = uav_bits * float(bitrate_mbps) / params.original_bitrate_mbps   # D' [D-A20]
    e_uav = float(energy.transcoding_energy(f_k, transcode_bits * c_k / f_k, energy_params)
                  + energy.computing_energy(processed_bits * c_k, f_k, energy_params))
    return OffloadDecision(split=split, uav_cpu_hz=f_k, completion_s=completion, uav_energy_j=e_uav,
                           meets_deadline=completion <= params.slot_s * (1 + 1e-9))


def _positive(name, value):
    v = np.asarray(value, dtype=float)
    if v.ndim != 0 or not np.isfinite(v) or v <= 0:
        raise OffloadInputError(f'{name}: must be a finite number > 0, got {value}')
    return float(v)

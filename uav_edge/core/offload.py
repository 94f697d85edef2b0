"""Seed 1 system model: D2D-assisted multi-UAV MEC video offloading (spec seed1_td3_mec_video.md).

One small pure function per quantity, named after it, with the paper's equation number. Arrays are
vectorised over agents: busy UDs i (I,), idle UDs j (J,), UAVs k (K,). Positions are (., 3) in m
(x, y, z up); frequencies in Hz (GHz only inside the revenue terms, [D-A30]); energies in J; data in
bits; C in cycles per bit; rates in bit/s. Channels, rates, CPU and flight energies are the shared
twin functions of uav_edge.core.channel / uav_edge.core.energy; this module only wires them to seed 1.

    decode_action           action (29) in [-1, 1]^(6+I+2J+6K) -> OffloadAction (§3.3); velocities are
                            Cartesian [D-A25] or, with polar_velocity, (speed, azimuth, elevation)
    slot_outcome            one slot of the normative env.step order (§3.6) -> SlotOutcome
    offload_observation     state (28) layout, normalised (§3.2, [D-A39])
    heuristic_action        the spec's hand-made hover policy (§3.6 calibration), the runtime fallback

Seed1Params holds every [P] value of TABLE I / the text and every [D-A1..A49] default.
"""
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import Tuple

import numpy as np

from uav_edge.core.channel import (Seed1A2GParams, Seed1D2DParams, distance_3d, mean_rician_rate,
                                   rician_link_rate)
from uav_edge.core.energy import (RotaryWingParams, Seed1EnergyParams, computing_energy,
                                  flight_energy_per_slot, propulsion_power, remaining_battery_energy,
                                  transcoding_energy, transmission_energy)
from uav_edge.core.units import db_to_linear, dbm_to_watt


class OffloadInputError(ValueError):
    """A seed-1 model input is NaN/inf, out of range or of the wrong shape (names it and the index)."""


def _checked(name, value, low=None, high=None):
    """value as a float array; OffloadInputError naming `name` and the first bad index otherwise."""
    arr = np.asarray(value, dtype=float)
    bad = ~np.isfinite(arr)
    what = 'must be finite'
    if not bad.any() and low is not None:
        bad, what = arr < low, f'must be >= {low:g}'
    if not bad.any() and high is not None:
        bad, what = arr > high, f'must be <= {high:g}'
    if bad.any():
        idx = tuple(int(k) for k in np.argwhere(bad)[0])
        raise OffloadInputError(f'{name}{list(idx) if idx else ""}: {what}, got {arr[idx]:g}')
    return arr


# --- parameters ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Seed1Params:
    """Every seed-1 constant: [P] = paper (TABLE I/II, text), [D-Axx] = spec default (§8)."""

    # sizes and time
    num_busy_uds: int = 10                  # I [D-A3]
    num_idle_uds: int = 10                  # J [D-A3]
    num_uavs: int = 5                       # K [P]
    num_slots: int = 50                     # N, flight period in slots [P TABLE I] [D-A2]
    slot_s: float = 1.0                     # slot length (partial) in s [D-A1]
    # geometry and flight
    area_m: float = 200.0                   # side of the square area [P]
    altitude_min_m: float = 100.0           # H_min [P]
    altitude_max_m: float = 200.0           # H_max [P]
    initial_altitude_m: Tuple[float, float] = (100.0, 200.0)  # H at start ~ U[lo, hi] [D-A37]
    safety_distance_m: float = 3.0          # d_dim (27b) [P]
    max_speed_mps: float = 25.0             # v_max (27o) [P]
    polar_velocity: bool = False            # False: Cartesian v = v_max a [D-A25]; True: speed/azimuth/elevation
                                            #   (|v| <= v_max by construction, F_3 never fires) - NOT a spec option
    layout_seed: int = 0                    # UD / UAV placements are drawn once from it [D-A37]
    # tasks
    task_bits_min: float = 1.5e6            # D_min [P], bits [D-A17]
    task_bits_max: float = 3.5e6            # D_max [P]
    cycles_per_bit_min: float = 700.0       # C range [P], cycles/bit, one scalar per slot [D-A16]
    cycles_per_bit_max: float = 1500.0
    # CPUs
    busy_cpu_max_hz: float = 1.5e9          # f_i^max [P]
    idle_cpu_max_hz: float = 1.5e9          # f_j^max [P]
    uav_cpu_max_hz: float = 30e9            # f_k^max [P]
    cpu_floor_fraction: float = 1e-3        # f >= 1e-3 f^max [D-A49]
    # prices (money per GHz per slot) [D-A30]
    uav_price_min: float = 0.0              # p_r^min
    uav_price_max: float = 20.0             # p_r^max = u_{k,i}
    idle_price_min: float = 0.0             # p_j^min
    idle_price_max: float = 1.0             # p_j^max = u_{j,i}
    # transcoding (§2.7)
    bitrates_mbps: Tuple[float, ...] = (0.4, 0.8, 1.5, 2.0, 2.3)  # O = 5 levels [P]
    original_bitrate_mbps: float = 2.75     # raw video bitrate [P]
    transcode_m1: float = 1.54              # C_k = m1 b^m2, b in Mbps -> cycles/bit [P] [D-A18]
    transcode_m2: float = 0.08
    # computing energy
    kappa: float = 1e-27                    # CPU constant [D-A15]
    transcode_s1: float = 1e-27             # s_1 (16) [P]
    transcode_y1: float = 3.0               # y_1 (16) [P]
    battery_j: float = 20e3                 # E_r (27n) [P]
    # rotary wing (12) with the 4 v_f^4 correction [D-A22]
    blade_power_w: float = 59.03            # P_a [P]
    induced_power_w: float = 79.07          # P_b [P]
    rotor_induced_velocity_mps: float = 3.6  # v_f [P]
    tip_speed_mps: float = 120.0            # U_tip [P]
    rotor_disc_area_m2: float = 0.503       # A_c (printed m/s^2, is m^2) [P]
    fuselage_drag_ratio: float = 0.6        # d_c [D-A23]
    air_density_kg_m3: float = 1.225        # rho [D-A23]
    rotor_solidity: float = 0.05            # g [D-A23]
    # channels (7)-(9)
    ref_gain_db: float = -30.0              # beta_0 [D-A4]
    a2g_path_loss_exponent: float = 2.0     # chi_A, 3-D distance [D-A4]
    a2g_rician_k: float = 10.0              # Gamma_A (linear 10 = 10 dB) [D-A4]
    d2d_path_loss_exponent: float = 3.0     # chi_D [D-A4]
    d2d_rician_k: float = 0.0               # Gamma_D = 0, Rayleigh [D-A4]
    uav_bandwidth_hz: float = 15e6          # B = B_1 per busy-UD -> UAV link [D-A6]
    d2d_bandwidth_hz: float = 10e6          # B_0 per D2D link [P] [D-A6]
    noise_dbm: float = -100.0               # sigma_0^2 = sigma^2 total noise [P] [D-A7]
    tx_power_w: float = 0.5                 # P_{i,k} = P_{i,j} = p_d,max fixed [D-A8]
    # incentives and reward
    beta_floor: float = 0.05                # beta = 1 / max(1 - eps, 0.05) [D-A13] [D-A14]
    activity_gating: bool = True            # sellers count only when serving someone [D-A31]
    penalty_safety: float = 1000.0          # xi_1 (F_1) [D-A28]
    penalty_battery: float = 1000.0         # xi_2 (F_2) [D-A28]
    penalty_speed: float = 1000.0           # xi_3 (F_3) [D-A28]
    penalty_per_count: bool = False         # False: xi once per violated type per slot [D-A28]; True: xi per
                                            #   violating UAV (F_2, F_3) or pair (F_1), the A28 / §3.4 option
    reward_scale: float = 1e-3              # inside the learner only [D-A42]

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type is bool:
                if not isinstance(value, (bool, np.bool_)):
                    raise OffloadInputError(f'Seed1Params.{f.name}: must be true or false, got {value!r}')
                continue
            _checked(f'Seed1Params.{f.name}', value)
        for name in ('num_busy_uds', 'num_idle_uds', 'num_uavs', 'num_slots'):
            if int(getattr(self, name)) != getattr(self, name) or getattr(self, name) < 1:
                raise OffloadInputError(f'Seed1Params.{name}: must be an integer >= 1, got {getattr(self, name)}')
        for lo, hi in (('altitude_min_m', 'altitude_max_m'), ('task_bits_min', 'task_bits_max'),
                       ('cycles_per_bit_min', 'cycles_per_bit_max'), ('uav_price_min', 'uav_price_max'),
                       ('idle_price_min', 'idle_price_max')):
            if not getattr(self, lo) < getattr(self, hi):
                raise OffloadInputError(f'Seed1Params.{lo}: must be < {hi} ({getattr(self, hi)}), '
                                        f'got {getattr(self, lo)}')
        h0 = self.initial_altitude_m
        if not (len(h0) == 2 and self.altitude_min_m <= h0[0] <= h0[1] <= self.altitude_max_m):
            raise OffloadInputError(f'Seed1Params.initial_altitude_m: must be [lo, hi] inside [altitude_min_m, '
                                    f'altitude_max_m] = [{self.altitude_min_m}, {self.altitude_max_m}], got {h0}')

    # --- the shared twin parameter objects, built from the flat fields ---
    @cached_property
    def a2g_link(self) -> Seed1A2GParams:
        """Busy-UD -> UAV Rician link h_{i,k} (9) [D-A4, A6-A8]."""
        return Seed1A2GParams(ref_gain=float(db_to_linear(self.ref_gain_db)),
                              path_loss_exponent=self.a2g_path_loss_exponent, k_factor=self.a2g_rician_k,
                              bandwidth_hz=self.uav_bandwidth_hz, noise_w=float(dbm_to_watt(self.noise_dbm)),
                              tx_power_w=self.tx_power_w)

    @cached_property
    def d2d_link(self) -> Seed1D2DParams:
        """Busy-UD -> idle-UD link h_{i,j} (7), (8) [D-A4, A5-A8]."""
        return Seed1D2DParams(ref_gain=float(db_to_linear(self.ref_gain_db)),
                              path_loss_exponent=self.d2d_path_loss_exponent, k_factor=self.d2d_rician_k,
                              bandwidth_hz=self.d2d_bandwidth_hz, noise_w=float(dbm_to_watt(self.noise_dbm)),
                              tx_power_w=self.tx_power_w)

    @cached_property
    def energy(self) -> Seed1EnergyParams:
        """kappa, s_1, y_1, slot and battery for the shared energy functions."""
        return Seed1EnergyParams(kappa=self.kappa, transcode_coefficient=self.transcode_s1,
                                 transcode_exponent=self.transcode_y1, slot_s=self.slot_s, battery_j=self.battery_j)

    @cached_property
    def rotor(self) -> RotaryWingParams:
        """Eq. (12) constants (TABLE I + [D-A23]) for energy.propulsion_power."""
        return RotaryWingParams(air_density_kg_m3=self.air_density_kg_m3, rotor_disc_area_m2=self.rotor_disc_area_m2,
                                rotor_solidity=self.rotor_solidity, fuselage_drag_ratio=self.fuselage_drag_ratio,
                                blade_profile_power_w=self.blade_power_w, induced_power_w=self.induced_power_w,
                                hover_induced_velocity_mps=self.rotor_induced_velocity_mps,
                                tip_speed_mps=self.tip_speed_mps)

    @property
    def state_dim(self) -> int:
        """3I + 4K + 1 (§3.2; 51 at the defaults)."""
        return 3 * self.num_busy_uds + 4 * self.num_uavs + 1

    @property
    def action_dim(self) -> int:
        """6 + I + 2J + 6K (§3.3; 66 at the defaults)."""
        return 6 + self.num_busy_uds + 2 * self.num_idle_uds + 6 * self.num_uavs


def action_layout(params: Seed1Params) -> dict:
    """Name -> slice of the action vector, in the order of (29) / §3.3."""
    sizes = [('offload_split', 3), ('busy_cpu', params.num_busy_uds), ('idle_cpu', params.num_idle_uds),
             ('uav_cpu', params.num_uavs), ('uav_price', params.num_uavs), ('idle_price', params.num_idle_uds),
             ('weights', 3), ('velocity', 3 * params.num_uavs), ('bitrate', params.num_uavs)]
    layout, start = {}, 0
    for name, size in sizes:
        layout[name] = slice(start, start + size)
        start += size
    return layout


# --- action decoding (§3.3) ----------------------------------------------------------------------

def unit_interval(a):
    """g(a) = (a + 1) / 2, the [-1, 1] -> [0, 1] map of §3.3."""
    return (np.asarray(a, dtype=float) + 1.0) / 2.0


def simplex_weights(a):
    """x = g(a), x / sum(x) along the last axis; 1/3 each if sum(x) = 0 (eps, omega; (27e), (27f), [D-A12])."""
    x = unit_interval(a)
    total = x.sum(axis=-1, keepdims=True)
    return np.where(total > 0, x / np.where(total > 0, total, 1.0), 1.0 / x.shape[-1])


def cpu_frequency(a, max_hz, floor_fraction):
    """f = f^max max(g(a), 1e-3) in Hz ((27k) with the floor [D-A49])."""
    return max_hz * np.maximum(unit_interval(a), floor_fraction)


def unit_price(a, low, high):
    """p = p^min + g(a) (p^max - p^min) per GHz ((27l), (27m), [D-A30])."""
    return low + unit_interval(a) * (high - low)


def cartesian_velocity(a, max_speed_mps):
    """v_k = v_max a per component in m/s, (K, 3); |v| can reach sqrt(3) v_max ([D-A25], §3.3)."""
    return max_speed_mps * np.asarray(a, dtype=float)


def polar_velocity(a, max_speed_mps):
    """v_k in m/s from (speed g(a_0) v_max, azimuth pi a_1, elevation pi/2 a_2), (K, 3); |v| <= v_max.

    Not a spec option: the alternative to the Cartesian layout of [D-A25] tried in issue 5.
    """
    a = np.asarray(a, dtype=float)
    speed, azimuth, elevation = max_speed_mps * unit_interval(a[..., 0]), np.pi * a[..., 1], 0.5 * np.pi * a[..., 2]
    return speed[..., None] * np.stack([np.cos(elevation) * np.cos(azimuth), np.cos(elevation) * np.sin(azimuth),
                                        np.sin(elevation)], axis=-1)


def commanded_velocity(a, params: Seed1Params):
    """v_k in m/s from the (K, 3) velocity block: Cartesian [D-A25] or polar (params.polar_velocity)."""
    decode = polar_velocity if params.polar_velocity else cartesian_velocity
    return decode(a, params.max_speed_mps)


def bitrate_index(a, levels):
    """o = min(floor(g(a) O), O - 1): index of the transcoding bitrate (§3.3, [D-A21])."""
    return np.minimum(np.floor(unit_interval(a) * levels).astype(int), levels - 1)


@dataclass(frozen=True)
class OffloadAction:
    """A decoded action (29): physical values, SI units (f in Hz, prices per GHz, v in m/s, b in Mbps)."""

    offload_split: np.ndarray   # (3,) eps_1 UAV, eps_2 D2D, eps_3 local [D-A11]
    busy_cpu_hz: np.ndarray     # (I,) f_i
    idle_cpu_hz: np.ndarray     # (J,) f_j
    uav_cpu_hz: np.ndarray      # (K,) f_k
    uav_price: np.ndarray       # (K,) p_k
    idle_price: np.ndarray      # (J,) p_j
    weights: np.ndarray         # (3,) omega_1 UAVs, omega_2 idle UDs, omega_3 busy UDs (26) [D-A34]
    velocity_mps: np.ndarray    # (K, 3) commanded v_k [D-A25]
    bitrate_mbps: np.ndarray    # (K,) b_k


def decode_action(action, params: Seed1Params) -> OffloadAction:
    """The action (29) in [-1, 1]^(6+I+2J+6K) -> physical decisions (§3.3). Out-of-range must be clipped first."""
    a = _checked('action', action, low=-1.0, high=1.0)
    if a.shape != (params.action_dim,):
        raise OffloadInputError(f'action: expected shape ({params.action_dim},), got {a.shape}')
    s = action_layout(params)
    p = params
    levels = np.asarray(p.bitrates_mbps, dtype=float)
    return OffloadAction(
        offload_split=simplex_weights(a[s['offload_split']]),
        busy_cpu_hz=cpu_frequency(a[s['busy_cpu']], p.busy_cpu_max_hz, p.cpu_floor_fraction),
        idle_cpu_hz=cpu_frequency(a[s['idle_cpu']], p.idle_cpu_max_hz, p.cpu_floor_fraction),
        uav_cpu_hz=cpu_frequency(a[s['uav_cpu']], p.uav_cpu_max_hz, p.cpu_floor_fraction),
        uav_price=unit_price(a[s['uav_price']], p.uav_price_min, p.uav_price_max),
        idle_price=unit_price(a[s['idle_price']], p.idle_price_min, p.idle_price_max),
        weights=simplex_weights(a[s['weights']]),
        velocity_mps=commanded_velocity(a[s['velocity']].reshape(p.num_uavs, 3), p),
        bitrate_mbps=levels[bitrate_index(a[s['bitrate']], levels.size)])


def clip_action(action, low=-1.0, high=1.0):
    """(clipped action, number of clipped components); NaN/inf is an error, not clipped (issue 5 bad input)."""
    a = _checked('action', action)
    clipped = np.clip(a, low, high)
    return clipped, int(np.count_nonzero(clipped != a))


# --- association (1), (2) and D2D pairing -----------------------------------------------------

def nearest_uav(uav_pos_m, busy_pos_m):
    """Omega: index k of the nearest UAV (3-D) of every busy UD, ties -> lowest k ((1), (2), [D-A9]); (I,)."""
    return np.argmin(distance_3d(uav_pos_m, busy_pos_m), axis=0)


def nearest_idle_ud(busy_pos_m, idle_pos_m):
    """j(i): index of the nearest idle UD of every busy UD, fixed for the run ([D-A10]); (I,)."""
    return np.argmin(distance_3d(busy_pos_m, idle_pos_m), axis=1)


def members(assignment, count):
    """S (count, I) bool: S[k, i] = True iff busy UD i is assigned to k (S_k of §2.2, S_j of [D-A10])."""
    return np.asarray(assignment)[None, :] == np.arange(count)[:, None]


# --- rates (8), (9) -----------------------------------------------------------------------------

def uplink_rate(rng, uav_pos_m, busy_pos_m, association, params: Seed1Params):
    """r_{i,k} = B log2(1 + P |h_{i,k}|^2 / sigma^2) to the associated UAV, Rician draw, bit/s (9); (I,)."""
    d = distance_3d(uav_pos_m, busy_pos_m)[association, np.arange(len(association))]
    return rician_link_rate(rng, d, params.a2g_link)


def d2d_rate(rng, busy_pos_m, idle_pos_m, partner, params: Seed1Params):
    """r_{i,j} = B_0 log2(1 + P |h_{i,j}|^2 / sigma^2) to the D2D partner, Rayleigh draw, bit/s (8, [D-A5]); (I,)."""
    d = np.linalg.norm(np.asarray(busy_pos_m, float) - np.asarray(idle_pos_m, float)[partner], axis=-1)
    return rician_link_rate(rng, d, params.d2d_link)


# --- delays (10), (13), (15), (17), (19), (21) ------------------------------------------------

def local_delay(eps3, task_bits, cycles_per_bit, busy_cpu_hz):
    """t_local,i = eps_3 D_i C / f_i in s (10)."""
    return eps3 * task_bits * cycles_per_bit / _checked('busy_cpu_hz', busy_cpu_hz, low=1e-9)


def upload_delay(eps1, task_bits, uplink_rate_bps):
    """t_off,i = eps_1 D_i / r_{i,k} in s (13)."""
    return eps1 * task_bits / _checked('uplink_rate_bps', uplink_rate_bps, low=1e-9)


def transcoding_cycles_per_bit(bitrate_mbps, m1=1.54, m2=0.08):
    """C_k = m_1 b^m_2 in cycles per bit, b in Mbps (§2.7, [D-A18])."""
    return m1 * np.power(_checked('bitrate_mbps', bitrate_mbps, low=0.0), m2)


def transcoding_time_per_bit(transcode_cycles_per_bit, uav_cpu_hz):
    """t_k = C_k / f_k in s per bit (15)."""
    return transcode_cycles_per_bit / _checked('uav_cpu_hz', uav_cpu_hz, low=1e-9)


def transcoding_time(eps1, task_bits, assoc_members, transcode_cycles_per_bit, uav_cpu_hz):
    """t_{z,k} = sum_{i in S_k} eps_1 D_i C_k / f_k in s ([D-A19]); assoc_members (K, I) -> (K,)."""
    raw_bits = eps1 * (assoc_members * task_bits).sum(axis=-1)
    return raw_bits * transcoding_time_per_bit(transcode_cycles_per_bit, uav_cpu_hz)


def transcoded_bits(eps1, task_bits, bitrate_mbps, original_bitrate_mbps=2.75):
    """D'_{k,i} = eps_1 D_i b_k / 2.75 in bits ([D-A20])."""
    return eps1 * task_bits * bitrate_mbps / original_bitrate_mbps


def uav_processing_delay(transcoded, transcode_cycles_per_bit, uav_cpu_hz):
    """t_{k,i} = D'_{k,i} C_k / f_k in s (17)."""
    return transcoded * transcode_cycles_per_bit / _checked('uav_cpu_hz', uav_cpu_hz, low=1e-9)


def d2d_delay(eps2, task_bits, d2d_rate_bps):
    """t_off,ij = eps_2 D_i / r_{i,j} in s (19)."""
    return eps2 * task_bits / _checked('d2d_rate_bps', d2d_rate_bps, low=1e-9)


def idle_processing_delay(eps2, task_bits, cycles_per_bit, idle_cpu_hz):
    """t_{i,j} = eps_2 D_i C / f_j in s (21), same C as local [D-A45]."""
    return eps2 * task_bits * cycles_per_bit / _checked('idle_cpu_hz', idle_cpu_hz, low=1e-9)


# --- energies (11), (14), (16), (18), (20), (22), (12) ----------------------------------------

def local_energy(eps3, task_bits, cycles_per_bit, busy_cpu_hz, params: Seed1Params):
    """E_local,i = kappa f_i^2 eps_3 D_i C in J (11)."""
    return computing_energy(eps3 * task_bits * cycles_per_bit, busy_cpu_hz, params.energy)


def upload_energy(eps1, task_bits, uplink_rate_bps, tx_power_w):
    """E_off,i = P_{i,k} eps_1 D_i / r_{i,k} in J ((13), (14))."""
    return transmission_energy(tx_power_w, eps1 * task_bits, uplink_rate_bps)


def d2d_energy(eps2, task_bits, d2d_rate_bps, tx_power_w):
    """E_off,ij = P_{i,j} eps_2 D_i / r_{i,j} in J ((19), (20))."""
    return transmission_energy(tx_power_w, eps2 * task_bits, d2d_rate_bps)


def uav_transcoding_energy(transcode_time_s, uav_cpu_hz, params: Seed1Params):
    """E_k = s_1 f_k^y1 t_{z,k} in J (16, [D-A19])."""
    return transcoding_energy(uav_cpu_hz, transcode_time_s, params.energy)


def uav_processing_energy(eps1, task_bits, assoc_members, bitrate_mbps, transcode_cycles_per_bit, uav_cpu_hz,
                          params: Seed1Params):
    """sum_{i in S_k} E_{k,i} = kappa f_k^2 D'_{k,i} C_k in J ((18), time-shared [D-A33]); (K,)."""
    transcoded = transcoded_bits(eps1, (assoc_members * task_bits).sum(axis=-1), bitrate_mbps,
                                 params.original_bitrate_mbps)
    return computing_energy(transcoded * transcode_cycles_per_bit, uav_cpu_hz, params.energy)


def idle_energy(eps2, task_bits, pair_members, cycles_per_bit, idle_cpu_hz, params: Seed1Params):
    """E_j = kappa f_j^2 eps_2 C sum_{i in S_j} D_i in J ((22), [D-A10]); pair_members (J, I) -> (J,)."""
    return computing_energy(eps2 * cycles_per_bit * (pair_members * task_bits).sum(axis=-1), idle_cpu_hz,
                            params.energy)


def flight_power(speed_mps, params: Seed1Params = Seed1Params()):
    """p^fly(v) in W, Eq. (12) with 4 v_f^4 under the root ([D-A22]); speed is the 3-D |v|."""
    return propulsion_power(speed_mps, params.rotor)


def uav_flight_energy(velocity_mps, params: Seed1Params):
    """E^fly_k = p^fly(|v_k|) slot in J ((12), [D-A22]); (K, 3) -> (K,)."""
    return flight_energy_per_slot(velocity_mps, params.energy, params.rotor)


# --- incentives and utilities (23)-(26) ---------------------------------------------------------

def inconvenience_factor(share, floor=0.05):
    """beta = 1 / max(1 - eps, floor) (§2.11, [D-A13] for beta_k, [D-A14] for beta_j, beta_i)."""
    return 1.0 / np.maximum(1.0 - np.asarray(share, dtype=float), floor)


def incentive_factors(params: Seed1Params):
    """(u_i, u_ki, u_ji) = (f_i^max / mean(f_i^max, f_k^max, f_j^max), f_k^max / f_i^max, f_j^max / f_i^max) §2.11."""
    fi, fj, fk = params.busy_cpu_max_hz, params.idle_cpu_max_hz, params.uav_cpu_max_hz
    return fi / ((fi + fk + fj) / 3.0), fk / fi, fj / fi


def hz_to_ghz(frequency_hz):
    """f in GHz, the unit of f in the revenue terms f p and u f ([D-A30])."""
    return np.asarray(frequency_hz, dtype=float) * 1e-9


def uav_utility(active, uav_cpu_hz, uav_price, beta_k, transcode_j, flight_j, processing_j):
    """U_K = sum_k [act_k f_k p_k - beta_k (E_k + E^fly_k + E_{k,i})] ((23), gated [D-A31])."""
    revenue = np.where(active, hz_to_ghz(uav_cpu_hz) * _checked('uav_price', uav_price), 0.0)
    spent = sum(_checked(n, e, low=0.0) for n, e in (('transcode_j', transcode_j), ('flight_j', flight_j),
                                                      ('processing_j', processing_j)))
    return float(np.sum(revenue - beta_k * spent))


def idle_utility(active, idle_cpu_hz, idle_price, beta_j, idle_j):
    """U_J = sum_j [act_j (f_j p_j - beta_j E_j)] ((24), gated [D-A31]; an inactive idle UD spends nothing)."""
    gain = hz_to_ghz(idle_cpu_hz) * _checked('idle_price', idle_price) - beta_j * _checked('idle_j', idle_j, low=0.0)
    return float(np.sum(np.where(active, gain, 0.0)))


def busy_utility(busy_cpu_hz, beta_i, local_j, upload_j, d2d_j, uav_active, uav_cpu_hz, uav_price,
                 idle_active, idle_cpu_hz, idle_price, params: Seed1Params):
    """U_I = sum_i [u_i f_i - beta_i (E_loc + E_off + E_off,ij)] + sum_j act (u_ji - p_j) f_j
    + sum_k act (u_ki - p_k) f_k.

    Eq. (25) with the sign correction [D-A32] and activity gating [D-A31].
    """
    u_i, u_ki, u_ji = incentive_factors(params)
    spent = sum(_checked(n, e, low=0.0) for n, e in (('local_j', local_j), ('upload_j', upload_j), ('d2d_j', d2d_j)))
    own = np.sum(u_i * hz_to_ghz(busy_cpu_hz) - beta_i * spent)
    d2d = np.sum(np.where(idle_active, (u_ji - idle_price) * hz_to_ghz(idle_cpu_hz), 0.0))
    uav = np.sum(np.where(uav_active, (u_ki - uav_price) * hz_to_ghz(uav_cpu_hz), 0.0))
    return float(own + d2d + uav)


def system_revenue(weights, uav_u, idle_u, busy_u):
    """Q = omega_1 U_K + omega_2 U_J + omega_3 U_I (26)."""
    w = np.asarray(weights, dtype=float)
    return float(w[0] * uav_u + w[1] * idle_u + w[2] * busy_u)


# --- mobility (3)-(6), constraints and penalties (27b), (27n), (27o), (30) --------------------------

def limit_speed(velocity_mps, max_speed_mps):
    """(executed v, violated): v rescaled to |v| = v_max where |v| > v_max ((27o), [D-A25]); (K, 3) -> (K, 3), (K,)."""
    v = _checked('velocity_mps', velocity_mps)
    speed = np.linalg.norm(v, axis=-1)
    violated = speed > max_speed_mps
    scale = np.where(violated, max_speed_mps / np.where(violated, speed, 1.0), 1.0)
    return v * scale[..., None], violated


def next_uav_position(position_m, prev_velocity_mps, velocity_mps, params: Seed1Params):
    """u[n+1] = u[n] + (v[n-1] + v[n]) slot / 2, clipped to the area and [H_min, H_max] ((3)-(6), [D-A24], [D-A26])."""
    moved = (_checked('position_m', position_m)
             + 0.5 * (_checked('prev_velocity_mps', prev_velocity_mps) + velocity_mps) * params.slot_s)
    low = np.array([0.0, 0.0, params.altitude_min_m])
    high = np.array([params.area_m, params.area_m, params.altitude_max_m])
    return np.clip(moved, low, high)


def close_pairs(uav_pos_m, safety_distance_m):
    """Number of UAV pairs closer than d_dim after the move ((5), (27b)); (K, 3) -> int."""
    pos = _checked('uav_pos_m', uav_pos_m)
    d = np.linalg.norm(pos[:, None, :] - pos[None, :, :], axis=-1)
    return int(np.count_nonzero(d[np.triu_indices(len(pos), k=1)] < safety_distance_m))


def separation_violated(uav_pos_m, safety_distance_m):
    """True if some UAV pair is closer than d_dim ((5), (27b)); (K, 3) -> bool."""
    return close_pairs(uav_pos_m, safety_distance_m) > 0


def penalty(safety_violations, battery_violations, speed_violations, params: Seed1Params):
    """(F_1, F_2, F_3) of (30): xi per violated constraint type per slot [D-A28], or xi per violating
    pair / UAV if params.penalty_per_count (the A28 option). Arguments are counts (a bool counts as 1).
    """
    counts = [int(_checked(name, n, low=0.0)) for name, n in (('safety_violations', safety_violations),
                                                               ('battery_violations', battery_violations),
                                                               ('speed_violations', speed_violations))]
    if not params.penalty_per_count:
        counts = [min(n, 1) for n in counts]
    return (params.penalty_safety * counts[0], params.penalty_battery * counts[1], params.penalty_speed * counts[2])


# --- one slot (§3.6) ------------------------------------------------------------------------------

@dataclass(frozen=True)
class SlotOutcome:
    """Everything one slot produces (§3.6 'info'), plus the next UAV state."""

    reward: float                   # r = Q - F (30), unscaled
    revenue: float                  # Q (26)
    uav_utility: float              # U_K
    idle_utility: float             # U_J
    busy_utility: float             # U_I
    penalties: tuple                # (F_1, F_2, F_3)
    uav_pos_m: np.ndarray           # (K, 3) after the move
    velocity_mps: np.ndarray        # (K, 3) executed (speed-limited)
    remaining_j: np.ndarray         # (K,) E_kr[n+1], may be < 0
    association: np.ndarray         # (I,) nearest UAV (before the move)
    uav_active: np.ndarray          # (K,) bool
    idle_active: np.ndarray         # (J,) bool
    energies: dict = field(default_factory=dict)  # J, per entity
    delays: dict = field(default_factory=dict)    # s, per busy UD (logged only [D-A36])
    rates: dict = field(default_factory=dict)     # bit/s, per busy UD


def slot_outcome(rng, action: OffloadAction, uav_pos_m, prev_velocity_mps, remaining_j, busy_pos_m, idle_pos_m,
                 partner, task_bits, cycles_per_bit, params: Seed1Params) -> SlotOutcome:
    """One slot in the normative order of spec §3.6 (channel before the move, then utilities, battery, move)."""
    p = params
    eps1, eps2, eps3 = action.offload_split
    task_bits = _checked('task_bits', task_bits, low=0.0)
    cycles_per_bit = float(_checked('cycles_per_bit', cycles_per_bit, low=0.0))
    # channel, association and pairing (before the move)
    assoc = nearest_uav(uav_pos_m, busy_pos_m)
    r_ik = uplink_rate(rng, uav_pos_m, busy_pos_m, assoc, p)
    r_ij = d2d_rate(rng, busy_pos_m, idle_pos_m, partner, p)
    s_k = members(assoc, p.num_uavs)            # (K, I)
    s_j = members(partner, p.num_idle_uds)      # (J, I)
    # busy UDs
    e_loc = local_energy(eps3, task_bits, cycles_per_bit, action.busy_cpu_hz, p)
    e_off = upload_energy(eps1, task_bits, r_ik, p.tx_power_w)
    e_offij = d2d_energy(eps2, task_bits, r_ij, p.tx_power_w)
    # UAVs (time-shared over S_k)
    c_k = transcoding_cycles_per_bit(action.bitrate_mbps, p.transcode_m1, p.transcode_m2)
    t_z = transcoding_time(eps1, task_bits, s_k, c_k, action.uav_cpu_hz)
    e_tr = uav_transcoding_energy(t_z, action.uav_cpu_hz, p)
    e_proc = uav_processing_energy(eps1, task_bits, s_k, action.bitrate_mbps, c_k, action.uav_cpu_hz, p)
    # idle UDs
    e_j = idle_energy(eps2, task_bits, s_j, cycles_per_bit, action.idle_cpu_hz, p)
    # speed check and flight energy
    velocity, too_fast = limit_speed(action.velocity_mps, p.max_speed_mps)
    e_fly = uav_flight_energy(velocity, p)
    # utilities (f in GHz in revenue terms), gating [D-A31]
    gate = p.activity_gating
    uav_active = (s_k.any(axis=1) & (eps1 > 0)) if gate else np.ones(p.num_uavs, bool)
    idle_active = (s_j.any(axis=1) & (eps2 > 0)) if gate else np.ones(p.num_idle_uds, bool)
    beta_k, beta_j, beta_i = (inconvenience_factor(e, p.beta_floor) for e in (eps1, eps2, eps3))
    u_k = uav_utility(uav_active, action.uav_cpu_hz, action.uav_price, beta_k, e_tr, e_fly, e_proc)
    u_j = idle_utility(idle_active, action.idle_cpu_hz, action.idle_price, beta_j, e_j)
    u_i = busy_utility(action.busy_cpu_hz, beta_i, e_loc, e_off, e_offij, uav_active, action.uav_cpu_hz,
                       action.uav_price, idle_active, action.idle_cpu_hz, action.idle_price, p)
    q = system_revenue(action.weights, u_k, u_j, u_i)
    # battery
    remaining = remaining_battery_energy(remaining_j, e_tr, e_proc, e_fly)
    # move, clip, safety check
    new_pos = next_uav_position(uav_pos_m, prev_velocity_mps, velocity, p)
    f = penalty(close_pairs(new_pos, p.safety_distance_m), np.count_nonzero(remaining < 0),
                np.count_nonzero(too_fast), p)
    delays = {'local': local_delay(eps3, task_bits, cycles_per_bit, action.busy_cpu_hz),
              'upload': upload_delay(eps1, task_bits, r_ik),
              'transcode': eps1 * task_bits * transcoding_time_per_bit(c_k[assoc], action.uav_cpu_hz[assoc]),
              'uav_processing': uav_processing_delay(
                  transcoded_bits(eps1, task_bits, action.bitrate_mbps[assoc], p.original_bitrate_mbps),
                  c_k[assoc], action.uav_cpu_hz[assoc]),
              'd2d': d2d_delay(eps2, task_bits, r_ij),
              'idle_processing': idle_processing_delay(eps2, task_bits, cycles_per_bit, action.idle_cpu_hz[partner])}
    energies = {'local': e_loc, 'upload': e_off, 'd2d': e_offij, 'uav_transcoding': e_tr,
                'uav_processing': e_proc, 'uav_flight': e_fly, 'idle': e_j}
    return SlotOutcome(reward=q - sum(f), revenue=q, uav_utility=u_k, idle_utility=u_j, busy_utility=u_i,
                       penalties=f, uav_pos_m=new_pos, velocity_mps=velocity, remaining_j=remaining,
                       association=assoc, uav_active=uav_active, idle_active=idle_active,
                       energies=energies, delays=delays, rates={'uplink': r_ik, 'd2d': r_ij})


# --- layout, state, heuristic -----------------------------------------------------------------------

@dataclass(frozen=True)
class Seed1Layout:
    """Fixed placements of one run ([D-A37]): busy (I, 3), idle (J, 3), UAV start (K, 3) in m; partner (I,)."""

    busy_pos_m: np.ndarray
    idle_pos_m: np.ndarray
    uav_start_m: np.ndarray
    partner: np.ndarray


def sample_layout(params: Seed1Params, rng=None, max_draws=10000) -> Seed1Layout:
    """UDs uniform in the area at z = 0; UAVs uniform in area x [H0 range], redrawn until pairs >= d_dim (§3.5)."""
    rng = np.random.default_rng(params.layout_seed) if rng is None else rng
    p = params

    def ground(n):
        return np.column_stack([rng.uniform(0.0, p.area_m, (n, 2)), np.zeros(n)])

    busy, idle = ground(p.num_busy_uds), ground(p.num_idle_uds)
    for _ in range(max_draws):
        uav = np.column_stack([rng.uniform(0.0, p.area_m, (p.num_uavs, 2)),
                               rng.uniform(*p.initial_altitude_m, p.num_uavs)])
        if not separation_violated(uav, p.safety_distance_m):
            return Seed1Layout(busy, idle, uav, nearest_idle_ud(busy, idle))
    raise OffloadInputError(f'Seed1Params.safety_distance_m: no UAV start layout found in {max_draws} draws')


def sample_tasks(rng, params: Seed1Params):
    """(D_i (I,) bits ~ U[D_min, D_max], C cycles/bit ~ U[700, 1500]) for one slot ([D-A16], [D-A17])."""
    d = rng.uniform(params.task_bits_min, params.task_bits_max, params.num_busy_uds)
    return d, float(rng.uniform(params.cycles_per_bit_min, params.cycles_per_bit_max))


def offload_observation(busy_pos_m, task_bits, cycles_per_bit, uav_pos_m, remaining_j, params: Seed1Params):
    """State (28) as float32: [L_i/200 (2I), D_i/D_max (I), C/1500, u_k/200 (3K), max(E_kr, 0)/E_r (K)] ([D-A39])."""
    p = params
    parts = [_checked('busy_pos_m', busy_pos_m)[:, :2].ravel() / p.area_m,
             _checked('task_bits', task_bits) / p.task_bits_max,
             [_checked('cycles_per_bit', cycles_per_bit) / p.cycles_per_bit_max],
             (_checked('uav_pos_m', uav_pos_m) / np.array([p.area_m, p.area_m, p.altitude_max_m])).ravel(),
             np.maximum(_checked('remaining_j', remaining_j), 0.0) / p.battery_j]
    obs = np.concatenate([np.ravel(x) for x in parts]).astype(np.float32)
    if obs.shape != (p.state_dim,):
        raise OffloadInputError(f'observation: expected {p.state_dim} values (3I+4K+1), got {obs.size}')
    return obs


def heuristic_action(params: Seed1Params, busy_cpu_fraction=0.1):
    """The spec's hand-made hover policy (§3.6 calibration, not from the paper), in [-1, 1]^(6+I+2J+6K).

    Equal split, all weight on U_I (omega~ = (-1, -1, 1)), f_k = f_k^max, mid prices and f_j,
    f_i = 0.1 f_i^max, zero velocity (speed output -1 under polar_velocity), lowest bitrate.
    Needs no state: the runtime fallback.
    """
    s = action_layout(params)
    a = np.zeros(params.action_dim)
    if params.polar_velocity:
        v = s['velocity']
        a[v.start:v.stop:3] = -1.0      # speed g(-1) = 0 m/s
    a[s['weights']] = (-1.0, -1.0, 1.0)
    a[s['uav_cpu']] = 1.0
    a[s['busy_cpu']] = 2.0 * busy_cpu_fraction - 1.0
    a[s['bitrate']] = -1.0
    return a.astype(np.float32)


def uav_slot_row(decision: OffloadAction, k, uav_pos_m, busy_pos_m, idle_pos_m, partner, task_bits,
                 cycles_per_bit, params: Seed1Params):
    """UAV k's slot as (eps_uav, eps_d2d, eps_local, f_k Hz, b_k bit/s, CPU power W, completion s): the runtime
    offload message (nodes.contract.OFFLOAD_FIELDS) of a decoded action.

    Energies: (16) + (18) over S_k (nearest busy UDs, [D-A9]); completion: the slowest of (10), (13)+(15)+(17)
    and (19)+(21) over S_k, with the rates (8), (9) at the mean channel gain; 0 s when S_k is empty.
    """
    p = params
    if not (int(k) == k and 0 <= k < p.num_uavs):
        raise ValueError(f'k: expected a UAV index in [0, {p.num_uavs}), got {k}')
    eps1, eps2, eps3 = decision.offload_split
    f_k, b_k = float(decision.uav_cpu_hz[k]), float(decision.bitrate_mbps[k])
    served = members(nearest_uav(uav_pos_m, busy_pos_m), p.num_uavs)[k]       # S_k, (I,)
    c_k = transcoding_cycles_per_bit(b_k, p.transcode_m1, p.transcode_m2)
    t_z = transcoding_time(eps1, task_bits, served, c_k, f_k)
    energy_j = (uav_transcoding_energy(t_z, f_k, p)
                + uav_processing_energy(eps1, task_bits, served, b_k, c_k, f_k, p))
    completion_s = 0.0
    if served.any():
        d, busy, idle = task_bits[served], busy_pos_m[served], idle_pos_m[partner[served]]
        uplink_bps = mean_rician_rate(distance_3d(uav_pos_m[k:k + 1], busy)[0], p.a2g_link)
        d2d_bps = mean_rician_rate(np.linalg.norm(busy - idle, axis=-1), p.d2d_link)
        via_uav = (upload_delay(eps1, d, uplink_bps) + eps1 * d * transcoding_time_per_bit(c_k, f_k)
                   + uav_processing_delay(transcoded_bits(eps1, d, b_k, p.original_bitrate_mbps),
                                                  c_k, f_k))
        via_d2d = d2d_delay(eps2, d, d2d_bps) + idle_processing_delay(
            eps2, d, cycles_per_bit, decision.idle_cpu_hz[partner[served]])
        local = local_delay(eps3, d, cycles_per_bit, decision.busy_cpu_hz[served])
        completion_s = float(np.max(np.maximum(np.maximum(via_uav, via_d2d), local)))
    return np.array([eps1, eps2, eps3, f_k, b_k * 1e6, float(energy_j) / p.slot_s, completion_s])

"""Channel models of the twin: geometry, path loss, fading, SNR/SINR and rates.

One function per fact, shared by the seeds that use it:

    received_power, snr, sinr, spectral_efficiency, transmission_rate   every seed
    large_scale_gain  beta0 * d^-alpha          seed 1 Eq. 7, seed 3 Eq. 5 (both branches), seed 4 Eq. 2
    rician_fading     sqrt(K/(K+1)) LoS + ...   seed 1 Eq. 7, seed 4 Eq. 3
    nakagami_power_gain                         seed 3 Eq. 9 (Rayleigh = Nakagami m = 1)

Seed-specific constants live in frozen dataclasses: A2GChannelParams (seed 3, Table I) and the
RicianLinkParams family (Seed1A2GParams, Seed1D2DParams, Seed4UplinkParams). Positions are in m
as (..., 3) arrays (x, y, z with z up); UAV positions (N, 3) against ground nodes (M, 3) give
(N, M) results. Powers are in W, gains are linear power ratios, bandwidths in Hz, rates in bit/s.
Random draws come from a numpy Generator passed in, so the twin is deterministic given a seed.

Spec references: ../shared/spec/seed{0,1,3,4}_*.md (equation numbers are the papers').
"""
import math
from dataclasses import dataclass

import numpy as np

from uav_edge.core.units import db_to_linear, dbm_to_watt


class ChannelInputError(ValueError):
    """A channel input is NaN/inf or out of range (the message names the parameter and index)."""


# --- input checks -------------------------------------------------------------------------

def _checked(name, value, low=None, high=None, low_open=False):
    """Return value as a float array; raise ChannelInputError naming `name` (and index) if bad."""
    arr = np.asarray(value, dtype=float)
    if arr.size:                          # fast path (runs per pose on the vehicle): two reductions, NaN propagates
        lo, hi = (float(arr), float(arr)) if arr.ndim == 0 else (float(arr.min()), float(arr.max()))
        if (math.isfinite(lo) and math.isfinite(hi) and (low is None or (lo > low if low_open else lo >= low))
                and (high is None or hi <= high)):
            return arr
    ok = np.isfinite(arr)
    what = 'must be finite'
    if low is not None and ok.all():
        ok = arr > low if low_open else arr >= low
        what = f'must be {">" if low_open else ">="} {low:g}'
    if high is not None and ok.all():
        ok = arr <= high
        what = f'must be <= {high:g}'
    if not np.all(ok):
        idx = tuple(int(k) for k in np.argwhere(~np.asarray(ok))[0])
        where = f'{name}{list(idx)}' if idx else name
        raise ChannelInputError(f'{where}: {what}, got {arr[idx]:g}')
    return arr


def _checked_positions(name, positions_m):
    arr = _checked(name, positions_m)
    if arr.ndim == 0 or arr.shape[-1] != 3:
        raise ChannelInputError(f'{name}: expected positions of shape (..., 3) in m, got {arr.shape}')
    return arr


def _checked_rng(rng):
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f'rng: expected a numpy.random.Generator, got {type(rng).__name__}')
    return rng


def _check_params(params, positive=(), non_negative=(), finite=()):
    """Validate dataclass fields by name; errors read e.g. 'A2GChannelParams.c1: must be > 0, got -1'."""
    cls = type(params).__name__
    for name in positive:
        _checked(f'{cls}.{name}', getattr(params, name), low=0, low_open=True)
    for name in non_negative:
        _checked(f'{cls}.{name}', getattr(params, name), low=0)
    for name in finite:
        _checked(f'{cls}.{name}', getattr(params, name))


# --- geometry (vectorised UAV x ground-node pairs) ----------------------------------------

def _pair_offsets(uav_pos_m, ground_pos_m):
    """Offsets ground - uav for every pair: (N, 3) x (M, 3) -> (N, M, 3); (3,) x (M, 3) -> (M, 3)."""
    return _offsets(_checked_positions('uav_pos_m', uav_pos_m), _checked_positions('ground_pos_m', ground_pos_m))


def _offsets(uav, ground):
    return ground - (uav[..., None, :] if uav.ndim >= 2 else uav)


def distance_3d(uav_pos_m, ground_pos_m):
    """3-D distance in m between every UAV and ground node (seed 3 D_{k,u}, seed 4 Eq. 4)."""
    return np.linalg.norm(_pair_offsets(uav_pos_m, ground_pos_m), axis=-1)


def horizontal_distance(uav_pos_m, ground_pos_m):
    """Horizontal (x, y) distance r_h in m between every UAV and ground node (seed 3 §2.1)."""
    return np.linalg.norm(_pair_offsets(uav_pos_m, ground_pos_m)[..., :2], axis=-1)


def altitude_above(uav_pos_m, ground_pos_m):
    """Height in m of every UAV above every ground node (seed 3 altitude d)."""
    return -_pair_offsets(uav_pos_m, ground_pos_m)[..., 2]


def elevation_angle_deg(uav_pos_m, ground_pos_m):
    """Elevation angle theta = (180/pi) arctan(d / r_h) in degrees, 90 straight above (seed 3 §2.1)."""
    offsets = _pair_offsets(uav_pos_m, ground_pos_m)
    return np.degrees(np.arctan2(-offsets[..., 2], np.linalg.norm(offsets[..., :2], axis=-1)))


# --- link budget shared by all seeds ------------------------------------------------------

def received_power(tx_power_w, gain):
    """Received power p |h|^2 in W from transmit power in W and linear power gain (seed 3 Eq. 10 numerator)."""
    tx = _checked('tx_power_w', tx_power_w, low=0)
    g = _checked('gain', gain, low=0)
    return tx * g


def snr(tx_power_w, gain, noise_w):
    """SNR tau = m g / sigma^2 with linear gain and noise power in W (seed 0 Eq. 1; seed 1 Eqs. 8-9)."""
    noise = _checked('noise_w', noise_w, low=0, low_open=True)
    return _snr(_checked('tx_power_w', tx_power_w, low=0), _checked('gain', gain, low=0), noise)


def _snr(tx_power_w, gain, noise_w):
    return tx_power_w * gain / noise_w


def sinr(signal_w, interference_w, noise_w):
    """SINR = S / (I + N), all powers in W (seed 3 Eqs. 10-11; seed 4 Eq. 6 with Gamma = |h|^2/sigma^2)."""
    s = _checked('signal_w', signal_w, low=0)
    i = _checked('interference_w', interference_w, low=0)
    n = _checked('noise_w', noise_w, low=0, low_open=True)
    return s / (i + n)


def spectral_efficiency(snr):
    """Spectral efficiency q = log2(1 + snr) in bit/s/Hz from a linear SNR or SINR (seed 0 Eq. 2)."""
    return _spectral_efficiency(_checked('snr', snr, low=0))


def _spectral_efficiency(snr):
    return np.log2(1.0 + snr)


def transmission_rate(bandwidth, spectral_efficiency):
    """Rate r = b q in bit/s from bandwidth in Hz and spectral efficiency in bit/s/Hz (seed 0 Eq. 3)."""
    b = _checked('bandwidth', bandwidth, low=0)
    q = _checked('spectral_efficiency', spectral_efficiency, low=0)
    return b * q


def shannon_rate(bandwidth_hz, sinr_linear):
    """Rate B log2(1 + SINR) in bit/s (seed 1 Eqs. 8-9, seed 4 Eq. 7)."""
    return transmission_rate(bandwidth_hz, spectral_efficiency(sinr_linear))


def large_scale_gain(distance_m, ref_gain, exponent):
    """Large-scale power gain beta0 d^-alpha, beta0 = gain at 1 m (seed 1 Eq. 7, seed 3 Eq. 5, seed 4 Eq. 2)."""
    d = _checked('distance_m', distance_m, low=0, low_open=True)
    beta0 = _checked('ref_gain', ref_gain, low=0, low_open=True)
    alpha = _checked('exponent', exponent, low=0)
    return _large_scale_gain(d, beta0, alpha)


def _large_scale_gain(d, beta0, alpha):
    return beta0 * np.power(d, -alpha)


# --- seed 3: air-to-ground LoS/NLoS with Nakagami / Rayleigh fading -------------------------

@dataclass(frozen=True)
class A2GChannelParams:
    """Seed 3 A2G channel constants (spec seed3 §2.6-2.7, Table I); tags: [P] paper, [D] spec default."""

    c1: float = 10.0                      # LoS sigmoid constant [P]
    c2: float = 0.6                       # LoS sigmoid slope per degree [P] (theta in degrees [D])
    ref_gain_los: float = 10 ** -3.692    # A^L, path gain at 1 m, LoS [P]
    ref_gain_nlos: float = 10 ** -3.842   # A^NL, NLoS [P]
    los_exponent_base: float = 2.225      # alpha^L = 2.225 - 0.05 log10(d) [P]
    los_exponent_slope: float = 0.05
    nlos_exponent_base: float = 4.32      # alpha^NL = 4.32 - 0.76 log10(d) [P]
    nlos_exponent_slope: float = 0.76
    nakagami_m_los: float = 2.0           # Nakagami shape m, LoS [P]
    nakagami_m_nlos: float = 1.0          # m = 1 is Rayleigh, NLoS [P]
    omega: float = 1.0                    # spread Omega = E|g|^2 [P]
    noise_dbm: float = -110.0             # N0 [P]
    bandwidth_hz: float = 1.0e6           # B [P]
    sinr_threshold_db: float = 0.0        # eta [P]; 0 dB default [D]

    def __post_init__(self):
        _check_params(self, positive=('c1', 'c2', 'ref_gain_los', 'ref_gain_nlos', 'omega', 'bandwidth_hz'),
                      finite=('los_exponent_base', 'los_exponent_slope', 'nlos_exponent_base',
                              'nlos_exponent_slope', 'noise_dbm', 'sinr_threshold_db'))
        for name in ('nakagami_m_los', 'nakagami_m_nlos'):
            _checked(f'A2GChannelParams.{name}', getattr(self, name), low=0.5)

    @property
    def noise_w(self) -> float:
        """N0 in W."""
        return float(dbm_to_watt(self.noise_dbm))

    @property
    def sinr_threshold(self) -> float:
        """eta as a linear ratio."""
        return float(db_to_linear(self.sinr_threshold_db))


A2G_DEFAULTS = A2GChannelParams()


def los_probability(elevation_deg, params=A2G_DEFAULTS):
    """LoS probability 1 / (1 + c1 exp(-c2 (theta - c1))), theta in degrees (seed 3 Eq. 2)."""
    return _los_probability(_checked('elevation_deg', elevation_deg, low=-90.0, high=90.0), params)


def _los_probability(theta, params):
    return 1.0 / (1.0 + params.c1 * np.exp(-params.c2 * (theta - params.c1)))


def a2g_path_loss_exponents(altitude_m, params=A2G_DEFAULTS):
    """(alpha^L, alpha^NL) = (2.225 - 0.05 log10 d, 4.32 - 0.76 log10 d) at UAV altitude d in m (seed 3 Table I)."""
    return _a2g_path_loss_exponents(_checked('altitude_m', altitude_m, low=0, low_open=True), params)


def _a2g_path_loss_exponents(altitude_m, params):
    log_d = np.log10(altitude_m)
    return (params.los_exponent_base - params.los_exponent_slope * log_d,
            params.nlos_exponent_base - params.nlos_exponent_slope * log_d)


def a2g_path_gain(distance_m, altitude_m, is_los, params=A2G_DEFAULTS):
    """Path gain l = A^L D^-alpha^L if LoS else A^NL D^-alpha^NL, linear (seed 3 Eq. 5)."""
    alpha_los, alpha_nlos = a2g_path_loss_exponents(altitude_m, params)
    los = np.asarray(is_los, dtype=bool)
    return np.where(los,
                    large_scale_gain(distance_m, params.ref_gain_los, alpha_los),
                    large_scale_gain(distance_m, params.ref_gain_nlos, alpha_nlos))


def draw_los(rng, los_probability):
    """One LoS/NLoS draw per link: True with probability Pr^LoS (seed 3 §2.6 sampling step 1)."""
    p = _checked('los_probability', los_probability, low=0.0, high=1.0)
    return _checked_rng(rng).random(p.shape) < p


def nakagami_power_gain(rng, m, omega=1.0, shape=()):
    """Fading power |g|^2 ~ Gamma(m, Omega/m) of a Nakagami-m amplitude, m = 1 is Rayleigh (seed 3 Eq. 9)."""
    m = _checked('m', m, low=0.5)
    omega = _checked('omega', omega, low=0, low_open=True)
    shape = np.broadcast_shapes(np.shape(m), np.shape(omega), shape)
    return _checked_rng(rng).gamma(m, omega / m, size=shape)


def a2g_power_gain(rng, uav_pos_m, ground_pos_m, params=A2G_DEFAULTS):
    """Random channel power gain |h|^2 = l |g|^2 for every UAV x ground node pair (seed 3 Eqs. 1, 2, 5, 9)."""
    distance = distance_3d(uav_pos_m, ground_pos_m)
    altitude = altitude_above(uav_pos_m, ground_pos_m)
    is_los = draw_los(rng, los_probability(elevation_angle_deg(uav_pos_m, ground_pos_m), params))
    m = np.where(is_los, params.nakagami_m_los, params.nakagami_m_nlos)
    fading = nakagami_power_gain(rng, m, params.omega, distance.shape)
    return a2g_path_gain(distance, altitude, is_los, params) * fading


def interference_power(tx_power_w, gain):
    """Co-channel interference I_k = sum_{j != k} p_j |h_{j,k}|^2 in W (seed 3 Eqs. 12-13).

    tx_power_w (..., K): radiated power of transmitter j (0 when silent, e.g. idle GU or flying in tau1).
    gain (..., K, K): gain[j, k] from transmitter j to the receiver of link k.
    """
    p = _checked('tx_power_w', tx_power_w, low=0)
    g = _checked('gain', gain, low=0)
    k = g.shape[-1]
    if g.ndim < 2 or g.shape[-2] != k or p.shape[-1:] != (k,):
        raise ChannelInputError(f'gain: expected shape (..., K, K) matching tx_power_w (..., K), '
                                f'got {g.shape} and {p.shape}')
    received = p[..., :, None] * g
    return np.where(np.eye(k, dtype=bool), 0.0, received).sum(axis=-2)


def link_sinr(tx_power_w, gain, noise_w):
    """SINR of every link k: p_k |h_{k,k}|^2 / (sum_{j != k} p_j |h_{j,k}|^2 + N0) (seed 3 Eqs. 10-13)."""
    signal = received_power(tx_power_w, np.diagonal(gain, axis1=-2, axis2=-1))
    return sinr(signal, interference_power(tx_power_w, gain), noise_w)


def fixed_rate_bits(sinr_linear, duration_s, params=A2G_DEFAULTS):
    """Bits 1(SINR >= eta) duration B log2(1 + eta) sent at the fixed rate in one interval (seed 3 Eq. 16)."""
    ok = _checked('sinr_linear', sinr_linear, low=0) >= params.sinr_threshold
    duration = _checked('duration_s', duration_s, low=0)
    rate = shannon_rate(params.bandwidth_hz, params.sinr_threshold)
    return np.where(ok, duration * rate, 0.0)


def slot_bits(sinr_tau1, sinr_tau2, hovering, tau1_s, tau2_s, params=A2G_DEFAULTS):
    """Bits per slot R_k: tau2 part always, tau1 part only when hovering (mode 2) (seed 3 Eq. 16)."""
    hover = np.asarray(hovering, dtype=bool)
    return fixed_rate_bits(sinr_tau2, tau2_s, params) + np.where(
        hover, fixed_rate_bits(sinr_tau1, tau1_s, params), 0.0)


# --- seeds 1 and 4: Rician links ----------------------------------------------------------

@dataclass(frozen=True)
class RicianLinkParams:
    """One Rician link type: h = sqrt(beta0 d^-alpha) (sqrt(K/(K+1)) LoS + sqrt(1/(K+1)) CN(0,1)).

    ref_gain: beta0, linear power gain at 1 m; path_loss_exponent: alpha (chi in seed 1);
    k_factor: Rician K, linear (0 is Rayleigh); bandwidth_hz; noise_w: total noise power in the band;
    tx_power_w; random_los_phase: LoS term e^{j phi} with phi ~ U[0, 2 pi) instead of 1.
    """

    ref_gain: float
    path_loss_exponent: float
    k_factor: float
    bandwidth_hz: float
    noise_w: float
    tx_power_w: float
    random_los_phase: bool = False

    def __post_init__(self):
        _check_params(self, positive=('ref_gain', 'bandwidth_hz', 'noise_w'),
                      non_negative=('path_loss_exponent', 'k_factor', 'tx_power_w'))


@dataclass(frozen=True)
class Seed1A2GParams(RicianLinkParams):
    """Seed 1 busy-UD -> UAV uplink h_{i,k} (spec seed1 §2.4-2.5, [D-A4], [D-A6]-[D-A8])."""

    ref_gain: float = 1.0e-3                          # beta0 = -30 dB [D-A4]
    path_loss_exponent: float = 2.0                   # chi_A, with the 3-D distance [D-A4]
    k_factor: float = 10.0                            # Gamma_A = 10 dB [D-A4]
    bandwidth_hz: float = 15.0e6                      # B = B1 [D-A6]
    noise_w: float = float(dbm_to_watt(-100.0))       # sigma_0^2 = -100 dBm [D-A7]
    tx_power_w: float = 0.5                           # P_{i,k} = p_d,max [D-A8]
    random_los_phase: bool = True                     # eta = e^{j phi} [D-A4]


@dataclass(frozen=True)
class Seed1D2DParams(RicianLinkParams):
    """Seed 1 busy-UD -> idle-UD D2D link h_{i,j} (spec seed1 §2.4-2.5, [D-A4]-[D-A8])."""

    ref_gain: float = 1.0e-3                          # beta0 = -30 dB [D-A4]
    path_loss_exponent: float = 3.0                   # chi_D [D-A4]
    k_factor: float = 0.0                             # Gamma_D = 0: Rayleigh, as the text says [D-A4]
    bandwidth_hz: float = 10.0e6                      # B0 [P]
    noise_w: float = float(dbm_to_watt(-100.0))       # [D-A7]
    tx_power_w: float = 0.5                           # P_{i,j} [D-A8]
    random_los_phase: bool = True                     # [D-A4]


@dataclass(frozen=True)
class Seed4UplinkParams(RicianLinkParams):
    """Seed 4 MDC -> UAV uplink on one of the M channels (spec seed4 §2.3, §5.1-5.2)."""

    ref_gain: float = 1.0e-4                          # beta0 = -40 dB [D]
    path_loss_exponent: float = 2.0                   # alpha [P]
    k_factor: float = 10.0                            # K = 10 dB [D]
    bandwidth_hz: float = 5.0e6                       # B, per channel [P]
    noise_w: float = 5.0e-8                           # sigma^2 [P]
    tx_power_w: float = 5.0                           # p_{n,m} [P]
    random_los_phase: bool = False                    # g = 1 [D]


def rician_fading(rng, k_factor, shape=(), random_los_phase=False):
    """Small-scale g = sqrt(K/(K+1)) e^{j phi} + sqrt(1/(K+1)) CN(0,1), E|g|^2 = 1 (seed 1 Eq. 7, seed 4 Eq. 3)."""
    rng = _checked_rng(rng)
    k = _checked('k_factor', k_factor, low=0)
    shape = np.broadcast_shapes(np.shape(k), shape)
    scattered = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / np.sqrt(2.0)
    phase = rng.uniform(0.0, 2.0 * np.pi, shape) if random_los_phase else 0.0
    return np.sqrt(k / (k + 1.0)) * np.exp(1j * phase) + np.sqrt(1.0 / (k + 1.0)) * scattered


def rician_channel(rng, distance_m, link):
    """Complex channel h = sqrt(beta0 d^-alpha) g with Rician g (seed 1 Eq. 7, seed 4 Eqs. 1-3)."""
    beta = large_scale_gain(distance_m, link.ref_gain, link.path_loss_exponent)
    return np.sqrt(beta) * rician_fading(rng, link.k_factor, beta.shape, link.random_los_phase)


def rician_link_rate(rng, distance_m, link):
    """Interference-free rate B log2(1 + P |h|^2 / sigma^2) in bit/s (seed 1 Eqs. 8-9, seed 4 Eq. 7)."""
    gain = np.abs(rician_channel(rng, distance_m, link)) ** 2
    return shannon_rate(link.bandwidth_hz, snr(link.tx_power_w, gain, link.noise_w))


def uplink_sinr(rx_power_w, assignment, noise_w):
    """SINR of every MDC n on channel m with the other MDCs on m as interferers, 0 if unassigned (seed 4 Eq. 6).

    rx_power_w (..., N, M): p_{n,m} |h_{n,m}|^2 at the UAV; assignment (..., N, M) bool: MDC n transmits on m.
    """
    rx = _checked('rx_power_w', rx_power_w, low=0)
    on = np.asarray(assignment, dtype=bool)
    if on.shape != rx.shape:
        raise ChannelInputError(f'assignment: expected shape {rx.shape} like rx_power_w, got {on.shape}')
    signal = np.where(on, rx, 0.0)
    interference = signal.sum(axis=-2, keepdims=True) - signal
    return sinr(signal, interference, noise_w)


# --- runtime link estimation (issue 4): the seed-3 A2G mean path gain moves seed 0's Table II q ---
#
# Seed 0 gives each RSU a distance-free channel gain g^j (Table II). On the vehicle the UAV moves, so
# the channel estimator scales g^j by how much the seed-3 LoS-averaged A2G path gain has changed
# relative to a reference geometry [A]: at the reference position the estimate IS Table II's q^j,
# closer to / higher above the RSU it is better, farther it is worse.

def a2g_mean_path_gain(uav_pos_m, ground_pos_m, params=A2G_DEFAULTS, min_distance_m=1.0):
    """E[l] = Pr^LoS A^L D^-alpha^L + (1 - Pr^LoS) A^NL D^-alpha^NL, linear (seed 3 Eqs. 2 and 5, LoS-averaged).

    Distance and height above the ground node are floored at min_distance_m (the A2G model is not
    defined at or below the antenna) [A].
    """
    return _los_and_mean_path_gain(uav_pos_m, ground_pos_m, params, min_distance_m)[1]


def _los_and_mean_path_gain(uav_pos_m, ground_pos_m, params, min_distance_m):
    """(Pr^LoS, E[l]) of a2g_mean_path_gain from one geometry: the pair offsets are checked and taken once, and
    only the LoS gain of the LoS term and the NLoS gain of the NLoS term are computed."""
    floor = float(_checked('min_distance_m', min_distance_m, low=0, low_open=True))
    return _los_and_mean_path_gain_of(_pair_offsets(uav_pos_m, ground_pos_m), params, floor)


def _los_and_mean_path_gain_of(offsets, params, floor):
    """_los_and_mean_path_gain from checked offsets and floor (> 0): the values it derives need no checks (the
    elevation from arctan2 is within +-90 deg, distances and heights are floored), so none are made (per pose)."""
    height = -offsets[..., 2]                                  # altitude_above
    p_los = _los_probability(np.degrees(np.arctan2(height, np.linalg.norm(offsets[..., :2], axis=-1))), params)
    distance = np.maximum(np.linalg.norm(offsets, axis=-1), floor)
    alpha_los, alpha_nlos = _a2g_path_loss_exponents(np.maximum(height, floor), params)
    return p_los, (p_los * _large_scale_gain(distance, params.ref_gain_los, alpha_los)
                   + (1.0 - p_los) * _large_scale_gain(distance, params.ref_gain_nlos, alpha_nlos))


def calibrated_channel_gain(uav_pos_m, ground_pos_m, reference_pos_m, reference_gain_db,
                            params=A2G_DEFAULTS, min_distance_m=1.0):
    """g(x) = g_ref E[l](x) / E[l](x_ref), linear: seed 0's g^j (Table II, dB) carried by the seed-3 path gain [A].

    uav_pos_m (3,) and reference_pos_m (3,) against ground_pos_m (M, 3) with reference_gain_db (M,)
    give (M,); at uav_pos_m == reference_pos_m the result is exactly db_to_linear(reference_gain_db).
    """
    return (_gain_per_mean_path_gain(ground_pos_m, reference_pos_m, reference_gain_db, params, min_distance_m)
            * a2g_mean_path_gain(uav_pos_m, ground_pos_m, params, min_distance_m))


def _gain_per_mean_path_gain(ground_pos_m, reference_pos_m, reference_gain_db, params, min_distance_m):
    """g_ref / E[l](x_ref): the position-independent factor of calibrated_channel_gain."""
    return (db_to_linear(_checked('reference_gain_db', reference_gain_db))
            / a2g_mean_path_gain(reference_pos_m, ground_pos_m, params, min_distance_m))


class LinkQualityEstimator:
    """estimated_link_quality for fixed RSUs, reference position and radio: what does not depend on the UAV's
    position is checked and computed once here, so an estimate per pose costs only the UAV's half.

        estimate = LinkQualityEstimator(rsu_pos_m, reference_pos_m, tx_power_dbm, gain_db, noise_dbm)
        p_los, gain, tau, q = estimate(uav_pos_m)
    """

    def __init__(self, rsu_pos_m, reference_pos_m, tx_power_dbm, gain_db, noise_dbm, params=A2G_DEFAULTS,
                 min_distance_m=1.0):
        self.rsu_pos_m = _checked_positions('rsu_pos_m', rsu_pos_m)
        self.params = params
        self.min_distance_m = float(_checked('min_distance_m', min_distance_m, low=0, low_open=True))
        self.gain_per_mean = _gain_per_mean_path_gain(self.rsu_pos_m, reference_pos_m, gain_db, params,
                                                      min_distance_m)
        self.tx_power_w = dbm_to_watt(_checked('tx_power_dbm', tx_power_dbm))
        self.noise_w = _checked('noise_w', dbm_to_watt(_checked('noise_dbm', noise_dbm)), low=0, low_open=True)

    def __call__(self, uav_pos_m):
        """(Pr^LoS, gain g, SNR tau, q) per RSU at uav_pos_m (3,), each (M,); g and tau linear. Only the position
        is checked: everything else was checked above, and what is derived from it is in range by construction."""
        offsets = _offsets(_checked_positions('uav_pos_m', uav_pos_m), self.rsu_pos_m)
        p_los, mean_path_gain = _los_and_mean_path_gain_of(offsets, self.params, self.min_distance_m)
        gain = self.gain_per_mean * mean_path_gain
        tau = _snr(self.tx_power_w, gain, self.noise_w)
        return p_los, gain, tau, _spectral_efficiency(tau)


def estimated_link_quality(uav_pos_m, rsu_pos_m, reference_pos_m, tx_power_dbm, gain_db, noise_dbm,
                           params=A2G_DEFAULTS, min_distance_m=1.0):
    """(Pr^LoS, gain g, SNR tau, q) per RSU at a UAV position (seed 3 Eq. 2; seed 0 Eqs. 1-2 with g from
    calibrated_channel_gain). Shapes (M,) for one UAV (3,) against M RSUs (M, 3); g and tau linear.
    """
    return LinkQualityEstimator(rsu_pos_m, reference_pos_m, tx_power_dbm, gain_db, noise_dbm, params,
                                min_distance_m)(uav_pos_m)


def mean_rician_rate(distance_m, link):
    """B log2(1 + P beta0 d^-alpha / sigma^2) in bit/s: the rate at the mean Rician gain E|h|^2 (seed 1 Eqs. 7-9)."""
    gain = large_scale_gain(distance_m, link.ref_gain, link.path_loss_exponent)
    return shannon_rate(link.bandwidth_hz, snr(link.tx_power_w, gain, link.noise_w))

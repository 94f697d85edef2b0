"""Energy models of the twin: rotary-wing propulsion, computing, transmission, solar, battery.

Two papers, one propulsion formula (the Zeng-Xu-Zhang rotary-wing model):
  seed 3 (../shared/spec/seed3_meanfield_trajectory_power.md, Eq. 21 / Table II) builds it from
  the rotor geometry; seed 1 (../shared/spec/seed1_td3_mec_video.md, Eq. 12 with correction
  [D-A22]) prints the same model with the hover powers given directly. Both are one
  `RotaryWingParams`; `SEED1_ROTARY_WING` holds seed 1's constants.

Units: SI throughout (m, s, m/s, W, J, Hz, cycles, bits). Every function is vectorised with
numpy broadcasting and rejects NaN/inf/out-of-range input with a ValueError naming the argument
(and the array index, e.g. the agent).
Velocities are (..., 3) arrays (x, y, z) with z up (ENU); only x, y count as horizontal speed.
"""
from dataclasses import dataclass, fields
from typing import Optional

import numpy as np


class EnergyInputError(ValueError):
    """An energy-model input is NaN/inf, out of range or of the wrong shape (names it and the index)."""


# --- input checks ----------------------------------------------------------------------------

def _checked(name, value, minimum=None, strictly=False):
    """value as a float array; ValueError naming `name` (and the index) if NaN/inf or below minimum."""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise EnergyInputError(f'{name}: expected numbers, got {value!r}') from exc
    _require(name, arr, np.isfinite(arr), 'must be finite')
    if minimum is not None:
        ok = arr > minimum if strictly else arr >= minimum
        _require(name, arr, ok, f'must be {">" if strictly else ">="} {minimum:g}')
    return arr


def _require(name, arr, ok, what):
    ok = np.asarray(ok)
    if not np.all(ok):
        bad = tuple(int(k) for k in np.argwhere(~ok)[0])
        where = f'[{", ".join(map(str, bad))}]' if bad else ''
        got = np.broadcast_to(np.asarray(arr), ok.shape)[bad]
        raise EnergyInputError(f'{name}{where}: {what}, got {got}')


def _hover_flags(hovering):
    """phi_k(t) as a 0/1 float array (1 = mode 2, stays at the hovering point)."""
    flags = _checked('hovering', hovering)
    _require('hovering', flags, (flags == 0) | (flags == 1), 'must be 0/1 (or bool)')
    return flags


# --- rotary-wing propulsion (seed 3 Eq. 21-23, seed 1 Eq. 12) -------------------------------

@dataclass(frozen=True)
class RotaryWingParams:
    """Rotary-wing UAV constants for the propulsion model; defaults are seed 3 Table II [P].

    The four `*_w` / `*_mps` overrides default to None = derived from the rotor geometry
    (seed 3 Eq. 21). Seed 1 Table I gives them directly instead (see SEED1_ROTARY_WING).
    weight_n is also used by the optional climb term (climb_power, an [A] extension).
    """

    weight_n: float = 20.0                       # W, UAV weight [P seed 3]
    air_density_kg_m3: float = 1.225             # rho [P seed 3; D-A23 seed 1]
    rotor_radius_m: float = 0.4                  # omega^rad [P]
    rotor_disc_area_m2: float = 0.503            # omega^area / A_c [P both]
    rotor_solidity: float = 0.05                 # omega^sol / g [P seed 3; D-A23 seed 1]
    blade_angular_velocity_rad_s: float = 300.0  # zeta [P]
    fuselage_drag_ratio: float = 0.6             # epsilon / d_c [P seed 3; D-A23 seed 1]
    profile_drag_coefficient: float = 0.012      # varpi [P]
    induced_power_correction: float = 0.1        # lambda [P]
    blade_profile_power_w: Optional[float] = None       # p^f1 / P_a override
    induced_power_w: Optional[float] = None             # p^f2 / P_b override
    hover_induced_velocity_mps: Optional[float] = None  # v_0 / v_f override
    tip_speed_mps: Optional[float] = None               # U_tip override

    def __post_init__(self):
        may_be_zero = ('induced_power_correction', 'fuselage_drag_ratio')
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                _checked(f'RotaryWingParams.{f.name}', value, minimum=0.0, strictly=f.name not in may_be_zero)


SEED1_ROTARY_WING = RotaryWingParams(
    blade_profile_power_w=59.03,      # P_a [P seed 1 Table I]
    induced_power_w=79.07,            # P_b [P]
    hover_induced_velocity_mps=3.6,   # v_f [P]
    tip_speed_mps=120.0,              # U_tip [P]
)
"""Seed 1's propulsion constants (Table I); d_c, rho, g are [D-A23] = seed 3's values."""


def blade_profile_power(params: RotaryWingParams = RotaryWingParams()) -> float:
    """p^f1 = varpi/8 rho s A zeta^3 R^3, hover blade-profile power in W (seed 3 Eq. 21; seed 1 P_a)."""
    if params.blade_profile_power_w is not None:
        return float(params.blade_profile_power_w)
    p = params
    return (p.profile_drag_coefficient / 8.0 * p.air_density_kg_m3 * p.rotor_solidity * p.rotor_disc_area_m2
            * (p.blade_angular_velocity_rad_s * p.rotor_radius_m) ** 3)


def induced_hover_power(params: RotaryWingParams = RotaryWingParams()) -> float:
    """p^f2 = (1 + lambda) W^1.5 / sqrt(2 rho A), hover induced power in W (seed 3 Eq. 21; seed 1 P_b)."""
    if params.induced_power_w is not None:
        return float(params.induced_power_w)
    p = params
    return ((1.0 + p.induced_power_correction) * p.weight_n ** 1.5
            / np.sqrt(2.0 * p.air_density_kg_m3 * p.rotor_disc_area_m2))


def rotor_tip_speed(params: RotaryWingParams = RotaryWingParams()) -> float:
    """U_tip = zeta R, blade tip speed in m/s (seed 3 Eq. 21 denominator; seed 1 Table I U_tip)."""
    if params.tip_speed_mps is not None:
        return float(params.tip_speed_mps)
    return params.blade_angular_velocity_rad_s * params.rotor_radius_m


def hover_induced_velocity(params: RotaryWingParams = RotaryWingParams()) -> float:
    """v_0 = sqrt(W / (2 rho A)), mean rotor induced velocity in hover, m/s (seed 3 Eq. 21; seed 1 v_f)."""
    if params.hover_induced_velocity_mps is not None:
        return float(params.hover_induced_velocity_mps)
    return float(np.sqrt(params.weight_n / (2.0 * params.air_density_kg_m3 * params.rotor_disc_area_m2)))


def propulsion_power(speed_mps, params: RotaryWingParams = RotaryWingParams()) -> np.ndarray:
    """p^f(v) in W: blade + induced + parasite power at horizontal speed v (seed 3 Eq. 21; seed 1 Eq. 12+D-A22).

    p^f1 (1 + 3v^2/U_tip^2) + p^f2 (sqrt(1 + v^4/(4 v0^4)) - v^2/(2 v0^2))^(1/2) + 1/2 d0 rho s A v^3.
    Seed 3's rho^2 A^2 v^4 / W^2 is v^4/(4 v0^4) with v0^2 = W/(2 rho A). The induced bracket is
    evaluated as 1/(sqrt(1+x^2)+x), x = v^2/(2 v0^2): algebraically identical, no cancellation.
    """
    v = _checked('speed_mps', speed_mps, minimum=0.0)
    x = v ** 2 / (2.0 * hover_induced_velocity(params) ** 2)
    blade = blade_profile_power(params) * (1.0 + 3.0 * v ** 2 / rotor_tip_speed(params) ** 2)
    induced = induced_hover_power(params) * np.sqrt(1.0 / (np.sqrt(1.0 + x ** 2) + x))
    parasite = (0.5 * params.fuselage_drag_ratio * params.air_density_kg_m3 * params.rotor_solidity
                * params.rotor_disc_area_m2 * v ** 3)
    return blade + induced + parasite


def hover_power(params: RotaryWingParams = RotaryWingParams()) -> float:
    """p^h = p^f1 + p^f2 = p^f(0), hovering power in W (seed 3 Eq. 23; seed 1 Eq. 12 at v = 0)."""
    return blade_profile_power(params) + induced_hover_power(params)


def max_endurance_speed(params: RotaryWingParams = RotaryWingParams(), upper_mps: float = 60.0) -> float:
    """argmin_v p^f(v) in m/s: the speed of least power, i.e. longest endurance (seed 3 §2.9 'minimum of p^f').

    Grid search then golden-section refinement on [0, upper_mps] (p^f is unimodal there).
    """
    grid = np.linspace(0.0, _checked('upper_mps', upper_mps, minimum=0.0, strictly=True).item(), 601)
    k = int(np.argmin(propulsion_power(grid, params)))
    lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, grid.size - 1)]
    ratio = (np.sqrt(5.0) - 1.0) / 2.0
    for _ in range(60):
        a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
        if propulsion_power(a, params) < propulsion_power(b, params):
            hi = b
        else:
            lo = a
    return float(0.5 * (lo + hi))


def climb_power(vertical_speed_mps, params: RotaryWingParams = RotaryWingParams()) -> np.ndarray:
    """W max(v_z, 0) in W: extra power to gain height ([A] extension; no seed models climb, descent is free)."""
    v_z = _checked('vertical_speed_mps', vertical_speed_mps)
    return params.weight_n * np.maximum(v_z, 0.0)


def flight_energy(velocities_mps, dt_s, params: RotaryWingParams = RotaryWingParams(),
                  include_climb: bool = False) -> np.ndarray:
    """sum_t p^f(|v_xy(t)|) dt in J per UAV along a trajectory (seed 3 Eq. 22 / seed 1 Eq. 12, per step).

    velocities_mps: (T, 3) for one UAV -> scalar, or (T, N, 3) for N UAVs -> (N,); z is up.
    dt_s: step length, a scalar or one value per step (T,). Each step is flown at its velocity.
    Both seeds fly at fixed altitude, so the horizontal model is used as is; include_climb adds
    climb_power for v_z > 0 ([A], off by default).
    """
    v = _checked('velocities_mps', velocities_mps)
    if v.ndim not in (2, 3) or v.shape[-1] != 3:
        raise EnergyInputError(f'velocities_mps: expected shape (T, 3) or (T, N, 3), got {v.shape}')
    dt = _checked('dt_s', dt_s, minimum=0.0)
    if dt.ndim > 1 or (dt.ndim == 1 and dt.shape[0] != v.shape[0]):
        raise EnergyInputError(f'dt_s: expected a scalar or shape ({v.shape[0]},), got {dt.shape}')
    dt = dt.reshape((-1,) + (1,) * (v.ndim - 2)) if dt.ndim == 1 else dt
    power = propulsion_power(np.hypot(v[..., 0], v[..., 1]), params)
    if include_climb:
        power = power + climb_power(v[..., 2], params)
    return np.sum(power * dt, axis=0)


# --- battery for the flight simulator ------------------------------------------------------

def battery_step(energy_j, power_w, dt_s, capacity_j, harvest_w=0.0) -> np.ndarray:
    """e' = min([e - P dt]^+ + H dt, e_max) in J: one battery step (seed 3 Eq. 31 with powers x dt).

    Consumption is taken first, then harvest, then the capacity cap, as in Eq. (31); the result
    is always in [0, capacity_j]. Vectorised over UAVs.
    """
    capacity = _checked('capacity_j', capacity_j, minimum=0.0, strictly=True)
    energy = _checked('energy_j', energy_j, minimum=0.0)
    _require('energy_j', energy, energy <= capacity, 'must be <= capacity_j')
    power = _checked('power_w', power_w, minimum=0.0)
    dt = _checked('dt_s', dt_s, minimum=0.0)
    harvest = _checked('harvest_w', harvest_w, minimum=0.0)
    return np.minimum(np.maximum(energy - power * dt, 0.0) + harvest * dt, capacity)


# --- seed 1: MEC computing, transmission and flight energy (§2.6-2.10, §2.14) ----------------

@dataclass(frozen=True)
class Seed1EnergyParams:
    """Seed 1 energy constants: kappa [D-A15], s1 and y1 [P], slot length [D-A1], battery E_r [P]."""

    kappa: float = 1e-27                  # effective switched capacitance of every CPU
    transcode_coefficient: float = 1e-27  # s_1 in Eq. (16)
    transcode_exponent: float = 3.0       # y_1 in Eq. (16)
    slot_s: float = 1.0                   # partial (slot length)
    battery_j: float = 20e3               # E_r, UAV energy budget over the flight period

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if not (np.isfinite(value) and value > 0):
                raise EnergyInputError(f'Seed1EnergyParams.{f.name}: must be finite and > 0, got {value}')


def computing_energy(cycles, frequency_hz, params: Seed1EnergyParams = Seed1EnergyParams()) -> np.ndarray:
    """kappa f^2 x cycles in J: dynamic CPU energy (seed 1 Eqs. 11, 18, 22; cycles = eps D C)."""
    c = _checked('cycles', cycles, minimum=0.0)
    f = _checked('frequency_hz', frequency_hz, minimum=0.0)
    return params.kappa * f ** 2 * c


def transcoding_energy(frequency_hz, transcode_time_s,
                       params: Seed1EnergyParams = Seed1EnergyParams()) -> np.ndarray:
    """s_1 f^y1 t_z in J: UAV video-transcoding energy (seed 1 Eq. 16, t_z per D-A19)."""
    f = _checked('frequency_hz', frequency_hz, minimum=0.0)
    t = _checked('transcode_time_s', transcode_time_s, minimum=0.0)
    return params.transcode_coefficient * f ** params.transcode_exponent * t


def transmission_energy(power_w, bits, rate_bps) -> np.ndarray:
    """P x bits / r in J: energy to send `bits` at rate r (seed 1 Eqs. 13-14 and 19-20)."""
    p = _checked('power_w', power_w, minimum=0.0)
    b = _checked('bits', bits, minimum=0.0)
    r = _checked('rate_bps', rate_bps, minimum=0.0, strictly=True)
    return p * b / r


def flight_energy_per_slot(velocity_mps, params: Seed1EnergyParams = Seed1EnergyParams(),
                           rotor: RotaryWingParams = SEED1_ROTARY_WING) -> np.ndarray:
    """E^fly = p^fly(|v|) x slot in J, |v| the 3-D speed as the paper writes (seed 1 Eq. 12 + D-A22).

    velocity_mps: (..., 3); returns shape (...), e.g. (K,) for K UAVs.
    """
    v = _checked('velocity_mps', velocity_mps)
    if v.ndim < 1 or v.shape[-1] != 3:
        raise EnergyInputError(f'velocity_mps: expected shape (..., 3), got {v.shape}')
    return propulsion_power(np.linalg.norm(v, axis=-1), rotor) * params.slot_s


def remaining_battery_energy(remaining_j, transcoding_j, processing_j, flight_j) -> np.ndarray:
    """E_kr[n+1] = E_kr[n] - (E_k + sum_i E_k,i + E_fly) in J, unclipped (seed 1 §2.14, Eq. 27n; < 0 -> F_2)."""
    spent = sum(_checked(name, value, minimum=0.0) for name, value in
                (('transcoding_j', transcoding_j), ('processing_j', processing_j), ('flight_j', flight_j)))
    return _checked('remaining_j', remaining_j) - spent


# --- seed 3: solar harvesting, slot energy, battery queue, efficiency (§2.8-2.11) -----------

@dataclass(frozen=True)
class SolarParams:
    """Seed 3 solar panel and cloud model (Eq. 17): all [P] except the cloud draw law [D A4]."""

    efficiency: float = 0.4                    # varrho
    panel_area_m2: float = 1.0                 # vartheta
    irradiance_w_m2: float = 1367.0            # G (0 models night; the paper has no day cycle)
    cloud_attenuation_per_m: float = 0.01      # beta
    cloud_levels_m: tuple = (0.0, 700.0)       # d^cloud values, drawn i.i.d. uniform [D A4]

    def __post_init__(self):
        for name in ('efficiency', 'panel_area_m2', 'irradiance_w_m2', 'cloud_attenuation_per_m'):
            value = getattr(self, name)
            if not (np.isfinite(value) and value >= 0):
                raise EnergyInputError(f'SolarParams.{name}: must be finite and >= 0, got {value}')
        _checked('SolarParams.cloud_levels_m', self.cloud_levels_m, minimum=0.0)


@dataclass(frozen=True)
class Seed3EnergyParams:
    """Seed 3 slot timing and circuit power [P]; battery capacity, alarm, xi, levels [D A5]."""

    tau1_s: float = 25.0             # fly (mode 1) or transmit (mode 2) sub-slot
    tau2_s: float = 35.0             # transmit sub-slot
    circuit_power_w: float = 0.01    # p^c
    capacity_j: float = 360e3        # e^max (100 Wh)
    alarm_j: float = 36e3            # e^min = 0.1 e^max
    penalty_per_j: float = 1.0       # xi, energy penalty factor in reward (33)
    levels: int = 10                 # L_e, battery bins for the mean-field state

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if not (np.isfinite(value) and value >= 0):
                raise EnergyInputError(f'Seed3EnergyParams.{f.name}: must be finite and >= 0, got {value}')
        if self.capacity_j <= 0 or self.levels < 1:
            raise EnergyInputError('Seed3EnergyParams.capacity_j and .levels: must be > 0')
        if self.alarm_j > self.capacity_j:
            raise EnergyInputError(f'Seed3EnergyParams.alarm_j: must be <= capacity_j ({self.capacity_j}), '
                                   f'got {self.alarm_j}')

    @property
    def slot_s(self) -> float:
        """tau = tau1 + tau2, the slot length in s."""
        return self.tau1_s + self.tau2_s


def solar_harvest_power(cloud_thickness_m, solar: SolarParams = SolarParams()) -> np.ndarray:
    """varrho vartheta G exp(-beta d_cloud) in W: harvested solar power (seed 3 Eq. 17 without tau)."""
    d = _checked('cloud_thickness_m', cloud_thickness_m, minimum=0.0)
    attenuation = np.exp(-solar.cloud_attenuation_per_m * d)
    return solar.efficiency * solar.panel_area_m2 * solar.irradiance_w_m2 * attenuation


def solar_harvest_energy(cloud_thickness_m, slot_s, solar: SolarParams = SolarParams()) -> np.ndarray:
    """e^s = varrho vartheta G exp(-beta d_cloud) tau in J: solar energy harvested in a slot (seed 3 Eq. 17)."""
    return solar_harvest_power(cloud_thickness_m, solar) * _checked('slot_s', slot_s, minimum=0.0)


def sample_cloud_thickness(rng: np.random.Generator, size, solar: SolarParams = SolarParams()) -> np.ndarray:
    """d^cloud_k(t) in m, i.i.d. uniform over the cloud levels per UAV per slot (seed 3 §2.8, [D A4])."""
    return rng.choice(np.asarray(solar.cloud_levels_m, dtype=float), size=size)


def transmit_time(hovering, params: Seed3EnergyParams = Seed3EnergyParams()) -> np.ndarray:
    """phi tau1 + tau2 in s: time a UAV transmits in the slot (seed 3 Eq. 20; mode 2 iff hovering)."""
    return _hover_flags(hovering) * params.tau1_s + params.tau2_s


def communication_energy(transmit_power_w, hovering,
                         params: Seed3EnergyParams = Seed3EnergyParams()) -> np.ndarray:
    """e^c = (p + p^c)(phi tau1 + tau2) in J: transmit + circuit energy (seed 3 Eq. 20)."""
    p = _checked('transmit_power_w', transmit_power_w, minimum=0.0)
    return (p + params.circuit_power_w) * transmit_time(hovering, params)


def radiated_energy(transmit_power_w, hovering, params: Seed3EnergyParams = Seed3EnergyParams()) -> np.ndarray:
    """p (phi tau1 + tau2) in J: radiated energy; the interference penalty is sigma x it (seed 3 Eq. 33)."""
    return _checked('transmit_power_w', transmit_power_w, minimum=0.0) * transmit_time(hovering, params)


def flying_energy(speed_mps, hovering, params: Seed3EnergyParams = Seed3EnergyParams(),
                  rotor: RotaryWingParams = RotaryWingParams()) -> np.ndarray:
    """e^f = p^f(v) tau1 in mode 1, 0 in mode 2, in J (seed 3 Eq. 22)."""
    flying = 1.0 - _hover_flags(hovering)
    return flying * propulsion_power(speed_mps, rotor) * params.tau1_s


def hovering_energy(hovering, params: Seed3EnergyParams = Seed3EnergyParams(),
                    rotor: RotaryWingParams = RotaryWingParams()) -> np.ndarray:
    """e^h = p^h (phi tau1 + tau2) in J (seed 3 Eq. 26)."""
    return hover_power(rotor) * transmit_time(hovering, params)


def slot_energy(speed_mps, transmit_power_w, hovering, params: Seed3EnergyParams = Seed3EnergyParams(),
                rotor: RotaryWingParams = RotaryWingParams()) -> np.ndarray:
    """e^total = e^f + e^h + e^c in J: total energy used by a UAV in slot t (seed 3 Eq. 30).

    hovering (phi_k) selects mode 2; the speed is ignored when hovering.
    """
    return (flying_energy(speed_mps, hovering, params, rotor) + hovering_energy(hovering, params, rotor)
            + communication_energy(transmit_power_w, hovering, params))


def battery_next(energy_j, consumed_j, harvested_j,
                 params: Seed3EnergyParams = Seed3EnergyParams()) -> np.ndarray:
    """e(t+1) = min{[e(t) - e^total]^+ + e^s, e^max} in J: the energy queue (seed 3 Eq. 31)."""
    e = _checked('energy_j', energy_j, minimum=0.0)
    _require('energy_j', e, e <= params.capacity_j, 'must be <= capacity_j')
    used = _checked('consumed_j', consumed_j, minimum=0.0)
    gained = _checked('harvested_j', harvested_j, minimum=0.0)
    return np.minimum(np.maximum(e - used, 0.0) + gained, params.capacity_j)


def energy_causality_ok(energy_j, consumed_j) -> np.ndarray:
    """e^total(t) <= e(t): a slot spends only what it starts with (seed 3 §2.10; soft, via the xi penalty)."""
    return _checked('consumed_j', consumed_j, minimum=0.0) <= _checked('energy_j', energy_j)


def energy_penalty(energy_j, consumed_j, params: Seed3EnergyParams = Seed3EnergyParams()) -> np.ndarray:
    """xi max{e^total + e^min - e, 0}: battery-alarm penalty term of the reward (seed 3 Eq. 33)."""
    e = _checked('energy_j', energy_j)
    used = _checked('consumed_j', consumed_j, minimum=0.0)
    return params.penalty_per_j * np.maximum(used + params.alarm_j - e, 0.0)


def battery_level_index(energy_j, params: Seed3EnergyParams = Seed3EnergyParams()) -> np.ndarray:
    """Index 0..L_e-1 of e in L_e uniform bins over [0, e^max] (seed 3 §2.10 [D A5], mean-field state)."""
    e = _checked('energy_j', energy_j, minimum=0.0)
    index = np.floor(e / params.capacity_j * params.levels).astype(int)
    return np.clip(index, 0, params.levels - 1)


def energy_efficiency(bits, energy_j) -> np.ndarray:
    """EE = R / e^total in bit/J (seed 3 Eq. 32)."""
    b = _checked('bits', bits, minimum=0.0)
    return b / _checked('energy_j', energy_j, minimum=0.0, strictly=True)


# --- runtime energy accounting (issue 4: energy_monitor) -------------------------------------

def fused_energy(model_j, measured_j, measured_weight) -> np.ndarray:
    """e + w (e_meas - e) in J: complementary blend of the integrated model and battery telemetry [A].

    measured_weight w in [0, 1]: 0 ignores telemetry, 1 replaces the model by it.
    """
    e = _checked('model_j', model_j, minimum=0.0)
    m = _checked('measured_j', measured_j, minimum=0.0)
    w = _checked('measured_weight', measured_weight, minimum=0.0)
    _require('measured_weight', w, w <= 1.0, 'must be <= 1')
    return e + w * (m - e)


def endurance(remaining_j, reserve_j, power_w) -> np.ndarray:
    """max(e - e_reserve, 0) / P in s: flight time left before the reserve at constant power P [A]."""
    e = _checked('remaining_j', remaining_j, minimum=0.0)
    reserve = _checked('reserve_j', reserve_j, minimum=0.0)
    p = _checked('power_w', power_w, minimum=0.0, strictly=True)
    return np.maximum(e - reserve, 0.0) / p

"""The scenario file: one validated YAML description of the world (DESIGN.md, "One scenario, everywhere").

A scenario names the area, the RSUs, the UAVs, the ground users (UMUs), the seed-0 game options and
the policy used for each decision. Training, evaluation, launch files, the runner and the simulator
all read it through `load_scenario` / `resolve_scenario`, and get concrete numpy arrays from
`Scenario.sample()`.

Frame: local ENU in metres, origin at the area's south-west corner, z up.

Every sampled quantity accepts a scalar (fixed, no random draw) or a [lo, hi] range (uniform draw).
Randomness is deterministic given `seed`, from three independent streams:
  * game   numpy.random.default_rng(seed): the seed-0 quantities in the exact draw order of spec
           seed0 Appendix C (noise, gain, tx, l, contrast, s, ssim_th, delta, cost, price_cap,
           budget); a fixed quantity skips its draw, as Appendix C does for cost / price cap.
  * geometry  default_rng([seed, 1]): RSU positions, UAV homes, user positions (in that order).
  * platform  default_rng([seed, 2]): UAV battery capacity, cruise speed.
so adding geometry or platform detail never changes the game draw.

Bad input raises ScenarioError: one line `<file>: <key path>: <what is wrong>`.
"""
import copy
import difflib
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Iterable, Mapping, Optional, Union

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, PrivateAttr, ValidationError, model_validator
from pydantic.functional_validators import PlainValidator
from pydantic_core import PydanticCustomError

from uav_edge.core import channel
from uav_edge.core import game as stackelberg   # seed-0 game model (Eqs. 5, 7)
from uav_edge.core.game import GameInputError, GameParams
from uav_edge.core.units import db_to_linear, dbm_to_watt
from uav_edge.resources import package_dirs

# Largest number of random home positions tried per UAV before giving up on avoiding no-fly cells.
MAX_HOME_DRAWS = 1000

_NAME_PATTERN = re.compile(r'^[A-Za-z][A-Za-z0-9_]*$')   # usable as a ROS namespace token


class ScenarioError(ValueError):
    """A scenario file or override is invalid; the message is one line: file, key path, problem."""


# --- leaf validators: every leaf value is checked here, so every message has the same shape ----

def _fmt(value) -> str:
    """A value as the user wrote it (YAML-ish), short enough for a one-line message."""
    if value is None:
        text = 'null'
    elif isinstance(value, bool):
        text = 'true' if value else 'false'
    elif isinstance(value, float):
        text = format(value, '.10g')
    elif isinstance(value, (list, tuple)):
        text = '[' + ', '.join(_fmt(v) for v in value) + ']'
    elif isinstance(value, dict):
        text = 'a mapping {' + ', '.join(str(k) for k in value) + '}'
    else:
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + '...'


def _fail(message: str):
    raise PydanticCustomError('scenario', '{detail}', {'detail': message})


def _to_float(value) -> float:
    """A finite float from a YAML number (or a numeric string such as '1e-3', which YAML 1.1 keeps as text)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        _fail(f'{_fmt(value)} is not a number')
    try:
        number = float(value)
    except ValueError:
        _fail(f'{_fmt(value)} is not a number')
    if not math.isfinite(number):
        _fail(f'{_fmt(value)} is not a finite number')
    return number


def _in_bounds(number: float, lo: float, hi: float, shown=None) -> float:
    if not lo <= number <= hi:
        _fail(f'{_fmt(number if shown is None else shown)} is outside the allowed range '
              f'[{_fmt(lo)}, {_fmt(hi)}]')
    return number


def Number(lo: float, hi: float):
    """A finite float in [lo, hi]."""
    return Annotated[float, PlainValidator(lambda v: _in_bounds(_to_float(v), lo, hi))]


def Integer(lo: int, hi: int):
    """An integer in [lo, hi] (3.0 is accepted as 3; 2.5 and true are not)."""
    def check(value):
        number = _to_float(value)
        if not number.is_integer():
            _fail(f'{_fmt(value)} is not an integer')
        return int(_in_bounds(number, lo, hi))
    return Annotated[int, PlainValidator(check)]


def Sampled(lo: float, hi: float):
    """A fixed value (scalar) or a uniform range [lo, hi]; every number inside the allowed [lo, hi]."""
    def check(value):
        if isinstance(value, (list, tuple)):
            if len(value) != 2:
                _fail(f'{_fmt(value)} must be a number or a [lo, hi] range of 2 numbers, '
                      f'got {len(value)} values')
            low, high = (_to_float(v) for v in value)
            for number in (low, high):
                _in_bounds(number, lo, hi, shown=value)
            if low > high:
                _fail(f'{_fmt(value)} is not a range: lo > hi')
            return (low, high)
        return _in_bounds(_to_float(value), lo, hi)
    return Annotated[Union[float, tuple[float, float]], PlainValidator(check)]


def _check_vector(value, bounds):
    """A list of len(bounds) finite numbers, component k inside bounds[k] = (lo, hi)."""
    if not isinstance(value, (list, tuple)):
        _fail(f'{_fmt(value)} must be a list of {len(bounds)} numbers')
    if len(value) != len(bounds):
        _fail(f'{_fmt(value)} must have {len(bounds)} values, got {len(value)}')
    numbers = tuple(_to_float(v) for v in value)
    for number, (lo, hi) in zip(numbers, bounds):
        _in_bounds(number, lo, hi, shown=value)
    return numbers


def Vector(*bounds):
    """A list of len(bounds) finite numbers, component k inside bounds[k] = (lo, hi)."""
    return Annotated[tuple[float, ...], PlainValidator(lambda v: _check_vector(v, bounds))]


def _check_altitude_band(value):
    """[min, max] flight altitude in m with 0 < min < max <= 10 km."""
    low, high = _check_vector(value, [(0.0, 1e4)] * 2)
    if not 0 < low < high:
        _fail(f'{_fmt(value)} must be [min, max] with 0 < min < max')
    return (low, high)


def _check_rect(value):
    """An axis-aligned rectangle [x0, y0, x1, y1] in m with x0 < x1, y0 < y1 (area bounds checked later)."""
    x0, y0, x1, y1 = _check_vector(value, [(0.0, 1e6)] * 4)
    if not (x0 < x1 and y0 < y1):
        _fail(f'{_fmt(value)} must be [x0, y0, x1, y1] with x0 < x1 and y0 < y1')
    return (x0, y0, x1, y1)


def Choice(*options: str):
    """One of the given strings."""
    def check(value):
        if value not in options:
            _fail(f'{_fmt(value)} is not one of: {", ".join(options)}')
        return value
    return Annotated[str, PlainValidator(check)]


def _check_name(value):
    if not isinstance(value, str) or not _NAME_PATTERN.match(value):
        _fail(f'{_fmt(value)} is not a valid name (a letter, then letters, digits or _)')
    return value


def _check_text(value):
    if not isinstance(value, str) or not value.strip():
        _fail(f'{_fmt(value)} is not a non-empty string')
    return value


Name = Annotated[str, PlainValidator(_check_name)]
Text = Annotated[str, PlainValidator(_check_text)]
Rect = Annotated[tuple[float, float, float, float], PlainValidator(_check_rect)]
AltitudeBand = Annotated[tuple[float, float], PlainValidator(_check_altitude_band)]

# Allowed physical ranges [lo, hi] of each quantity (validation limits, not defaults).
_SIZE_M = (1.0, 1e6)            # area side, m
_HEIGHT_M = (0.0, 1e4)          # any z: masts, homes, users, m
_NOISE_DBM = (-200.0, 0.0)      # AWGN power (sigma^j)^2
_GAIN_DB = (-200.0, 30.0)       # channel gain g^j
_TX_DBM = (-30.0, 60.0)         # transmit power m^j
_MONEY = (0.01, 1000.0)         # bandwidth cost c^j, price cap pbar^j (abstract units, spec seed0 §2.8)
_DELTA = (0.01, 1000.0)         # delta_i = xi_i mu_i
_BUDGET = (0.0, 1e6)            # payment budget R_i (money)
_SSIM_TH = (0.01, 1.0)          # SSIM_i^th
_SSIM_PART = (0.0, 1.0)         # l, contrast, s
_BATTERY_WH = (0.1, 1e4)
_SPEED_MPS = (0.1, 100.0)
_MAX_RSUS = 1000                # J: the vectorised solver is benchmarked at 100
_MAX_UAVS = 100_000             # I: the vectorised solver is benchmarked at 10,000
POSITION_M = Vector((0.0, 1e6), (0.0, 1e6), _HEIGHT_M)   # [x, y, z]; x, y also checked against the area


# --- sections -------------------------------------------------------------------------------

class _Section(BaseModel):
    """Base of every mapping in the file: frozen, unknown keys rejected with the list of allowed ones."""

    model_config = ConfigDict(extra='forbid', frozen=True)

    @model_validator(mode='before')
    @classmethod
    def _reject_unknown_keys(cls, data):
        if isinstance(data, dict):
            allowed = list(cls.model_fields)
            for key in data:
                if key not in allowed:
                    close = difflib.get_close_matches(str(key), allowed, n=1)
                    hint = f"; did you mean '{close[0]}'?" if close else ''
                    _fail(f"unknown key {key!r} (allowed: {', '.join(allowed)}){hint}")
        return data


class Area(_Section):
    size_m: Vector(_SIZE_M, _SIZE_M)                           # [x, y] extent, m
    altitude_m: AltitudeBand = (30.0, 120.0)                   # flight band [min, max], m [A]
    no_fly: list[Rect] = []                                    # [x0, y0, x1, y1] cells, m


class RsuSample(_Section):
    """Ranges for a random RSU instance (spec seed0 Table II [P]) and the mast height [A]."""

    noise_dbm: Sampled(*_NOISE_DBM) = (-116.0, -112.0)        # AWGN (sigma^j)^2, dBm [P]
    gain_db: Sampled(*_GAIN_DB) = (-25.0, -22.0)           # channel gain g^j, dB [P]
    tx_power_dbm: Sampled(*_TX_DBM) = (20.0, 25.0)         # transmit power m^j, dBm [P]
    cost: Sampled(*_MONEY) = (1.0, 4.0)                  # bandwidth unit cost c^j [P]
    price_cap: Sampled(*_MONEY) = (5.0, 35.0)            # upper price pbar^j [P]
    mast_height_m: Number(*_HEIGHT_M) = 10.0                  # z of sampled RSU positions, m [A]


class RsuItem(_Section):
    name: Name
    position_m: POSITION_M
    noise_dbm: Number(*_NOISE_DBM)
    gain_db: Number(*_GAIN_DB)
    tx_power_dbm: Number(*_TX_DBM)
    cost: Number(*_MONEY)
    price_cap: Number(*_MONEY)


class Rsus(_Section):
    count: Optional[Integer(1, _MAX_RSUS)] = None
    sample: RsuSample = RsuSample()
    items: Optional[list[RsuItem]] = None

    @model_validator(mode='after')
    def _one_mode(self):
        _check_one_mode(self, 'RSU')
        return self


class SsimComponents(_Section):
    """Per-RSU SSIM components of one UAV (spec seed0 Eq. 5), one value per RSU in rsus order."""

    l: list[Number(*_SSIM_PART)]            # noqa: E741  brightness similarity l_i^j
    contrast: list[Number(*_SSIM_PART)]     # contrast similarity c_i^j
    s: list[Number(*_SSIM_PART)]            # structure similarity s_i^j


class UavSample(_Section):
    """Ranges for a random UAV instance (spec seed0 Table II [P], §6.3 [A])."""

    delta: Sampled(*_DELTA) = (10.0, 20.0)               # delta_i = xi_i mu_i [P]
    budget: Sampled(*_BUDGET) = (5.0, 10.0)                   # payment budget R_i [A] (G1)
    ssim_threshold: Sampled(*_SSIM_TH) = (0.5, 0.55)          # SSIM_i^th [P]
    battery_wh: Sampled(*_BATTERY_WH) = 100.0                     # battery capacity, Wh [A]
    cruise_speed_mps: Sampled(*_SPEED_MPS) = 10.0              # cruise speed, m/s [A]
    home_z_m: Number(*_HEIGHT_M) = 0.0                        # z of sampled homes, m [A]


class UavItem(_Section):
    name: Name
    home_m: POSITION_M
    delta: Number(*_DELTA)
    budget: Number(*_BUDGET)
    ssim_threshold: Number(*_SSIM_TH)
    battery_wh: Number(*_BATTERY_WH) = 100.0                            # [A]
    cruise_speed_mps: Number(*_SPEED_MPS) = 10.0                        # [A]
    ssim: Optional[SsimComponents] = None                     # None: drawn from ssim_component_range


class Uavs(_Section):
    count: Optional[Integer(1, _MAX_UAVS)] = None
    sample: UavSample = UavSample()
    items: Optional[list[UavItem]] = None
    ssim_component_range: Sampled(*_SSIM_PART) = (0.85, 1.0)    # l, contrast, s draws [A] (G2); [0, 1] = Table II

    @model_validator(mode='after')
    def _one_mode(self):
        _check_one_mode(self, 'UAV')
        return self


class UserItem(_Section):
    name: Name
    position_m: POSITION_M


class Users(_Section):
    count: Optional[Integer(0, 100000)] = None
    height_m: Number(*_HEIGHT_M) = 1.5                        # z of sampled users (handset), m [A]
    items: Optional[list[UserItem]] = None

    @model_validator(mode='after')
    def _not_both(self):
        if self.items is not None and {'count', 'height_m'} & self.model_fields_set:
            _fail('give either count (+ height_m) for random users or items, not both')
        return self


class Game(_Section):
    follower_mode: Choice('exact', 'paper') = 'exact'         # spec seed0 §3.4 [D]
    ssim_exponents: Vector((0.0, 10.0), (0.0, 10.0), (0.0, 10.0)) = (1.0, 1.0, 1.0)  # alpha, beta, nu [P]


class Policies(_Section):
    """Which algorithm makes each decision; model paths are checked by whoever loads them."""

    pricing: Choice('analytic', 'onnx') = 'analytic'
    pricing_model: Optional[Text] = None
    offload: Choice('heuristic', 'onnx') = 'heuristic'
    offload_model: Optional[Text] = None
    trajectory: Choice('astar', 'onnx') = 'astar'
    trajectory_model: Optional[Text] = None


def _check_one_mode(section, what):
    fields_set = section.model_fields_set
    if section.items is not None:
        if {'count', 'sample'} & fields_set:
            _fail('give either count (+ sample) for a random instance or items, not both')
        if not section.items:
            _fail(f'items: needs at least one {what}')
    elif section.count is None:
        _fail('give count (+ sample) for a random instance or items for a fixed list')


# --- the scenario ---------------------------------------------------------------------------

class Scenario(_Section):
    """A validated scenario. Build it with load_scenario / parse_scenario / resolve_scenario."""

    name: Text
    seed: Integer(0, 2 ** 32 - 1)
    area: Area
    rsus: Rsus
    uavs: Uavs
    users: Users = Users()
    game: Game = Game()
    policies: Policies = Policies()

    _source: str = PrivateAttr('<dict>')
    _raw: dict = PrivateAttr(default_factory=dict)

    @property
    def source(self) -> str:
        """Where the scenario came from (file path, or '<dict>'), used in error messages."""
        return self._source

    @property
    def num_rsus(self) -> int:
        return len(self.rsus.items) if self.rsus.items is not None else self.rsus.count

    @property
    def num_uavs(self) -> int:
        return len(self.uavs.items) if self.uavs.items is not None else self.uavs.count

    @property
    def num_users(self) -> int:
        return len(self.users.items) if self.users.items is not None else (self.users.count or 0)

    def to_dict(self) -> dict:
        """A deep copy of the data this scenario was parsed from (before defaults were filled in)."""
        return copy.deepcopy(self._raw)

    def with_overrides(self, overrides: Optional[Mapping[str, Any]] = None, /, **dotted) -> 'Scenario':
        """A re-validated copy with dotted keys set, e.g. {'rsus.sample.cost': 2.5, 'uavs.count': 10}.

        Keyword form: with_overrides(uavs__count=10). List items: 'uavs.items[0].budget' or
        'uavs.items.0.budget'. A value of None removes the key (back to its default).
        """
        changes = dict(overrides or {})
        changes.update({key.replace('__', '.'): value for key, value in dotted.items()})
        data = copy.deepcopy(self._raw)
        for key, value in changes.items():
            _set_dotted(data, key, copy.deepcopy(value), self.source)
        shown = ', '.join(f'{key}={_fmt(value)}' for key, value in changes.items())
        return parse_scenario(data, source=f'{self.source} (overrides {shown})' if changes else self.source)

    def sample(self) -> 'World':
        """The concrete world: draw every sampled quantity from the seed (see the module docstring)."""
        J, I, U = self.num_rsus, self.num_uavs, self.num_users
        rsus, uavs = self.rsus, self.uavs

        game_rng = np.random.default_rng(self.seed)          # spec seed0 Appendix C draw order
        noise_dbm = _rsu_column(game_rng, rsus, 'noise_dbm', J)
        gain_db = _rsu_column(game_rng, rsus, 'gain_db', J)
        tx_power_dbm = _rsu_column(game_rng, rsus, 'tx_power_dbm', J)
        ssim_l, ssim_contrast, ssim_s = _ssim_components(game_rng, uavs, I, J)
        ssim_threshold = _uav_column(game_rng, uavs, 'ssim_threshold', I)
        delta = _uav_column(game_rng, uavs, 'delta', I)
        cost = _rsu_column(game_rng, rsus, 'cost', J)
        price_cap = _rsu_column(game_rng, rsus, 'price_cap', J)
        budget = _uav_column(game_rng, uavs, 'budget', I)

        geometry_rng = np.random.default_rng([self.seed, 1])
        rsu_positions_m = _rsu_positions(geometry_rng, self, J)
        uav_homes_m = _uav_homes(geometry_rng, self, I)
        user_positions_m = _user_positions(geometry_rng, self, U)

        platform_rng = np.random.default_rng([self.seed, 2])
        battery_wh = _uav_column(platform_rng, uavs, 'battery_wh', I)
        cruise_speed_mps = _uav_column(platform_rng, uavs, 'cruise_speed_mps', I)

        return World(
            name=self.name, seed=self.seed, source=self.source,
            area_size_m=np.array(self.area.size_m), altitude_m=np.array(self.area.altitude_m),
            no_fly_m=np.array(self.area.no_fly, dtype=float).reshape(-1, 4),
            rsu_names=_names(rsus.items, 'rsu', J), rsu_positions_m=rsu_positions_m,
            noise_dbm=noise_dbm, gain_db=gain_db, tx_power_dbm=tx_power_dbm,
            cost=cost, price_cap=price_cap,
            uav_names=_names(uavs.items, 'uav', I), uav_homes_m=uav_homes_m,
            ssim_l=ssim_l, ssim_contrast=ssim_contrast, ssim_s=ssim_s,
            ssim_threshold=ssim_threshold, delta=delta, budget=budget,
            battery_wh=battery_wh, cruise_speed_mps=cruise_speed_mps,
            user_names=_names(self.users.items, 'user', U), user_positions_m=user_positions_m,
            follower_mode=self.game.follower_mode, ssim_exponents=np.array(self.game.ssim_exponents),
            policies=self.policies,
        )


@dataclass(frozen=True, eq=False)
class World:
    """One concrete sample of a scenario: names and numpy arrays (J RSUs, I UAVs, U users), SI units."""

    name: str
    seed: int
    source: str
    area_size_m: np.ndarray          # (2,) x, y extent
    altitude_m: np.ndarray           # (2,) flight band [min, max]
    no_fly_m: np.ndarray             # (K, 4) cells [x0, y0, x1, y1]
    rsu_names: tuple
    rsu_positions_m: np.ndarray      # (J, 3) ENU
    noise_dbm: np.ndarray            # (J,) AWGN power (sigma^j)^2
    gain_db: np.ndarray              # (J,) channel gain g^j
    tx_power_dbm: np.ndarray         # (J,) transmit power m^j
    cost: np.ndarray                 # (J,) bandwidth unit cost c^j
    price_cap: np.ndarray            # (J,) upper price pbar^j
    uav_names: tuple
    uav_homes_m: np.ndarray          # (I, 3) ENU
    ssim_l: np.ndarray               # (I, J) brightness similarity
    ssim_contrast: np.ndarray        # (I, J) contrast similarity
    ssim_s: np.ndarray               # (I, J) structure similarity
    ssim_threshold: np.ndarray       # (I,) SSIM_i^th
    delta: np.ndarray                # (I,) delta_i
    budget: np.ndarray               # (I,) payment budget R_i
    battery_wh: np.ndarray           # (I,) battery capacity, Wh
    cruise_speed_mps: np.ndarray     # (I,) cruise speed, m/s
    user_names: tuple
    user_positions_m: np.ndarray     # (U, 3) ENU
    follower_mode: str               # 'exact' | 'paper' (spec seed0 §3.4)
    ssim_exponents: np.ndarray       # (3,) alpha, beta, nu
    policies: Policies

    def __post_init__(self):
        for value in vars(self).values():
            if isinstance(value, np.ndarray):
                value.setflags(write=False)

    @property
    def num_rsus(self) -> int:
        return len(self.rsu_names)

    @property
    def num_uavs(self) -> int:
        return len(self.uav_names)

    @property
    def num_users(self) -> int:
        return len(self.user_names)

    @property
    def battery_j(self) -> np.ndarray:
        """(I,) battery capacity in J."""
        return self.battery_wh * 3600.0

    def spectral_efficiency(self) -> np.ndarray:
        """(J,) q^j = log2(1 + m^j g^j / (sigma^j)^2) in bit/s/Hz (spec seed0 Eqs. 1-2)."""
        tau = channel.snr(dbm_to_watt(self.tx_power_dbm), db_to_linear(self.gain_db), dbm_to_watt(self.noise_dbm))
        return channel.spectral_efficiency(tau)

    def ssim(self) -> np.ndarray:
        """(I, J) SSIM_i^j = l^alpha c^beta s^nu (spec seed0 Eq. 5)."""
        return stackelberg.ssim(self.ssim_l, self.ssim_contrast, self.ssim_s, *self.ssim_exponents)

    def log_ssim_ratio(self) -> np.ndarray:
        """(I, J) S_i^j = ln(SSIM_i^j / SSIM_i^th) (spec seed0 Eq. 7); SSIM 0 -> smallest float (no demand)."""
        return stackelberg.log_ssim_ratio(np.maximum(self.ssim(), np.finfo(float).tiny), self.ssim_threshold)

    def game_params(self) -> GameParams:
        """The seed-0 game instance; q[j] broadcast to every UAV (spec seed0 G5, paper mode)."""
        q = np.broadcast_to(self.spectral_efficiency(), (self.num_uavs, self.num_rsus))
        try:
            return GameParams(q=q, S=self.log_ssim_ratio(), delta=self.delta, budget=self.budget,
                              cost=self.cost, price_cap=self.price_cap)
        except GameInputError as err:
            raise ScenarioError(f'{self.source}: the sampled game is invalid: {err}') from None


# --- sampling helpers -----------------------------------------------------------------------

def _draw(rng, spec, size):
    """A fixed value fills `size` without touching rng; a (lo, hi) range is one uniform draw of `size`."""
    if isinstance(spec, tuple):
        return rng.uniform(spec[0], spec[1], size)
    return np.full(size, float(spec))


def _rsu_column(rng, rsus, field, J):
    if rsus.items is not None:
        return np.array([getattr(item, field) for item in rsus.items])
    return _draw(rng, getattr(rsus.sample, field), J)


def _uav_column(rng, uavs, field, I):
    if uavs.items is not None:
        return np.array([getattr(item, field) for item in uavs.items])
    return _draw(rng, getattr(uavs.sample, field), I)


def _ssim_components(rng, uavs, I, J):
    """l, contrast, s as (I, J): fixed rows from items, the others drawn (l first, then contrast, then s)."""
    fixed = [item.ssim for item in uavs.items] if uavs.items is not None else [None] * I
    missing = [i for i, given in enumerate(fixed) if given is None]
    arrays = []
    for part in ('l', 'contrast', 's'):
        values = np.empty((I, J))
        for i, given in enumerate(fixed):
            if given is not None:
                values[i] = getattr(given, part)
        if missing:
            values[missing] = _draw(rng, uavs.ssim_component_range, (len(missing), J))
        arrays.append(values)
    return arrays


def _uniform_xy(rng, area, n):
    return rng.uniform((0.0, 0.0), area.size_m, (n, 2))


def _with_z(xy, z):
    return np.column_stack([xy, np.full(len(xy), float(z))])


def _rsu_positions(rng, scenario, J):
    if scenario.rsus.items is not None:
        return np.array([item.position_m for item in scenario.rsus.items])
    return _with_z(_uniform_xy(rng, scenario.area, J), scenario.rsus.sample.mast_height_m)


def _in_no_fly(xy, cells) -> bool:
    return any(x0 <= xy[0] <= x1 and y0 <= xy[1] <= y1 for x0, y0, x1, y1 in cells)


def _uav_homes(rng, scenario, I):
    """Homes uniform in the area, redrawn while inside a no-fly cell."""
    if scenario.uavs.items is not None:
        return np.array([item.home_m for item in scenario.uavs.items])
    cells = scenario.area.no_fly
    homes = np.empty((I, 2))
    for i in range(I):
        for _ in range(MAX_HOME_DRAWS):
            homes[i] = _uniform_xy(rng, scenario.area, 1)[0]
            if not _in_no_fly(homes[i], cells):
                break
        else:
            raise ScenarioError(f'{scenario.source}: area.no_fly: no free home for UAV {i} after '
                                f'{MAX_HOME_DRAWS} draws (the cells cover almost all of the area)')
    return _with_z(homes, scenario.uavs.sample.home_z_m)


def _user_positions(rng, scenario, U):
    if scenario.users.items is not None:
        return np.array([item.position_m for item in scenario.users.items]).reshape(-1, 3)
    return _with_z(_uniform_xy(rng, scenario.area, U), scenario.users.height_m)


def _names(items, prefix, n):
    return tuple(item.name for item in items) if items is not None else tuple(f'{prefix}{k}' for k in range(n))


# --- cross-section checks (need more than one section) ---------------------------------------

def _cross_check(sc: Scenario):
    """(key path, message) of the first problem that spans sections, or None."""
    X, Y = sc.area.size_m
    top = sc.area.altitude_m[1]
    for k, (x0, y0, x1, y1) in enumerate(sc.area.no_fly):
        if x1 > X or y1 > Y:
            return f'area.no_fly[{k}]', f'{_fmt([x0, y0, x1, y1])} is outside the area [0, 0, {_fmt(X)}, {_fmt(Y)}]'

    def outside(point):
        return point[0] > X or point[1] > Y

    J = sc.num_rsus
    if sc.rsus.items is None:
        cost, cap = sc.rsus.sample.cost, sc.rsus.sample.price_cap
        cost_hi = cost[1] if isinstance(cost, tuple) else cost
        cap_lo = cap[0] if isinstance(cap, tuple) else cap
        if cap_lo < cost_hi:
            return 'rsus.sample.price_cap', (f'{_fmt(cap)} can fall below rsus.sample.cost {_fmt(cost)}; '
                                             f'need price_cap >= cost for every draw')
    for j, item in enumerate(sc.rsus.items or []):
        if item.price_cap < item.cost:
            return f'rsus.items[{j}].price_cap', f'{_fmt(item.price_cap)} is below cost {_fmt(item.cost)}'
        if outside(item.position_m):
            return f'rsus.items[{j}].position_m', f'{_fmt(item.position_m)} is outside the area {_fmt(sc.area.size_m)}'

    if sc.uavs.items is None and sc.uavs.sample.home_z_m > top:
        return 'uavs.sample.home_z_m', f'{_fmt(sc.uavs.sample.home_z_m)} is above area.altitude_m max {_fmt(top)}'
    for i, item in enumerate(sc.uavs.items or []):
        path = f'uavs.items[{i}]'
        if outside(item.home_m):
            return f'{path}.home_m', f'{_fmt(item.home_m)} is outside the area {_fmt(sc.area.size_m)}'
        if item.home_m[2] > top:
            return f'{path}.home_m', f'{_fmt(item.home_m)} is above area.altitude_m max {_fmt(top)}'
        if _in_no_fly(item.home_m, sc.area.no_fly):
            return f'{path}.home_m', f'{_fmt(item.home_m)} is inside an area.no_fly cell'
        for part in ('l', 'contrast', 's'):
            values = getattr(item.ssim, part) if item.ssim is not None else None
            if values is not None and len(values) != J:
                return f'{path}.ssim.{part}', f'{_fmt(values)} must have {J} values (one per RSU), got {len(values)}'

    for k, item in enumerate(sc.users.items or []):
        if outside(item.position_m):
            return f'users.items[{k}].position_m', f'{_fmt(item.position_m)} is outside the area {_fmt(sc.area.size_m)}'

    seen = {}
    for section in ('rsus', 'uavs', 'users'):
        for k, item in enumerate(getattr(sc, section).items or []):
            if item.name in seen:
                return f'{section}.items[{k}].name', f'{item.name!r} is already used by {seen[item.name]}'
            seen[item.name] = f'{section}.items[{k}]'
    return None


# --- errors, loading, overrides ------------------------------------------------------------

def _key_path(loc) -> str:
    path = ''
    for part in loc:
        path += f'[{part}]' if isinstance(part, int) else (f'.{part}' if path else str(part))
    return path


def _one_line(source: str, err: ValidationError) -> str:
    """The first pydantic error as `<source>: <key path>: <message>` (+ a count of the others)."""
    errors = err.errors()
    first = errors[0]
    kind, value = first['type'], first.get('input')
    if kind == 'scenario':
        message = first['ctx']['detail']
    elif kind == 'missing':
        message = 'required key is missing'
    elif kind in ('model_type', 'model_attributes_type', 'dict_type'):
        message = f'{_fmt(value)} must be a mapping of keys'
    elif kind in ('list_type', 'tuple_type'):
        message = f'{_fmt(value)} must be a list'
    elif kind == 'extra_forbidden':
        message = f'unknown key {first["loc"][-1]!r}'
    else:
        message = f'{_fmt(value)}: {first["msg"]}'
    path = _key_path(first['loc']) or 'top level'
    more = f' (+{len(errors) - 1} more problem{"s" if len(errors) > 2 else ""})' if len(errors) > 1 else ''
    return f'{source}: {path}: {message}{more}'.replace('\n', ' ')


def parse_scenario(data: dict, source: str = '<dict>') -> Scenario:
    """Validate a scenario given as a dict (e.g. from yaml.safe_load); raise ScenarioError if invalid."""
    if not isinstance(data, dict):
        shown = 'nothing (empty file)' if data is None else _fmt(data)
        raise ScenarioError(f'{source}: top level: expected a mapping of keys (name, seed, area, ...), got {shown}')
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(_one_line(source, err)) from None
    problem = _cross_check(scenario)
    if problem is not None:
        raise ScenarioError(f'{source}: {problem[0]}: {problem[1]}')
    scenario._source = source
    scenario._raw = copy.deepcopy(data)
    return scenario


class _UniqueKeyLoader(yaml.SafeLoader):
    """yaml.SafeLoader that rejects a key given twice in one mapping (safe_load keeps the last silently)."""

    def construct_mapping(self, node, deep=False):
        keys = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in keys:
                raise yaml.constructor.ConstructorError(
                    None, None, f'duplicate key {key!r}', key_node.start_mark)
            keys.add(key)
        return super().construct_mapping(node, deep=deep)


def read_yaml(path, error=None):
    """The data of a YAML file (safe_load, but a key given twice in one mapping is an error); raises `error`
    (default ScenarioError) naming the file and the problem when it is missing, unreadable or not YAML."""
    error, source = error or ScenarioError, str(path)
    try:
        text = Path(path).read_text(encoding='utf-8')
    except FileNotFoundError:
        raise error(f'{source}: file not found') from None
    except (OSError, UnicodeDecodeError) as err:
        raise error(f'{source}: cannot read the file ({getattr(err, "strerror", None) or err})') from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)   # a SafeLoader: same as yaml.safe_load
    except yaml.YAMLError as err:
        mark = getattr(err, 'problem_mark', None)
        where = f'line {mark.line + 1}, column {mark.column + 1}: ' if mark is not None else ''
        problem = getattr(err, 'problem', None) or str(err)
        raise error(f'{source}: invalid YAML: {where}{problem}'.replace('\n', ' ')) from None


def load_scenario(path) -> Scenario:
    """Read and validate a scenario YAML file; raise ScenarioError (file, key, problem) if anything is wrong."""
    return parse_scenario(read_yaml(path), source=str(path))


def _set_dotted(data: dict, key: str, value, source: str):
    """Set data[a][b][c] = value for key 'a.b.c' ('a.b[0].c' and 'a.b.0.c' index lists); None deletes."""
    parts = [p for p in re.sub(r'\[(\d+)\]', r'.\1', key).split('.')]
    if not all(parts):
        raise ScenarioError(f'{source}: override {key!r}: not a dotted key path like rsus.sample.cost')
    node = data
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        where = '.'.join(parts[:depth + 1])
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ScenarioError(f'{source}: override {key!r}: {where} is not an index of a '
                                    f'{len(node)}-item list')
            part = int(part)
        elif not isinstance(node, dict):
            raise ScenarioError(f'{source}: override {key!r}: {".".join(parts[:depth])} is not a mapping')
        if last:
            if value is None:
                if isinstance(node, dict):
                    node.pop(part, None)
                else:
                    node[part] = None
            else:
                node[part] = value
        else:
            if isinstance(node, dict) and not isinstance(node.get(part), (dict, list)):
                node[part] = {}
            node = node[part]


def parse_overrides(assignments: Iterable[str]) -> dict:
    """['rsus.sample.cost=2.5', 'uavs.count=10'] -> {'rsus.sample.cost': 2.5, 'uavs.count': 10} (values as YAML)."""
    result = {}
    for text in assignments:
        key, sep, value = text.partition('=')
        if not sep or not key.strip():
            raise ScenarioError(f'override {text!r}: expected key.path=value, e.g. rsus.sample.cost=2.5')
        try:
            result[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise ScenarioError(f'override {text!r}: the value is not valid YAML') from None
    return result


# --- finding shipped scenarios ---------------------------------------------------------------

def scenario_dirs() -> list:
    """Where named scenarios are looked up: the installed package share dir (ament_index), then the repo."""
    return package_dirs('config/scenarios')


def resolve_scenario(name_or_path) -> Scenario:
    """Load a shipped scenario by name ('default', 'small') or a scenario file by path."""
    text = str(name_or_path)
    path = Path(text)
    if path.suffix in ('.yaml', '.yml') or os.sep in text or '/' in text or path.is_file():
        return load_scenario(path)
    dirs = scenario_dirs()
    for folder in dirs:
        for suffix in ('.yaml', '.yml'):
            candidate = folder / f'{text}{suffix}'
            if candidate.is_file():
                return load_scenario(candidate)
    known = sorted({p.stem for folder in dirs for p in folder.glob('*.y*ml')})
    raise ScenarioError(f'{text}: no such scenario (known: {", ".join(known) or "none"}; '
                        f'or give a path to a .yaml file)')

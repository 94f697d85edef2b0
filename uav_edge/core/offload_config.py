"""Seed-1 configuration file (config/seed1/default.yaml) -> validated Seed1Params + learner settings.

Every twin key maps 1:1 onto a field of uav_edge.core.offload.Seed1Params; the sections only group
them for reading. Bad input raises Seed1ConfigError with one line: `<file>: <section.key>: <problem>`
(value and allowed range), like uav_edge.core.scenario.ScenarioError, whose leaf validators we reuse.
"""
from dataclasses import fields, replace
from pathlib import Path
from typing import Any, Mapping, Optional

from pydantic import ValidationError, model_validator

from uav_edge.core.offload import OffloadInputError, Seed1Params
from uav_edge.core.scenario import Integer, Number, Vector, _fail, _Section, read_yaml   # same conventions
from uav_edge.resources import package_file

DEFAULT_CONFIG = Path(package_file('config/seed1/default.yaml'))      # installed share dir, else the repo


class Seed1ConfigError(ValueError):
    """A seed-1 config file or override is invalid; the message is one line: file, key, problem."""


class Sizes(_Section):
    num_busy_uds: Integer(1, 1000) = 10
    num_idle_uds: Integer(1, 1000) = 10
    num_uavs: Integer(1, 100) = 5
    num_slots: Integer(1, 100000) = 50
    slot_s: Number(1e-3, 3600.0) = 1.0


class Geometry(_Section):
    area_m: Number(1.0, 1e6) = 200.0
    altitude_min_m: Number(0.0, 1e4) = 100.0
    altitude_max_m: Number(0.0, 1e4) = 200.0
    initial_altitude_m: Vector((0.0, 1e4), (0.0, 1e4)) = (100.0, 200.0)
    safety_distance_m: Number(0.0, 1e3) = 3.0
    max_speed_mps: Number(0.1, 200.0) = 25.0
    polar_velocity: bool = False
    layout_seed: Integer(0, 2 ** 32 - 1) = 0


class Tasks(_Section):
    task_bits_min: Number(0.0, 1e12) = 1.5e6
    task_bits_max: Number(1.0, 1e12) = 3.5e6
    cycles_per_bit_min: Number(0.0, 1e6) = 700.0
    cycles_per_bit_max: Number(1.0, 1e6) = 1500.0


class Cpu(_Section):
    busy_cpu_max_hz: Number(1e6, 1e12) = 1.5e9
    idle_cpu_max_hz: Number(1e6, 1e12) = 1.5e9
    uav_cpu_max_hz: Number(1e6, 1e12) = 30e9
    cpu_floor_fraction: Number(1e-9, 1.0) = 1e-3


class Prices(_Section):
    uav_price_min: Number(0.0, 1e6) = 0.0
    uav_price_max: Number(0.0, 1e6) = 20.0
    idle_price_min: Number(0.0, 1e6) = 0.0
    idle_price_max: Number(0.0, 1e6) = 1.0


class Transcoding(_Section):
    bitrates_mbps: list[Number(1e-3, 1e3)] = [0.4, 0.8, 1.5, 2.0, 2.3]
    original_bitrate_mbps: Number(1e-3, 1e3) = 2.75
    transcode_m1: Number(0.0, 1e6) = 1.54
    transcode_m2: Number(-10.0, 10.0) = 0.08

    @model_validator(mode='after')
    def _levels(self):
        if not self.bitrates_mbps:
            _fail('bitrates_mbps must list at least one level')
        return self


class Energy(_Section):
    kappa: Number(1e-40, 1e-15) = 1e-27
    transcode_s1: Number(1e-40, 1e-15) = 1e-27
    transcode_y1: Number(1.0, 5.0) = 3.0
    battery_j: Number(1.0, 1e9) = 20e3


class Rotor(_Section):
    blade_power_w: Number(0.01, 1e5) = 59.03
    induced_power_w: Number(0.01, 1e5) = 79.07
    rotor_induced_velocity_mps: Number(0.01, 100.0) = 3.6
    tip_speed_mps: Number(1.0, 1000.0) = 120.0
    rotor_disc_area_m2: Number(1e-3, 100.0) = 0.503
    fuselage_drag_ratio: Number(0.0, 10.0) = 0.6
    air_density_kg_m3: Number(0.01, 10.0) = 1.225
    rotor_solidity: Number(1e-3, 1.0) = 0.05


class Channel(_Section):
    ref_gain_db: Number(-200.0, 0.0) = -30.0
    a2g_path_loss_exponent: Number(0.0, 10.0) = 2.0
    a2g_rician_k: Number(0.0, 1e6) = 10.0
    d2d_path_loss_exponent: Number(0.0, 10.0) = 3.0
    d2d_rician_k: Number(0.0, 1e6) = 0.0
    uav_bandwidth_hz: Number(1.0, 1e11) = 15e6
    d2d_bandwidth_hz: Number(1.0, 1e11) = 10e6
    noise_dbm: Number(-250.0, 30.0) = -100.0
    tx_power_w: Number(0.0, 100.0) = 0.5


class Reward(_Section):
    beta_floor: Number(1e-6, 1.0) = 0.05
    activity_gating: bool = True
    penalty_safety: Number(0.0, 1e9) = 1000.0
    penalty_battery: Number(0.0, 1e9) = 1000.0
    penalty_speed: Number(0.0, 1e9) = 1000.0
    penalty_per_count: bool = False
    reward_scale: Number(1e-12, 1e6) = 1e-3


class Learning(_Section):
    """TABLE II [P] and the spec's learner defaults (§4.3, §6, [D-A40], [D-A43], [D-A44])."""

    episodes: Integer(1, 100000) = 200
    steps_per_episode: Integer(1, 10 ** 7) = 600
    gamma: Number(0.0, 1.0) = 0.98
    actor_lr: Number(1e-8, 1.0) = 0.005
    critic_lr: Number(1e-8, 1.0) = 0.005
    tau: Number(0.0, 1.0) = 0.05
    hidden: list[Integer(1, 100000)] = [256, 256]
    batch_size: Integer(1, 10 ** 6) = 256
    buffer_size: Integer(1, 10 ** 8) = 10 ** 6
    exploration_std: Number(0.0, 10.0) = 0.1
    target_noise_std: Number(0.0, 10.0) = 0.2
    target_noise_clip: Number(0.0, 10.0) = 0.5
    policy_delay: Integer(1, 1000) = 2
    warmup_steps: Integer(0, 10 ** 8) = 1000
    ppo_lr: Number(1e-8, 1.0) = 3e-4
    ppo_rollout: Integer(2, 10 ** 7) = 600
    ppo_epochs: Integer(1, 1000) = 10
    ppo_minibatch: Integer(2, 10 ** 7) = 64
    ppo_clip: Number(0.0, 1.0) = 0.2
    ppo_gae_lambda: Number(0.0, 1.0) = 0.95
    ppo_log_std_init: Number(-20.0, 5.0) = -0.5
    ppo_vf_coef: Number(0.0, 100.0) = 0.5
    ppo_ent_coef: Number(0.0, 100.0) = 0.0
    ppo_max_grad_norm: Number(0.0, 1e6) = 0.5
    eval_periods: Integer(1, 100000) = 10


_TWIN_SECTIONS = {'sizes': Sizes, 'geometry': Geometry, 'tasks': Tasks, 'cpu': Cpu, 'prices': Prices,
                  'transcoding': Transcoding, 'energy': Energy, 'rotor': Rotor, 'channel': Channel,
                  'reward': Reward}


class Seed1File(_Section):
    name: str = 'seed1'
    sizes: Sizes = Sizes()
    geometry: Geometry = Geometry()
    tasks: Tasks = Tasks()
    cpu: Cpu = Cpu()
    prices: Prices = Prices()
    transcoding: Transcoding = Transcoding()
    energy: Energy = Energy()
    rotor: Rotor = Rotor()
    channel: Channel = Channel()
    reward: Reward = Reward()
    learning: Learning = Learning()


class Seed1Config:
    """A validated seed-1 file: `.params` (Seed1Params), `.learning` (Learning), `.name`, `.source`."""

    def __init__(self, params: Seed1Params, learning: Learning, name: str, source: str):
        self.params, self.learning, self.name, self.source = params, learning, name, source

    def with_params(self, **changes) -> 'Seed1Config':
        """The same config with Seed1Params fields replaced (e.g. num_uavs=3 for a sweep)."""
        try:
            params = replace(self.params, **changes)
        except (OffloadInputError, TypeError) as err:
            raise Seed1ConfigError(f'{self.source}: {err}') from None
        return Seed1Config(params, self.learning, self.name, self.source)


def _one_line(source, err: ValidationError) -> str:
    first = err.errors()[0]
    path = '.'.join(str(p) for p in first['loc']) or 'top level'
    if first['type'] == 'scenario':
        message = first['ctx']['detail']
    elif first['type'] == 'model_type':
        message = f'{first.get("input")!r} must be a mapping of keys'
    else:
        message = f'{first.get("input")!r}: {first["msg"]}'
    return f'{source}: {path}: {message}'.replace('\n', ' ')


_FIELD_SECTION = {name: section for section, model in _TWIN_SECTIONS.items() for name in model.model_fields}


def parse_seed1_config(data: Optional[Mapping[str, Any]], source: str = '<dict>') -> Seed1Config:
    """Validate a dict (as from YAML) into Seed1Config; raise Seed1ConfigError (one line) if invalid."""
    if not isinstance(data, dict):
        raise Seed1ConfigError(f'{source}: top level: expected a mapping of sections, got {data!r}')
    try:
        model = Seed1File.model_validate(data)
    except ValidationError as err:
        raise Seed1ConfigError(_one_line(source, err)) from None
    values = {}
    for section in _TWIN_SECTIONS:
        values.update(getattr(model, section).model_dump())
    values['bitrates_mbps'] = tuple(values['bitrates_mbps'])
    values['initial_altitude_m'] = tuple(values['initial_altitude_m'])
    assert set(values) == {f.name for f in fields(Seed1Params)}, 'config sections out of sync with Seed1Params'
    try:
        params = Seed1Params(**values)
    except OffloadInputError as err:   # cross-field relations (min < max): name the key as in the file
        field_name = str(err).split(':')[0].split('.')[-1]
        raise Seed1ConfigError(f'{source}: {_FIELD_SECTION.get(field_name, "?")}.{field_name}: '
                               f'{str(err).split(": ", 1)[1]}') from None
    return Seed1Config(params, model.learning, model.name, source)


def load_seed1_config(path=None, overrides: Optional[Mapping[str, Any]] = None) -> Seed1Config:
    """Read + validate a seed-1 YAML (default: config/seed1/default.yaml); overrides {'sizes.num_uavs': 3}."""
    source = str(path or DEFAULT_CONFIG)
    data = read_yaml(source, Seed1ConfigError)
    for key, value in (overrides or {}).items():
        section, _, name = key.partition('.')
        if not name or not isinstance(data, dict):
            raise Seed1ConfigError(f'{source}: override {key!r}: expected section.key')
        data.setdefault(section, {})
        if not isinstance(data[section], dict):
            raise Seed1ConfigError(f'{source}: {section}: must be a mapping of keys')
        data[section][name] = value
    return parse_seed1_config(data, source)

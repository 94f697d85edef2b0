"""The scenario file: shipped files load, sampling follows spec seed0 Appendix C, errors are one clear line."""
import copy
from pathlib import Path

import numpy as np
import pytest
import yaml

from uav_edge.core.game import GameParams, solve_equilibrium
from uav_edge.core.scenario import (ScenarioError, load_scenario, parse_overrides, parse_scenario,
                                    resolve_scenario)

SCENARIOS = Path(__file__).resolve().parents[1] / 'config' / 'scenarios'
DEFAULT = SCENARIOS / 'default.yaml'
SMALL = SCENARIOS / 'small.yaml'


def appendix_c_draw(seed, J, I, cost=None, price_cap=None, ssim_range=(0.85, 1.0)):
    """Spec seed0 Appendix C, written out by hand: q, S, delta, cost, price cap, budget."""
    rng = np.random.default_rng(seed)
    noise = rng.uniform(-116, -112, J)
    gain = rng.uniform(-25, -22, J)
    tx = rng.uniform(20, 25, J)
    l = rng.uniform(*ssim_range, (I, J))   # noqa: E741
    contrast = rng.uniform(*ssim_range, (I, J))
    s = rng.uniform(*ssim_range, (I, J))
    ssim_th = rng.uniform(0.5, 0.55, I)
    delta = rng.uniform(10, 20, I)
    cost = rng.uniform(1, 4, J) if cost is None else np.full(J, cost)            # skipped when fixed
    price_cap = rng.uniform(5, 35, J) if price_cap is None else np.full(J, price_cap)
    budget = rng.uniform(5, 10, I)
    q = np.log2(1 + 10 ** ((tx + gain - noise) / 10))
    S = np.log(l * contrast * s / ssim_th[:, None])
    return dict(q=np.broadcast_to(q, (I, J)), S=S, delta=delta, budget=budget, cost=cost, price_cap=price_cap)


def assert_game_equal(params: GameParams, expected: dict):
    for field, value in expected.items():
        np.testing.assert_allclose(getattr(params, field), value, rtol=1e-12, err_msg=field)


def fixed_world_dict():
    """A fully fixed scenario: 2 RSUs, 2 UAVs (SSIM given), 1 user."""
    return {
        'name': 'fixed', 'seed': 7,
        'area': {'size_m': [500, 400], 'altitude_m': [20, 100], 'no_fly': [[300, 300, 400, 380]]},
        'rsus': {'items': [
            {'name': 'north', 'position_m': [100, 350, 12], 'noise_dbm': -114, 'gain_db': -23,
             'tx_power_dbm': 22, 'cost': 2, 'price_cap': 30},
            {'name': 'south', 'position_m': [400, 50, 8], 'noise_dbm': -113, 'gain_db': -24,
             'tx_power_dbm': 21, 'cost': 3, 'price_cap': 12},
        ]},
        'uavs': {'items': [
            {'name': 'alpha', 'home_m': [10, 20, 0], 'delta': 15, 'budget': 6, 'ssim_threshold': 0.5,
             'ssim': {'l': [0.9, 0.95], 'contrast': [0.92, 0.9], 's': [0.97, 0.88]}},
            {'name': 'bravo', 'home_m': [30, 40, 0], 'delta': 12, 'budget': 8, 'ssim_threshold': 0.55,
             'battery_wh': 250, 'cruise_speed_mps': 14,
             'ssim': {'l': [0.99, 0.86], 'contrast': [0.9, 0.93], 's': [0.91, 0.96]}},
        ]},
        'users': {'items': [{'name': 'umu0', 'position_m': [250, 250, 1.5]}]},
        'game': {'follower_mode': 'paper'},
        'policies': {'pricing': 'onnx', 'pricing_model': 'models/pricing.onnx'},
    }


# --- shipped files -----------------------------------------------------------------------------

@pytest.mark.parametrize('name, path, J, I, U', [('default', DEFAULT, 5, 15, 10), ('small', SMALL, 2, 3, 3)])
def test_shipped_scenarios_load_with_the_papers_sizes(name, path, J, I, U):
    for scenario in (load_scenario(path), resolve_scenario(name), resolve_scenario(str(path))):
        assert (scenario.name, scenario.seed) == (name, 0)
        assert (scenario.num_rsus, scenario.num_uavs, scenario.num_users) == (J, I, U)
        world = scenario.sample()
        assert world.rsu_positions_m.shape == (J, 3) and world.uav_homes_m.shape == (I, 3)
        assert world.user_positions_m.shape == (U, 3)
        assert np.all(world.area_size_m == 2000.0)
        params = world.game_params()
        assert (params.num_uavs, params.num_rsus) == (I, J)


def test_every_value_in_the_shipped_yaml_is_commented():
    for path in (DEFAULT, SMALL):
        for line in path.read_text().splitlines():
            key_line = line.split('#')[0].strip()
            if key_line and not key_line.endswith(':'):      # a key with a value, not a section header
                assert '#' in line, f'{path.name}: uncommented line {line!r}'


# --- sampling: Appendix C order, streams, determinism ---------------------------------------------

@pytest.mark.parametrize('seed', [0, 3])
def test_game_draw_follows_appendix_c_order(seed):
    scenario = load_scenario(DEFAULT).with_overrides(seed=seed)
    assert_game_equal(scenario.sample().game_params(), appendix_c_draw(seed, J=5, I=15))


def test_fixed_cost_and_price_cap_skip_their_draws():
    # Fig. 5(b) sweep point: c = 2.5 and pbar = 20 for all RSUs; R must then be the next draw after delta
    scenario = load_scenario(DEFAULT).with_overrides(
        {'rsus.sample.cost': 2.5, 'rsus.sample.price_cap': 20, 'uavs.count': 10})
    expected = appendix_c_draw(0, J=5, I=10, cost=2.5, price_cap=20.0)
    assert_game_equal(scenario.sample().game_params(), expected)


@pytest.mark.parametrize('overrides, reference', [
    # spec §8.3 [D]: per-RSU SE reward, mean over parameter seeds 0-4, printed to 2 decimals
    ({'rsus.count': 3, 'uavs.count': 3}, 6.40),                                      # Fig. 6(b)
    ({'rsus.count': 3, 'uavs.count': 15}, 33.45),                                    # Fig. 6(b) / 6(a)
    ({'rsus.count': 2, 'uavs.count': 15}, 46.06),                                    # Fig. 6(a)
    ({'rsus.count': 5, 'uavs.count': 15}, 17.90),                                    # Fig. 6(a)
    ({'rsus.count': 3, 'uavs.count': 10, 'rsus.sample.cost': 1.0, 'rsus.sample.price_cap': 20}, 23.36),  # 5(a)
    ({'rsus.count': 3, 'uavs.count': 15, 'rsus.sample.cost': 4.0, 'rsus.sample.price_cap': 20}, 30.63),  # 5(a)
    ({'rsus.count': 5, 'uavs.count': 15, 'rsus.sample.cost': 2.5, 'rsus.sample.price_cap': 5}, 11.62),   # 5(b)
], ids=['6b-J3-I3', '6b-J3-I15', '6a-J2', '6a-J5', '5a-c1', '5a-c4', '5b-pbar5'])
def test_sampled_games_reproduce_the_spec_reference_sweeps(overrides, reference):
    # end to end: Appendix C draw (incl. skipped cost / price-cap draws) -> GameParams -> SE solver
    base = load_scenario(DEFAULT)
    values = [solve_equilibrium(base.with_overrides({**overrides, 'seed': seed}).sample().game_params())
              .mean_rsu_utility for seed in range(5)]
    assert np.mean(values) == pytest.approx(reference, abs=0.006)


def test_default_magnitudes_match_spec_section_2_8():
    for seed in range(5):
        params = load_scenario(DEFAULT).with_overrides(seed=seed).sample().game_params()
        # SNR in [107, 119] dB -> q in [35.54, 39.53] bit/s/Hz
        assert np.all((params.q >= 35.54 - 1e-2) & (params.q <= 39.53 + 1e-2))
        # SSIM in [0.85^3, 1], threshold in [0.5, 0.55] -> S in [ln(0.614/0.55), ln 2] = [0.110, 0.693]
        assert np.all((params.S >= np.log(0.85 ** 3 / 0.55)) & (params.S <= np.log(2.0)))
        assert np.all((params.budget >= 5) & (params.budget <= 10))       # G1
        assert np.all(params.price_cap >= params.cost)


def test_literal_table_ssim_range_leaves_almost_no_demand():
    # spec §6.3: l, c, s ~ U[0, 1] gives P(SSIM > SSIM_th) ~ 2.8 %
    scenario = load_scenario(DEFAULT).with_overrides(
        {'uavs.ssim_component_range': [0.0, 1.0], 'uavs.count': 1000})
    positive = np.mean(scenario.sample().game_params().S > 0)
    assert 0.02 < positive < 0.036


def test_sampling_is_deterministic_per_seed_and_differs_across_seeds():
    a, b = load_scenario(DEFAULT).sample(), load_scenario(DEFAULT).sample()
    c = load_scenario(DEFAULT).with_overrides(seed=1).sample()
    for field in ('rsu_positions_m', 'uav_homes_m', 'user_positions_m', 'noise_dbm', 'ssim_l', 'budget'):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
        assert not np.allclose(getattr(a, field), getattr(c, field)), field


def test_geometry_never_changes_the_game_draw():
    base = load_scenario(DEFAULT)
    more = base.with_overrides({'users.count': 50, 'area.no_fly': [[0, 0, 1500, 2000]],
                                'rsus.sample.mast_height_m': 25, 'uavs.sample.battery_wh': [80, 120]})
    assert_game_equal(more.sample().game_params(), appendix_c_draw(0, J=5, I=15))
    world = more.sample()
    expected_rsus = base.sample().rsu_positions_m.copy()   # drawn first: same x, y; new mast height
    expected_rsus[:, 2] = 25.0
    np.testing.assert_array_equal(world.rsu_positions_m, expected_rsus)
    assert np.all(world.uav_homes_m[:, 0] > 1500)                     # homes avoid the no-fly cell
    assert np.all((world.battery_wh >= 80) & (world.battery_wh <= 120))


def test_positions_lie_in_the_area_at_their_heights():
    world = load_scenario(DEFAULT).with_overrides({'users.count': 200}).sample()
    for points, z in ((world.rsu_positions_m, 10.0), (world.uav_homes_m, 0.0), (world.user_positions_m, 1.5)):
        assert np.all((points[:, :2] >= 0) & (points[:, :2] <= 2000))
        assert np.all(points[:, 2] == z)
    assert world.rsu_names == tuple(f'rsu{j}' for j in range(5))
    assert world.uav_names[0] == 'uav0' and len(set(world.user_names)) == 200


# --- fixed items ----------------------------------------------------------------------------------

def test_fixed_items_round_trip():
    data = fixed_world_dict()
    world = parse_scenario(data).sample()
    assert world.rsu_names == ('north', 'south') and world.uav_names == ('alpha', 'bravo')
    np.testing.assert_array_equal(world.rsu_positions_m, [[100, 350, 12], [400, 50, 8]])
    np.testing.assert_array_equal(world.uav_homes_m, [[10, 20, 0], [30, 40, 0]])
    np.testing.assert_array_equal(world.user_positions_m, [[250, 250, 1.5]])
    np.testing.assert_array_equal(world.battery_wh, [100, 250])         # item default [A], then given
    np.testing.assert_array_equal(world.cruise_speed_mps, [10, 14])
    params = world.game_params()
    q = np.log2(1 + 10 ** ((np.array([22, 21]) + [-23, -24] - np.array([-114, -113])) / 10))
    l, c, s = (np.array([u['ssim'][k] for u in data['uavs']['items']]) for k in ('l', 'contrast', 's'))
    assert_game_equal(params, dict(q=np.broadcast_to(q, (2, 2)), S=np.log(l * c * s / np.array([[0.5], [0.55]])),
                                   delta=[15, 12], budget=[6, 8], cost=[2, 3], price_cap=[30, 12]))
    assert world.follower_mode == 'paper' and world.policies.pricing_model == 'models/pricing.onnx'
    # nothing random: another seed gives the same world; the dict round-trips
    other = parse_scenario({**data, 'seed': 99}).sample()
    np.testing.assert_array_equal(other.game_params().S, params.S)
    again = parse_scenario(parse_scenario(data).to_dict()).sample()
    np.testing.assert_array_equal(again.game_params().q, params.q)


def test_item_without_ssim_draws_it_first_from_the_game_stream():
    data = fixed_world_dict()
    del data['uavs']['items'][1]['ssim']
    data['uavs']['ssim_component_range'] = [0.9, 1.0]
    world = parse_scenario(data).sample()
    rng = np.random.default_rng(7)   # RSUs fixed: noise, gain, tx draws skipped; l, contrast, s of UAV 1
    expected = [rng.uniform(0.9, 1.0, (1, 2))[0] for _ in range(3)]
    np.testing.assert_array_equal([world.ssim_l[1], world.ssim_contrast[1], world.ssim_s[1]], expected)
    np.testing.assert_array_equal(world.ssim_l[0], [0.9, 0.95])


# --- overrides ------------------------------------------------------------------------------------

def test_overrides_revalidate_and_leave_the_original_alone():
    base = load_scenario(SMALL)
    swept = base.with_overrides({'rsus.sample.cost': 2.5}, uavs__count=10)
    assert swept.num_uavs == 10 and base.num_uavs == 3
    np.testing.assert_array_equal(swept.sample().cost, np.full(2, 2.5))
    with pytest.raises(ScenarioError, match=r'small\.yaml.*: rsus\.sample\.cost: 0\.001 is outside'):
        base.with_overrides({'rsus.sample.cost': 0.001})
    with pytest.raises(ScenarioError, match=r'uavs\.count: -3 is outside the allowed range \[1, 100000\]'):
        base.with_overrides(parse_overrides(['uavs.count=-3']))
    fixed = parse_scenario(fixed_world_dict())
    assert fixed.with_overrides({'uavs.items[1].budget': 9.5}).sample().budget[1] == 9.5
    assert fixed.with_overrides({'uavs.items.0.budget': 1}).sample().budget[0] == 1
    # None removes a key: switch the RSUs from a fixed list to a random instance
    random_rsus = fixed.with_overrides({'rsus.items': None, 'rsus.count': 2, 'uavs.items.0.ssim': None,
                                        'uavs.items.1.ssim': None})
    assert random_rsus.rsus.items is None and random_rsus.num_rsus == 2
    with pytest.raises(ScenarioError, match=r"override 'uavs\.items\.5\.budget'"):
        fixed.with_overrides({'uavs.items.5.budget': 1})


def test_parse_overrides_reads_values_as_yaml():
    assert parse_overrides(['rsus.sample.cost=2.5', 'uavs.count=10', 'game.follower_mode=paper',
                            'rsus.sample.price_cap=[5, 20]']) == {
        'rsus.sample.cost': 2.5, 'uavs.count': 10, 'game.follower_mode': 'paper',
        'rsus.sample.price_cap': [5, 20]}
    with pytest.raises(ScenarioError, match='expected key.path=value'):
        parse_overrides(['uavs.count'])


# --- errors: one line naming file, key path and value ---------------------------------------------

def _set(data, key, value):
    *parents, last = key.split('.')
    node = data
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if value is _DELETE:
        del node[last]
    else:
        node[int(last) if isinstance(node, list) else last] = value


_DELETE = object()
SMALL_DATA = yaml.safe_load(SMALL.read_text())

ERROR_CASES = [
    # (id, base, key to change, new value, expected key path, expected text naming value / rule)
    ('wrong type', 'small', 'rsus.sample.cost', 'cheap', 'rsus.sample.cost', "'cheap' is not a number"),
    ('bool is not a count', 'small', 'users.count', True, 'users.count', 'true is not a number'),
    ('not an integer', 'small', 'uavs.count', 2.5, 'uavs.count', '2.5 is not an integer'),
    ('not a mapping', 'small', 'uavs', 'many', 'uavs', "'many' must be a mapping"),
    ('out of range', 'small', 'rsus.sample.cost', 0.001, 'rsus.sample.cost',
     '0.001 is outside the allowed range [0.01, 1000]'),
    ('negative seed', 'small', 'seed', -1, 'seed', '-1 is outside the allowed range [0, 4294967295]'),
    ('range out of range', 'small', 'uavs.sample.ssim_threshold', [0.5, 1.5], 'uavs.sample.ssim_threshold',
     '[0.5, 1.5] is outside the allowed range [0.01, 1]'),
    ('lo > hi', 'small', 'uavs.sample.delta', [20, 10], 'uavs.sample.delta', '[20, 10] is not a range: lo > hi'),
    ('unknown key', 'small', 'rsus.sample.coast', 2, 'rsus.sample',
     "unknown key 'coast' (allowed: noise_dbm, gain_db, tx_power_dbm, cost, price_cap"),
    ('unknown top-level key', 'small', 'uav', {}, 'top level', "unknown key 'uav' (allowed: name, seed"),
    ('missing required key', 'small', 'seed', _DELETE, 'seed', 'required key is missing'),
    ('missing item key', 'fixed', 'rsus.items.1.cost', _DELETE, 'rsus.items[1].cost', 'required key is missing'),
    ('range of 3', 'small', 'uavs.sample.budget', [5, 7, 9], 'uavs.sample.budget', '[5, 7, 9] must be a number or'),
    ('short size', 'small', 'area.size_m', [2000], 'area.size_m', '[2000] must have 2 values, got 1'),
    ('short position', 'fixed', 'rsus.items.0.position_m', [1, 2], 'rsus.items[0].position_m',
     '[1, 2] must have 3 values'),
    ('ssim per RSU', 'fixed', 'uavs.items.1.ssim.s', [0.9], 'uavs.items[1].ssim.s',
     '[0.9] must have 2 values (one per RSU), got 1'),
    ('NaN', 'small', 'rsus.sample.noise_dbm', float('nan'), 'rsus.sample.noise_dbm', 'nan is not a finite number'),
    ('inf in a range', 'small', 'uavs.sample.delta', [10, float('inf')], 'uavs.sample.delta',
     'inf is not a finite number'),
    ('inf in an item', 'fixed', 'uavs.items.0.budget', float('-inf'), 'uavs.items[0].budget',
     '-inf is not a finite number'),
    ('bad enum', 'small', 'game.follower_mode', 'literal', 'game.follower_mode',
     "'literal' is not one of: exact, paper"),
    ('bad policy', 'small', 'policies.pricing', 'magic', 'policies.pricing', "'magic' is not one of: analytic, onnx"),
    ('altitude band', 'small', 'area.altitude_m', [120, 30], 'area.altitude_m', '[120, 30] must be [min, max]'),
    ('cap below cost', 'small', 'rsus.sample.price_cap', [3, 20], 'rsus.sample.price_cap',
     '[3, 20] can fall below rsus.sample.cost [1, 4]'),
    ('item cap below cost', 'fixed', 'rsus.items.1.price_cap', 2.5, 'rsus.items[1].price_cap', '2.5 is below cost 3'),
    ('outside the area', 'fixed', 'users.items.0.position_m', [600, 10, 0], 'users.items[0].position_m',
     '[600, 10, 0] is outside the area [500, 400]'),
    ('no-fly outside', 'small', 'area.no_fly', [[0, 0, 2500, 10]], 'area.no_fly[0]', 'is outside the area'),
    ('home in no-fly', 'fixed', 'uavs.items.0.home_m', [350, 350, 0], 'uavs.items[0].home_m',
     'inside an area.no_fly cell'),
    ('bad name', 'fixed', 'uavs.items.0.name', 'uav 0', 'uavs.items[0].name', "'uav 0' is not a valid name"),
    ('duplicate name', 'fixed', 'uavs.items.1.name', 'north', 'uavs.items[1].name', "'north' is already used"),
    ('count and items', 'fixed', 'rsus.count', 2, 'rsus', 'give either count (+ sample)'),
    ('neither count nor items', 'small', 'uavs.count', _DELETE, 'uavs', 'give count (+ sample)'),
]


@pytest.mark.parametrize('base, key, value, path, text', [case[1:] for case in ERROR_CASES],
                         ids=[case[0] for case in ERROR_CASES])
def test_bad_field_is_one_line_naming_file_key_and_value(tmp_path, base, key, value, path, text):
    data = copy.deepcopy(SMALL_DATA if base == 'small' else fixed_world_dict())
    _set(data, key, value)
    file = tmp_path / 'x.yaml'
    file.write_text(yaml.safe_dump(data))
    with pytest.raises(ScenarioError) as info:
        load_scenario(file)
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert '\n' not in message
    assert message.startswith(f'{file}: {path}: '), message
    assert text in message, message


@pytest.mark.parametrize('content, text', [
    (None, 'file not found'),
    ('name: x\nseed: [0\n', 'invalid YAML: line 3, column 1'),
    ('name: x\n  seed: 0\n', 'invalid YAML: line 2'),
    ('', 'top level: expected a mapping of keys (name, seed, area, ...), got nothing (empty file)'),
    ('- 1\n- 2\n', 'top level: expected a mapping of keys (name, seed, area, ...), got [1, 2]'),
    ('name: x\nseed: 0\nseed: 1\n', "invalid YAML: line 3, column 1: duplicate key 'seed'"),
], ids=['missing file', 'unclosed list', 'bad indent', 'empty file', 'list at top', 'duplicate key'])
def test_file_level_errors_are_one_line(tmp_path, content, text):
    file = tmp_path / 'bad.yaml'
    if content is not None:
        file.write_text(content)
    with pytest.raises(ScenarioError) as info:
        load_scenario(file)
    assert '\n' not in str(info.value)
    assert str(info.value).startswith(f'{file}: ')
    assert text in str(info.value), str(info.value)


def test_unknown_scenario_name_lists_the_shipped_ones():
    with pytest.raises(ScenarioError, match=r'nosuch: no such scenario \(known: .*default.*small'):
        resolve_scenario('nosuch')


def test_a_degenerate_channel_is_a_scenario_error_not_a_numpy_traceback():
    # allowed extremes: 0 dBm noise, -200 dB gain, -30 dBm power -> q underflows to 0 in float64
    scenario = load_scenario(SMALL).with_overrides(
        {'rsus.sample.noise_dbm': 0, 'rsus.sample.gain_db': -200, 'rsus.sample.tx_power_dbm': -30})
    with pytest.raises(ScenarioError, match=r'small\.yaml.*: the sampled game is invalid: q'):
        scenario.sample().game_params()

"""Runtime pricing policy (ONNX, no torch): exported graph equals the torch actor; card checks; bad input."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from uav_edge.envs.pricing_env import params_from_scenario, price_from_action
from uav_edge.policy.onnx_policy import PolicyError, load_pricing_policy

MODELS = os.path.join(os.path.dirname(__file__), '..', 'models')
TOL = 1e-5            # fp32 ONNX vs torch actor: max |diff| of tanh outputs (float32 rounding only)
INT8_TOL = 0.05       # int8 dynamic quantisation vs fp32: max |diff| of actions in [-1, 1]


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    """A briefly trained, pruned 2-RSU / 3-UAV policy exported to fp32 + int8 ONNX with cards."""
    import torch

    from uav_edge.core import game
    from uav_edge.learn.export import export_trained
    from uav_edge.learn.tiny_madrl import Trainer, TrainConfig, held_out_report

    torch.set_num_threads(1)
    world, params = params_from_scenario('small')
    cfg = TrainConfig(episodes=4, episode_steps=10, hidden=(16, 16), minibatch=10, epochs=1, prune_start=1,
                      prune_every=1, prune_steps=2, eval_every=3)
    trainer = Trainer(params, cfg, seed=0)
    trainer.train()
    eq = game.solve_equilibrium(params)
    report = held_out_report(trainer.act_deterministic, params, cfg.env, eq, range(1))
    out = tmp_path_factory.mktemp('models')
    fp32, int8 = export_trained(trainer, world, str(out), 'pricing', report)
    return trainer, world, params, fp32, int8


def test_onnx_output_equals_torch_actor_on_random_observations(exported):
    trainer, world, params, fp32, _ = exported
    policy = load_pricing_policy(fp32, world=world)
    obs = np.random.default_rng(0).uniform(0, 2, (256, params.num_rsus, policy.obs_dim)).astype(np.float32)
    action, price = policy.run(obs)
    np.testing.assert_allclose(action, trainer.act_deterministic(obs), atol=TOL, rtol=0)
    np.testing.assert_allclose(price, price_from_action(action, params.cost, params.price_cap), rtol=1e-5)
    assert np.all((price >= params.cost[:, None] - 1e-4) & (price <= params.price_cap[:, None] + 1e-4))
    # One RSU alone (other rows zero-filled) gets the same prices as in the joint call.
    np.testing.assert_allclose(policy.price_for(1, obs[0, 1]), price[0, 1], rtol=1e-6)


def test_exported_model_is_physically_pruned(exported):
    trainer, _, _, fp32, _ = exported
    card = load_pricing_policy(fp32).card
    assert card['pruning']['hidden_per_rsu'] == [[8, 8], [8, 8]]            # 50% of 16 neurons removed
    assert card['pruning']['actor_params'] < 0.5 * card['pruning']['actor_params_dense']
    import onnx
    model = onnx.load(fp32)
    matmul_inputs = {name for node in model.graph.node if node.op_type == 'MatMul' for name in node.input}
    shapes = [tuple(t.dims) for t in model.graph.initializer if t.name in matmul_inputs]
    assert sorted(shapes) == sorted([(30, 8), (8, 8), (8, 3)] * 2)            # no 16-wide weight survives


def test_int8_model_stays_close_to_fp32_and_card_says_int8(exported):
    _, world, params, fp32, int8 = exported
    a, b = load_pricing_policy(fp32), load_pricing_policy(int8, world=world)
    obs = np.random.default_rng(1).uniform(0, 1, (64, params.num_rsus, a.obs_dim)).astype(np.float32)
    assert np.max(np.abs(a.action(obs) - b.action(obs))) < INT8_TOL
    assert b.card['precision'] == 'int8-dynamic' and a.card['precision'] == 'fp32'
    import onnx
    ops = {node.op_type for node in onnx.load(int8).graph.node}
    assert 'DynamicQuantizeLinear' in ops or 'DynamicQuantizeMatMul' in ops or 'MatMulInteger' in ops


def test_card_scenario_mismatch_is_a_clear_error(exported):
    _, world, _, fp32, _ = exported
    from uav_edge.core.scenario import resolve_scenario

    policy = load_pricing_policy(fp32)
    with pytest.raises(PolicyError, match='trained for 2 RSUs .* has 5'):
        policy.check_world(resolve_scenario('default').sample())
    with pytest.raises(PolicyError, match=r'trained for 3 UAVs \(observation size 30 .* has 4 UAVs'):
        policy.check_world(resolve_scenario('small').with_overrides({'uavs.count': 4}).sample())
    with pytest.raises(PolicyError, match=r'cost\[0\] \(RSU 0\)'):
        policy.check_world(resolve_scenario('small').with_overrides({'rsus.sample.cost': 2.0}).sample())


def test_missing_corrupt_and_wrong_opset_files_are_clear_errors(exported, tmp_path):
    _, _, _, fp32, _ = exported
    with pytest.raises(PolicyError, match='model file not found'):
        load_pricing_policy(tmp_path / 'nope.onnx')
    lonely = tmp_path / 'lonely.onnx'
    shutil.copy(fp32, lonely)
    with pytest.raises(PolicyError, match='model card not found'):
        load_pricing_policy(lonely)
    card = json.load(open(fp32[:-5] + '.json'))
    corrupt = tmp_path / 'corrupt.onnx'
    corrupt.write_bytes(b'\x08\x07garbage' * 50)
    json.dump(card, open(tmp_path / 'corrupt.json', 'w'))
    with pytest.raises(PolicyError, match='sha256 differs'):
        load_pricing_policy(corrupt)
    from uav_edge.policy.onnx_policy import OnnxPricingPolicy
    with pytest.raises(PolicyError, match='not a valid ONNX model|cannot load'):
        OnnxPricingPolicy(corrupt, verify_hash=False)
    (tmp_path / 'badcard.onnx').write_bytes(open(fp32, 'rb').read())
    (tmp_path / 'badcard.json').write_text('{"format": ')
    with pytest.raises(PolicyError, match='not valid JSON'):
        load_pricing_policy(tmp_path / 'badcard.onnx')
    wrong = tmp_path / 'wrong.onnx'
    shutil.copy(fp32, wrong)
    json.dump({**card, 'onnx': {**card['onnx'], 'opset': 9}}, open(tmp_path / 'wrong.json', 'w'))
    with pytest.raises(PolicyError, match='model opset 17 != card opset 9'):
        load_pricing_policy(wrong)


def test_unsupported_opset_is_refused(tmp_path, exported):
    import onnx
    from onnx import TensorProto, helper

    _, _, _, fp32, _ = exported
    graph = helper.make_graph([helper.make_node('Identity', ['observation'], ['action'])], 'g',
                              [helper.make_tensor_value_info('observation', TensorProto.FLOAT, [1, 2, 30])],
                              [helper.make_tensor_value_info('action', TensorProto.FLOAT, [1, 2, 30])])
    path = tmp_path / 'old.onnx'
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid('', 9)]), path)
    card = json.load(open(fp32[:-5] + '.json'))
    card.update(sha256=None, onnx={**card['onnx'], 'opset': 9})
    json.dump(card, open(tmp_path / 'old.json', 'w'))
    with pytest.raises(PolicyError, match='opset 9 is not supported'):
        load_pricing_policy(path)


def test_nan_and_misshaped_observations_are_rejected(exported):
    _, _, params, fp32, _ = exported
    policy = load_pricing_policy(fp32)
    obs = np.zeros((params.num_rsus, policy.obs_dim), np.float32)
    obs[1, 7] = np.nan
    with pytest.raises(PolicyError, match=r'observation\[1, 7\] \(RSU 1, element 7\): must be finite'):
        policy.prices(obs)
    with pytest.raises(PolicyError, match='expected shape'):
        policy.prices(np.zeros((params.num_rsus, 5), np.float32))
    with pytest.raises(PolicyError, match='rsu_index'):
        policy.price_for(2, obs[0])


def test_runtime_loader_never_imports_torch():
    code = ('import sys; import uav_edge.policy.onnx_policy as p; '
            "assert 'torch' not in sys.modules, 'torch imported'; print('ok')")
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and 'ok' in result.stdout, result.stderr


@pytest.mark.skipif(not os.path.exists(os.path.join(MODELS, 'seed0_pricing_default.onnx')),
                    reason='shipped model not present')
def test_shipped_default_policy_serves_the_default_scenario_near_the_equilibrium():
    from uav_edge.core import game
    from uav_edge.core.scenario import resolve_scenario
    from uav_edge.envs.pricing_env import PricingEnvConfig
    from uav_edge.learn.tiny_madrl import evaluate_policy

    world = resolve_scenario('default').sample()
    params = world.game_params()
    theory = game.solve_equilibrium(params).mean_rsu_utility
    for name in ('seed0_pricing_default.onnx', 'seed0_pricing_default.int8.onnx'):
        policy = load_pricing_policy(os.path.join(MODELS, name), world=world)
        value = evaluate_policy(policy.action, params, PricingEnvConfig(), range(3))   # held-out seeds
        assert abs(value - theory) / theory < 0.02                                     # issue 3 target
        assert policy.card['pruning']['actor_params'] <= 0.5 * policy.card['pruning']['actor_params_dense']

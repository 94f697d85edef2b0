"""Seed-1 learners on tiny budgets: spec hyperparameters reach SB3, training runs, the exported ONNX actor
equals the SB3 actor (atol 1e-5), and the runtime policy checks its card and falls back safely."""
import json
import os
import shutil

import numpy as np
import pytest

torch = pytest.importorskip('torch')

from uav_edge.core import offload                                   # noqa: E402
from uav_edge.core.offload_config import load_seed1_config          # noqa: E402
from uav_edge.learn import seed1                                    # noqa: E402
from uav_edge.learn.export_seed1 import action_maps, export_actor   # noqa: E402
from uav_edge.learn.reproduce_seed1 import check_claims, confidence_interval   # noqa: E402
from uav_edge.policy.offload_policy import PolicyError, load_offload_policy   # noqa: E402

CONFIG = load_seed1_config()
ONNX_TOLERANCE = 1e-5     # float32 graph vs torch eager, same weights


def test_spec_hyperparameters_reach_sb3():
    env = seed1.make_training_env(CONFIG.params, 0)
    td3 = seed1.build_model('td3', env, CONFIG.learning, 0)
    assert (td3.gamma, td3.tau, td3.batch_size, td3.learning_starts, td3.policy_delay) == (0.98, 0.05, 256, 1000, 2)
    assert (td3.target_policy_noise, td3.target_noise_clip, td3.buffer_size) == (0.2, 0.5, 10 ** 6)
    assert td3.learning_rate == 0.005 and np.allclose(td3.action_noise._sigma, 0.1)
    layers = [m for m in td3.actor.mu if isinstance(m, torch.nn.Linear)]
    assert [m.out_features for m in layers] == [256, 256, 66] and isinstance(td3.actor.mu[-1], torch.nn.Tanh)
    assert len(td3.critic.q_networks) == 2
    ddpg = seed1.build_model('ddpg', env, CONFIG.learning, 0)
    # SB3 DDPG = TD3 with one critic, delay 1 and target noise clipped to [0, 0] (no smoothing)
    assert (len(ddpg.critic.q_networks), ddpg.policy_delay, ddpg.target_noise_clip) == (1, 1, 0.0)
    ppo = seed1.build_model('ppo', env, CONFIG.learning, 0)
    assert (ppo.n_steps, ppo.batch_size, ppo.n_epochs, ppo.gae_lambda, ppo.ent_coef) == (600, 64, 10, 0.95, 0.0)
    assert ppo.policy.log_std.detach().numpy() == pytest.approx(np.full(66, -0.5))
    with pytest.raises(ValueError, match='algo'):
        seed1.build_model('sac', env, CONFIG.learning, 0)


@pytest.fixture(scope='module')
def tiny_td3():
    learning = CONFIG.learning.model_copy(update={'warmup_steps': 150, 'batch_size': 64})
    return seed1.train('td3', CONFIG.params, learning, total_steps=250, seed=0, eval_every=125, eval_periods=1)


def test_tiny_training_records_curves_and_reward_scale(tiny_td3):
    assert tiny_td3.model.num_timesteps == 250
    assert tiny_td3.curve_steps == [0, 125, 250] and np.all(np.isfinite(tiny_td3.curve_return))
    assert len(tiny_td3.train_returns) == 5                     # 250 steps = 5 flight periods of 50
    # the Monitor sits inside the 1e-3 scaling: its returns are unscaled (random warm-up ~ -6e4, spec §3.6)
    assert np.mean(tiny_td3.train_returns[:3]) < -2e4


def test_onnx_actor_equals_sb3_actor_and_runtime_policy(tiny_td3, tmp_path):
    model = tiny_td3.model
    path, card_path, diff = export_actor(model, CONFIG.params, str(tmp_path / 'seed1_td3.onnx'))
    assert diff < ONNX_TOLERANCE
    card = json.load(open(card_path))
    assert card['observation']['size'] == 51 and card['action']['size'] == 66
    assert card['action']['layout']['velocity'] == [46, 61]     # 3 + I + J + K + K + J + 3 = 46, 3K = 15
    env = seed1.OffloadEnv(CONFIG.params)
    obs, _ = env.reset(seed=5)
    policy = load_offload_policy(CONFIG.params, 'onnx', path, fallback=False)
    assert policy.mode == 'onnx'
    sb3 = model.predict(obs, deterministic=True)[0]
    assert np.allclose(policy.action(obs), sb3, atol=ONNX_TOLERANCE)
    decision = policy.decide(env.layout.busy_pos_m, env.task_bits, env.cycles_per_bit, env.uav_pos_m, env.remaining_j)
    ref = offload.decode_action(np.clip(sb3, -1, 1), CONFIG.params)
    assert np.allclose(decision.uav_cpu_hz, ref.uav_cpu_hz, rtol=1e-4)
    with pytest.raises(PolicyError, match='finite'):
        policy.action(np.full(51, np.nan, dtype=np.float32))
    # a world the model was not trained for: fall back to the heuristic (or raise when asked)
    other = CONFIG.with_params(num_uavs=3).params
    fallback = load_offload_policy(other, 'onnx', path)
    assert fallback.mode == 'heuristic' and 'num_uavs' in fallback.fallback_reason
    assert np.array_equal(fallback.action(np.zeros(other.state_dim)), offload.heuristic_action(other))
    with pytest.raises(PolicyError, match='num_uavs'):
        load_offload_policy(other, 'onnx', path, fallback=False)
    # the issue-5 options change what the action (polar velocity) or the reward (per-count penalties) means:
    # a card trained under the defaults refuses those worlds
    for option in ('polar_velocity', 'penalty_per_count'):
        world = CONFIG.with_params(**{option: True}).params
        refused = load_offload_policy(world, 'onnx', path)
        assert refused.mode == 'heuristic' and f'trained with {option} = False' in refused.fallback_reason
    assert 'azimuth' in action_maps(CONFIG.with_params(polar_velocity=True).params)['velocity']
    assert 'rescaled' in card['action']['mapping']['velocity']
    # a replaced model file no longer matches its card
    tampered = tmp_path / 'tampered.onnx'
    shutil.copy(path, tampered)
    shutil.copy(card_path, tmp_path / 'tampered.json')
    with open(tampered, 'ab') as fh:
        fh.write(b'\0')
    with pytest.raises(PolicyError, match='sha256'):
        load_offload_policy(CONFIG.params, 'onnx', str(tampered), fallback=False)
    assert load_offload_policy(CONFIG.params, 'onnx', str(tmp_path / 'missing.onnx')).mode == 'heuristic'
    assert os.path.getsize(path) > 0


def test_ppo_policy_exports_with_the_same_layouts_and_clips_like_sb3_predict(tmp_path):
    env = seed1.make_training_env(CONFIG.params, 0)
    ppo = seed1.build_model('ppo', env, CONFIG.learning, 0)
    with torch.no_grad():          # push some means outside [-1, 1]: the graph must clip them as predict() does
        ppo.policy.action_net.bias[:33] += 3.0
        ppo.policy.action_net.bias[33:] -= 3.0
    path, card_path, diff = export_actor(ppo, CONFIG.params, str(tmp_path / 'seed1_ppo.onnx'))
    assert diff < ONNX_TOLERANCE
    card = json.load(open(card_path))
    assert card['policy'] == 'seed1_ppo' and card['action']['size'] == 66 and card['observation']['size'] == 51
    obs, _ = seed1.OffloadEnv(CONFIG.params).reset(seed=3)
    policy = load_offload_policy(CONFIG.params, 'onnx', path, fallback=False)
    sb3 = ppo.predict(obs, deterministic=True)[0]
    assert np.any(sb3 == 1.0) and np.any(sb3 == -1.0)
    assert policy.mode == 'onnx' and np.allclose(policy.action(obs), sb3, atol=ONNX_TOLERANCE)
    # a card naming another policy family is refused
    card['policy'] = 'seed0_tiny_madrl'
    json.dump(card, open(card_path, 'w'))
    with pytest.raises(PolicyError, match='seed-1 policy'):
        load_offload_policy(CONFIG.params, 'onnx', path, fallback=False)
    with pytest.raises(ValueError, match='DDPG'):
        export_actor(seed1.build_model('ddpg', env, CONFIG.learning, 0), CONFIG.params, str(tmp_path / 'x.onnx'))


def test_confidence_interval_and_claim_checks():
    mean, half = confidence_interval([1.0, 2.0, 3.0])
    assert mean == 2.0 and half == pytest.approx(4.302653 / np.sqrt(3), rel=1e-5)   # t_{0.975, 2}
    assert confidence_interval([5.0]) == (5.0, 0.0)
    f3 = {a: {'mean': [0.0, m], 'steps': [0, 10], 'final_return_mean': m, 'final_return_ci95': 1.0}
          for a, m in (('td3', 10.0), ('ppo', 5.0), ('ddpg', 2.0))}
    claims = check_claims({'fig3': f3})
    assert claims['R3.2']['holds'] and claims['R3.4']['holds'] and claims['R3.1']['holds']
    f3['ppo']['final_return_mean'] = 9.5                      # CIs overlap -> "clearly higher" fails
    assert not check_claims({'fig3': f3})['R3.2']['holds']


MODELS = os.path.join(os.path.dirname(__file__), '..', 'models')


@pytest.mark.parametrize('name', ['seed1_td3', 'seed1_ppo'])
def test_shipped_model_loads_and_beats_the_hover_fallback(name):
    path = os.path.join(MODELS, f'{name}.onnx')
    policy = load_offload_policy(CONFIG.params, 'onnx', path, fallback=False)
    assert policy.actor.card['policy'] == name
    hover = load_offload_policy(CONFIG.params, 'heuristic')
    returns = []
    for pol in (policy, hover):
        ev = seed1.evaluate(pol.action, CONFIG.params, periods=1, seed=40_000)
        returns.append(ev['return'])
    assert policy.mode == 'onnx' and hover.mode == 'heuristic'
    assert returns[0] > returns[1]              # the card's claim: the learned actor beats its fallback

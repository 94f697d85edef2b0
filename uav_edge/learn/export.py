"""Export trained Tiny MADRL actors to ONNX (fp32 + int8 dynamic quantisation) with a JSON model card.

The exported graph (names are fixed; the runtime loader uav_edge/policy/onnx_policy.py relies on them):

    input  'observation'  float32 [batch, J, 2 I L]   RSU j's last L rounds, oldest first, each round
                                                     [(p_i - c^j) / (pbar^j - c^j) for i < I, b_i^j for i < I]
    output 'action'       float32 [batch, J, I]      deterministic action mu = tanh(...) in [-1, 1]
    output 'price'        float32 [batch, J, I]      p_i^j = c^j + (action + 1) / 2 (pbar^j - c^j)

One model holds all J (compact, physically pruned) actors side by side; row j of the output depends
only on row j of the input, so an RSU serving alone may zero-fill the other rows.
"""
from datetime import datetime, timezone
import json
import os

import numpy as np
import torch
from torch import nn

from uav_edge.learn.tiny_madrl import MultiAgentActor, compact_actors
from uav_edge.policy.onnx_policy import file_sha256

OPSET = 17                                  # ONNX opset of exported models (onnxruntime >= 1.13 runs it)
INPUT_NAME, ACTION_NAME, PRICE_NAME = 'observation', 'action', 'price'
CARD_FORMAT = 'uav_edge.policy_card/1'


class PricingPolicyModule(nn.Module):
    """MultiAgentActor plus the action-to-price map of spec §4.2 (constants baked into the graph)."""

    def __init__(self, actor: MultiAgentActor, cost, price_cap):
        super().__init__()
        self.actor = actor
        self.register_buffer('cost', torch.tensor(np.array(cost), dtype=torch.float32)[:, None])
        self.register_buffer('span', torch.tensor(np.array(price_cap) - np.array(cost),
                                                     dtype=torch.float32)[:, None])

    def forward(self, observation):
        action = self.actor(observation)
        return action, self.cost + 0.5 * (action + 1.0) * self.span


def parameter_count(module: nn.Module) -> int:
    return int(sum(p.numel() for p in module.parameters()))


sha256 = file_sha256      # one implementation, in the runtime loader that checks it


def export_onnx(module: PricingPolicyModule, num_rsus, obs_dim, path, opset=OPSET):
    """Write the policy graph (fixed input/output names, dynamic batch axis) to `path`."""
    module.eval()
    example = torch.zeros(1, num_rsus, obs_dim)
    torch.onnx.export(module, (example,), path, input_names=[INPUT_NAME], output_names=[ACTION_NAME, PRICE_NAME],
                      dynamic_axes={INPUT_NAME: {0: 'batch'}, ACTION_NAME: {0: 'batch'}, PRICE_NAME: {0: 'batch'}},
                      opset_version=opset, dynamo=False)
    return path


def quantize_int8(fp32_path, int8_path):
    """Dynamic int8 quantisation of the MatMul weights (onnxruntime.quantization.quantize_dynamic)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(fp32_path, int8_path, weight_type=QuantType.QInt8)
    return int8_path


def onnx_opset(path) -> int:
    import onnx

    model = onnx.load(path, load_external_data=False)
    return int(next(o.version for o in model.opset_import if o.domain in ('', 'ai.onnx')))


def card_path_for(model_path) -> str:
    """models/x.onnx -> models/x.json (the card sits beside the model)."""
    return os.path.splitext(str(model_path))[0] + '.json'


def write_card(model_path, card: dict):
    path = card_path_for(model_path)
    with open(path, 'w') as fh:
        json.dump(card, fh, indent=2, default=float)
        fh.write('\n')
    return path


def export_trained(trainer, world, out_dir, name, evaluation: dict, int8=True, policy='tiny_madrl'):
    """Export a Trainer's compact actors as <out_dir>/<name>.onnx (+ .int8.onnx) with cards; returns paths.

    `evaluation` is stored in the card (held-out evaluation of the torch actor: theoretical value,
    reward, gap, seeds, ...); each model's card adds its own file hash, size and precision.
    """
    import onnxruntime

    os.makedirs(out_dir, exist_ok=True)
    cfg, params = trainer.cfg, trainer.params
    I, J = params.q.shape
    obs_dim = trainer.market.obs_dim
    actors = compact_actors(trainer.net.actor)
    module = PricingPolicyModule(MultiAgentActor(actors), params.cost, params.price_cap)
    fp32 = export_onnx(module, J, obs_dim, os.path.join(out_dir, f'{name}.onnx'))
    paths = [fp32]
    if int8:
        paths.append(quantize_int8(fp32, os.path.join(out_dir, f'{name}.int8.onnx')))
    dense = sum(a * b for a, b in zip([obs_dim, *cfg.hidden], [*cfg.hidden, I])) * J
    base = {
        'format': CARD_FORMAT,
        'policy': policy,
        'description': 'Seed-0 RSU pricing policy (Tiny MADRL: per-RSU PPO actors, structurally pruned)'
                       if policy == 'tiny_madrl' else 'Seed-0 RSU pricing policy (dense PPO baseline)',
        'created': datetime.now(timezone.utc).isoformat(timespec='seconds'),
        'scenario': {'name': world.name, 'seed': int(world.seed), 'source': os.path.basename(str(world.source)),
                     'num_rsus': J, 'num_uavs': I, 'rsu_names': list(world.rsu_names),
                     'cost': params.cost.tolist(), 'price_cap': params.price_cap.tolist()},
        'inputs': {INPUT_NAME: {'dtype': 'float32', 'shape': ['batch', J, obs_dim]}},
        'outputs': {ACTION_NAME: {'dtype': 'float32', 'shape': ['batch', J, I], 'range': [-1.0, 1.0]},
                    PRICE_NAME: {'dtype': 'float32', 'shape': ['batch', J, I], 'unit': 'money per bandwidth unit'}},
        'observation': {'history': cfg.history, 'size': obs_dim, 'order': 'oldest round first',
                        'round_layout': '[normalised own price to UAV i for i < I, demand b_i^j for i < I]',
                        'price_normalisation': '(p - cost[j]) / (price_cap[j] - cost[j])',
                        'demand': 'raw bandwidth units', 'warm_up': f'{cfg.history} rounds of uniform random prices'},
        'action': {'scaling': 'price = cost[j] + (clip(action, -1, 1) + 1) / 2 * (price_cap[j] - cost[j])'},
        'training': {'seed': trainer.seed, 'episodes': trainer.episode, 'env_steps': trainer.env_steps,
                     'config': cfg.to_dict()},
        'pruning': {'enabled': cfg.prune, 'sparsity': cfg.sparsity_final if cfg.prune else 0.0,
                    'hidden_dense': list(cfg.hidden),
                    'hidden_per_rsu': [[m.out_features for m in a if isinstance(m, nn.Linear)][:-1] for a in actors],
                    'actor_params_dense': int(dense), 'actor_params': parameter_count(module.actor)},
        'evaluation': evaluation,
        'onnx': {'opset': OPSET, 'producer': f'torch {torch.__version__}', 'onnxruntime': onnxruntime.__version__},
    }
    for path in paths:
        card = json.loads(json.dumps(base))
        card['file'] = os.path.basename(path)
        card['precision'] = 'int8-dynamic' if path.endswith('.int8.onnx') else 'fp32'
        card['sha256'] = sha256(path)
        card['size_bytes'] = os.path.getsize(path)
        card['onnx']['opset'] = onnx_opset(path)
        write_card(path, card)
    return paths


def evaluate_exported(model_path, params, env_cfg, equilibrium, seeds=range(10)):
    """Held-out evaluation of an exported model through the runtime loader; stored in its card as 'evaluation_onnx'."""
    from uav_edge.learn.tiny_madrl import held_out_report
    from uav_edge.policy.onnx_policy import load_pricing_policy

    policy = load_pricing_policy(model_path, threads=1)
    report = held_out_report(policy.action, params, env_cfg, equilibrium, seeds)
    path = card_path_for(model_path)
    with open(path) as fh:
        card = json.load(fh)
    card['evaluation_onnx'] = report
    write_card(model_path, card)
    return report

"""Runtime seed-1 offload scheduler policy: an exported actor (onnxruntime; TD3, or the PPO baseline, which
shares its layouts) or the analytic fallback.

No torch. The twin (uav_edge.core.offload) turns live telemetry into the actor's state (28) and the
actor's output back into physical decisions (29):

    policy = load_offload_policy(params, 'onnx', 'models/seed1_td3.onnx')   # or 'heuristic'
    decision = policy.decide(busy_pos_m, task_bits, cycles_per_bit, uav_pos_m, remaining_j)
    decision.offload_split, decision.uav_cpu_hz, decision.velocity_mps, decision.bitrate_mbps, ...

If the ONNX model or its card is missing, corrupt or was trained for a different world, the policy
falls back to the spec's hand-made hover heuristic (uav_edge.core.offload.heuristic_action) and says
why in `fallback_reason` (fallback=False raises PolicyError instead). A NaN observation always raises.
Card and file checks reuse the seed-0 loader's helpers (uav_edge.policy.onnx_policy).
"""
import json
import os

import numpy as np

from uav_edge.core import offload
from uav_edge.core.offload import OffloadAction, Seed1Params
from uav_edge.policy.onnx_policy import (CARD_FORMAT, SUPPORTED_OPSETS, PolicyError, _model_opset, file_sha256,
                                         card_path_for)

INPUT_NAME, ACTION_NAME = 'observation', 'action'
POLICY_NAMES = {'td3': 'seed1_td3', 'ppo': 'seed1_ppo'}     # a card's 'policy' field, per exported algorithm
# Seed1Params fields that change the meaning of the state or the action: must match the card exactly.
_LAYOUT_FIELDS = ('num_busy_uds', 'num_idle_uds', 'num_uavs', 'area_m', 'altitude_max_m', 'task_bits_max',
                  'cycles_per_bit_max', 'battery_j', 'busy_cpu_max_hz', 'idle_cpu_max_hz', 'uav_cpu_max_hz',
                  'cpu_floor_fraction', 'uav_price_min', 'uav_price_max', 'idle_price_min', 'idle_price_max',
                  'max_speed_mps', 'bitrates_mbps', 'polar_velocity', 'penalty_per_count')


class OnnxOffloadActor:
    """onnxruntime session for a seed-1 actor + its card, checked against the Seed1Params it will serve."""

    def __init__(self, model_path, params: Seed1Params, threads=1):
        import onnxruntime

        self.model_path, self.card_path = str(model_path), card_path_for(model_path)
        for path, what in ((self.model_path, 'model file'), (self.card_path, 'model card')):
            if not os.path.isfile(path):
                raise PolicyError(f'{path}: {what} not found')
        try:
            with open(self.card_path, encoding='utf-8') as fh:
                self.card = json.load(fh)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise PolicyError(f'{self.card_path}: model card is not valid JSON ({err})') from None
        if self.card.get('format') != CARD_FORMAT or self.card.get('policy') not in POLICY_NAMES.values():
            raise PolicyError(f'{self.card_path}: not a {CARD_FORMAT} card of a seed-1 policy '
                              f'({" or ".join(POLICY_NAMES.values())})')
        if self.card.get('sha256') and file_sha256(self.model_path) != self.card['sha256']:
            raise PolicyError(f'{self.model_path}: file does not match its card (sha256 differs)')
        opset = _model_opset(self.model_path) or self.card.get('onnx', {}).get('opset')
        if opset is None or not SUPPORTED_OPSETS[0] <= int(opset) <= SUPPORTED_OPSETS[1]:
            raise PolicyError(f'{self.model_path}: ONNX opset {opset} is not supported {SUPPORTED_OPSETS}')
        trained = self.card.get('scenario', {}).get('seed1_params', {})
        for name in _LAYOUT_FIELDS:
            mine, theirs = getattr(params, name), trained.get(name)
            if theirs is None or not np.allclose(np.asarray(mine, float), np.asarray(theirs, float), rtol=1e-9):
                raise PolicyError(f'{self.model_path}: trained with {name} = {theirs}, this world has {mine}')
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = int(threads), 1
        try:
            self.session = onnxruntime.InferenceSession(self.model_path, options, providers=['CPUExecutionProvider'])
        except Exception as err:   # onnxruntime's own exception types
            raise PolicyError(f'{self.model_path}: onnxruntime cannot load the model: {err}'.split('\n')[0]) from None
        shape_in, shape_out = self.session.get_inputs()[0].shape, self.session.get_outputs()[0].shape
        if shape_in[-1] != params.state_dim or shape_out[-1] != params.action_dim:
            raise PolicyError(f'{self.model_path}: graph maps {shape_in[-1]} -> {shape_out[-1]}, '
                              f'this world needs {params.state_dim} -> {params.action_dim}')

    def __call__(self, observation):
        obs = np.asarray(observation, dtype=np.float32)
        single = obs.ndim == 1
        out = self.session.run([ACTION_NAME], {INPUT_NAME: obs[None] if single else obs})[0]
        return out[0] if single else out


class OffloadPolicy:
    """Seed-1 scheduling decisions from telemetry: `mode` is 'onnx' or 'heuristic'."""

    def __init__(self, params: Seed1Params, actor=None, fallback_reason=None):
        self.params, self.actor, self.fallback_reason = params, actor, fallback_reason
        self.mode = 'onnx' if actor is not None else 'heuristic'
        self._heuristic = offload.heuristic_action(params)

    def observation(self, busy_pos_m, task_bits, cycles_per_bit, uav_pos_m, remaining_j):
        """State (28) from live quantities (twin layout); NaN/inf raises PolicyError naming the element."""
        try:
            return offload.offload_observation(busy_pos_m, task_bits, cycles_per_bit, uav_pos_m, remaining_j,
                                               self.params)
        except offload.OffloadInputError as err:
            raise PolicyError(f'observation: {err}') from None

    def action(self, observation):
        """Scaled action (29) in [-1, 1] for a state vector (3I+4K+1,)."""
        obs = np.asarray(observation, dtype=np.float32)
        if obs.shape != (self.params.state_dim,):
            raise PolicyError(f'observation: expected shape ({self.params.state_dim},), got {obs.shape}')
        if not np.all(np.isfinite(obs)):
            raise PolicyError(f'observation[{int(np.argmin(np.isfinite(obs)))}]: must be finite')
        if self.actor is None:
            return self._heuristic.copy()
        return np.clip(self.actor(obs), -1.0, 1.0)

    def decide(self, busy_pos_m, task_bits, cycles_per_bit, uav_pos_m, remaining_j) -> OffloadAction:
        """Physical decisions (split, f_i, f_j, f_k, prices, weights, velocities, bitrates) for this slot."""
        obs = self.observation(busy_pos_m, task_bits, cycles_per_bit, uav_pos_m, remaining_j)
        return offload.decode_action(self.action(obs), self.params)


def load_offload_policy(params: Seed1Params, policy='heuristic', model_path=None, threads=1, fallback=True):
    """policy 'onnx' (with model_path) or 'heuristic'; on a bad model fall back (or raise if fallback=False)."""
    if policy == 'heuristic':
        return OffloadPolicy(params)
    if policy != 'onnx':
        raise PolicyError(f"policy: expected 'onnx' or 'heuristic', got {policy!r}")
    try:
        if not model_path:
            raise PolicyError("policy 'onnx' needs a model path (e.g. models/seed1_td3.onnx)")
        return OffloadPolicy(params, OnnxOffloadActor(model_path, params, threads))
    except PolicyError as err:
        if not fallback:
            raise
        return OffloadPolicy(params, fallback_reason=str(err))

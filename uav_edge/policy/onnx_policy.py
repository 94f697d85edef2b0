"""Runtime: run a shipped seed-0 pricing policy (ONNX) with onnxruntime. Never imports torch.

    policy = load_pricing_policy('models/seed0_pricing_default.onnx', threads=1)
    policy.check_world(world)               # card vs the scenario it serves: RSU/UAV count, obs size, prices
    prices = policy.prices(observations)    # (J, 2IL) -> (J, I) prices, or batched (B, J, 2IL) -> (B, J, I)

The card (models/<name>.json beside models/<name>.onnx, written by uav_edge/learn/export.py) describes
the observation/action layout; every mismatch, a missing or corrupt file, an unsupported opset or a
NaN observation raises PolicyError (a ValueError) with one clear line.
"""
import hashlib
import json
import os

import numpy as np

CARD_FORMAT = 'uav_edge.policy_card/1'
INPUT_NAME, ACTION_NAME, PRICE_NAME = 'observation', 'action', 'price'
SUPPORTED_OPSETS = (13, 21)             # opsets this loader accepts (exported models use 17)


class PolicyError(ValueError):
    """A policy file, its card, or its input does not fit (names the file / field / RSU index)."""


def card_path_for(model_path) -> str:
    return os.path.splitext(str(model_path))[0] + '.json'


def file_sha256(path) -> str:
    """Hex SHA-256 of a file (model cards record it; loaders check it)."""
    digest = hashlib.sha256()
    with open(path, 'rb') as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def _model_opset(path):
    """The model's default-domain opset, read with the `onnx` package when installed (else None)."""
    try:
        import onnx
    except ImportError:          # a lean runtime without the onnx package: trust the card's opset
        return None
    try:
        model = onnx.load(path, load_external_data=False)
    except Exception as err:     # protobuf DecodeError and friends
        raise PolicyError(f'{path}: not a valid ONNX model ({type(err).__name__})') from None
    return next((int(o.version) for o in model.opset_import if o.domain in ('', 'ai.onnx')), None)


class OnnxPricingPolicy:
    """A loaded pricing policy: onnxruntime session + model card (see the module docstring)."""

    def __init__(self, model_path, card_path=None, threads=1, verify_hash=True):
        import onnxruntime

        self.model_path = str(model_path)
        self.card_path = str(card_path or card_path_for(model_path))
        if not os.path.isfile(self.model_path):
            raise PolicyError(f'{self.model_path}: model file not found')
        if not os.path.isfile(self.card_path):
            raise PolicyError(f'{self.card_path}: model card not found (expected beside the model)')
        self.card = self._read_card()
        if verify_hash and self.card.get('sha256') and file_sha256(self.model_path) != self.card['sha256']:
            raise PolicyError(f'{self.model_path}: file does not match its card (sha256 differs): '
                              f'corrupt or replaced model')
        self._check_opset()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
        try:
            self.session = onnxruntime.InferenceSession(self.model_path, options, providers=['CPUExecutionProvider'])
        except Exception as err:   # onnxruntime raises its own Fail/InvalidGraph/... types
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise PolicyError(f'{self.model_path}: onnxruntime cannot load the model: {first}') from None
        names = {i.name for i in self.session.get_inputs()}, {o.name for o in self.session.get_outputs()}
        if names[0] != {INPUT_NAME} or not {ACTION_NAME, PRICE_NAME} <= names[1]:
            raise PolicyError(f'{self.model_path}: expected input {INPUT_NAME!r} and outputs {ACTION_NAME!r}, '
                              f'{PRICE_NAME!r}; got inputs {sorted(names[0])}, outputs {sorted(names[1])}')
        scenario = self.card['scenario']
        self.num_rsus, self.num_uavs = int(scenario['num_rsus']), int(scenario['num_uavs'])
        self.obs_dim = int(self.card['observation']['size'])
        self.history = int(self.card['observation']['history'])
        self.cost = np.asarray(scenario['cost'], dtype=float)
        self.price_cap = np.asarray(scenario['price_cap'], dtype=float)
        if self.obs_dim != 2 * self.num_uavs * self.history:
            raise PolicyError(f'{self.card_path}: observation.size {self.obs_dim} != 2 * num_uavs * history '
                              f'= {2 * self.num_uavs * self.history}')
        shape = self.session.get_inputs()[0].shape
        if list(shape[1:]) != [self.num_rsus, self.obs_dim]:
            raise PolicyError(f'{self.model_path}: input shape {shape} does not match its card '
                              f'[batch, {self.num_rsus}, {self.obs_dim}]')

    def _read_card(self):
        try:
            with open(self.card_path, encoding='utf-8') as fh:
                card = json.load(fh)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise PolicyError(f'{self.card_path}: model card is not valid JSON ({err})') from None
        if not isinstance(card, dict) or card.get('format') != CARD_FORMAT:
            raise PolicyError(f'{self.card_path}: not a {CARD_FORMAT} model card')
        for key in ('scenario', 'observation', 'onnx'):
            if key not in card:
                raise PolicyError(f'{self.card_path}: model card lacks the {key!r} section')
        return card

    def _check_opset(self):
        card_opset = self.card['onnx'].get('opset')
        actual = _model_opset(self.model_path)
        if actual is not None and card_opset is not None and int(card_opset) != actual:
            raise PolicyError(f'{self.model_path}: model opset {actual} != card opset {card_opset}')
        opset = actual if actual is not None else card_opset
        lo, hi = SUPPORTED_OPSETS
        if opset is None or not lo <= int(opset) <= hi:
            raise PolicyError(f'{self.model_path}: ONNX opset {opset} is not supported (need {lo}..{hi}); '
                              f're-export with uav_edge.learn.export')

    # --- the scenario the policy is asked to serve ---------------------------------------------
    def check_world(self, world, rtol=1e-6, market=None):
        """Raise PolicyError unless `world` (Scenario.sample()) has this policy's market shape and prices; `market`
        names it in the message (default: scenario '<world.name>')."""
        I, J = len(world.uav_names), len(world.rsu_names)
        market = market or f'scenario {world.name!r}'
        history = self.history
        if J != self.num_rsus:
            raise PolicyError(f'{self.model_path}: trained for {self.num_rsus} RSUs (agents), '
                              f'{market} has {J}')
        if I != self.num_uavs:
            raise PolicyError(f'{self.model_path}: trained for {self.num_uavs} UAVs (observation size '
                              f'{self.obs_dim} = 2 * {self.num_uavs} * {history}), {market} has {I} '
                              f'UAVs (observation size {2 * I * history})')
        for name, mine, theirs in (('cost', self.cost, world.cost), ('price_cap', self.price_cap, world.price_cap)):
            bad = np.flatnonzero(~np.isclose(mine, theirs, rtol=rtol, atol=0))
            if bad.size:
                j = int(bad[0])
                raise PolicyError(f'{self.model_path}: {name}[{j}] (RSU {j}) is {mine[j]:g} in the card but '
                                  f'{theirs[j]:g} in {market}: the price scaling would be wrong')
        return True

    # --- inference -------------------------------------------------------------------------------
    def _batch(self, observation):
        obs = np.asarray(observation, dtype=np.float32)
        single = obs.ndim == 2
        if single:
            obs = obs[None]
        if obs.ndim != 3 or obs.shape[1:] != (self.num_rsus, self.obs_dim):
            raise PolicyError(f'observation: expected shape ({self.num_rsus}, {self.obs_dim}) or '
                              f'(batch, {self.num_rsus}, {self.obs_dim}), got {np.shape(observation)}')
        bad = ~np.isfinite(obs)
        if bad.any():
            b, j, k = (int(x) for x in np.argwhere(bad)[0])
            raise PolicyError(f'observation[{j}, {k}] (RSU {j}, element {k}): must be finite, got {obs[b, j, k]}')
        return obs, single

    def run(self, observation):
        """(action, price) for observations (J, obs_dim) or (B, J, obs_dim)."""
        obs, single = self._batch(observation)
        action, price = self.session.run([ACTION_NAME, PRICE_NAME], {INPUT_NAME: obs})
        return (action[0], price[0]) if single else (action, price)

    def action(self, observation):
        """Deterministic actions in [-1, 1], same leading shape as the observation."""
        return self.run(observation)[0]

    def prices(self, observation):
        """Prices p[j, i] = cost[j] + (action + 1) / 2 (price_cap[j] - cost[j])."""
        return self.run(observation)[1]

    def price_for(self, rsu_index, own_observation):
        """RSU j's price vector (I,) from its own observation (obs_dim,): the other rows are zero-filled."""
        if not 0 <= int(rsu_index) < self.num_rsus:
            raise PolicyError(f'rsu_index: must be in [0, {self.num_rsus - 1}], got {rsu_index}')
        obs = np.zeros((self.num_rsus, self.obs_dim), dtype=np.float32)
        own = np.asarray(own_observation, dtype=np.float32)
        if own.shape != (self.obs_dim,):
            raise PolicyError(f'own_observation: expected shape ({self.obs_dim},), got {own.shape}')
        if not np.all(np.isfinite(own)):
            k = int(np.argwhere(~np.isfinite(own))[0][0])
            raise PolicyError(f'observation[{rsu_index}, {k}] (RSU {rsu_index}, element {k}): must be finite, '
                              f'got {own[k]}')
        obs[int(rsu_index)] = own
        return self.prices(obs)[int(rsu_index)]


def load_pricing_policy(model_path, card_path=None, threads=1, world=None) -> OnnxPricingPolicy:
    """Load a pricing policy; with `world`, also check it against the scenario it will serve."""
    policy = OnnxPricingPolicy(model_path, card_path, threads=threads)
    if world is not None:
        policy.check_world(world)
    return policy

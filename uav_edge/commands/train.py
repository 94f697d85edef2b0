"""`uav-edge train`: train Tiny MADRL (or the dense PPO baseline) on a scenario's seed-0 pricing market."""
import csv
import json
import os

from uav_edge import cli_types

HELP = 'train Tiny MADRL RSU pricing policies (seed 0) with checkpoints, CSV log and resume'
DESCRIPTION = ('Train one PPO actor-critic per RSU on the scenario\'s Stackelberg pricing market, pruning the '
               'actors on the cubic schedule (spec seed0 5.3-5.4). Writes <out>/log.csv (reward, gap to the '
               'equilibrium, active parameters), <out>/checkpoint.pt (resumed automatically when present) '
               'and, with --export, ONNX fp32/int8 policies with model cards.')

CSV_COLUMNS = ['episode', 'env_steps', 'reward', 'reward_sum_rsus', 'gap_to_equilibrium', 'active_actor_params',
               'live_neurons', 'sparsity', 'mean_log_std', 'eval_reward', 'eval_gap', 'eval_exploitability']


def add_arguments(parser):
    from uav_edge.commands.equilibrium import add_scenario_arguments

    add_scenario_arguments(parser)
    parser.add_argument('--config', default=None, help='training YAML (default: config/training/tiny_madrl.yaml)')
    parser.add_argument('--hp', dest='hyper', action='append', default=[], metavar='KEY=VALUE',
                        help='override a training hyperparameter, e.g. --hp actor_lr=1e-4 (repeatable)')
    parser.add_argument('--seed', type=cli_types.index, default=0, help='training seed (network init, noise, warm-up)')
    parser.add_argument('--episodes', type=cli_types.count, default=None,
                        help='episodes to train; the pruning schedule keeps the spec proportions (20%%-60%%)')
    parser.add_argument('--no-prune', action='store_true', help='the dense PPO baseline (masks stay 1)')
    parser.add_argument('--out', default=None, help='run folder (default: runs/<scenario>_<tiny|ppo>_s<seed>)')
    parser.add_argument('--checkpoint-every', type=cli_types.count, default=50, help='episodes between checkpoints')
    parser.add_argument('--fresh', action='store_true', help='ignore an existing checkpoint in --out')
    parser.add_argument('--export', metavar='DIR', default=None, help='export ONNX fp32 + int8 + cards to DIR')
    parser.add_argument('--name', default=None, help='exported file stem (default: seed0_pricing_<scenario>)')
    parser.add_argument('--eval-seeds', type=cli_types.count, default=10,
                        help='held-out evaluation episodes at the end')
    parser.add_argument('--quiet', action='store_true', help='no progress bar')


def build_config(args):
    from uav_edge.core.scenario import parse_overrides
    from uav_edge.learn.tiny_madrl import load_train_config

    overrides = parse_overrides(args.hyper) if args.hyper else {}
    if args.no_prune:
        overrides['prune'] = False
    cfg = load_train_config(args.config, overrides)
    if args.episodes is not None:
        if args.episodes < 1:
            raise ValueError(f'--episodes: must be >= 1, got {args.episodes}')
        cfg = cfg.scaled(args.episodes)
    return cfg


def write_csv(path, rows, mode='w'):
    with open(path, mode, newline='') as fh:
        writer = csv.DictWriter(fh, CSV_COLUMNS, extrasaction='ignore')
        if mode == 'w':
            writer.writeheader()
        writer.writerows(rows)


def run(args):
    import torch
    from tqdm import tqdm

    from uav_edge.commands.equilibrium import load_scenario_from_args
    from uav_edge.core import game
    from uav_edge.learn.tiny_madrl import Trainer, held_out_report

    if args.checkpoint_every < 1:
        raise ValueError(f'--checkpoint-every: must be >= 1, got {args.checkpoint_every}')
    cfg = build_config(args)                       # refuses inconsistent configs before any compute
    scenario = load_scenario_from_args(args)
    world = scenario.sample()
    params = world.game_params()
    torch.set_num_threads(1)
    kind = 'tiny' if cfg.prune else 'ppo'
    out = args.out or os.path.join('runs', f'{scenario.name}_{kind}_s{args.seed}')
    os.makedirs(out, exist_ok=True)
    checkpoint, log_path = os.path.join(out, 'checkpoint.pt'), os.path.join(out, 'log.csv')
    equilibrium = game.solve_equilibrium(params)
    trainer = Trainer(params, cfg, seed=args.seed, theoretical_value=equilibrium.mean_rsu_utility)
    if os.path.exists(checkpoint) and not args.fresh:
        trainer.load(checkpoint)
        print(f'resuming {out} from episode {trainer.episode}')
    write_csv(log_path, trainer.log)               # drops rows logged after the checkpoint
    with open(os.path.join(out, 'config.json'), 'w') as fh:
        json.dump({'scenario': str(scenario.source), 'overrides': args.overrides, 'seed': args.seed,
                   'config': cfg.to_dict()}, fh, indent=2)
    bar = tqdm(total=cfg.episodes, initial=trainer.episode, disable=args.quiet, unit='ep',
               desc=f'{kind} {scenario.name} s{args.seed}')

    def on_episode(row):
        write_csv(log_path, [row], mode='a')
        bar.update(1)
        bar.set_postfix(reward=f"{row['reward']:.3f}", gap=f"{100 * row['gap_to_equilibrium']:+.2f}%",
                        params=row['active_actor_params'])

    trainer.train(on_episode, checkpoint=checkpoint, checkpoint_every=args.checkpoint_every)
    bar.close()
    report = held_out_report(trainer.act_deterministic, params, cfg.env, equilibrium, range(args.eval_seeds))
    report.update(env_steps=trainer.env_steps, episodes=trainer.episode)
    with open(os.path.join(out, 'evaluation.json'), 'w') as fh:
        json.dump(report, fh, indent=2)
    print(f"held-out ({args.eval_seeds} seeds): mean RSU utility {report['reward']:.4f} vs equilibrium "
          f"{report['theoretical_value']:.4f} (gap {100 * report['gap']:+.2f}%), exploitability "
          f"{100 * report['exploitability_mean']:.3f}%, price error {100 * report['price_relative_error']:.1f}%")
    if args.export:
        from uav_edge.learn.export import export_trained, evaluate_exported

        name = args.name or f'seed0_pricing_{scenario.name}'
        paths = export_trained(trainer, world, args.export, name, report, policy='tiny_madrl' if cfg.prune else 'ppo')
        for path in paths:
            exported = evaluate_exported(path, params, cfg.env, equilibrium, range(args.eval_seeds))
            print(f"exported {path}: held-out gap {100 * exported['gap']:+.3f}%")
    return 0

"""The `uav-edge` command: help everywhere, the equilibrium job, clear errors, the bench's JSON."""
import json
import os
import pkgutil
import shutil
import subprocess
import sys

import pytest

import uav_edge.commands
from uav_edge import cli
from uav_edge.core import game
from uav_edge.core.scenario import resolve_scenario

COMMANDS = [m.name.replace('_', '-') for m in pkgutil.iter_modules(uav_edge.commands.__path__)]


def test_top_level_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(['--help'])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out


@pytest.mark.parametrize('command', COMMANDS)
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main([command, '--help'])
    assert exit_.value.code == 0
    assert 'usage: uav-edge ' + command in capsys.readouterr().out


def test_no_command_prints_help_and_fails(capsys):
    assert cli.main([]) == 2
    assert 'COMMAND' in capsys.readouterr().out


def test_equilibrium_json_matches_the_solver(capsys):
    assert cli.main(['equilibrium', '--scenario', 'small', '--json']) == 0
    result = json.loads(capsys.readouterr().out)
    eq = game.solve_equilibrium(resolve_scenario('small').sample().game_params())
    assert result['converged'] is True
    assert result['num_rsus'] == 2 and result['num_uavs'] == 3
    assert result['mean_rsu_utility'] == pytest.approx(eq.mean_rsu_utility, rel=1e-12)
    for i, uav in enumerate(result['uavs']):
        assert uav['spend'] <= uav['budget'] + 1e-9
        assert uav['demand'] == pytest.approx(eq.demand[i].tolist(), rel=1e-12)
        bought = [f'rsu{j}' for j in range(2) if eq.demand[i, j] > 0]
        assert uav['migration_targets'] == bought


def test_equilibrium_overrides_change_the_world(capsys):
    assert cli.main(['equilibrium', '--scenario', 'small', '--set', 'uavs.count=7', '--json']) == 0
    assert json.loads(capsys.readouterr().out)['num_uavs'] == 7


def test_equilibrium_table_names_the_theoretical_value(capsys):
    assert cli.main(['equilibrium', '--scenario', 'default']) == 0
    out = capsys.readouterr().out
    assert 'rsu4' in out and 'uav14' in out and 'theoretical value' in out


@pytest.mark.parametrize('argv, message', [
    (['equilibrium', '--scenario', 'no/such/file.yaml'], 'no/such/file.yaml'),
    (['equilibrium', '--scenario', 'small', '--set', 'rsus.sample.cost=-1'], 'rsus.sample.cost: -1'),
    (['equilibrium', '--scenario', 'small', '--set', 'uavs.colour=red'], "unknown key 'colour'"),
])
def test_bad_input_is_one_clear_line(argv, message, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith('uav-edge equilibrium: error: ')
    assert message in err
    assert '\n' not in err and 'Traceback' not in err


@pytest.mark.parametrize('argv, message', [
    (['mission', '--num-uavs', '-1'], "argument --num-uavs: expected an integer >= 1, got '-1'"),
    (['mission', '--duration', 'nan'], "argument --duration: expected a finite number >= 0, got 'nan'"),
    (['mission', '--status-period', '0'], "argument --status-period: expected a finite number > 0, got '0'"),
    (['run', '--duration', '-5'], "argument --duration: expected a finite number >= 0, got '-5'"),
    (['run', '--round-period', 'inf'], "argument --round-period: expected a finite number > 0, got 'inf'"),
    (['sim', '--packet-loss', '101'], "argument --packet-loss: expected a number in [0, 100], got '101'"),
    (['sim', '--spacing', 'nan'], "argument --spacing: expected a finite number, got 'nan'"),
    (['train', '--episodes', '0'], "argument --episodes: expected an integer >= 1, got '0'"),
])
def test_a_bad_number_on_the_command_line_is_refused_naming_the_flag(argv, message, capsys):
    """A negative --num-uavs sliced the UAV list from its end (2 UAVs flew), a negative or NaN --duration meant
    'no limit': the parser now refuses them before anything starts."""
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_an_output_folder_that_is_a_file_is_one_clear_line(tmp_path, capsys):
    taken = tmp_path / 'taken'
    taken.write_text('')
    assert cli.main(['run', '--scenario', 'small', '--run-dir', str(taken), '--duration', '1']) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith('uav-edge run: error: ') and 'taken' in err and 'Traceback' not in err


def test_console_script_runs_as_installed():
    exe = shutil.which('uav-edge', path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get('PATH', ''))
    if exe is None:
        pytest.skip('uav-edge console script not installed in this environment')
    proc = subprocess.run([exe, 'equilibrium', '--scenario', 'small', '--json'],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)['converged'] is True


def test_bench_writes_json_rows_with_targets(tmp_path):
    from uav_edge import bench

    out = tmp_path / 'bench.json'
    results = bench.run(sections=['equilibrium'], quick=True, out=str(out))
    saved = json.loads(out.read_text())
    assert saved['sections'].keys() == results['sections'].keys() == {'equilibrium'}
    rows = saved['sections']['equilibrium']
    assert {r['bench'] for r in rows} >= {'equilibrium solve (I=1000 UAVs, J=50 RSUs)'}
    for row in rows:
        assert row['value'] > 0 and row['unit']
        if row['bench'].startswith('equilibrium solve'):
            assert row['converged'] and row['max_relative_deviation_gain'] < 1e-6
        if row['bench'].startswith('speed-up'):
            assert row['max_rsu_utility_difference'] < 1e-3     # the baseline reached the same point


def test_bench_rejects_unknown_section(tmp_path):
    from uav_edge import bench

    with pytest.raises(ValueError, match='unknown bench section'):
        bench.run(sections=['nope'], out=str(tmp_path / 'x.json'))

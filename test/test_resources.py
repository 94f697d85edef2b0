"""Shipped-file lookup (uav_edge.resources): a node's file parameter works from any working directory."""
import os

from uav_edge.resources import given_or_shipped, package_file


def test_given_or_shipped_prefers_an_existing_given_file_then_the_shipped_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)                                  # a folder without models/
    shipped = given_or_shipped('models/seed1_ppo.onnx', 'models/seed1_td3.onnx')
    assert os.path.isfile(shipped) and shipped == package_file('models/seed1_ppo.onnx')
    assert given_or_shipped('', 'models/seed1_td3.onnx') == package_file('models/seed1_td3.onnx')
    (tmp_path / 'models').mkdir()
    (tmp_path / 'models' / 'seed1_ppo.onnx').write_bytes(b'mine')
    assert given_or_shipped('models/seed1_ppo.onnx', 'models/seed1_td3.onnx') == 'models/seed1_ppo.onnx'
    # neither given nor shipped: a path that names the file in the error (the loader's 'not found')
    assert given_or_shipped('models/nope.onnx', 'models/seed1_td3.onnx').endswith(os.path.join('models', 'nope.onnx'))
    assert given_or_shipped(str(tmp_path / 'abs.onnx'), 'x') == str(tmp_path / 'abs.onnx')

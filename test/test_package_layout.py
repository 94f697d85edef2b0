"""The ament_python package: colcon installs package.xml, launch, config and models into share/."""
import os
import xml.etree.ElementTree as ET

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_package_xml_is_format_3_ament_python():
    root = ET.parse(os.path.join(ROOT, 'package.xml')).getroot()
    assert root.get('format') == '3'
    assert root.findtext('name') == 'uav_edge'
    assert root.find('export/build_type').text == 'ament_python'
    exec_deps = {e.text for e in root.findall('exec_depend')}
    assert {'rclpy', 'std_msgs', 'geometry_msgs', 'sensor_msgs', 'nav_msgs', 'diagnostic_msgs'} <= exec_deps


def test_runtime_never_imports_torch_and_twin_imports_no_runtime():
    """Layer rules (DESIGN.md): core imports no rclpy/torch/onnxruntime/mavsdk; runtime no torch."""
    import re

    forbidden = {'core': r'(rclpy|torch|onnxruntime|mavsdk)', 'nodes': r'torch', 'flight': r'torch',
                 'sitl': r'torch', 'policy': r'torch'}
    for layer, pattern in forbidden.items():
        folder = os.path.join(ROOT, 'uav_edge', layer)
        for dirpath, _, files in os.walk(folder):
            for name in files:
                if name.endswith('.py'):
                    text = open(os.path.join(dirpath, name)).read()
                    assert not re.search(rf'^\s*(import|from)\s+{pattern}\b', text, re.M), \
                        f'uav_edge/{layer}/{name} imports {pattern}'


def _share_dir():
    try:
        from ament_index_python.packages import get_package_share_directory, PackageNotFoundError
    except ImportError:
        return None
    try:
        return get_package_share_directory('uav_edge')
    except (PackageNotFoundError, KeyError, ValueError, OSError):   # OSError: AMENT_PREFIX_PATH unset
        return None


def test_colcon_install_puts_data_files_in_share():
    share = _share_dir()
    if share is None:
        pytest.skip('uav_edge is not installed in an ament prefix (run through `make test` / colcon)')
    assert os.path.isfile(os.path.join(share, 'package.xml'))
    for folder in ('config', 'launch', 'models', 'sitl'):
        source = os.path.join(ROOT, folder)
        for dirpath, _, files in os.walk(source):
            for name in files:
                rel = os.path.relpath(os.path.join(dirpath, name), ROOT)
                assert os.path.isfile(os.path.join(share, rel)), f'{rel} missing from {share}'


def test_scenarios_resolve_from_the_installed_share_dir():
    share = _share_dir()
    if share is None:
        pytest.skip('uav_edge is not installed in an ament prefix (run through `make test` / colcon)')
    from uav_edge.core.scenario import resolve_scenario

    assert str(resolve_scenario('default').source).startswith(share)

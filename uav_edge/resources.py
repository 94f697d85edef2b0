"""Files the package ships (config/, models/, sitl/, launch/): looked up in the installed share directory
(colcon / ament_index), then in the repository this module lives in.

    package_file('models/seed1_td3.onnx')      # a path (str); the repo path if found nowhere, for the error
    given_or_shipped('models/seed1_ppo.onnx', 'models/seed1_td3.onnx')   # a node's file parameter (empty: default)
    package_dirs('config/scenarios')            # existing directories, share first
"""
import os
from pathlib import Path

PACKAGE = 'uav_edge'
REPO_ROOT = Path(__file__).resolve().parents[1]


def _roots():
    roots = []
    try:
        from ament_index_python.packages import get_package_share_directory
        roots.append(Path(get_package_share_directory(PACKAGE)))
    except Exception:       # ament_index missing, or the package is not installed (running from the repo)
        pass
    roots.append(REPO_ROOT)
    return roots


def package_dirs(relative):
    """Existing directories `relative` under the share dir and the repo, in that order."""
    return [root / relative for root in _roots() if (root / relative).is_dir()]


def package_file(relative):
    """The shipped file `relative` (str path): share dir first, then the repo; the repo path if it is in neither."""
    return next((str(root / relative) for root in _roots() if (root / relative).is_file()), str(REPO_ROOT / relative))


def given_or_shipped(path, default):
    """A node's file parameter: `path` as given if that file exists (absolute or from the working directory), else
    the shipped file of that relative name (so 'models/seed1_ppo.onnx' works from any folder); empty: `default`."""
    path = path or default
    return path if os.path.isabs(path) or os.path.isfile(path) else package_file(path)

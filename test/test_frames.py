"""uav_edge.core.frames: NED<->ENU, yaw, WGS84 <-> ECEF <-> local tangent plane."""
import numpy as np
import pytest

from uav_edge.core import frames

ZURICH = (47.397742, 8.545594, 488.0)


def test_ned_enu_swap_and_round_trip():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(100, 3)) * 100.0
    np.testing.assert_allclose(frames.ned_to_enu([1.0, 2.0, 3.0]), [2.0, 1.0, -3.0])
    np.testing.assert_allclose(frames.enu_to_ned(frames.ned_to_enu(v)), v)
    np.testing.assert_allclose(frames.ned_to_enu(frames.enu_to_ned(v)), v)


def test_yaw_conversion_north_is_enu_pi_half_and_round_trips():
    assert frames.yaw_ned_to_enu(0.0) == pytest.approx(np.pi / 2)        # facing north
    assert frames.yaw_ned_to_enu(np.pi / 2) == pytest.approx(0.0)         # facing east
    yaws = np.linspace(-3.1, 3.1, 50)
    np.testing.assert_allclose(frames.yaw_enu_to_ned(frames.yaw_ned_to_enu(yaws)), yaws, atol=1e-12)


def test_ecef_of_equator_and_pole_match_the_ellipsoid_axes():
    np.testing.assert_allclose(frames.geodetic_to_ecef(0.0, 0.0, 0.0), [frames.WGS84_A_M, 0.0, 0.0], atol=1e-6)
    b = frames.WGS84_A_M * (1.0 - frames.WGS84_F)
    np.testing.assert_allclose(frames.geodetic_to_ecef(90.0, 0.0, 0.0), [0.0, 0.0, b], atol=1e-6)


@pytest.mark.parametrize('origin', [ZURICH, (-33.9, 151.2, 20.0), (78.2, 15.6, 0.0), (0.0, -179.99, 0.0)])
def test_ltp_wgs84_round_trip_sub_millimetre_within_10_km(origin):
    rng = np.random.default_rng(1)
    ned = np.column_stack([rng.uniform(-10_000, 10_000, 500), rng.uniform(-10_000, 10_000, 500),
                           rng.uniform(-500, 100, 500)])
    ned = ned[np.hypot(ned[:, 0], ned[:, 1]) <= 10_000]
    lat, lon, alt = frames.ned_to_geodetic(ned, origin)
    back = frames.geodetic_to_ned(lat, lon, alt, origin)
    assert np.max(np.linalg.norm(back - ned, axis=1)) < 1e-3
    frame = frames.LocalFrame(*origin)
    np.testing.assert_allclose(frame.to_ned(*frame.to_geodetic(ned)), ned, atol=1e-3)


def test_local_frame_geometry_north_is_latitude_up_is_altitude():
    lat, lon, alt = frames.ned_to_geodetic([1000.0, 0.0, -50.0], ZURICH)
    assert lat > ZURICH[0] and lon == pytest.approx(ZURICH[1], abs=1e-9)
    assert alt == pytest.approx(ZURICH[2] + 50.0 + 1000.0 ** 2 / (2 * 6.37e6), abs=0.02)  # Earth curvature drop
    # one degree of latitude is ~111.2 km at 47 deg
    n = frames.geodetic_to_ned(ZURICH[0] + 0.01, ZURICH[1], ZURICH[2], ZURICH)[0]
    assert n == pytest.approx(1112.0, rel=2e-3)


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match='lat_deg'):
        frames.geodetic_to_ecef(91.0, 0.0, 0.0)
    with pytest.raises(ValueError, match='vec_ned'):
        frames.ned_to_enu([1.0, np.nan, 0.0])
    with pytest.raises(ValueError, match='origin'):
        frames.geodetic_to_ned(47.0, 8.0, 0.0, (np.inf, 8.0, 0.0))
    with pytest.raises(ValueError, match=r'\(\.\.\., 3\)'):
        frames.ned_to_enu([1.0, 2.0])

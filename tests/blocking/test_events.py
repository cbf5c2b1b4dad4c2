"""The blocking index: onsets and durations, members and segments, boxes, thresholds, Tibaldi–Molteni."""

import numpy as np
import pytest
import xarray as xr

from blocking.anomalies import (
    AnomalyFields,
    coriolis_parameter,
    geopotential_height,
    lowpass,
    qg3_fields,
    segment_starts,
)
from blocking.config import EventsConfig, IndexConfig
from blocking.events import (
    blocking_frequency,
    box_index,
    box_mask,
    find_events,
    percentile_of_threshold,
    resolve_threshold,
    run_events,
    threshold_at_percentile,
    tibaldi_molteni,
)
from blocking.synthetic import synthetic_qg3_file
from sparse_core.infra.errors import ConfigError, InputError


def test_onsets_and_durations_of_a_hand_made_index():
    #            0    1    2    3    4    5    6    7    8    9   10   11
    series = [[120, 50, 110, 130, 90, 100, 100, 100, 100, 100, 20, 150]]
    events = find_events(np.array(series, float), 100.0, segment_starts(np.arange(12.0)))
    # day 0 starts above M with no day before it: no observed onset; day 11 runs into the end
    assert events.onset.tolist() == [2, 5, 11]
    assert events.duration.tolist() == [2, 5, 1]
    assert events.end.tolist() == [3, 9, 11]
    assert events.censored.tolist() == [False, False, True]
    assert events.peak.tolist() == [130, 100, 150]
    assert events.persistent(5).tolist() == [0, 1, -1]  # a censored 1-day run has no label at D = 5
    assert events.persistent(1).tolist() == [1, 1, 1]


def test_members_and_segments_are_never_joined():
    series = np.array([[0, 120, 130, 140], [150, 0, 0, 0]], float)
    events = find_events(series, 100.0, segment_starts(np.arange(4.0)))
    assert events.member.tolist() == [0]  # member 1 starts above M: no onset, not a continuation of member 0
    assert events.censored.tolist() == [True]
    # a gap in time (two winters) cuts a run: the day after the gap is no onset, the run before is censored
    time = np.array([0, 1, 2, 10, 11, 12], float)
    starts = segment_starts(time)
    assert starts.tolist() == [True, False, False, True, False, False]
    events = find_events(np.array([[0, 120, 130, 140, 0, 150]], float), 100.0, starts)
    assert events.onset.tolist() == [1, 5] and events.duration.tolist() == [2, 1]
    assert events.censored.tolist() == [True, True]


def test_box_across_zero_is_the_same_on_both_longitude_conventions():
    lat = np.array([70.0, 62.0, 50.0])
    lon360 = np.arange(0.0, 360.0, 2.0)
    rng = np.random.default_rng(0)
    field = rng.normal(size=(5, lat.size, lon360.size))
    box = (60.0, 64.0, -4.0, 4.0)
    lat_in, lon_in = box_mask(lat, lon360, box)
    assert lat_in.tolist() == [False, True, False]
    assert sorted(lon360[lon_in].tolist()) == [0.0, 2.0, 4.0, 356.0, 358.0]
    index = box_index(field, lat, lon360, box)
    np.testing.assert_allclose(index, field[:, 1][:, lon_in].mean(axis=1))
    # the same field on a -180..180 grid, latitudes ascending and longitudes shuffled
    lon180 = (lon360 + 180.0) % 360.0 - 180.0
    order = rng.permutation(lon360.size)
    shuffled = field[:, ::-1][:, :, order]
    np.testing.assert_allclose(box_index(shuffled, lat[::-1], lon180[order], box), index)
    np.testing.assert_allclose(box_index(field, lat, lon360, (60.0, 64.0, 356.0, 4.0)), index)


def test_box_mean_is_cos_latitude_weighted_and_empty_boxes_fail():
    lat = np.array([60.0, 0.0])
    field = np.array([[[1.0], [3.0]]])  # (time, lat, lon)
    weights = np.cos(np.radians(lat))
    np.testing.assert_allclose(
        box_index(field, lat, np.array([10.0]), (-10, 70, 0, 20)), (weights * [1.0, 3.0]).sum() / weights.sum()
    )
    with pytest.raises(InputError, match="holds no grid point"):
        box_index(field, lat, np.array([10.0]), (61, 62, 0, 20))


def test_threshold_as_percentile_gives_the_same_events():
    rng = np.random.default_rng(1)
    index = np.cumsum(rng.normal(size=(2, 500)), axis=1) * 10.0
    starts = segment_starts(np.arange(500.0))
    for percentile in (60.0, 90.0):
        threshold = resolve_threshold(index, 100.0, percentile)
        assert threshold == threshold_at_percentile(index, percentile)
        assert abs(percentile_of_threshold(index, threshold) - percentile) <= 100.0 / index.size + 1e-9
    for metres in (50.0, 100.0):  # M in metres -> its percentile -> the same days above M, the same events
        back = threshold_at_percentile(index, percentile_of_threshold(index, metres))
        assert find_events(index, back, starts).onset.tolist() == find_events(index, metres, starts).onset.tolist()
    assert resolve_threshold(index, 100.0, None) == 100.0
    assert percentile_of_threshold(np.arange(10.0), 3.0) == 30.0


def test_geopotential_height_with_reference_or_local_coriolis():
    lat = np.array([60.0, 30.0])
    psi = np.full((1, 2, 3), 1.0e7)
    f0 = 2 * 7.292e-5 * np.sin(np.radians(60.0))
    np.testing.assert_allclose(geopotential_height(psi, lat), 1.0e7 * f0 / 9.80665)
    local = geopotential_height(psi, lat, coriolis="local")
    np.testing.assert_allclose(local[0, :, 0], 1.0e7 * coriolis_parameter(lat) / 9.80665)


def test_lowpass_stays_inside_segments():
    time = np.concatenate([np.arange(30.0), 100 + np.arange(30.0)])
    values = np.concatenate([np.zeros(30), np.ones(30) * 100.0])[None, :]
    filtered = lowpass(values, segment_starts(time), 3.0, axis=1)
    np.testing.assert_allclose(filtered[0, :30], 0.0, atol=1e-9)  # the second winter does not leak back
    np.testing.assert_allclose(filtered[0, 30:], 100.0, atol=1e-6)
    days = np.arange(400.0)
    slow = np.cos(2 * np.pi * days / 20.0)
    smooth = lowpass((slow + np.cos(np.pi * days))[None], segment_starts(days), 3.0, axis=1)
    np.testing.assert_allclose(smooth[0, 50:-50], slow[50:-50], atol=0.02)  # the 2-day wave is gone, 20 days kept


def test_tibaldi_molteni_flags_a_reversed_gradient():
    lat = np.linspace(90.0, 20.0, 71)  # north to south, 1 degree
    zonal = 5500.0 - 10.0 * (lat - 60.0)  # height falls to the north everywhere: no blocking
    z = np.repeat(zonal[:, None], 2, axis=1)[None]
    bump = 400.0 * np.exp(-(((lat - 62.0) / 6.0) ** 2))  # a high at 62N over longitude 0 only
    z[0, :, 0] += bump
    blocked = tibaldi_molteni(z, lat)
    assert blocked.tolist() == [[True, False]]


def fields_from(z500_anomaly, lat, lon, time=None, z500=None):
    members, days = z500_anomaly.shape[:2]
    time = np.arange(days, dtype=float) if time is None else time
    return AnomalyFields(
        zprime=z500_anomaly[:, :, None],
        z500=z500 if z500 is not None else 5500 + z500_anomaly,
        lat=lat,
        lon=lon,
        levels_hpa=np.array([500.0]),
        time=time,
        members=np.arange(members),
        segment_start=segment_starts(time),
    )


def test_frequency_by_longitude_follows_the_shifted_box():
    lat = np.array([85.0, 75.0, 62.0, 50.0, 30.0])
    lon = np.arange(0.0, 360.0, 8.0)
    zprime = np.zeros((1, 20, lat.size, lon.size))
    zprime[0, 5:12, 2, 5] = 150.0  # 7 days of a high at 40E
    frequency = blocking_frequency(fields_from(zprime, lat, lon), 100.0, (60, 64, -4, 4), persistence_days=5)
    assert frequency["box"][5] == pytest.approx(7 / 20) and frequency["box"][0] == 0.0
    assert frequency["persistent_box"][5] == pytest.approx(7 / 20)
    short = blocking_frequency(fields_from(zprime, lat, lon), 100.0, (60, 64, -4, 4), persistence_days=8)
    assert short["persistent_box"][5] == 0.0


def test_run_events_writes_catalogue_frequency_and_index(tmp_path):
    path = tmp_path / "output.nc"
    synthetic_qg3_file(path, days=200, members=2, seed=3)
    metrics = run_events(EventsConfig(inputs=(str(path),), persistence_days=5), tmp_path)
    assert metrics["events"] > 3 and metrics["members"] == 2 and metrics["days"] == 400
    assert metrics["threshold_m"] == 100.0
    assert 50.0 < metrics["percentile_of_100m"] < 100.0
    assert metrics["lon_max_frequency_box"] in (0.0, 5.625, 354.375)
    with open(tmp_path / "events.csv") as handle:
        header = handle.readline().strip().split(",")
        rows = handle.readlines()
    assert header[:4] == ["member", "onset", "end", "duration_days"] and len(rows) == metrics["events"]
    with xr.open_dataset(tmp_path / "events.nc") as catalogue, xr.open_dataset(tmp_path / "index.nc") as index:
        assert catalogue.sizes["event"] == metrics["events"]
        assert index["index"].dims == ("member", "time") and index["index"].units == "m"
        assert index.attrs["coriolis"] == "reference" and index.attrs["f0_latitude_deg"] == 60.0
        centroid = catalogue["centroid_lat"].to_numpy()
        assert np.nanmin(centroid) > 45.0 and np.nanmax(centroid) < 80.0
    by_percentile = EventsConfig(
        inputs=(str(path),), index=IndexConfig(threshold_percentile=metrics["percentile_of_100m"])
    )
    same = run_events(by_percentile, tmp_path)
    assert same["events"] == metrics["events"] and same["threshold_m"] >= 100.0


def test_stored_z500_is_converted_with_the_f0_its_attributes_name(tmp_path):
    path = tmp_path / "output.nc"
    synthetic_qg3_file(path, days=40, members=1, seed=0)
    with xr.open_dataset(path) as data:
        psi = data["psi"].load()
    f45 = 2 * 7.292e-5 * np.sin(np.radians(45.0))
    z500 = (f45 * psi.sel(level=500) / 9.80665).drop_vars("level")
    z500.attrs = {
        "units": "m",
        "long_name": "500 hPa geopotential height anomaly, f0 psi500 / g (f0 = 2 Omega sin 45 deg)",
    }
    xr.Dataset({"z500": z500}).to_netcdf(tmp_path / "z500.nc")
    config = IndexConfig(lowpass_days=0)
    from_psi, from_z500 = qg3_fields(path, config), qg3_fields(tmp_path / "z500.nc", config)
    np.testing.assert_allclose(from_z500.zprime[:, :, 0], from_psi.zprime[:, :, 1], rtol=1e-5, atol=1e-3)
    z500.attrs = {"units": "m"}
    xr.Dataset({"z500": z500}).to_netcdf(tmp_path / "unknown.nc")
    with pytest.raises(InputError, match="does not say how it was made from psi"):
        qg3_fields(tmp_path / "unknown.nc", config)


def test_a_run_read_member_by_member_equals_the_whole_array_path(tmp_path):
    """qg3_fields reads one member at a time; Z' and Z500 equal the anomalies of the whole array."""
    from blocking.anomalies import geopotential_height, make_anomalies

    path = tmp_path / "output.nc"
    synthetic_qg3_file(path, days=60, members=3, seed=4)
    config = IndexConfig(skip_days=5)
    fields = qg3_fields(path, config)
    with xr.open_dataset(path) as data:
        psi = data["psi"].transpose("member", "time", "level", "lat", "lon").to_numpy()
        lat = data["lat"].to_numpy()
    z = geopotential_height(psi, lat)[:, 5:]
    zprime, _ = make_anomalies(z, fields.time, config, dated=False)
    np.testing.assert_array_equal(fields.zprime, zprime)
    np.testing.assert_array_equal(fields.z500, z[:, :, 1])
    assert fields.zprime.shape == (3, 55, 3, lat.size, fields.lon.size)
    with pytest.raises(InputError, match="skip_days 60 drops all 60 days"):
        qg3_fields(path, IndexConfig(skip_days=60))


def test_meaningless_index_settings_are_refused():
    with pytest.raises(ConfigError) as error:
        IndexConfig(box=(64.0, 60.0, 0.0, 4.0))
    assert error.value.field == "box"
    with pytest.raises(ConfigError):
        IndexConfig(lowpass_days=1.5)
    with pytest.raises(ConfigError):
        IndexConfig(climatology_window_days=30)
    with pytest.raises(ConfigError):
        EventsConfig(inputs=())

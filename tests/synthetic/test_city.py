"""The synthetic city generator: determinism, data contracts, and that its truth is real.

The co-location checks are brute force: for one pair, every sighting of one subject is compared
with every sighting of the other at the same camera (|dt| <= 60 s is one event, DESIGN §4).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sightgraph.errors import UsageError
from sightgraph.schema import ts_to_epoch_us
from sightgraph.synthetic.city import (
    PERSON_COLUMNS,
    SITE_KINDS,
    STRANGER_COLUMNS,
    TIE_COLUMNS,
    TIE_KINDS,
    City,
    Noise,
    generate_city,
    persons_for_sightings,
    read_city,
    read_truth,
    write_city,
)

WINDOW_S = 60
DEMOGRAPHIC = re.compile(
    r"age|gender|sex|ethnic|race|birth|relig|nationality|income|disab", re.IGNORECASE
)
TZ = "Europe/Amsterdam"


@pytest.fixture(scope="module")
def clean_city() -> City:
    """Two weeks (Mon 2026-03-02 .. Sun 03-15), 150 persons, no recognition noise."""
    return generate_city(persons=150, cameras=30, days=14, seed=7, noise=Noise.off())


@pytest.fixture(scope="module")
def noisy_city() -> City:
    """The same size with the default noise (10% missed, 1% false matches)."""
    return generate_city(persons=300, cameras=30, days=14, seed=11)


class Index:
    """Sightings with epoch seconds and local calendar fields, for brute-force pair checks."""

    def __init__(self, city: City) -> None:
        s = city.sightings
        local = s["ts"].dt.tz_convert(TZ)
        self.sightings = pd.DataFrame(
            {
                "subject_id": s["subject_id"],
                "camera_id": s["camera_id"],
                "t": ts_to_epoch_us(s["ts"]) // 1_000_000,
                "date": (local.dt.tz_localize(None).dt.normalize() - pd.Timestamp(0))
                // pd.Timedelta(days=1),  # local calendar day number
                "weekday": local.dt.weekday < 5,
                "minute": local.dt.hour * 60 + local.dt.minute,
            }
        )
        self.site = city.cameras.set_index("camera_id")["site"]

    def events(self, pair_table: pd.DataFrame, at: str | None = None) -> pd.DataFrame:
        """Every co-location event of the pairs (subject_a, subject_b): one row per pair of their
        sightings at one camera at most a minute apart. ``at`` names a column of ``pair_table``
        holding the only camera to look at.

        Candidates are all pairs of sightings in the same or adjacent whole minutes (a superset of
        the pairs within 60 s), each then checked exactly.
        """
        pt = pair_table[["subject_a", "subject_b"] + ([at] if at else [])].drop_duplicates()
        pt = pt.rename(columns={at: "camera_id"}) if at else pt
        side_a = self.sightings.rename(columns={"subject_id": "subject_a"})
        side_a = side_a.assign(bucket=side_a["t"] // 60)
        b = self.sightings[["subject_id", "camera_id", "t"]]
        b = b.rename(columns={"subject_id": "subject_b", "t": "t_b"})
        side_b = pd.concat([b.assign(bucket=b["t_b"] // 60 + k) for k in (-1, 0, 1)])
        m = pt.merge(side_a, on=["subject_a", "camera_id"] if at else ["subject_a"])
        m = m.merge(side_b, on=["subject_b", "camera_id", "bucket"])
        return m[(m["t"] - m["t_b"]).abs() <= WINDOW_S]

    def count(
        self, pair_table: pd.DataFrame, by: str = "size", at: str | None = None
    ) -> np.ndarray:
        """Per pair of ``pair_table`` (in its order): events, or distinct dates with events."""
        ev = self.events(pair_table, at)
        g = ev.groupby(["subject_a", "subject_b"])
        per = g.size() if by == "size" else g["date"].nunique()
        key = pd.MultiIndex.from_frame(pair_table[["subject_a", "subject_b"]])
        return per.reindex(key, fill_value=0).to_numpy()


@pytest.fixture(scope="module")
def clean_index(clean_city: City) -> Index:
    return Index(clean_city)


def pairs(df: pd.DataFrame) -> set[tuple[str, str]]:
    return set(zip(df["subject_a"], df["subject_b"], strict=True))


# --- determinism ------------------------------------------------------------------------------


def test_same_arguments_give_identical_frames_and_another_seed_differs() -> None:
    kw = {"persons": 80, "cameras": 20, "days": 4}
    a, b, c = generate_city(seed=3, **kw), generate_city(seed=3, **kw), generate_city(seed=4, **kw)
    for name in ("sightings", "cameras", "ties", "strangers", "persons"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    assert a.params == b.params
    assert len(a.sightings) != len(c.sightings) or not a.sightings.equals(c.sightings)
    assert not a.cameras.equals(c.cameras)


def test_noise_does_not_change_the_city_only_what_is_reported() -> None:
    """Noise has its own random stream: the same true sightings, half of them missed."""
    kw = {"persons": 100, "cameras": 20, "days": 3, "seed": 5}
    clean = generate_city(noise=Noise.off(), **kw)
    halved = generate_city(noise=Noise(miss_prob=0.5, false_match_prob=0.0), **kw)
    n_true = clean.params["counts"]["true_sightings_before_noise"]
    assert halved.params["counts"]["true_sightings_before_noise"] == n_true
    assert len(clean.sightings) == n_true - clean.params["counts"]["same_second_duplicates_merged"]
    assert 0.45 < len(halved.sightings) / n_true < 0.55
    keys = ["subject_id", "camera_id", "ts"]
    merged = halved.sightings.merge(clean.sightings, on=keys, how="left", indicator=True)
    assert (merged["_merge"] == "both").all()  # missed detections only remove sightings
    # ... and leave the others as they were (but for a same-second duplicate's twin)
    assert (merged["confidence_x"] == merged["confidence_y"]).mean() > 0.999
    pd.testing.assert_frame_equal(clean.ties, halved.ties)


# --- contracts ----------------------------------------------------------------------------------


def test_sightings_columns_dtypes_and_time_zone(noisy_city: City) -> None:
    s = noisy_city.sightings
    assert list(s.columns) == ["subject_id", "camera_id", "ts", "confidence"]
    assert s["subject_id"].dtype == "str" and s["camera_id"].dtype == "str"
    assert str(s["ts"].dtype) == "datetime64[us, UTC]"
    assert s["confidence"].dtype == np.float64
    assert s["confidence"].gt(0).all() and s["confidence"].le(1).all()
    us = ts_to_epoch_us(s["ts"])
    assert (us % 1_000_000 == 0).all()  # whole seconds
    assert (np.diff(us) >= 0).all()  # sorted by time
    assert not s.duplicated(["subject_id", "camera_id", "ts"]).any()
    assert s.notna().all().all()
    assert set(s["subject_id"]) <= set(noisy_city.persons["subject_id"])
    assert set(s["camera_id"]) <= set(noisy_city.cameras["camera_id"])


def test_truth_frames_follow_their_contracts(noisy_city: City) -> None:
    c = noisy_city
    assert list(c.cameras.columns) == ["camera_id", "lat", "lon", "name", "site"]
    assert set(c.cameras["site"]) == set(SITE_KINDS)
    assert c.cameras["camera_id"].is_unique
    # a 10 km square around (52.09, 5.12): within about 0.05 degrees of latitude
    assert c.cameras["lat"].between(52.09 - 0.05, 52.09 + 0.05).all()
    assert c.cameras["lon"].between(5.12 - 0.08, 5.12 + 0.08).all()
    assert tuple(c.ties.columns) == TIE_COLUMNS
    assert tuple(c.strangers.columns) == STRANGER_COLUMNS
    assert tuple(c.persons.columns) == PERSON_COLUMNS
    for df in (c.ties, c.strangers):
        assert (df["subject_a"] < df["subject_b"]).all()
        assert not df.duplicated(["subject_a", "subject_b"]).any()
    assert set(c.ties["kind"]) == set(TIE_KINDS)
    assert set(c.strangers["kind"]) == {"routine_stranger"}
    hubs = set(c.cameras.loc[c.cameras["site"] == "hub", "camera_id"])
    assert set(c.strangers["camera_id"]) <= hubs
    assert (c.strangers["am_departure"].notna() | c.strangers["pm_departure"].notna()).all()
    assert c.strangers["am_departure"].dropna().str.fullmatch(r"\d\d:\d\d").all()
    assert c.persons["subject_id"].is_unique and len(c.persons) == 300
    persons = c.persons.set_index("subject_id")
    hh = c.ties[c.ties["kind"] == "household"]
    assert (persons.loc[hh["subject_a"], "household_id"].to_numpy() == hh["group_id"]).all()
    assert (persons.loc[hh["subject_b"], "household_id"].to_numpy() == hh["group_id"]).all()
    sites = c.cameras.set_index("camera_id")["site"]
    assert set(sites[c.persons["home_camera"]]) == {"home"}
    assert set(sites[c.persons["work_camera"].dropna()]) == {"work"}


def test_strangers_are_never_ties(noisy_city: City) -> None:
    assert not pairs(noisy_city.strangers) & pairs(noisy_city.ties)
    assert len(noisy_city.strangers) > 0


def test_no_demographic_attributes_anywhere(noisy_city: City) -> None:
    frames = [noisy_city.sightings, noisy_city.cameras, noisy_city.ties]
    frames += [noisy_city.strangers, noisy_city.persons]
    columns = [str(col) for df in frames for col in df.columns]
    assert not [col for col in columns if DEMOGRAPHIC.search(col)]
    assert not DEMOGRAPHIC.search(" ".join(map(str, _flat_keys(noisy_city.params))))


def _flat_keys(d: dict) -> Iterator[str]:
    for k, v in d.items():
        yield k
        if isinstance(v, dict):
            yield from _flat_keys(v)


# --- sizes --------------------------------------------------------------------------------------


def test_counts_are_as_requested(noisy_city: City) -> None:
    assert noisy_city.sightings["subject_id"].nunique() == 300
    assert len(noisy_city.cameras) == 30
    local_days = noisy_city.sightings["ts"].dt.tz_convert(TZ).dt.normalize().dt.date
    assert pd.Timestamp(local_days.min()) == pd.Timestamp("2026-03-02")
    assert pd.Timestamp(local_days.max()) in (
        pd.Timestamp("2026-03-15"),
        pd.Timestamp("2026-03-16"),
    )
    per_person_day = len(noisy_city.sightings) / (300 * 14)
    assert 8 < per_person_day < 25
    counts = noisy_city.params["counts"]
    assert counts["sightings"] == len(noisy_city.sightings)
    assert counts["ties"] == len(noisy_city.ties)
    assert counts["missed"] > 0 and counts["false_matches"] > 0


def test_target_sightings_sizes_the_city() -> None:
    city = generate_city(target_sightings=60_000, days=7, seed=2)
    assert 0.85 < len(city.sightings) / 60_000 < 1.15
    assert city.params["persons"] == persons_for_sightings(60_000, days=7, seed=2)
    assert city.params["cameras"] == max(20, city.params["persons"] // 10)
    assert persons_for_sightings(2_000_000, days=7) > 9 * persons_for_sightings(200_000, days=7)


# --- planted ties really co-locate ---------------------------------------------------------------


def _site_sightings(index: Index) -> pd.DataFrame:
    return index.sightings.assign(site=index.sightings["camera_id"].map(index.site))


def test_home_and_work_cameras_see_passes_not_stays(clean_city: City, clean_index: Index) -> None:
    """A residential street camera sees its residents leave and come back, never while at home
    (passes at least ``min_home_s`` apart); a workplace entrance sees its workers arrive, go out
    to lunch and come back, and leave: at most four sightings a day."""
    s = _site_sightings(clean_index)
    persons = clean_city.persons.set_index("subject_id")
    home = s[s["site"] == "home"].sort_values(["subject_id", "t"])
    assert (home["camera_id"].to_numpy() == persons.loc[home["subject_id"], "home_camera"]).all()
    per_day = home.groupby(["subject_id", "date"])
    assert per_day.size().max() <= 8 and per_day.size().median() <= 4
    assert per_day["t"].diff().dropna().min() >= 299  # passes, not a stay seen every few minutes
    work = s[s["site"] == "work"]
    assert (work["camera_id"].to_numpy() == persons.loc[work["subject_id"], "work_camera"]).all()
    assert work.groupby(["subject_id", "date"]).size().max() <= 4


def _neighbours(city: City, same: str) -> pd.DataFrame:
    """Pairs sharing the ``same`` camera of persons.csv who are not ties."""
    p = city.persons.dropna(subset=[same])
    m = p.merge(p, on=same)
    m = m[m["subject_id_x"] < m["subject_id_y"]]
    m = m.rename(columns={"subject_id_x": "subject_a", "subject_id_y": "subject_b"})
    m = m[["subject_a", "subject_b", same]]
    tied = pd.MultiIndex.from_frame(city.ties[["subject_a", "subject_b"]])
    return m[~pd.MultiIndex.from_frame(m[["subject_a", "subject_b"]]).isin(tied)]


def test_households_leave_and_come_home_together(clean_city: City, clean_index: Index) -> None:
    """Household members pass their home camera together when they go out or come back together
    (outings, evenings out, some mornings) and are seen together at their outings' places;
    neighbours (same home camera, other households) only pass it together by chance."""
    persons = clean_city.persons.set_index("subject_id")
    hh = clean_city.ties[clean_city.ties["kind"] == "household"].copy()
    assert len(hh) >= 20
    hh["home"] = persons.loc[hh["subject_a"], "home_camera"].to_numpy()
    assert (hh["home"] == persons.loc[hh["subject_b"], "home_camera"].to_numpy()).all()
    home_days = clean_index.count(hh, by="days", at="home")
    assert home_days.min() >= 1 and np.median(home_days) >= 3
    ev = clean_index.events(hh)
    out = ev[ev["camera_id"].map(clean_index.site) == "leisure"]
    out_days = out.groupby(["subject_a", "subject_b"])["date"].nunique()
    assert len(out_days) == len(hh)  # every household pair is seen together out of home
    neighbours = _neighbours(clean_city, "home_camera")
    assert len(neighbours) >= 100
    nb_days = clean_index.count(neighbours, by="days", at="home_camera")
    assert np.median(nb_days) == 0 and np.mean(nb_days >= 2) < 0.1


def test_coworkers_lunch_together_at_changing_places(clean_city: City, clean_index: Index) -> None:
    """A team passes its entrance together going out to lunch and coming back, at one of several
    lunch places; colleagues of other teams share the entrance only at their own times."""
    persons = clean_city.persons.set_index("subject_id")
    cw = clean_city.ties[clean_city.ties["kind"] == "coworkers"].copy()
    assert len(cw) >= 20
    cw["work"] = persons.loc[cw["subject_a"], "work_camera"].to_numpy()
    assert (cw["work"] == persons.loc[cw["subject_b"], "work_camera"].to_numpy()).all()
    days = clean_index.count(cw, by="days", at="work")
    assert np.mean(days >= 3) >= 0.95
    ev = clean_index.events(cw)
    lunch = ev[ev["camera_id"].map(clean_index.site) == "leisure"]
    places = lunch.groupby(["subject_a", "subject_b"])["camera_id"].nunique()
    places = places.reindex(pd.MultiIndex.from_frame(cw[["subject_a", "subject_b"]]), fill_value=0)
    assert np.mean(places >= 2) >= 0.8
    others = _neighbours(clean_city, "work_camera")
    assert len(others) >= 100
    assert (
        np.median(clean_index.count(others, by="days"))
        <= 1
        < 6
        <= np.median(clean_index.count(cw, by="days"))
    )


def test_most_friends_meet_at_changing_leisure_places(clean_city: City, clean_index: Index) -> None:
    friends = clean_city.ties[clean_city.ties["kind"] == "friends"]
    assert len(friends) >= 20
    assert friends["friend_meetings"].notna().all()
    others = clean_city.ties[clean_city.ties["kind"] != "friends"]
    assert others["friend_meetings"].isna().mean() > 0.9  # set only for pairs of a friend group
    ev = clean_index.events(friends)
    ev = ev[ev["camera_id"].map(clean_index.site) == "leisure"]
    places = ev.groupby(["subject_a", "subject_b"])["camera_id"].nunique()
    places = places.reindex(
        pd.MultiIndex.from_frame(friends[["subject_a", "subject_b"]]), fill_value=0
    )
    planned = friends["friend_meetings"].to_numpy()
    assert np.mean(places >= 1) >= 0.8
    assert np.mean(places[planned >= 2] >= 1) >= 0.95  # met twice: seen together
    assert np.mean(places[planned >= 2] >= 2) >= 0.5  # mostly not at the same bar twice
    assert np.all(places[planned >= 1] <= planned[planned >= 1] + 1)


def test_routine_strangers_meet_at_their_hub_at_the_same_minute_on_most_weekdays(
    clean_city: City, clean_index: Index
) -> None:
    am = clean_city.strangers[clean_city.strangers["am_departure"].notna()].copy()
    assert len(am) >= 20
    hh_mm = am["am_departure"].str.split(":", expand=True).astype(int)
    am["dep"] = hh_mm[0] * 60 + hh_mm[1]
    ev = clean_index.events(am, at="camera_id").merge(am, on=["subject_a", "subject_b"])
    ev = ev[ev["weekday"] & ((ev["minute"] - ev["dep"]).abs() <= 10)]  # the morning train
    per_pair = ev.groupby(["subject_a", "subject_b"])
    share = (
        per_pair["date"]
        .nunique()
        .reindex(pd.MultiIndex.from_frame(am[["subject_a", "subject_b"]]), fill_value=0)
        / 10
    )  # weekdays in the two weeks
    # a pair meets on a weekday unless one is absent or off the usual train (about 0.8) and the
    # two are seen within the window (0.94): more than half the weekdays for ~90% of the pairs
    assert np.mean(share > 0.5) >= 0.8
    spread = per_pair["minute"].max() - per_pair["minute"].min()
    assert spread.max() <= 5  # the same minute, give or take a train
    assert ((ev["dep"] - ev["minute"]).between(0, 2)).mean() >= 0.9  # just before departure


def test_routine_strangers_share_nothing_but_the_train(
    clean_city: City, clean_index: Index
) -> None:
    """Different homes, workplaces and streets: together only at the hub (and, like anyone, by
    chance at a leisure place)."""
    st_ = clean_city.strangers
    persons = clean_city.persons.set_index("subject_id")
    a, b = persons.loc[st_["subject_a"]], persons.loc[st_["subject_b"]]
    assert (a["home_camera"].to_numpy() != b["home_camera"].to_numpy()).all()
    assert (a["work_camera"].to_numpy() != b["work_camera"].to_numpy()).all()
    assert (a["hub_camera"].to_numpy() == st_["camera_id"].to_numpy()).all()
    assert (b["hub_camera"].to_numpy() == st_["camera_id"].to_numpy()).all()
    sites = clean_index.events(st_)["camera_id"].map(clean_index.site)
    assert set(sites) <= {"hub", "leisure"}
    assert (sites == "hub").mean() > 0.7


def test_naive_counts_of_days_together_rank_strangers_above_friends(noisy_city: City) -> None:
    """That is the point of routine strangers: they are seen together on most weekdays, friends
    on the few evenings they meet, so naive repetition counts (days or meetings together, the
    simple ratio index) rank strangers first; contact scores must not."""
    index = Index(noisy_city)
    friends = noisy_city.ties[noisy_city.ties["kind"] == "friends"]
    days_friend = index.count(friends, by="days")
    days_stranger = index.count(noisy_city.strangers, by="days")
    assert np.median(days_stranger) >= 2 * np.median(days_friend)
    assert np.mean(days_stranger[:, None] > days_friend[None, :]) > 0.8


# --- noise and plausibility ----------------------------------------------------------------------


def _max_speeds_kmh(city: City) -> pd.Series:
    """Fastest implied speed between consecutive sightings of each subject."""
    s = city.sightings.merge(city.cameras[["camera_id", "lat", "lon"]], on="camera_id")
    s = s.sort_values(["subject_id", "ts"], kind="stable")
    t = ts_to_epoch_us(s["ts"]) / 1e6
    y = s["lat"].to_numpy() * 111_320.0
    x = s["lon"].to_numpy() * 111_320.0 * np.cos(np.radians(52.09))
    same = s["subject_id"].to_numpy()[1:] == s["subject_id"].to_numpy()[:-1]
    d = np.hypot(np.diff(x), np.diff(y))
    speed = np.where(same & (d > 0), d / np.maximum(np.diff(t), 1.0) * 3.6, 0.0)
    return pd.Series(speed).groupby(s["subject_id"].to_numpy()[1:]).max()


def test_genuine_trajectories_are_plausible_and_false_matches_are_not(clean_city: City) -> None:
    assert _max_speeds_kmh(clean_city).max() < 60  # door to door, about 30 km/h
    noisy = generate_city(
        persons=150, cameras=30, days=14, seed=7, noise=Noise(miss_prob=0.0, false_match_prob=0.02)
    )
    n_false = noisy.params["counts"]["false_matches"]
    assert 0.01 < n_false / len(noisy.sightings) < 0.03
    assert (_max_speeds_kmh(noisy) > 150).sum() >= 20
    # false matches carry lower confidence: the noisy city's extra low scores
    low = (noisy.sightings["confidence"] < 0.6).sum() - (
        clean_city.sightings["confidence"] < 0.6
    ).sum()
    assert low > 0.5 * n_false


# --- files --------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_write_and_read_round_trip(tmp_path, fmt: str) -> None:
    city = generate_city(persons=60, cameras=20, days=3, seed=1)
    paths = write_city(city, tmp_path / "out", format=fmt)
    assert paths["sightings"] == tmp_path / "out" / f"sightings.{fmt}"
    assert paths["ties"] == tmp_path / "out" / "truth" / "ties.csv"
    assert all(p.exists() for p in paths.values())
    back = read_city(tmp_path / "out")
    for name in ("sightings", "cameras", "ties", "strangers", "persons"):
        pd.testing.assert_frame_equal(getattr(back, name), getattr(city, name))
    truth = read_truth(tmp_path / "out")
    pd.testing.assert_frame_equal(truth.strangers, city.strangers)
    pd.testing.assert_frame_equal(truth.ties, city.ties)
    assert truth.params == city.params
    if fmt == "csv":
        first = paths["sightings"].read_text().splitlines()[1]
        assert re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", first)


def test_read_truth_names_the_missing_file(tmp_path) -> None:
    with pytest.raises(UsageError, match="params.json"):
        read_truth(tmp_path)


# --- validation and robustness -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"persons": 1}, "persons"),
        ({"persons": 2.5}, "persons"),
        ({"cameras": 5}, "cameras"),
        ({"days": 0}, "days"),
        ({"start": "not a date"}, "start"),
        ({"start": "2026-03-02 08:00"}, "start"),
        ({"noise": {"miss_prob": 1.5}}, "miss_prob"),
        ({"noise": {"typo": 0.1}}, "typo"),
        ({"tz": "Mars/Olympus"}, "time zone"),
        ({"target_sightings": 0}, "target_sightings"),
        ({"center": "somewhere"}, "center"),
    ],
)
def test_bad_arguments_raise_usage_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        generate_city(**{"persons": 20, "cameras": 10, "days": 1, **kwargs})


def test_write_city_rejects_unknown_format(tmp_path) -> None:
    city = generate_city(persons=10, cameras=10, days=1)
    with pytest.raises(UsageError, match="format"):
        write_city(city, tmp_path, format="xml")


def test_routines_follow_local_time_across_daylight_saving() -> None:
    """Europe/Amsterdam moves to UTC+2 on Sun 2026-03-29: commuters keep their local train."""
    city = generate_city(persons=200, cameras=30, days=4, seed=3, start="2026-03-27")
    hubs = set(city.cameras.loc[city.cameras["site"] == "hub", "camera_id"])
    s = city.sightings[city.sightings["camera_id"].isin(hubs)]
    local = s["ts"].dt.tz_convert(TZ)
    morning = local.dt.hour < 11
    utc_h = s["ts"].dt.hour + s["ts"].dt.minute / 60
    loc_h = local.dt.hour + local.dt.minute / 60
    fri = (local.dt.day == 27) & morning
    mon = (local.dt.day == 30) & morning
    assert abs(loc_h[fri].median() - loc_h[mon].median()) < 0.25
    assert 0.75 < utc_h[fri].median() - utc_h[mon].median() < 1.25


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    persons=st.integers(2, 40),
    cameras=st.integers(10, 25),
    days=st.integers(1, 4),
    seed=st.integers(0, 2**32),
)
def test_any_small_city_keeps_the_invariants(
    persons: int, cameras: int, days: int, seed: int
) -> None:
    city = generate_city(persons=persons, cameras=cameras, days=days, seed=seed)
    s = city.sightings
    assert len(city.persons) == persons and len(city.cameras) == cameras
    assert set(s["subject_id"]) <= set(city.persons["subject_id"])
    assert set(s["camera_id"]) <= set(city.cameras["camera_id"])
    assert s["confidence"].between(0, 1, inclusive="right").all()
    for df in (city.ties, city.strangers):
        assert (df["subject_a"] < df["subject_b"]).all()
    assert not pairs(city.ties) & pairs(city.strangers)
    persons = city.persons.set_index("subject_id")
    for col in ("home_camera", "work_camera"):
        a = persons.loc[city.strangers["subject_a"], col].to_numpy()
        assert (a != persons.loc[city.strangers["subject_b"], col].to_numpy()).all()
    households = city.persons.groupby("household_id")["subject_id"].size()
    n_household_pairs = int((households * (households - 1) // 2).sum())
    assert (city.ties["kind"] == "household").sum() == n_household_pairs

"""Small-cell suppression: cells with fewer than k distinct subjects are dropped or masked."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sightgraph.errors import UsageError
from sightgraph.governance.privacy import distinct_subject_counts, suppress_small_cells


@pytest.fixture
def sightings() -> pd.DataFrame:
    """c1: a seen 3 times, b once -> 2 subjects, 4 sightings; c2: a..e once -> 5 subjects."""
    rows = [("a", "c1")] * 3 + [("b", "c1")] + [(p, "c2") for p in "abcde"]
    df = pd.DataFrame(rows, columns=["pid", "camera_id"])
    df["hour"] = [8, 8, 9, 9, 8, 8, 8, 8, 8]
    return df


def test_distinct_subject_counts_counts_people_not_sightings(sightings: pd.DataFrame) -> None:
    before = sightings.copy()
    out = distinct_subject_counts(sightings, by=["camera_id"])
    assert out.to_dict("list") == {
        "camera_id": ["c1", "c2"],
        "n_subjects": [2, 5],
        "n_sightings": [4, 5],
    }
    pd.testing.assert_frame_equal(sightings, before)
    two = distinct_subject_counts(sightings, by=["camera_id", "hour"])
    assert two.to_dict("list") == {
        "camera_id": ["c1", "c1", "c2"],
        "hour": [8, 9, 8],
        "n_subjects": [1, 2, 5],
        "n_sightings": [2, 2, 5],
    }


def test_distinct_subject_counts_validates(sightings: pd.DataFrame) -> None:
    with pytest.raises(UsageError, match="missing required column.*site"):
        distinct_subject_counts(sightings, by=["site"])
    with pytest.raises(UsageError, match="at least one column"):
        distinct_subject_counts(sightings, by=[])
    with pytest.raises(UsageError, match="subject column"):
        distinct_subject_counts(sightings, by=["pid"])


def test_drop_suppresses_below_k_and_keeps_exactly_k() -> None:
    cells = pd.DataFrame({"camera_id": ["c1", "c2", "c3", "c4"], "n_subjects": [4, 5, 6, None]})
    before = cells.copy()
    out = suppress_small_cells(cells, k=5)
    assert out["camera_id"].tolist() == ["c2", "c3"]  # 5 == k is shown; 4 and unknown are not
    assert out.attrs["n_suppressed"] == 2 and out.attrs["k"] == 5
    pd.testing.assert_frame_equal(cells, before)
    assert suppress_small_cells(cells, k=1).attrs["n_suppressed"] == 1  # only the unknown count


def test_mask_hides_every_value_of_small_cells() -> None:
    flows = pd.DataFrame(
        {
            "camera_from": ["c1", "c1", "c2"],
            "camera_to": ["c2", "c3", "c3"],
            "n_subjects": [9, 2, 5],
            "count": [30, 2, 11],
            "median_travel_s": [120.0, 60.0, 90.0],
        }
    )
    out = suppress_small_cells(flows, k=5, how="mask")
    assert out["camera_from"].tolist() == ["c1", "c1", "c2"]  # keys stay visible
    assert out["suppressed"].tolist() == [False, True, False]
    assert out.attrs["n_suppressed"] == 1
    assert out.loc[1, ["n_subjects", "count", "median_travel_s"]].isna().all()
    assert out["count"].dtype == "Int64" and out["count"].tolist()[0] == 30
    assert out.loc[2, "median_travel_s"] == 90.0


def test_mask_with_numeric_keys() -> None:
    cells = pd.DataFrame({"camera_id": ["c1", "c1"], "hour": [8, 9], "n_subjects": [6, 1]})
    out = suppress_small_cells(cells, how="mask", keys=["camera_id", "hour"])
    assert out["hour"].tolist() == [8, 9] and out["n_subjects"].isna().tolist() == [False, True]
    default = suppress_small_cells(cells, how="mask")  # hour is numeric: masked by default
    assert default["hour"].isna().tolist() == [False, True]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"k": 0}, "k must be"),
        ({"k": 2.5}, "k must be"),
        ({"k": True}, "k must be"),
        ({"how": "blur"}, "how must be"),
        ({"count_col": "nope"}, "missing required column"),
        ({"count_col": "camera_id"}, "must hold subject counts"),
        ({"how": "mask", "keys": ["n_subjects"]}, "cannot be a key"),
        ({"how": "mask", "keys": ["x"]}, "missing required column"),
    ],
)
def test_suppress_validates(kwargs: dict, match: str) -> None:
    with pytest.raises(UsageError, match=match):
        suppress_small_cells(pd.DataFrame({"camera_id": ["c1"], "n_subjects": [3]}), **kwargs)


@settings(max_examples=50, deadline=None)
@given(
    pids=st.lists(st.tuples(st.integers(0, 12), st.integers(0, 3)), min_size=1, max_size=60),
    k=st.integers(1, 6),
)
def test_pipeline_matches_a_brute_force_oracle(pids: list[tuple[int, int]], k: int) -> None:
    """Shown cells are exactly the cameras with >= k distinct subjects, with their true counts."""
    df = pd.DataFrame({"pid": [f"p{p}" for p, _ in pids], "camera_id": [f"c{c}" for _, c in pids]})
    oracle = {
        cam: len({p for p, c in pids if f"c{c}" == cam}) for cam in {f"c{c}" for _, c in pids}
    }
    out = suppress_small_cells(distinct_subject_counts(df, by="camera_id"), k=k)
    assert dict(zip(out["camera_id"], out["n_subjects"], strict=True)) == {
        cam: n for cam, n in oracle.items() if n >= k
    }
    assert out.attrs["n_suppressed"] == sum(1 for n in oracle.values() if n < k)

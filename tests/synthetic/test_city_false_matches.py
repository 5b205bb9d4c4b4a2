"""The city's truth of false matches (City.false_matches): it marks exactly the false matches."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sightgraph.synthetic.city import (
    FALSE_MATCH_COLUMNS,
    Noise,
    false_match_mask,
    generate_city,
    read_city,
    read_truth,
    write_city,
)

KEY = ["subject_id", "camera_id", "ts"]
ARGS = {"persons": 120, "cameras": 20, "days": 3, "seed": 5}


def _keys(df: pd.DataFrame) -> pd.MultiIndex:
    return pd.MultiIndex.from_frame(df[KEY])


def test_no_noise_no_false_matches() -> None:
    city = generate_city(**ARGS, noise=Noise.off())
    assert city.false_matches is not None
    assert list(city.false_matches.columns) == list(FALSE_MATCH_COLUMNS)
    assert len(city.false_matches) == 0
    assert not false_match_mask(city.sightings, city.false_matches).any()
    assert city.params["counts"]["false_match_sightings"] == 0


def test_marks_exactly_the_sightings_the_clean_city_lacks() -> None:
    """Noise draws do not depend on the probabilities: with no misses, the noisy city is the clean
    one with some sightings credited to someone else. Those, and only those, are marked (a false
    match merged with a true sighting of the same subject, camera and second is not one)."""
    clean = generate_city(**ARGS, noise=Noise(miss_prob=0.0, false_match_prob=0.0))
    noisy = generate_city(**ARGS, noise=Noise(miss_prob=0.0, false_match_prob=0.05))
    assert noisy.false_matches is not None
    mask = false_match_mask(noisy.sightings, noisy.false_matches)
    absent = ~np.asarray(_keys(noisy.sightings).isin(_keys(clean.sightings)))
    assert mask.sum() > 50
    np.testing.assert_array_equal(mask, absent)
    # who was really there: a sighting of the clean city, never the credited subject
    fm = noisy.false_matches
    assert (fm["subject_id"] != fm["true_subject_id"]).all()
    real = fm[["true_subject_id", "camera_id", "ts"]].rename(
        columns={"true_subject_id": "subject_id"}
    )
    assert np.asarray(_keys(real).isin(_keys(clean.sightings))).all()
    assert len(fm) <= noisy.params["counts"]["false_matches"]


def test_nearly_every_sighting_marked_when_nearly_all_are_false() -> None:
    city = generate_city(**ARGS, noise=Noise(miss_prob=0.0, false_match_prob=0.999))
    assert city.false_matches is not None
    mask = false_match_mask(city.sightings, city.false_matches)
    assert mask.mean() > 0.98
    assert mask.sum() == len(city.false_matches)
    # confidence of false matches comes from their own (lower) distribution
    assert city.sightings.loc[mask, "confidence"].mean() < 0.7


def test_false_matches_survive_write_and_read(tmp_path) -> None:
    city = generate_city(**ARGS, noise={"false_match_prob": 0.05})
    paths = write_city(city, tmp_path / "out", format="csv")
    assert paths["false_matches"] == tmp_path / "out" / "truth" / "false_matches.csv"
    back = read_city(tmp_path / "out")
    assert back.false_matches is not None and city.false_matches is not None
    pd.testing.assert_frame_equal(back.false_matches, city.false_matches)
    np.testing.assert_array_equal(
        false_match_mask(back.sightings, back.false_matches),
        false_match_mask(city.sightings, city.false_matches),
    )
    # a city written before the table existed still reads, without it
    paths["false_matches"].unlink()
    assert read_truth(tmp_path / "out").false_matches is None
    assert read_city(tmp_path / "out").false_matches is None

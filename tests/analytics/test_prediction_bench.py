"""The prediction benchmark's loaders of real data (benchmarks/prediction/eval_prediction.py):
the caribou GPS fixes gridded into cells, the finches' loggers as cameras."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sightgraph.analytics.trajectories import haversine_m

DATA = Path("/work/shared/data")
_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "prediction" / "eval_prediction.py"
pytestmark = pytest.mark.skipif(
    not (DATA / "caribou_gps" / "DT.csv").is_file(),
    reason=f"benchmark data sets not present ({DATA} is missing)",
)


def _module():
    name = "bench_eval_prediction"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, _PATH)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("cell_m", [500.0, 1000.0])
def test_caribou_cells(cell_m: float) -> None:
    """Every fix is a sighting of its animal in its cell; the cells' positions keep their
    distances (neighbouring cells are cell_m apart within 1%)."""
    s, cams = _module().caribou_sightings(cell_m)
    raw = pd.read_csv(DATA / "caribou_gps" / "DT.csv")
    assert len(s) == len(raw) == 14_297 and s["subject_id"].nunique() == 10
    assert set(s["camera_id"]) == set(cams["camera_id"]) and cams["camera_id"].is_unique
    assert str(s["ts"].dt.tz) == "UTC"
    x = np.floor(raw["X"] / cell_m).astype(int)
    y = np.floor(raw["Y"] / cell_m).astype(int)
    assert (s["camera_id"] == [f"x{a}_y{b}" for a, b in zip(x, y, strict=True)]).all()
    c = cams.set_index("camera_id")
    a, b = s["camera_id"].iloc[0], None
    ix, iy = (int(v[1:]) for v in a.split("_"))
    for cand in (f"x{ix + 1}_y{iy}", f"x{ix}_y{iy + 1}", f"x{ix - 1}_y{iy}", f"x{ix}_y{iy - 1}"):
        if cand in c.index:
            b = cand
            break
    assert b is not None
    d = haversine_m(
        np.array([c.loc[a, "lat"]]),
        np.array([c.loc[a, "lon"]]),
        np.array([c.loc[b, "lat"]]),
        np.array([c.loc[b, "lon"]]),
    )[0]
    assert d == pytest.approx(cell_m, rel=0.01)

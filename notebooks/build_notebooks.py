"""Writes notebooks/contacts.ipynb from the cells below (kept as code so diffs stay readable).

Run: .venv/bin/python notebooks/build_notebooks.py
"""

from pathlib import Path

import nbformat as nbf

CELLS = [
    ("md", """# Contacts beyond chance: from a synthetic city to ranked associates

A naive count of co-locations is dominated by busy places: strangers on the same train every morning
meet far more often than friends who meet at a different bar each week. This notebook walks from a
generated city (with planted ties and routine strangers) to ranked contacts, shows *why* the top pairs
rank high (their meetings), finds communities and traces a time-respecting exposure chain.
All logic lives in the `sightgraph` package; the notebook only calls it.
Set `SIGHTGRAPH_NOTEBOOK_PERSONS` to change the city size (CI uses a small one)."""),
    ("code", """import os, tempfile
from pathlib import Path
import pandas as pd

from sightgraph.ingest import generate_city, write_city, ingest
from sightgraph.analytics.contacts import compute_contacts, build_meetings
from sightgraph.analytics.colocation import find_colocations
from sightgraph.analytics.evaluation import evaluate_contacts_dir
from sightgraph.analytics.network import detect_communities, exposure_chains, strongest_path
from sightgraph.lake import read_sightings

PERSONS = int(os.environ.get("SIGHTGRAPH_NOTEBOOK_PERSONS", "400"))
KEY = os.environ.get("SIGHTGRAPH_PSEUDONYM_KEY", "notebook-demo-key")
work = Path(tempfile.mkdtemp(prefix="sightgraph-nb-"))"""),
    ("md", "## 1. A synthetic city with ground truth, ingested into the lake"),
    ("code", """city = generate_city(persons=PERSONS, days=14, seed=7)
paths = write_city(city, work / "city")
report = ingest(paths["sightings"], work / "lake", cameras=paths["cameras"], key=KEY, progress=False)
print("\\n".join(report.summary()))
city.ties["kind"].value_counts()"""),
    ("md", "## 2. Ranked contacts, and how they compare with the ground truth"),
    ("code", """res = compute_contacts(work / "lake", work / "contacts.parquet", progress=False)
contacts = pd.read_parquet(work / "contacts.parquet")
contacts.head(10)[["pid_a", "pid_b", "score", "p_value", "q_value", "meetings", "days", "places"]]"""),
    ("code", """metrics = evaluate_contacts_dir(work / "contacts.parquet", work / "city" / "truth", key=KEY)
metrics"""),
    ("md", """## 3. Why the top pair ranks high: its meetings
Meetings are co-location events of one pair at one place, merged while less than 15 minutes apart."""),
    ("code", """sightings = read_sightings(work / "lake")
events = find_colocations(sightings, window_s=60, events=True)
meetings = build_meetings(events, gap_s=900)
top = contacts.iloc[0]
mine = meetings[(meetings.pid_a == top.pid_a) & (meetings.pid_b == top.pid_b)]
print(f"{len(mine)} meetings on {mine.start_ts.dt.date.nunique()} days at {mine.camera_id.nunique()} places")
mine.head(10)"""),
    ("md", "## 4. Communities of the contact network"),
    ("code", """significant = contacts[contacts.q_value <= 0.05]
communities = detect_communities(significant, seed=0)
communities["community"].value_counts().head(10)"""),
    ("md", "## 5. A time-respecting exposure chain from an index subject"),
    ("code", """index_pid = str(top.pid_a)
start = meetings.start_ts.min()
chains = exposure_chains(meetings, index_pid, start, max_depth=2)
print(f"{len(chains) - 1} subjects reachable within 2 links from {index_pid}")
chains.sort_values(["depth", "exposure_ts"]).head(10)"""),
    ("code", """path, edges = strongest_path(significant, str(top.pid_a), str(chains.iloc[-1].pid))
path"""),
]


def main() -> None:
    nb = nbf.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbf.v4.new_markdown_cell(src) if kind == "md" else nbf.v4.new_code_cell(src) for kind, src in CELLS]
    nbf.write(nb, Path(__file__).with_name("contacts.ipynb"))


if __name__ == "__main__":
    main()

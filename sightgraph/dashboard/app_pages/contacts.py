import datetime as dt

import pandas as pd
import streamlit as st
from st_link_analysis import Event, NodeStyle, st_link_analysis

from sightgraph.dashboard import loaders
from sightgraph.errors import SightgraphError

settings = loaders.get_settings()
session = st.session_state["sg_session"]
lake = str(settings.lake_path())
st.title("Contact network")
top = loaders.top_contacts(lake)
if not len(top):
    st.info("No contacts yet: run `sightgraph contacts` and `sightgraph load`.")
    st.stop()
if not session.person_level:
    st.warning("Person-level views need the analyst role.")
    st.stop()
st.caption(
    "Associations beyond chance: an edge's score is its evidence times 1 - q (see README). "
    "Double-click a subject to add its strongest contacts, press Delete to hide it, click an "
    "edge for its meetings."
)


def _fail(exc: SightgraphError) -> None:
    st.error(str(exc))
    st.stop()


# -- subject: from the link that opened the page, else a prefix search over all subjects
wanted = st.query_params.get("pid", "")
c0, c1 = st.columns([1, 2])
prefix = c0.text_input("Pseudonym starts with", value=wanted[:6])
if prefix.strip() and st.session_state.get("net_search", (None,))[0] != prefix.strip():
    try:  # searched (and audited) once per prefix, not on every rerun
        st.session_state["net_search"] = (
            prefix.strip(),
            loaders.subject_search(session, prefix),
        )
    except SightgraphError as exc:
        _fail(exc)
matches = st.session_state["net_search"][1] if prefix.strip() else []
if not prefix.strip():
    matches = [str(p) for p in pd.unique(top[["pid_a", "pid_b"]].to_numpy().ravel())][:20]
    c1.caption("The subjects of the strongest contacts; type a prefix to search all subjects.")
if not matches:
    st.info(f"No subject starts with {prefix.strip()!r}.")
    st.stop()
pid = c1.selectbox(
    "Subject", matches, index=matches.index(wanted) if wanted in matches else 0, key="net_pid"
)

c1, c2, c3, c4 = st.columns(4)
hops = c1.slider("Hops", 1, 3, 1)
min_score = c2.number_input("Minimum score", value=0.0, min_value=0.0, step=0.5)
max_nodes = c3.number_input(
    "Subjects at most",
    value=loaders.NETWORK_LIMITS["max_nodes"],
    min_value=2,
    max_value=loaders.NETWORK_CEILING,
    step=50,
)
per_node = c4.number_input(
    "Strongest contacts per subject",
    value=loaders.NETWORK_LIMITS["per_node"],
    min_value=1,
    max_value=200,
)
beyond_chance = st.toggle("Only pairs beyond chance (score > 0)", value=True)
lo = pd.Timestamp(top["first_ts"].min()).floor("min").to_pydatetime()
hi = pd.Timestamp(top["last_ts"].max()).ceil("min").to_pydatetime()
window = st.slider(
    "Meetings between (edges and counts from the meetings inside it)",
    min_value=lo,
    max_value=hi,
    value=(lo, hi),
    step=dt.timedelta(minutes=1),
    format="YYYY-MM-DD HH:mm",
)
threshold = float(min_score) if not beyond_chance else max(float(min_score), 1e-12)
limit = max(int(max_nodes) * 3, loaders.NETWORK_LIMITS["limit"])
query = (pid, hops, threshold, int(max_nodes), int(per_node))
if st.session_state.get("net_query") != query:
    try:
        ego = loaders.ego_network(
            session,
            pid,
            hops,
            threshold,
            per_node=int(per_node),
            max_nodes=int(max_nodes),
            limit=limit,
        )
    except SightgraphError as exc:
        _fail(exc)
    st.session_state.update(net_query=query, net_ego=ego, net_extra=None, net_hidden=[])
ego = st.session_state["net_ego"]
layers = loaders.network_layers(lake)

# -- what the drawing sent back (its last value, read before drawing so that an expansion is
# drawn in this run): expand, remove, or an edge to explain
result = st.session_state.get("contact_network")
if result and result.get("timestamp") != st.session_state.get("net_last_event"):
    st.session_state["net_last_event"] = result.get("timestamp")
    action, data = result.get("action"), result.get("data") or {}
    if action == "expand":
        for node in data.get("node_ids", []):
            try:
                st.session_state["net_extra"] = loaders.expand_subject(
                    session,
                    node,
                    threshold,
                    int(per_node),
                    layers,
                    st.session_state["net_extra"],
                    limit=limit,
                )
            except SightgraphError as exc:
                _fail(exc)
    elif action == "remove":
        st.session_state["net_hidden"] = st.session_state.get("net_hidden", []) + list(
            data.get("node_ids", [])
        )
    elif action == "edge_click":
        st.session_state["net_edge"] = data.get("target_id")

# the drawing: the query's network, plus expansions, minus hidden subjects, inside the window
elements = loaders.graph_elements(ego.nodes, ego.edges, layers)
if st.session_state.get("net_extra"):
    elements = loaders.merge_elements(elements, st.session_state["net_extra"])
elements = loaders.remove_nodes(elements, st.session_state.get("net_hidden", []))
pids = [n["data"]["id"] for n in elements["nodes"]]
full_range = window[0] == lo and window[1] == hi
if not full_range:
    try:
        inside = loaders.window_meetings(
            session, pids, loaders.utc(window[0]), loaders.utc(window[1])
        )
    except SightgraphError as exc:
        _fail(exc)
    elements = loaders.in_window(elements, loaders.meetings_per_edge(inside))

shown_n, shown_e = len(elements["nodes"]), len(elements["edges"])
st.write(
    f"**{shown_n}** subjects, **{shown_e}** contact edges"
    + ("" if full_range else " with a meeting in the window")
)
cut = ego.cut
if cut["subjects"] or cut["edges"]:
    st.info(
        f"Bounded: {cut['subjects']:,} more subjects and {cut['edges']:,} more edges qualify. "
        "Raise *Subjects at most* or *Strongest contacts per subject*, raise the minimum score "
        "to see the strongest, or double-click a subject to expand it."
    )

communities = sorted(
    {n["data"]["label"] for n in elements["nodes"]},
    key=lambda c: (not c.startswith("community"), int(c.split()[-1]) if c[-1].isdigit() else 0),
)


class _Size:
    """Node size by strength, edge width by score (Cytoscape mapData)."""

    def __init__(self, selector: str, style: dict[str, str]) -> None:
        self.selector, self.style = selector, style

    def dump(self) -> dict[str, object]:
        return {"selector": self.selector, "style": self.style}


top_strength = max([n["data"]["strength"] for n in elements["nodes"]] + [1.0])
top_score = max([e["data"]["score"] for e in elements["edges"]] + [1.0])
node_styles = [
    NodeStyle(
        label=c,
        color=loaders.PALETTE[int(c.split()[-1]) % len(loaders.PALETTE)]
        if c.startswith("community")
        else "#bbbbbb",
        caption="name",
    )
    for c in communities
]
node_styles.append(
    _Size(  # type: ignore[arg-type]
        "node",
        {
            "width": f"mapData(strength, 0, {top_strength}, 14, 48)",
            "height": f"mapData(strength, 0, {top_strength}, 14, 48)",
        },
    )
)
edge_styles = [
    _Size("edge", {"line-color": "#999999", "width": f"mapData(score, 0, {top_score}, 1, 8)"}),
]
if shown_n > 1 or shown_e:
    st_link_analysis(
        elements,
        layout="cose",
        node_styles=node_styles,
        edge_styles=edge_styles,
        height=560,
        key="contact_network",
        node_actions=["remove", "expand"],
        events=[Event("edge_click", "tap", "edge")],
    )
else:
    st.info("This subject has no contact that passes the filters.")
legend = " ".join(
    f"<span style='color:{loaders.PALETTE[int(c.split()[-1]) % len(loaders.PALETTE)]}'>●</span> {c}"
    if c.startswith("community")
    else f"<span style='color:#bbbbbb'>●</span> {c}"
    for c in communities
)
st.markdown(
    f"{legend} · node size: strength (sum of scores) · edge width: score · "
    "communities: seeded Louvain over all contacts (stable across queries)",
    unsafe_allow_html=True,
)

edge = st.session_state.get("net_edge")
if edge and "|" in edge:
    a, b = edge.split("|", 1)
    try:
        row, meetings = loaders.edge_evidence(session, a, b)
    except SightgraphError as exc:
        _fail(exc)
    st.subheader(f"Evidence: {a[:8]} – {b[:8]}")
    shown = loaders.pair_metrics(row)
    for col, (label, text) in zip(st.columns(len(shown) or 1), shown, strict=False):
        col.metric(label, text)
    st.dataframe(meetings, hide_index=True)
    st.page_link(
        "app_pages/meetings.py", label="Meetings of this pair", query_params={"a": a, "b": b}
    )
    p1, p2 = st.columns(2)
    p1.page_link("app_pages/trajectory.py", label=f"Trajectory of {a[:8]}", query_params={"pid": a})
    p2.page_link("app_pages/trajectory.py", label=f"Trajectory of {b[:8]}", query_params={"pid": b})

st.subheader("Edges in view")
st.dataframe(pd.DataFrame([e["data"] for e in elements["edges"]]), hide_index=True)

"""`sightgraph ...`: the command line (DESIGN §9). Thin: parse, call, report.

Exit codes: 0 success (quarantined rows are reported, not fatal), 2 bad usage or unusable input
(one clear line), 1 internal error. Heavy modules are imported inside commands so that
`sightgraph --help` and small jobs start fast.

Access: every command first passes :func:`sightgraph.governance.access.gate` (role, then purpose,
before anything is read or written); person-level commands append one audit entry after they ran.
The classification of every command is :data:`sightgraph.governance.access.COMMANDS`.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from sightgraph.errors import SightgraphError, UsageError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Movement and association analytics over sighting events.",
)
audit_app = typer.Typer(no_args_is_help=True, help="The hash-chained audit log.")
retention_app = typer.Typer(no_args_is_help=True, help="Retention of sightings.")
app.add_typer(audit_app, name="audit")
app.add_typer(retention_app, name="retention")
keys_app = typer.Typer(no_args_is_help=True, help="The lake's pseudonym key.")
app.add_typer(keys_app, name="keys")

console = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d)?\s*$")
_UNIT_S = {None: 1.0, "s": 1.0, "ms": 0.001, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str, what: str) -> float:
    """'60s', '15m', '2h', '1.5', '500ms' -> seconds; negative or malformed -> UsageError."""
    m = _DURATION.match(str(text))
    if not m:
        raise UsageError(f"{what}: cannot read {text!r} as a duration (examples: 60s, 15m, 2h)")
    return float(m.group(1)) * _UNIT_S[m.group(2)]


def _settings() -> Any:
    from sightgraph.config import get_settings

    return get_settings()


PurposeOption = Annotated[
    str | None,
    typer.Option(
        help="Why you run this (recorded in the audit log); default $SIGHTGRAPH_PURPOSE. "
        "An empty purpose is refused"
    ),
]


def _gate(command: str, purpose: str | None = None) -> Any:
    """Role and purpose checks before the command does anything; the Session to audit with."""
    from sightgraph.governance.access import gate

    return gate(_settings(), command, purpose)


def _store(kind: str | None) -> Any:
    from sightgraph.graph import open_store

    settings = _settings()
    return open_store(kind or settings.store, settings)


# ---------------------------------------------------------------------------------------------
@app.command()
def generate(
    out: Annotated[Path, typer.Option(help="Output directory (sightings, cameras, truth/)")],
    persons: Annotated[int, typer.Option(help="Number of persons")] = 2000,
    cameras: Annotated[
        int | None, typer.Option(help="Number of cameras (default persons/10)")
    ] = None,
    days: Annotated[int, typer.Option(help="Number of days")] = 14,
    seed: Annotated[int, typer.Option(help="Random seed")] = 0,
    sightings: Annotated[
        int | None, typer.Option(help="Aim for about this many sightings (overrides --persons)")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="parquet or csv")] = "parquet",
) -> None:
    """Synthetic city with planted ties, routine strangers and recognition noise, plus ground truth."""
    _gate("generate")
    from sightgraph.synthetic.city import generate_city, write_city

    if fmt not in ("parquet", "csv"):
        raise UsageError(f"--format must be parquet or csv, not {fmt!r}")
    city = generate_city(
        persons=persons,
        cameras=cameras,
        days=days,
        seed=seed,
        target_sightings=sightings,
        progress=True,
    )
    paths = write_city(city, out, format=fmt)
    console.print(
        f"generated {len(city.sightings):,} sightings of {len(city.persons):,} persons at "
        f"{len(city.cameras):,} cameras over {days} days; {len(city.ties):,} tie pairs, "
        f"{len(city.strangers):,} routine-stranger pairs"
    )
    for name, path in paths.items():
        console.print(f"  {name}: {path}")


@app.command()
def ingest(
    sightings: Annotated[Path, typer.Argument(help="CSV, Parquet or JSONL file of sightings")],
    lake: Annotated[Path, typer.Option(help="Lake directory")],
    cameras: Annotated[Path | None, typer.Option(help="Cameras file (camera_id, lat, lon)")] = None,
    mapping: Annotated[
        str | None, typer.Option("--map", help="e.g. subject_id=animal_id,ts=time")
    ] = None,
    tz: Annotated[
        str | None, typer.Option(help="Time zone of naive timestamps, e.g. Europe/Paris")
    ] = None,
    no_pseudonymize: Annotated[
        bool, typer.Option("--no-pseudonymize", help="Ids are already pseudonymous")
    ] = False,
    chunk_rows: Annotated[int, typer.Option(help="Rows per chunk")] = 1_000_000,
) -> None:
    """Validate, pseudonymise and write sightings into the Parquet lake."""
    _gate("ingest")
    from sightgraph.ingest.pipeline import ingest as run_ingest
    from sightgraph.ingest.pipeline import parse_mapping

    if not sightings.exists():
        raise UsageError(f"no such file: {sightings}")
    if cameras is not None and not cameras.exists():
        raise UsageError(f"no such cameras file: {cameras}")
    report = run_ingest(
        sightings,
        lake,
        cameras=cameras,
        mapping=parse_mapping(mapping),
        tz=tz,
        pseudonymize=not no_pseudonymize,
        key=_settings().pseudonym_key,
        chunk_rows=chunk_rows,
    )
    for line in report.summary():
        console.print(line)


@app.command()
def colocate(
    lake: Annotated[Path, typer.Option(help="Lake directory")],
    out: Annotated[Path, typer.Option(help="Output Parquet file of co-located pairs")],
    window: Annotated[str, typer.Option(help="Time window W")] = "60s",
    radius_m: Annotated[float, typer.Option(help="Camera radius R in metres")] = 0.0,
    events_out: Annotated[Path | None, typer.Option(help="Also write every event here")] = None,
    min_confidence: Annotated[float, typer.Option(help="Ignore sightings below")] = 0.0,
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler address")] = None,
    purpose: PurposeOption = None,
) -> None:
    """Exact co-location per pair (n_events, first_ts, last_ts) as a Dask job over the lake.

    Person-level: needs an analyst and a purpose; audited with the number of pairs."""
    session = _gate("colocate", purpose)
    from sightgraph.analytics.colocation import colocate_lake
    from sightgraph.lake import erasure_generation

    window_s = parse_duration(window, "--window")
    generation = erasure_generation(lake)  # before the job reads the lake: see _keep_in_lake
    with _exports(
        lake, generation, [(out, "colocations"), (events_out, "colocation_events")], "colocate"
    ):
        res = colocate_lake(
            lake,
            out,
            window_s=window_s,
            radius_m=radius_m,
            events_out=events_out,
            scheduler=scheduler,
            min_confidence=min_confidence,
            generation=generation,
        )
    session.audit(
        {
            "lake": lake,
            "out": out,
            "window_s": window_s,
            "radius_m": radius_m,
            "events_out": events_out,
            "min_confidence": min_confidence,
        },
        int(getattr(res, "pairs", 0)),
    )
    console.print(res.summary() if hasattr(res, "summary") else str(res))


@app.command()
def contacts(
    lake: Annotated[Path, typer.Option(help="Lake directory")],
    out: Annotated[Path, typer.Option(help="Output Parquet file of ranked contacts")],
    window: Annotated[str, typer.Option(help="Time window W")] = "60s",
    radius_m: Annotated[float, typer.Option(help="Camera radius R in metres")] = 0.0,
    gap: Annotated[str, typer.Option(help="Gap G merging events into meetings")] = "15m",
    min_confidence: Annotated[float, typer.Option(help="Ignore sightings below")] = 0.0,
    crowd_cap: Annotated[
        int | None, typer.Option(help="Drop sightings with more than K others in the window")
    ] = None,
    evaluate: Annotated[
        Path | None, typer.Option(help="Ground-truth dir (generate's truth/) to score against")
    ] = None,
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler address")] = None,
    strata: Annotated[
        str, typer.Option(help="Null-model day strata: weekpart or none")
    ] = "weekpart",
    min_meetings: Annotated[
        int, typer.Option(help="List pairs with at least this many meetings")
    ] = 1,
    null: Annotated[
        str,
        typer.Option(
            help="Null model: auto (day-swap if the median subject was seen on 3+ days, "
            "else time-shift), day-swap or time-shift"
        ),
    ] = "auto",
    shift: Annotated[
        str | None, typer.Option(help="Time-shift null: offset step (default max(G, 2 W, 1 s))")
    ] = None,
    rank: Annotated[
        str,
        typer.Option(help="Order by association (score, the default) or exposure (time together)"),
    ] = "association",
    purpose: PurposeOption = None,
) -> None:
    """Pairs that associate more than chance allows, ranked, with evidence and q-values.

    Null model (--null): each subject's days are swapped among its own days (day-swap), or, for
    one observation session, one subject's sightings are shifted in time (time-shift);
    p = P(Poisson(expected meetings) >= observed), q = Benjamini-Hochberg. The score counts
    meetings (each saturates at 3 sightings) beyond that expectation; --rank exposure orders by
    total time together instead (contact tracing).

    Person-level: needs an analyst and a purpose; audited with the number of pairs."""
    session = _gate("contacts", purpose)
    from sightgraph.analytics.contacts import compute_contacts

    params: dict[str, Any] = {
        "window_s": parse_duration(window, "--window"),
        "radius_m": radius_m,
        "gap_s": parse_duration(gap, "--gap"),
        "min_confidence": min_confidence,
        "crowd_cap": crowd_cap,
        "scheduler": scheduler,
        "strata": strata,
        "min_meetings": min_meetings,
        "null": null,
        "shift_s": None if shift is None else parse_duration(shift, "--shift"),
        "rank": rank,
    }
    from sightgraph.lake import erasure_generation

    generation = erasure_generation(lake)  # before the job reads the lake: see _keep_in_lake
    staged = _staging(out, "contacts")
    try:
        with _exports(lake, generation, [(out, "contacts")], "contacts"):
            res = compute_contacts(lake, staged, **params)
            _keep_in_lake(out, lake, "contacts", generation, staged=staged)
    finally:
        staged.unlink(missing_ok=True)
    if dataclasses.is_dataclass(res) and hasattr(res, "out"):
        res = dataclasses.replace(res, out=out)  # the summary names out, not the staged file
    session.audit({"lake": lake, "out": out, **params}, int(getattr(res, "pairs", 0)))
    console.print(res.summary() if hasattr(res, "summary") else str(res))
    if evaluate is not None:
        from sightgraph.synthetic.evaluation import evaluate_contacts_dir

        settings = _settings()
        report = evaluate_contacts_dir(out, evaluate, key=settings.pseudonym_key)
        for k, v in report.items():
            console.print(f"  {k}: {v}")


@app.command()
def trajectories(
    lake: Annotated[Path, typer.Option(help="Lake directory")],
    out: Annotated[Path, typer.Option(help="Output directory (visits, transitions)")],
    gap: Annotated[str, typer.Option(help="Gap G splitting visits")] = "15m",
    max_speed_kmh: Annotated[
        float, typer.Option(help="Flag faster transitions as implausible")
    ] = 150.0,
    purpose: PurposeOption = None,
) -> None:
    """Visits, transitions (implausible speeds flagged) and camera flows (small cells suppressed).

    Person-level: needs an analyst and a purpose; audited with the number of visits written."""
    session = _gate("trajectories", purpose)
    from sightgraph.analytics.trajectories import compute_trajectories
    from sightgraph.lake import erasure_generation

    gap_s = parse_duration(gap, "--gap")
    generation = erasure_generation(lake)  # before the job reads the lake: see _keep_in_lake
    with _exports(lake, generation, [(Path(out) / "visits.parquet", "visits")], "trajectories"):
        res = compute_trajectories(
            lake, out, gap_s=gap_s, max_speed_kmh=max_speed_kmh, generation=generation
        )
    session.audit(
        {"lake": lake, "out": out, "gap_s": gap_s, "max_speed_kmh": max_speed_kmh},
        int(res["visits"]),  # the per-subject rows written (flows are aggregates)
    )
    console.print(
        f"{res['visits']:,} visits, {res['transitions']:,} transitions ({res['implausible']:,} implausible), "
        f"{res['flows']:,} camera flows ({res['suppressed']:,} cells under 5 subjects suppressed) -> {out}"
    )


@app.command()
def predict(
    lake: Annotated[Path, typer.Option(help="Lake directory")],
    evaluate: Annotated[
        bool,
        typer.Option(
            "--evaluate",
            help="Chronological 80/20 split per subject: Acc@1, Acc@5, MRR of the model and of "
            "the baselines, and the predictability bound (instead of writing predictions)",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
    gap: Annotated[str, typer.Option(help="Gap G splitting visits")] = "15m",
    k: Annotated[int, typer.Option(help="Cameras per subject in the predictions table")] = 5,
    alpha: Annotated[float, typer.Option(help="Smoothing towards the coarser level (> 0)")] = 1.0,
    min_visits: Annotated[int, typer.Option(help="Evaluate subjects with this many visits")] = 5,
    tz: Annotated[str, typer.Option(help="Time zone of the time-of-week slots")] = "UTC",
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler address")] = None,
    model: Annotated[
        str,
        typer.Option(
            help="auto (chosen by validation), most_frequent, markov, sightgraph or ranker"
        ),
    ] = "auto",
    purpose: PurposeOption = None,
) -> None:
    """Next-camera prediction: the predictions table (LAKE/predictions), or --evaluate.

    Every model (most frequent, first-order Markov, the back-off model, the learned ranker) is
    fitted on the first part of each subject's (training) visits and validated on the rest; the
    best on this lake is used (--model to fix one) and the report says which and why.
    The table is person-level (an analyst and a purpose; audited with its rows); --evaluate
    reports aggregate accuracy only and is open to viewers."""
    session = _gate("predict --evaluate" if evaluate else "predict", purpose)
    import json

    from sightgraph.analytics.prediction import compute_predictions
    from sightgraph.lake import erasure_generation

    gap_s = parse_duration(gap, "--gap")
    # read before the job reads the lake (see _keep_in_lake); --evaluate writes nothing
    generation = None if evaluate else erasure_generation(lake)
    res = compute_predictions(
        lake,
        gap_s=gap_s,
        evaluate=evaluate,
        k=k,
        alpha=alpha,
        min_visits=min_visits,
        tz=tz,
        scheduler=scheduler,
        progress=not as_json,
        generation=generation,
        model=model,
    )
    if not evaluate:
        session.audit(
            {
                "lake": lake,
                "gap_s": gap_s,
                "k": k,
                "alpha": alpha,
                "tz": tz,
                "model": res.get("model"),
            },
            int(res.get("rows", 0)),
        )
    if as_json:  # NaN (nothing to evaluate) is not JSON: null
        clean = json.loads(json.dumps(res), parse_constant=lambda _: None)
        typer.echo(json.dumps(clean, indent=2))
        return
    if not evaluate:
        console.print(
            f"predictions: top {k} next cameras of {res['subjects']:,} subjects -> {res['path']}"
        )
        console.print(f"model: {res['model']} ({res['reason']})", markup=False)
        return
    console.print(
        f"{res['test_visits']:,} test visits of {res['subjects']:,} subjects, {res['cameras']:,} cameras"
    )
    for name, m in res["models"].items():
        console.print(
            f"  {name:14s} Acc@1 {m['acc1']:.3f}  Acc@5 {m['acc5']:.3f}  MRR {m['mrr']:.3f}"
        )
    if "chosen" in res:
        console.print(f"  chosen: {res['chosen']}: {res['selection']['reason']}", markup=False)
    b = res["predictability"]
    console.print(
        f"  predictability bound (Lempel-Ziv + Fano): median {b['median']:.3f}, mean {b['mean']:.3f}"
    )


@app.command()
def load(
    lake: Annotated[Path, typer.Option(help="Lake directory")],
    store: Annotated[str | None, typer.Option(help="neo4j or embedded")] = None,
    batch_size: Annotated[int, typer.Option(help="Rows per write batch")] = 20_000,
    bulk: Annotated[
        bool,
        typer.Option(
            "--bulk",
            help="First load into an EMPTY Neo4j run by scripts/neo4j/neo4j.sh: offline "
            "neo4j-admin import (the server is stopped and restarted)",
        ),
    ] = False,
    max_q: Annotated[
        float,
        typer.Option(
            help="Only pairs with q_value below this become CONTACT edges (1 loads every pair; "
            "the lake keeps all)"
        ),
    ] = 0.05,
    min_score: Annotated[
        float, typer.Option(help="Only pairs with at least this score become CONTACT edges")
    ] = 0.0,
) -> None:
    """Push the lake and its derived tables into the graph store (idempotent, resumable).

    CONTACT edges: only the pairs beyond chance (q < --max-q, default 0.05; --max-q 1 loads
    all); the lake's contacts table keeps every pair."""
    _gate("load")
    from sightgraph.graph.loader import load_lake

    if bulk:
        from sightgraph.graph.bulk import bulk_load

        settings = _settings()
        if (store or settings.store) != "neo4j":
            raise UsageError("--bulk is for --store neo4j only; drop --bulk for this store")
        counts = bulk_load(lake, settings, report=err.print, max_q=max_q, min_score=min_score)
        console.print("loaded: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
        return
    st = _store(store)
    try:
        counts = load_lake(lake, st, batch_size=batch_size, max_q=max_q, min_score=min_score)
    finally:
        st.close()
    console.print("loaded: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))


@app.command()
def forget(
    pid: Annotated[
        str | None, typer.Argument(help="Pseudonymous subject id to erase (or --raw ID)")
    ] = None,
    *,
    lake: Annotated[Path, typer.Option(help="Lake directory")],
    store: Annotated[str | None, typer.Option(help="neo4j or embedded")] = None,
    purpose: Annotated[
        str | None,
        typer.Option(
            help="Why (recorded in the audit log); default $SIGHTGRAPH_PURPOSE, else "
            "'erasure request'. An empty purpose is refused"
        ),
    ] = None,
    raw: Annotated[
        str | None,
        typer.Option(
            "--raw",
            help="The raw identifier the erasure request names: its pseudonym is computed "
            "with the lake's key ($SIGHTGRAPH_PSEUDONYM_KEY); the raw id is never stored",
        ),
    ] = None,
    keep_exports: Annotated[
        bool,
        typer.Option(
            "--keep-exports",
            help="Do not erase from the lake's exports (--out copies outside the lake); "
            "only list those that still hold the subject",
        ),
    ] = False,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify",
            help="Erase nothing: scan every file of the lake, its exports and the embedded "
            "store for the pseudonym (and the --raw id); exit 2 if anything remains",
        ),
    ] = False,
) -> None:
    """Erase one subject from the lake, the derived tables, the exports and the graph; say what
    was removed.

    The graph store is opened first and every lake file is read before any is changed, so an
    unreachable store or an unreadable file stops forget with nothing erased. If it stops later,
    running the same command again finishes the job; the audit entry is written once the lake
    and the graph are both done. The embedded store's file is then rewritten so that no bytes of
    the subject remain in it. An analytics job (colocate, contacts, trajectories, predict)
    that read the lake before or while this ran then refuses to put its table into the lake
    (run it again), so it cannot write the subject back. `--verify` checks an erasure. Admin
    only.
    """
    session = _gate("forget", purpose)  # role and purpose before anything is opened
    from sightgraph.governance.erasure import exports_holding, forget_subject

    settings = _settings()
    if (pid is None) == (raw is None):
        raise UsageError("forget: give the subject's pseudonym PID or --raw ID (one of them)")
    if raw is not None:
        pid = _pid_of_raw(lake, raw, settings)
    assert pid is not None
    kind = store or settings.store
    if verify:
        from sightgraph.governance.verify import verify_erasure

        db = settings.embedded_path() if kind == "embedded" else None
        found = verify_erasure(lake, pid, raw=raw, store=db)
        session.audit({"pid": pid, "verify": True}, len(found), query="forget --verify")
        for finding in found:
            console.print(f"remains: {finding}")
        where = f"lake {lake}, its exports" + (f" and {db}" if db is not None else "")
        if found:
            raise UsageError(
                f"forget --verify {pid}: {len(found)} place(s) still hold the subject "
                f"(listed above); run forget again"
            )
        console.print(f"nothing of {pid} remains in {where}")
        return

    st = _store(store)
    try:
        removed = forget_subject(lake, pid, keep_exports=keep_exports)
        removed_graph = st.forget(pid)
        compact = getattr(st, "compact", None)
        if callable(compact):
            compact()  # the embedded file: no bytes of the subject left in it
    finally:
        st.close()
    session.audit({"pid": pid}, sum(removed.values()))
    console.print("removed from lake: " + ", ".join(f"{k} {v:,}" for k, v in removed.items()))
    console.print(
        "removed from graph: " + ", ".join(f"{k} {v:,}" for k, v in removed_graph.items())
    )
    if keep_exports:
        kept = exports_holding(lake, pid)
        for path, rows in kept:
            console.print(f"kept export (--keep-exports): {path} ({rows:,} rows of the subject)")
        if not kept:
            console.print("no export holds the subject")


def _pid_of_raw(lake: Path, raw: str, settings: Any) -> str:
    """The pseudonym the lake's key gives the raw id ``raw`` (checked against the lake's key
    fingerprint, so a wrong key is one line, not a pid that matches nothing)."""
    from sightgraph.ingest.pseudonymize import fingerprint_key, pseudonym_of, resolve_key
    from sightgraph.lake import MODE_NOT_PSEUDONYMISED, read_key_record

    record = read_key_record(lake)
    if record is not None and record.get("mode") == MODE_NOT_PSEUDONYMISED:
        raise UsageError(
            f"forget --raw: lake {lake} is not pseudonymised (its ids were stored as given); "
            "give the id as PID"
        )
    key = resolve_key(settings.pseudonym_key)
    if record is not None and record.get("key_fingerprint") != fingerprint_key(key):
        raise UsageError(
            f"forget --raw: $SIGHTGRAPH_PSEUDONYM_KEY is not the key of lake {lake} (fingerprint "
            f"{fingerprint_key(key)}, the lake's {record.get('key_fingerprint')})"
        )
    return pseudonym_of(raw, key)


@retention_app.command("apply")
def retention_apply(
    days: Annotated[int, typer.Option(help="Keep this many days of sightings")],
    lake: Annotated[Path, typer.Option(help="Lake directory")],
    store: Annotated[str | None, typer.Option(help="neo4j or embedded")] = None,
    purpose: Annotated[
        str | None,
        typer.Option(
            help="Why (recorded in the audit log); default $SIGHTGRAPH_PURPOSE, else "
            "'retention policy'. An empty purpose is refused"
        ),
    ] = None,
) -> None:
    """Delete sightings older than N days from the lake, derived tables and the graph.

    Also drops quarantine rows older than the cutoff and contacts (lake and graph) whose newest
    time is before it. Like `forget`, a run that stops is finished by running it again, and an
    analytics job that read the lake before or while it ran refuses to commit its table into the
    lake (run it again). Admin only.
    """
    session = _gate("retention apply", purpose)
    import pandas as pd

    from sightgraph.governance.erasure import retention_apply as apply_lake
    from sightgraph.governance.erasure import retention_cutoff

    if days < 0:
        raise UsageError("--days must be >= 0")
    now = pd.Timestamp.now(tz="UTC")
    cutoff = retention_cutoff(days, now=now)  # the same instant for lake and graph
    st = _store(store)
    try:
        removed = apply_lake(lake, days, now=now)
        removed_graph = st.delete_before(cutoff)
        removed_graph["contacts"] += st.delete_contacts_before(cutoff)["contacts"]
        compact = getattr(st, "compact", None)
        if callable(compact) and any(removed_graph.values()):
            compact()  # the embedded file keeps deleted rows' bytes otherwise (as for forget)
    finally:
        st.close()
    session.audit({"days": days}, sum(removed.values()))
    console.print("removed from lake: " + ", ".join(f"{k} {v:,}" for k, v in removed.items()))
    console.print(
        "removed from graph: " + ", ".join(f"{k} {v:,}" for k, v in removed_graph.items())
    )


@keys_app.command("rotate")
def keys_rotate(
    lake: Annotated[Path, typer.Option(help="Lake directory")],
    new_key_env: Annotated[
        str,
        typer.Option(
            help="Name of the environment variable that holds the new key (never on the "
            "command line, where other users and the shell history see it)"
        ),
    ],
    store: Annotated[str | None, typer.Option(help="neo4j or embedded")] = None,
    purpose: Annotated[
        str | None,
        typer.Option(
            help="Why (recorded in the audit log); default $SIGHTGRAPH_PURPOSE, else "
            "'key rotation'. An empty purpose is refused"
        ),
    ] = None,
) -> None:
    """Re-pseudonymise the lake, its exports and the graph under a new key (admin).

    Every pid becomes HMAC(new key, pid): the key chain is then $SIGHTGRAPH_PSEUDONYM_KEY plus
    $SIGHTGRAPH_PSEUDONYM_KEY_ROTATIONS (comma-separated, oldest first), which every later
    ingest, forget --raw and keys rotate needs. Saved prediction models are dropped; the graph
    store is cleared and the rotated lake loaded into it again (if it held anything). An
    interrupted run is finished by running the same command again; until then the lake
    refuses ingest.
    """
    session = _gate("keys rotate", purpose)
    from sightgraph.governance.keys import check_new_key, rotate_lake
    from sightgraph.ingest.pseudonymize import ROTATIONS_ENV, resolve_key

    settings = _settings()
    value = os.environ.get(new_key_env)
    if value is None:
        raise UsageError(f"keys rotate: ${new_key_env} is not set (put the new key in it)")
    key = resolve_key(settings.pseudonym_key)
    new_key = check_new_key(value, key)
    st = _store(store)  # opened first: an unreachable store stops the run before the lake
    try:
        report = rotate_lake(lake, key, new_key, progress=err.print)
        counts = st.counts()
        reloaded = any(counts.values())
        if reloaded:
            from sightgraph.graph.loader import LOAD_MAX_Q, load_lake

            st.clear()
            load_lake(lake, st, max_q=LOAD_MAX_Q)
            compact = getattr(st, "compact", None)
            if callable(compact):
                compact()  # no bytes of an old pid left in the embedded file
    finally:
        st.close()
    rows = sum(report.rows.values())
    session.audit({"from_key": report.old_fingerprint, "to_key": report.new_fingerprint}, rows)
    if report.resumed:
        console.print(
            f"finished the interrupted rotation {report.old_fingerprint} -> {report.new_fingerprint}"
        )
    else:
        console.print(
            "rotated: "
            + ", ".join(f"{k} {v:,} rows" for k, v in report.rows.items())
            + f"; {report.files:,} files, {report.exports} exports, "
            f"{report.models_dropped} saved model(s) dropped"
        )
    console.print("graph: " + ("cleared and loaded again" if reloaded else "empty, left as it is"))
    chain = os.environ.get(ROTATIONS_ENV, "").strip()
    console.print(
        f"key fingerprint {report.old_fingerprint} -> {report.new_fingerprint}. From now on set "
        f"{ROTATIONS_ENV} to " + (f"'{chain},'" if chain else "") + f"the value of ${new_key_env}"
    )


def _parse_anchor(text: str) -> tuple[int, str]:
    seq, sep, hash_ = text.strip().partition(":")
    if not sep or not seq.isdigit() or not re.fullmatch(r"[0-9a-f]{64}", hash_):
        raise UsageError(
            f"--anchor must be SEQ:HASH as `sightgraph audit head` prints it (got {text!r})"
        )
    return int(seq), hash_


@audit_app.command("head")
def audit_head(
    log: Annotated[Path | None, typer.Option(help="Audit log file")] = None,
) -> None:
    """Print the anchor SEQ:HASH of the last entry. Keep it outside this machine and give it to
    `audit verify --anchor` later: the chain alone cannot show lines cut from its end."""
    _gate("audit head")
    from sightgraph.governance.audit import AuditLog

    path = log if log is not None else _settings().audit_path()
    seq, hash_ = AuditLog(path).head()
    typer.echo(f"{seq}:{hash_}")


@audit_app.command("verify")
def audit_verify(
    log: Annotated[Path | None, typer.Option(help="Audit log file")] = None,
    anchor: Annotated[
        str | None,
        typer.Option(help="SEQ:HASH from an earlier `audit head`: that entry must still be there"),
    ] = None,
) -> None:
    """Check the hash chain of the audit log; exit 2 naming the first bad line if tampered."""
    _gate("audit verify")
    from sightgraph.governance.audit import AuditLog

    path = log if log is not None else _settings().audit_path()
    res = AuditLog(path).verify(anchor=None if anchor is None else _parse_anchor(anchor))
    if not res.ok:
        raise UsageError(
            f"audit log {path} fails verification at line {res.first_bad_line}: {res.reason}"
        )
    upto = f", entry {anchor.split(':')[0]} matches the anchor" if anchor else ""
    console.print(f"audit log {path}: {res.entries} entries, hash chain intact{upto}")


@app.command()
def trajectory(
    pid: Annotated[str, typer.Argument(help="Pseudonymous subject id")],
    purpose: PurposeOption = None,
    store: Annotated[str | None, typer.Option(help="neo4j or embedded")] = None,
    start: Annotated[str | None, typer.Option(help="From (ISO 8601)")] = None,
    end: Annotated[str | None, typer.Option(help="To (ISO 8601)")] = None,
) -> None:
    """Where was PID between START and END, in order (person-level: needs a purpose, audited)."""
    session = _gate("trajectory", purpose)
    t0, t1 = _ts(start, "--start"), _ts(end, "--end")
    st = _store(store)
    try:
        df = st.trajectory(pid, t0, t1)
    finally:
        st.close()
    session.audit({"pid": pid, "start": start, "end": end}, len(df))
    console.print(df.to_string(index=False) if len(df) else f"no sightings of {pid} in that range")


@app.command()
def demo(
    workdir: Annotated[Path, typer.Option(help="Where the demo writes")] = Path(
        "sightgraph-work/demo"
    ),
    persons: Annotated[int, typer.Option(help="Persons in the synthetic city")] = 1500,
    days: Annotated[int, typer.Option(help="Days")] = 14,
    no_dashboard: Annotated[
        bool, typer.Option("--no-dashboard", help="Do not open the dashboard")
    ] = False,
) -> None:
    """generate -> ingest -> colocate -> contacts -> trajectories, prediction -> load (embedded) -> summary [-> dashboard].

    Needs an analyst (the default role). The demo works on its own synthetic city in WORKDIR,
    states the purpose "demo on synthetic data" and audits its per-subject steps in
    WORKDIR/audit.jsonl."""
    from sightgraph.demo import run_demo

    summary = run_demo(workdir, persons=persons, days=days, console=console)
    for line in summary:
        console.print(line)
    if not no_dashboard:
        # the demo's own loopback dashboard: its person-level pages for the demo's analyst
        _run_dashboard(workdir / "lake", workdir, role=_settings().role)


def dashboard_paths(
    lake: Path | None, workdir: Path | None, default_workdir: Path, lake_of: Path | None = None
) -> tuple[Path, Path, str]:
    """The lake and workdir ``sightgraph dashboard`` opens, and a note on how they were chosen.

    An explicit ``--workdir`` wins (its ``lake`` unless ``--lake``); a ``--lake`` alone brings its
    parent as workdir when that holds the lake's graph store or audit log (``make demo`` writes
    WORKDIR/lake beside WORKDIR/graph.duckdb); with neither, the configured workdir
    (``lake_of``: the configured lake), or, when that has no lake yet and ``make demo``'s
    workdir has one, the demo's."""
    if workdir is not None:
        return lake or workdir / "lake", workdir, ""
    if lake is not None:
        parent = lake.resolve().parent
        if (parent / "graph.duckdb").exists() or (parent / "audit.jsonl").exists():
            return lake, parent, ""
        return lake, default_workdir, ""
    configured = lake_of or default_workdir / "lake"
    demo = default_workdir / "demo"
    if not configured.exists() and (demo / "lake").exists():
        return demo / "lake", demo, f"no lake at {configured}: opening the demo's, {demo}"
    return configured, default_workdir, ""


@app.command()
def dashboard(
    lake: Annotated[Path | None, typer.Option(help="Lake directory")] = None,
    workdir: Annotated[
        Path | None,
        typer.Option(help="Workdir (graph store, audit log); default: the lake's, else settings"),
    ] = None,
    port: Annotated[int, typer.Option(help="Port")] = 8501,
    host: Annotated[
        str,
        typer.Option(
            help="Address to listen on (default loopback only; 0.0.0.0 serves the network, "
            "which needs users: `sightgraph users add`)"
        ),
    ] = "127.0.0.1",
) -> None:
    """Open the Streamlit dashboard (each page checks the session's role and purpose itself).

    Without users (`sightgraph users add`) it runs as viewer unless SIGHTGRAPH_ROLE is set, and
    a role other than viewer without users is refused beyond loopback. SIGTERM/SIGINT/SIGHUP are
    forwarded to the streamlit child; the command exits with the child's status."""
    from sightgraph.dashboard.auth import check_bind, load_users, users_path

    _gate("dashboard")
    settings = _settings()
    lake, workdir, note = dashboard_paths(lake, workdir, settings.workdir, settings.lake_path())
    if note:
        console.print(note)
    if not lake.exists():
        console.print(
            f"[yellow]no lake at {lake}[/yellow]: the dashboard will be empty until `sightgraph "
            "demo` (or generate/ingest) has written one; pass --lake or --workdir to open another"
        )
    check_bind(host, bool(load_users(users_path(settings))), os.environ)
    code = _run_dashboard(lake, workdir, port=port, host=host)
    if code:
        raise typer.Exit(code)


users_app = typer.Typer(no_args_is_help=True, help="Dashboard users (salted scrypt hashes).")
app.add_typer(users_app, name="users")


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="User name")],
    role: Annotated[str, typer.Option(help="viewer, analyst or admin")] = "viewer",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin (one line)")
    ] = False,
) -> None:
    """Add a dashboard user, or replace one's role and password (needs admin).

    Written to SIGHTGRAPH_USERS_FILE (default WORKDIR/users.json, mode 0600) as a salted scrypt
    hash, never the password itself."""
    from sightgraph.dashboard.auth import set_user, users_path

    _gate("users add")
    settings = _settings()
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    path = users_path(settings)
    set_user(path, name, role, password)
    console.print(f"user {name.strip()} ({role}) written to {path}")


# ---------------------------------------------------------------------------------------------
def dashboard_command(app_path: Path, port: int, host: str) -> list[str]:
    """The streamlit command line ``sightgraph dashboard`` runs."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app_path),
        "--server.port",
        str(port),
        "--server.address",
        host,
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "minimal",  # no "Deploy" menu
    ]


def _supervise(
    cmd: list[str], env: dict[str, str], grace_s: float = 10.0, nudge_s: float = 3.0
) -> int:
    """Run ``cmd`` as a child; forward SIGTERM/SIGINT/SIGHUP to it and wait for it: still
    running ``nudge_s`` after the first signal, it gets a SIGTERM (a signal that lands while
    streamlit is starting, before its own handler is set, can leave it hanging), and ``grace_s``
    after, a SIGKILL. The exit status is the child's, except that a child asked to stop by
    signal N that ends in any other way than status 0 (its own status, a signal, or killed
    here) gives 128+N: the command was interrupted by N."""
    import signal
    import subprocess
    import time

    proc = subprocess.Popen(cmd, env=env)
    deadline: list[float] = []  # [nudge, kill] times, set by the first signal
    asked: list[int] = []  # the first signal forwarded

    def forward(signum: int, _frame: Any) -> None:
        if not asked:
            now = time.monotonic()
            deadline.extend([now + nudge_s, now + grace_s])
            asked.append(signum)
        if proc.poll() is None:
            proc.send_signal(signum)

    sigs = [signal.SIGTERM, signal.SIGINT, signal.SIGHUP]
    old = {sig: signal.signal(sig, forward) for sig in sigs}
    nudged = False
    try:
        while True:
            try:
                rc = proc.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                if deadline and not nudged and time.monotonic() > deadline[0]:
                    nudged = True
                    proc.terminate()
                if deadline and time.monotonic() > deadline[1]:
                    proc.kill()
                    rc = proc.wait()
                    break
    finally:
        if proc.poll() is None:  # an exception left the loop: never leave the child behind
            proc.kill()
            proc.wait()
        for sig, handler in old.items():
            signal.signal(sig, handler)
    if rc and asked:  # stopped on request, in its own way or ours (e.g. an interrupted
        return 128 + asked[0]  # start-up exits 1): the status of the signal asked for
    if rc < 0:
        return 128 - rc
    return rc


def _run_dashboard(
    lake: Path, workdir: Path, port: int = 8501, host: str = "127.0.0.1", role: str | None = None
) -> int:
    app_path = Path(__file__).parent / "dashboard" / "streamlit_app.py"
    env = dict(os.environ, SIGHTGRAPH_LAKE=str(lake), SIGHTGRAPH_WORKDIR=str(workdir))
    if role is not None:  # an explicit role for a loopback dashboard (the demo's)
        env["SIGHTGRAPH_ROLE"] = role
    shown = "localhost" if host in ("127.0.0.1", "localhost") else host
    console.print(f"dashboard on http://{shown}:{port} (Ctrl-C to stop)")
    return _supervise(dashboard_command(app_path, port, host), env)


def _staging(out: Path, name: str) -> Path:
    """Where a job writes the table it will commit as ``out``: a hidden file beside ``out``
    (hidden, so lake readers and erasure skip it when ``out`` is inside the lake)."""
    import uuid

    out = Path(out)
    if out.is_dir():
        raise UsageError(f"--out {out} is a directory; give a file name such as {name}.parquet")
    return out.with_name(f".{out.name}.staging-{uuid.uuid4().hex[:8]}.parquet")


def _keep_in_lake(
    out: Path, lake: Path, name: str, generation: int, staged: Path | None = None
) -> None:
    """Commit a job's derived table: the job's file (``staged``, default ``out`` itself) becomes
    ``out`` and the lake's current copy ``LAKE/<name>/<name>.parquet`` (what `load` pushes into
    the graph).

    Analytics jobs read the lake without its writer lock (they can take minutes), so a `forget`
    or `retention apply` may run meanwhile, and the job's table may then hold what was erased.
    So the commit happens under the lock (:func:`sightgraph.lake.commit_lock`: waits up to 30 s,
    or ``$SIGHTGRAPH_COMMIT_WAIT``, for a busy lake) and only if the lake's erasure generation
    is still ``generation``, read by the command before the job read the lake. Otherwise it
    fails with one line ("the lake changed under this job (forget/retention ran); run it
    again") and neither ``out`` nor the lake copy is written. Both are replaced atomically; they
    are one read-only file (:func:`_link_or_copy`) where the file system allows it.
    """
    import uuid

    from sightgraph.lake import commit_lock, derived_path  # (not graph: it imports pandas)

    out = Path(out)
    src = out if staged is None else Path(staged)
    target = derived_path(lake, name)
    with commit_lock(lake, generation, name):
        if out.resolve() != target.resolve():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex[:8]}")
            try:
                _link_or_copy(src, tmp)
                tmp.replace(target)
            finally:
                tmp.unlink(missing_ok=True)
        if src != out:
            src.replace(out)


def _link_or_copy(src: Path, dest: Path) -> None:
    """``dest`` becomes the same file as ``src`` (a hard link, made read-only) where the file
    system allows it, else a copy.

    A derived table is never edited in place: every rewrite (erasure, retention, key rotation,
    a job run again) writes a new file and renames it over the old name, which leaves the other
    name holding the table as it was, just as a copy would. The link saves writing the table a
    second time (9 GB for a 10M-sighting city's contacts: a third of the job's disk traffic);
    read-only, so that a user writing over ``--out`` in place (``to_parquet`` to the same path)
    gets an error instead of silently changing the lake's copy."""
    import shutil

    try:
        os.link(src, dest)
    except OSError:  # another file system, no hard links there, or no permission
        shutil.copyfile(src, dest)
    else:
        os.chmod(dest, 0o444)


@contextlib.contextmanager
def _exports(
    lake: Path, generation: int, outs: list[tuple[Path | None, str]], command: str
) -> Iterator[None]:
    """Around a job writing per-subject tables to ``outs`` ((path, registered table) pairs):
    each ``--out`` outside the lake is an export, recorded in the lake's export log
    (``LAKE/_exports.jsonl``: path, table, command, time; no ids) *before* the job writes it,
    so `forget` erases the subject from it (a job killed half-way leaves no unrecorded copy).

    After the job, under the lake's lock, the lake's erasure generation must still be
    ``generation``: a forget or retention run meanwhile may have missed what the job was still
    writing, so the exports are removed and the command fails with one line (run it again).
    """
    from sightgraph.lake import commit_lock, in_lake, record_export, sightings_files, table

    sightings_files(lake)  # a lake (with sightings) to record into, else the job's own error
    for out, name in outs:  # inside the lake, an --out must be where its table lives
        if out is None or not in_lake(lake, out):
            continue
        rel = Path(out).resolve().relative_to(Path(lake).resolve())
        entry = table(name)
        if not (entry.matches(rel.as_posix()) or entry.matches((rel / "part.parquet").as_posix())):
            raise UsageError(
                f"--out {out} is inside lake {lake} but not a place of its {name} table "
                f"({' or '.join(entry.paths)}): forget could not erase from it; write it "
                f"outside the lake (an export) or to {Path(lake) / name / (name + '.parquet')}"
            )
    paths = [(Path(p), name) for p, name in outs if p is not None and not in_lake(lake, p)]
    if not paths:
        yield
        return
    with commit_lock(lake, generation, f"{command} exports"):
        for path, name in paths:
            record_export(lake, path, name, command)
    yield
    try:
        with commit_lock(lake, generation, f"{command} exports"):
            pass
    except UsageError:
        import shutil

        for path, _ in paths:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        raise UsageError(
            f"{command}: the lake changed under this job (forget/retention ran); its exports "
            f"({', '.join(str(p) for p, _ in paths)}) were removed; run it again"
        ) from None


def _ts(text: str | None, what: str) -> Any:
    import pandas as pd

    if text is None:
        return None
    try:
        ts = pd.Timestamp(text)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"{what}: cannot read {text!r} as a time ({exc})") from None
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def main(argv: list[str] | None = None) -> None:
    """Entry point: one-line errors, documented exit codes."""
    try:
        app(args=argv)  # typer reports usage errors itself (exit 2)
    except SightgraphError as exc:
        err.print(f"error: {exc}")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except MemoryError:
        err.print("internal error: out of memory")
        sys.exit(1)
    except Exception as exc:  # noqa: BLE001 - last resort: a message, not a traceback
        if os.environ.get("SIGHTGRAPH_DEBUG"):
            raise
        err.print(
            f"internal error: {type(exc).__name__}: {exc} (set SIGHTGRAPH_DEBUG=1 for a traceback)"
        )
        sys.exit(1)


def run() -> None:
    """The ``sightgraph`` command: :func:`main`, then out without tearing the interpreter
    down when numba was used.

    Once numba has compiled or loaded kernels, Python's final teardown of its objects (module
    by module, after the atexit handlers) takes 0.2-0.3 s of every analytics command: a
    tenth of a small ``colocate``. Everything a command writes is closed, and committed by a
    rename, before it returns, so nothing is left to flush but the standard streams; the
    atexit handlers still run. In-process callers (tests, notebooks) use :func:`main`.
    """
    code: str | int | None = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code
    if "numba" not in sys.modules:
        sys.exit(code)
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    atexit._run_exitfuncs()  # what sys.exit would have run: logging, finalizers, clusters
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    run()

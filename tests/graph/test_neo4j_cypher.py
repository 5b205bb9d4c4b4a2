"""No value is ever part of a Cypher text (sightgraph/graph/cypher.py and neo4j_store.py).

Static checks, no server: every statement is a registered constant without string literals,
labels and types come from the allow-lists, the builders refuse anything but identifiers, and
the store's code passes only ``cypher.<CONSTANT>`` texts (or loop variables over them) to the
single function that runs Cypher, which refuses unregistered texts at run time. The spy test in
test_neo4j_store.py checks the same on the real driver."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from sightgraph.graph import cypher

ROOT = Path(__file__).resolve().parents[2]
STORE_SRC = ROOT / "sightgraph" / "graph" / "neo4j_store.py"
CYPHER_SRC = ROOT / "sightgraph" / "graph" / "cypher.py"


def module_constants() -> dict[str, object]:
    return {k: v for k, v in vars(cypher).items() if k.isupper() and not k.startswith("_")}


def test_every_statement_constant_is_registered() -> None:
    """Each upper-case str constant (or tuple of them) of cypher.py is in QUERIES, and QUERIES
    holds nothing else."""
    texts: set[str] = set()
    for name, value in module_constants().items():
        if name in ("LABELS", "REL_TYPES", "QUERIES"):
            continue
        items = value if isinstance(value, tuple) else (value,)
        for item in items:
            assert isinstance(item, str), name
            assert item in cypher.QUERIES, name
            texts.add(item)
    assert texts == set(cypher.QUERIES)
    assert len(cypher.QUERIES) >= 25


@pytest.mark.parametrize("query", sorted(cypher.QUERIES))
def test_statement_has_no_string_literal_and_only_allowed_names(query: str) -> None:
    """No quote character at all (so no string value can be inlined), every label and
    relationship type on the allow-lists, and no ``{...}`` left over from formatting."""
    assert "'" not in query and '"' not in query
    assert "{}" not in query and "{0" not in query
    for label in re.findall(r"\(\s*\w*\s*:\s*`?(\w+)`?", query):
        assert label in cypher.LABELS, (label, query)
    for rel in re.findall(r"\[\s*\w*\s*:\s*`?(\w+)`?", query):
        assert rel in cypher.REL_TYPES, (rel, query)


@pytest.mark.parametrize(
    "name", ["Person; MATCH (n) DETACH DELETE n", "person", "`Person`", "Camera ", "", "X"]
)
def test_identifier_builders_refuse_names_off_the_allow_list(name: str) -> None:
    with pytest.raises(ValueError):
        cypher.quote_identifier(name, cypher.LABELS)
    with pytest.raises(ValueError):
        cypher.delete_nodes_batch(name)
    with pytest.raises(ValueError):
        cypher.delete_relationships_batch(name)


def test_identifier_builders_quote_allowed_names() -> None:
    assert cypher.quote_identifier("SEEN_AT", cypher.REL_TYPES) == "`SEEN_AT`"
    assert cypher.delete_nodes_batch("Camera") in cypher.QUERIES
    with pytest.raises(ValueError):  # a label is not a relationship type
        cypher.quote_identifier("Person", cypher.REL_TYPES)


@pytest.mark.parametrize(
    "operand",
    ["1) RETURN 1 //", "$x + 1", "'2024-01-01'", "x.y.z", "$ts_us[0]", "$a[i][j]", "", "r.ts "],
)
def test_time_builders_accept_only_variables_and_parameters(operand: str) -> None:
    with pytest.raises(ValueError):
        cypher.datetime_from_us(operand)
    with pytest.raises(ValueError):
        cypher.us_from_datetime(operand)


def test_time_builders_accept_identifiers() -> None:
    for operand in ("x", "$start_us", "$ts_us[i]", "r.ts", "r.first_ts"):
        assert operand in cypher.datetime_from_us(operand)
        assert operand in cypher.us_from_datetime(operand)


def _calls(tree: ast.AST, names: set[str]) -> list[ast.Call]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            if (isinstance(f, ast.Name) and f.id in names) or (
                isinstance(f, ast.Attribute) and f.attr in names
            ):
                out.append(node)
    return out


def _is_constant(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "cypher"
        and node.attr.isupper()
    )


def _function_of(tree: ast.AST, name: str) -> ast.FunctionDef:
    found = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == name]
    assert len(found) == 1, name
    return found[0]


def test_store_runs_cypher_in_one_place_with_registered_texts_only() -> None:
    """In neo4j_store.py: ``.run(`` is called once, inside ``_run``, with its ``query``
    argument; ``_run``/``_rows`` get ``cypher.<UPPER_CASE>``, or (inside ``_run_one`` only) its
    ``query`` parameter (and ``_rows``, which hands its own on); ``_run_one`` gets ``cypher.<UPPER_CASE>`` or a variable of a ``for``
    over ``cypher.<UPPER_CASE>``; nothing calls ``execute_query``."""
    tree = ast.parse(STORE_SRC.read_text(encoding="utf-8"))
    runs = _calls(tree, {"run"})
    assert len(runs) == 1
    assert runs[0] in list(ast.walk(_function_of(tree, "_run")))
    assert isinstance(runs[0].args[0], ast.Name) and runs[0].args[0].id == "query"
    assert not _calls(tree, {"execute_query"})
    loop_vars: set[str] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.For)
            and isinstance(node.target, ast.Name)
            and _is_constant(node.iter)
        ):
            loop_vars.add(node.target.id)
    passing = [*ast.walk(_function_of(tree, "_run_one")), *ast.walk(_function_of(tree, "_rows"))]
    used = [c for c in _calls(tree, {"_run", "_rows"}) if c not in runs]
    assert len(used) >= 15
    for call in used:
        text = call.args[1]
        inside = call in passing and isinstance(text, ast.Name) and text.id == "query"
        assert _is_constant(text) or inside, ast.unparse(call)
    one = _calls(tree, {"_run_one"})
    assert len(one) >= 4
    for call in one:
        text = call.args[0]
        ok = _is_constant(text) or (isinstance(text, ast.Name) and text.id in loop_vars)
        assert ok, ast.unparse(call)


def test_cypher_module_formats_only_builder_output_into_texts() -> None:
    """f-strings in cypher.py interpolate only local names of the builders (checked by
    _OPERAND / allow-lists at call time) or calls of the two time builders with literal
    operands, never anything read from outside the module."""
    tree = ast.parse(CYPHER_SRC.read_text(encoding="utf-8"))
    allowed_names = {"x", "t", "frac", "conv", "lab", "text", "name", "expr", "_SIGHTING_BOUNDS"}
    allowed_names |= {"_EDGE_FILTER", "_NAN", "_NAT"}
    for node in ast.walk(tree):
        if isinstance(node, ast.FormattedValue):
            v = node.value
            if isinstance(v, ast.Name):
                assert v.id in allowed_names or v.id == "t", v.id
            else:
                assert isinstance(v, ast.Call) and isinstance(v.func, ast.Name), ast.unparse(v)
                assert v.func.id in ("us_from_datetime", "datetime_from_us"), ast.unparse(v)
                assert all(isinstance(a, ast.Constant) for a in v.args), ast.unparse(v)

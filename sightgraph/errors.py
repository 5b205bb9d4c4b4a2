"""One root exception class; the CLI turns these into one-line messages."""

from __future__ import annotations


class SightgraphError(Exception):
    """Root of every error sightgraph raises on purpose (CLI exit code 1 unless a subclass says otherwise)."""

    exit_code = 1


class UsageError(SightgraphError):
    """Bad usage or unusable input: the CLI prints the message on one line and exits with 2."""

    exit_code = 2


class StoreUnavailableError(UsageError):
    """The graph store cannot be reached (names the URI)."""

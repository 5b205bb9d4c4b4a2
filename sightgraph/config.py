"""Settings from the environment (prefix SIGHTGRAPH_, plus NEO4J_* and DASK_SCHEDULER_ADDRESS)."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "get_settings"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIGHTGRAPH_", extra="ignore")

    workdir: Path = Path("sightgraph-work")
    lake: Path | None = None
    pseudonym_key: str | None = None
    store: str = "embedded"
    neo4j_uri: str | None = Field(default=None, validation_alias=AliasChoices("NEO4J_URI"))
    neo4j_user: str = Field(default="neo4j", validation_alias=AliasChoices("NEO4J_USER"))
    neo4j_password: str = Field(default="neo4j", validation_alias=AliasChoices("NEO4J_PASSWORD"))
    neo4j_database: str | None = Field(
        default=None, validation_alias=AliasChoices("NEO4J_DATABASE")
    )
    dask_scheduler: str | None = Field(
        default=None, validation_alias=AliasChoices("DASK_SCHEDULER_ADDRESS")
    )
    audit_log: Path | None = None
    user: str = "local"
    role: str = "analyst"  # a single-analyst workstation; see governance/access.py
    # SIGHTGRAPH_PURPOSE: the session's purpose when a command's --purpose is not given
    purpose: str | None = None
    min_cell: int = 5
    # SIGHTGRAPH_USERS_FILE: dashboard users with salted scrypt hashes (default WORKDIR/users.json;
    # `sightgraph users add NAME --role R` writes it)
    users_file: Path | None = None

    def lake_path(self) -> Path:
        return self.lake if self.lake is not None else self.workdir / "lake"

    def embedded_path(self) -> Path:
        return self.workdir / "graph.duckdb"

    def audit_path(self) -> Path:
        return self.audit_log if self.audit_log is not None else self.workdir / "audit.jsonl"


def get_settings() -> Settings:
    return Settings()

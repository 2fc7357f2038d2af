"""Settings for storage: the MariaDB URL, the FalkorDB URL and the managed local services.

With no `DEVMESH_DB_URL` / `DEVMESH_GRAPH_URL` in the environment, the URLs point at the
services `devmesh services up` manages, with the credentials it generated and saved in
its state directory. That is what lets `devmesh serve` work with no extra environment.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class ServicesSettings(BaseSettings):
    """Where and how the local MariaDB and FalkorDB run."""

    model_config = SettingsConfigDict(env_prefix="DEVMESH_")

    state_dir: Path = Field(REPO_ROOT / ".devmesh", description="data dirs, logs, pids, credentials")
    cache_dir: Path = Field(Path.home() / ".cache" / "devmesh", description="slow artefacts shared by clones")
    mariadb_port: int = 3417
    falkordb_port: int = 6417
    mariadbd: str | None = Field(None, description="path of a mariadbd >= 11.7 to use instead of PATH/debootstrap")

    @property
    def credentials_file(self) -> Path:
        return self.state_dir / "credentials.json"


@dataclass(frozen=True)
class DBUrl:
    """A parsed `mariadb://user:password@host:port/database` URL."""

    user: str
    password: str
    host: str
    port: int
    database: str

    @classmethod
    def parse(cls, url: str) -> "DBUrl":
        parts = urlsplit(url)
        if parts.scheme not in ("mariadb", "mysql"):
            raise ValueError(f"database URL must start with mariadb://, got {parts.scheme!r}")
        return cls(
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 3306,
            database=(parts.path or "/").lstrip("/") or "devmesh",
        )

    def with_database(self, database: str) -> "DBUrl":
        return DBUrl(self.user, self.password, self.host, self.port, database)

    def with_user(self, user: str, password: str) -> "DBUrl":
        return DBUrl(user, password, self.host, self.port, self.database)

    def __str__(self) -> str:
        return (f"mariadb://{quote(self.user)}:{quote(self.password)}@{self.host}:{self.port}/"
                f"{self.database}")

    def redacted(self) -> str:
        return f"mariadb://{self.user}:***@{self.host}:{self.port}/{self.database}"


class DBSettings(BaseSettings):
    """MariaDB connection settings. `url` is read-write, `ro_url` the read-only user."""

    model_config = SettingsConfigDict(env_prefix="DEVMESH_DB_")

    url: str | None = None
    ro_url: str | None = None
    pool_size: int = 8
    connect_timeout_s: int = 3
    read_timeout_s: int = 30          # the server's pools: a frozen MariaDB gives 503 after this, not a hang

    def resolved(self, services: ServicesSettings | None = None) -> tuple[DBUrl, DBUrl]:
        """The read-write and read-only URLs: from the environment, else the managed service."""
        if self.url:
            rw = DBUrl.parse(self.url)
            return rw, DBUrl.parse(self.ro_url) if self.ro_url else rw
        creds = load_credentials(services or ServicesSettings())
        port = (services or ServicesSettings()).mariadb_port
        rw = DBUrl(creds["app_user"], creds["app_password"], "127.0.0.1", port, "devmesh")
        ro = DBUrl(creds["ro_user"], creds["ro_password"], "127.0.0.1", port, "devmesh")
        return rw, ro


class GraphSettings(BaseSettings):
    """FalkorDB connection settings."""

    model_config = SettingsConfigDict(env_prefix="DEVMESH_GRAPH_")

    url: str | None = None
    name: str = "devmesh"
    timeout_ms: int = 2000

    def resolved_url(self, services: ServicesSettings | None = None) -> str:
        return self.url or f"redis://127.0.0.1:{(services or ServicesSettings()).falkordb_port}"


def load_credentials(services: ServicesSettings) -> dict[str, str]:
    """The credentials `devmesh services up` generated, or a clear error on how to get them."""
    path = services.credentials_file
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise RuntimeError(
            f"no database configured: {path} does not exist. Run `make services` (or "
            "`devmesh services up`) to start the local MariaDB, or set DEVMESH_DB_URL="
            "mariadb://user:password@host:port/devmesh") from None

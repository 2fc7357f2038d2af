"""Command line of the shipper: `devmesh ship ...` or `python -m shipper ...`."""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from shipper.cursor import CursorStore
from shipper.daemon import Options, Shipper
from shipper.filters import FilterError, load
from shipper.journal import JournalSource
from shipper.sender import FatalSendError, Sender

DEFAULT_CURSOR = Path("/var/lib/devmesh-shipper/cursor")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="devmesh ship", description="Ship journald entries to a DevMesh server.")
    p.add_argument("--url", default=os.environ.get("DEVMESH_SHIPPER_URL"),
                   help="DevMesh server, e.g. http://devmesh:8000 (or DEVMESH_SHIPPER_URL)")
    p.add_argument("--token", default=os.environ.get("DEVMESH_SHIPPER_TOKEN"),
                   help="bearer token (or DEVMESH_SHIPPER_TOKEN)")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--file", nargs="+", type=Path, help="journal files to read")
    source.add_argument("--directory", type=Path, help="a journal directory to read")
    p.add_argument("--cursor", type=Path, default=None,
                   help=f"cursor file (default {DEFAULT_CURSOR} for the local journal; none for files)")
    p.add_argument("--batch-size", type=int, default=50)
    p.add_argument("--flush-interval", type=float, default=2.0, help="seconds before a partial batch is sent")
    p.add_argument("--stats-interval", type=float, default=60.0, help="seconds between stats lines on stderr")
    p.add_argument("--filters", type=Path, help="YAML noise filters")
    p.add_argument("--host-name", help="host name to send instead of the journal's _HOSTNAME")
    p.add_argument("--once", action="store_true", help="exit when caught up")
    p.add_argument("--dry-run", action="store_true", help="print batches instead of sending")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if not args.url:
        print("--url (or DEVMESH_SHIPPER_URL) is required, e.g. --url http://devmesh:8000", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s shipper: %(message)s")
    if args.batch_size < 1 or args.flush_interval <= 0:
        print("--batch-size must be >= 1 and --flush-interval > 0", file=sys.stderr)
        return 2
    try:
        filters = load(args.filters)
    except FilterError as exc:
        print(f"invalid filters: {exc}", file=sys.stderr)
        return 2
    cursor_path = args.cursor or (None if (args.file or args.directory) else DEFAULT_CURSOR)
    try:
        source = JournalSource(args.file, args.directory)
    except OSError as exc:
        print(f"cannot open the journal: {exc}", file=sys.stderr)
        return 2
    shipper = Shipper(source, Sender(args.url, args.token), CursorStore(cursor_path), filters,
                      Options(args.batch_size, args.flush_interval, args.stats_interval, args.host_name,
                              args.once, args.dry_run))
    shipper.install_signals()
    try:
        return shipper.run()
    except FatalSendError as exc:
        print(f"giving up: {exc}", file=sys.stderr)
        return 1

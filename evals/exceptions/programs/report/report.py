"""Renders rows as a fixed-width text table."""
import logging
import sys

log = logging.getLogger("report")


def pad(cell, width):
    return str(cell).ljust(width)


def column_widths(rows):
    return [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]


def render_table(rows):
    widths = column_widths(rows)
    log.info("rendering rows=%d columns=%d", len(rows), len(widths))
    lines = []
    for row in rows:
        lines.append(" | ".join(pad(cell, str(w)) for cell, w in zip(row, widths)))
    return "\n".join(lines)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    rows = [a.split(",") for a in sys.argv[1:]]
    print(render_table(rows))

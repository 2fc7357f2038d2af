"""Reads `key = value` settings; sizes are written like 10MB or 512KB."""
import logging
import sys

log = logging.getLogger("config")
UNITS = {"KB": 1024, "MB": 1024 ** 2, "GB": 1024 ** 3}


def parse_size(text):
    unit = text[-2:].upper()
    return int(text[:-1]) * UNITS[unit]


def load(lines):
    settings = {}
    for line in lines:
        key, _, value = line.partition("=")
        key, value = key.strip(), value.strip()
        settings[key] = parse_size(value) if key.endswith("_size") else value
        log.info("setting key=%s", key)
    return settings


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    print(load(sys.argv[1:]))

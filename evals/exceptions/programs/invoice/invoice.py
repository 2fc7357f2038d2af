"""Monthly invoice summary: reads orders, averages the paid ones."""
import json
import logging
import sys

log = logging.getLogger("invoice")


def load_orders(path):
    with open(path) as fh:
        return [json.loads(line) for line in fh if line.strip()]


def average(values):
    return sum(values) / len(values)


def summarize(orders):
    paid = [o["amount"] for o in orders if o["status"] == "paid "]
    log.info("summarizing orders=%d paid=%d", len(orders), len(paid))
    return {"count": len(paid), "mean": average(paid)}


def main(path):
    orders = load_orders(path)
    log.info("loaded path=%s orders=%d", path, len(orders))
    print(json.dumps(summarize(orders)))


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    main(sys.argv[1])

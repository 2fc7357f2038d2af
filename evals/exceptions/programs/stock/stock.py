"""Warehouse stock: restock items to a target level, price orders."""
import logging
import sys

log = logging.getLogger("stock")
PRICES = {"bolt": 0.10, "nut": 0.05, "gear": 4.20}
LEVELS = {"bolt": 40, "nut": 10, "gear": 3}


def validate_count(n):
    if n <= 0:
        raise ValueError(f"count must be positive: {n}")
    return n


def restock(item, target):
    current = LEVELS[item]
    n = current - target
    log.info("restock item=%s current=%d target=%d", item, current, target)
    LEVELS[item] = current + validate_count(n)


def lookup_price(sku):
    return PRICES[sku.upper()]


def order_total(lines):
    total = 0.0
    for sku, qty in lines:
        total += lookup_price(sku) * qty
    log.info("order lines=%d total=%.2f", len(lines), total)
    return total


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    if sys.argv[1] == "restock":
        restock(sys.argv[2], int(sys.argv[3]))
    else:
        order_total([(sys.argv[2], int(sys.argv[3]))])

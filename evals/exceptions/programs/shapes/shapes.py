"""Shapes and the side of the square with the same area."""
import logging
import math
import sys

log = logging.getLogger("shapes")


class Shape:
    def area(self):
        raise NotImplementedError

    def side_length(self):
        return math.sqrt(self.area())


class Square(Shape):
    def __init__(self, side):
        self.side = side

    def area(self):
        return self.side * self.side


class Ring(Shape):
    def __init__(self, outer, inner):
        self.outer = outer
        self.inner = inner

    def area(self):
        return math.pi * (self.inner ** 2 - self.outer ** 2)


def report(shapes):
    for shape in shapes:
        log.info("shape kind=%s side=%.3f", type(shape).__name__, shape.side_length())


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    outer, inner = float(sys.argv[1]), float(sys.argv[2])
    report([Square(outer), Ring(outer, inner)])

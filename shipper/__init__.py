"""The DevMesh journald shipper: a standalone daemon deployed alone to every node.

It imports nothing else of DevMesh (only the standard library, systemd-python and PyYAML),
so `python -m shipper` runs from a copy of this directory.
"""

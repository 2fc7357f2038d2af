"""The fault lab: real software on loopback, one injected fault per case (`devmesh lab record`).

A development tool beside evals/casegen; the product never imports it. See evals/README.md.
"""

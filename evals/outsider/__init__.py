"""Held-out test cases written from outside: each fault is chosen first, then simulated.

`python -m evals.outsider` writes evals/cases-outsider/<slug>/. The product never imports
this package; the cases are data (split: test).
"""

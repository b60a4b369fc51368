"""Benchmark suite: the same workloads through durable_backend and its two peers.

Each SDK runs in its own virtualenv (see the ``bench*`` sessions in noxfile.py), so every
module here except the ``run_<sdk>`` runner of that SDK and ``report`` uses the stdlib only.
"""

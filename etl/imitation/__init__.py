"""A local imitation of Prolific's API, with fault injection: what tests, ``demo``, ``fake-api``
and the benchmarks talk to over loopback. Never imported by ``sync`` itself.

``server`` serves batches, listings, dataset details and responses (and their faults);
``world`` is the sample world that moves on night by night, built on ``server``.
"""

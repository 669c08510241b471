"""A local imitation of Prolific's API, with fault injection: what tests, ``demo``, ``fake-api``
and the benchmarks talk to over loopback. Never imported by ``sync`` itself.

``server`` serves batches, listings, dataset details and responses (and their faults);
``world`` is the sample world that moves on night by night, built on ``server``.
"""

# Here rather than in ``world`` so that the CLI can offer them as defaults and choices without
# importing the imitation: only the commands that serve it do.
SAMPLE_SEED = 2025
DEFAULT_BATCHES = 50
# The faults ``fake-api --error-kind`` injects (``world.ERROR_KINDS`` maps each to its fault).
ERROR_KIND_NAMES = ("503", "500", "429", "drop", "truncate", "html", "html200")

"""What the local imitation of the API offers, named without loading it: the sample world's
size and seed, and the faults ``fake-api --error-kind`` injects. The CLI offers them as
defaults and choices; only the commands that serve the imitation (``demo``, ``fake-api``)
import ``etl.imitation`` itself.
"""

SAMPLE_SEED = 2025
DEFAULT_BATCHES = 50
# ``etl.imitation.world.ERROR_KINDS`` maps each to its fault.
ERROR_KIND_NAMES = ("503", "500", "429", "drop", "truncate", "html", "html200")

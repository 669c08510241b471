"""The kinds of thing the API returns, one module each: its payload model and validation, how
it becomes rows, its tables, natural key and content columns, and what "removed upstream"
means for it (the ``Kind`` at the bottom of each module). How any kind is written is
``etl.store.writer``'s; a new kind is a module here, its migration, a sample in the imitation,
and one more entry in ``KINDS``.

The bottom layer: ``etl.source`` and ``etl.store`` both import it; it imports neither.
"""

from __future__ import annotations

from .batch import BATCH
from .dataset_details import DATASET_DETAILS
from .kind import Kind
from .response import RESPONSE
from .study import STUDY
from .study_cost import STUDY_COST
from .submission import SUBMISSION
from .workspace import WORKSPACE

KINDS: tuple[Kind, ...] = (
    BATCH,
    WORKSPACE,
    DATASET_DETAILS,
    RESPONSE,
    STUDY,
    SUBMISSION,
    STUDY_COST,
)

__all__ = [
    "BATCH",
    "DATASET_DETAILS",
    "KINDS",
    "RESPONSE",
    "STUDY",
    "STUDY_COST",
    "SUBMISSION",
    "WORKSPACE",
    "Kind",
]

"""Turning validated answers into table rows: each kind's ``flatten_*`` lives with its kind
(``etl.kinds``); re-exported here for the code that imports them from this module."""

from __future__ import annotations

from ..kinds.batch import flatten_batch
from ..kinds.dataset_details import flatten_dataset
from ..kinds.response import flatten_response
from ..kinds.workspace import flatten_workspace

__all__ = ["flatten_batch", "flatten_dataset", "flatten_response", "flatten_workspace"]

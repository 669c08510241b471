"""What the imitation serves: a table of routes, each a path of the client's, the fault key of
a request for it, and the function that answers it.

Adding a kind of endpoint is one answer function and one row of ROUTES (and, for a new kind
of data, the methods of FakeProlificAPI that put it).
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..source.client import BATCH_PATH, BATCHES_PATH, DATASET_PATH, RESPONSES_PATH, WORKSPACES_PATH
from .studies import study_routes

if TYPE_CHECKING:
    from .server import FakeProlificAPI

STATS_PATH = "/_fake/stats"  # the imitation's own counters, not counted as requests
WORKSPACES_KEY = "workspaces"

Params = Mapping[str, str]  # a path's {placeholders} and the query's first values


def listing_key(workspace_id: str) -> str:
    """The fault key of a workspace's batch listing."""
    return f"listing:{workspace_id}"


def dataset_key(dataset_id: str) -> str:
    """The fault key of a dataset's details."""
    return f"dataset:{dataset_id}"


def responses_key(batch_id: str) -> str:
    """The fault key of a batch's responses."""
    return f"responses:{batch_id}"


@dataclass(frozen=True)
class Route:
    """One endpoint: ``path`` is a template such as ``BATCH_PATH``, each ``{name}`` one path
    segment; ``key`` names the request for faults (None: no such endpoint after all);
    ``answer`` gives the body of a 200 (None: 404, naming ``what``). ``query``: whether a
    query string is accepted (else the path is not this endpoint)."""

    kind: str
    path: str
    key: Callable[[Params], str | None]
    answer: Callable[[FakeProlificAPI, Params], bytes | None]
    query: bool = False
    what: str = "Batch"
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        parts = re.split(r"\{(\w+)\}", self.path)  # literal, name, literal, name, ...
        regex = "".join(
            re.escape(part) if index % 2 == 0 else f"(?P<{part}>[^/]+)"
            for index, part in enumerate(parts)
        )
        object.__setattr__(self, "pattern", re.compile(regex))


def _json(value: object) -> bytes:
    return json.dumps(value).encode()


def _dataset(api: FakeProlificAPI, params: Params) -> bytes | None:
    details = api.dataset(params["dataset_id"])
    return None if details is None else _json(details)


ROUTES: tuple[Route, ...] = (
    Route(
        "workspaces",
        WORKSPACES_PATH,
        key=lambda params: WORKSPACES_KEY,
        answer=lambda api, params: _json({"results": api.workspaces()}),
        query=True,
    ),
    Route(
        "listing",
        BATCHES_PATH,
        key=lambda params: (
            listing_key(params["workspace_id"]) if params.get("workspace_id") else None
        ),
        answer=lambda api, params: _json(api.listing(params["workspace_id"])),
        query=True,
    ),
    Route(
        "responses",
        RESPONSES_PATH,
        key=lambda params: responses_key(params["batch_id"]),
        answer=lambda api, params: api.responses_body(params["batch_id"]),
    ),
    Route(
        "batch",
        BATCH_PATH,
        key=lambda params: params["batch_id"],
        answer=lambda api, params: api.batch_body(params["batch_id"]),
    ),
    Route(
        "dataset",
        DATASET_PATH,
        key=lambda params: dataset_key(params["dataset_id"]),
        answer=_dataset,
        what="Dataset",
    ),
)


ROUTES += study_routes(Route)


def match(path: str, routes: tuple[Route, ...] = ROUTES) -> tuple[Route | None, Params]:
    """The route a request path asks for (None: no such endpoint), and its parameters."""
    url = urllib.parse.urlsplit(path)
    for route in routes:
        found = route.pattern.fullmatch(url.path)
        if found is None or (url.query and not route.query):
            continue
        query = {name: values[0] for name, values in urllib.parse.parse_qs(url.query).items()}
        return route, {**query, **found.groupdict()}
    return None, {}

"""Projects, studies, submissions, counts and costs, as FakeProlificAPI serves them (a
SampleStudies put with ``put_studies``), and their routes.

Listings are paged as the API documents: a project's studies by ``page``/``page_size``, a
study's submissions by ``page``/``page_size`` or by ``limit``/``offset`` (as Prolific's own
client asks), each page with ``_links.next.href`` (an absolute URL, null on the last page) and
``meta.count``. A page's fault key names its page after the first (``submissions_key``), so a
test can fail the second page alone.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import TYPE_CHECKING, Any

from ..source.client import (
    PROJECT_STUDIES_PATH,
    PROJECTS_PATH,
    STUDY_COST_PATH,
    STUDY_PATH,
    SUBMISSION_COUNTS_PATH,
    SUBMISSIONS_PATH,
)
from .samples import iter_sample_responses
from .served import ServedState
from .study_samples import SampleStudies, study_cost, submission_counts

if TYPE_CHECKING:
    from .endpoints import Params

DEFAULT_PAGE_SIZE = 20
_SHORT = ("id", "name", "internal_name", "status", "reward", "total_available_places")


def projects_key(workspace_id: str) -> str:
    return f"projects:{workspace_id}"


def studies_key(project_id: str, page: int = 1) -> str:
    """The fault key of a page of a project's study listing."""
    return f"studies:{project_id}" + (f":{page}" if page > 1 else "")


def study_key(study_id: str) -> str:
    return f"study:{study_id}"


def submissions_key(study_id: str, page: int = 1) -> str:
    """The fault key of a page of a study's submissions (page 1, 2, ... whatever the form)."""
    return f"submissions:{study_id}" + (f":{page}" if page > 1 else "")


def cost_key(study_id: str) -> str:
    return f"cost:{study_id}"


def counts_key(study_id: str) -> str:
    return f"counts:{study_id}"


class StudiesServed:
    """The studies' data of FakeProlificAPI."""

    _state: ServedState
    url: str

    def put_studies(self, sample: SampleStudies) -> None:
        """Serve ``sample`` as it stands (a copy: the test may move it on meanwhile)."""
        with self._state.lock:
            self._state.studies = sample.copy()

    def put_answered_responses(
        self, sample: SampleStudies, batches: list[dict[str, Any]], per_batch: int, *, seed: int = 1
    ) -> None:
        """Serve ``per_batch`` made-up responses for each of ``batches``, every submission
        they name made a submission to the batch's first study in ``sample``
        (``SampleStudies.answer``); ``put_studies`` serves the studies."""
        for batch in batches:
            records = list(iter_sample_responses(batch["id"], per_batch, seed=seed))
            sample.answer(batch["id"], records)
            self.put_responses(batch["id"], records)

    def set_listed_count(self, key: str, count: int | None) -> None:
        """Make the meta.count of a listing (``studies_key(p)`` or ``submissions_key(s)``) say
        ``count`` (None: the truth), as a cut-short listing would."""
        with self._state.lock:
            if count is None:
                self._state.listed_counts.pop(key, None)
            else:
                self._state.listed_counts[key] = count

    def _sample(self) -> SampleStudies | None:
        with self._state.lock:
            return self._state.studies

    def projects_body(self, workspace_id: str) -> bytes:
        sample = self._sample()
        projects = sample.projects.get(workspace_id, []) if sample else []
        return _json(
            {
                "results": projects,
                "_links": {"next": {"href": None}},
                "meta": {"count": len(projects)},
            }
        )

    def studies_body(self, project_id: str, params: Params) -> bytes | None:
        sample = self._sample()
        if sample is None or project_id not in sample.listed:
            return None
        items = [
            {name: sample.studies[s].get(name) for name in _SHORT}
            for s in sample.listed[project_id]
        ]
        path = PROJECT_STUDIES_PATH.format(project_id=project_id)
        return self._paged(items, path, params, studies_key(project_id))

    def study_body(self, study_id: str) -> bytes | None:
        sample = self._sample()
        if sample is None or study_id not in sample.studies:
            return None
        return _json(sample.studies[study_id])

    def submissions_body(self, study_id: str, params: Params) -> bytes | None:
        sample = self._sample()
        if sample is None or study_id not in sample.submissions:
            return None
        path = SUBMISSIONS_PATH.format(study_id=study_id)
        return self._paged(sample.submissions[study_id], path, params, submissions_key(study_id))

    def counts_body(self, study_id: str) -> bytes | None:
        sample = self._sample()
        if sample is None or study_id not in sample.submissions:
            return None
        return _json(submission_counts(sample.submissions[study_id]))

    def cost_body(self, study_id: str) -> bytes | None:
        sample = self._sample()
        if sample is None or study_id not in sample.submissions:
            return None
        return _json(study_cost(sample.submissions[study_id]))

    def _paged(self, items: list[Any], path: str, params: Params, key: str) -> bytes:
        """One page of ``items`` in whichever form the request asked for."""
        if "limit" in params or "offset" in params:
            size = max(1, int(params.get("limit", DEFAULT_PAGE_SIZE)))
            start = max(0, int(params.get("offset", 0)))
            following = {"limit": size, "offset": start + size}
        else:
            size = max(1, int(params.get("page_size", DEFAULT_PAGE_SIZE)))
            page = max(1, int(params.get("page", 1)))
            start = (page - 1) * size
            following = {"page": page + 1, "page_size": size}
        with self._state.lock:
            count = self._state.listed_counts.get(key, len(items))
        href = None
        if start + size < len(items):
            href = f"{self.url}{path}?{urllib.parse.urlencode(following)}"
        return _json(
            {
                "results": items[start : start + size],
                "_links": {"self": {"href": None}, "next": {"href": href}},
                "meta": {"count": count},
            }
        )


def page_of(params: Params) -> int:
    """Which page (from 1) a listing request asks for, in either paging form."""
    if "offset" in params:
        size = max(1, int(params.get("limit", DEFAULT_PAGE_SIZE)))
        return int(params["offset"]) // size + 1
    return max(1, int(params.get("page", 1)))


def _json(value: object) -> bytes:
    return json.dumps(value).encode()


def study_routes(route: type) -> tuple[Any, ...]:
    """The studies' rows of ``endpoints.ROUTES`` (``route`` is its Route)."""
    return (
        route(
            "projects",
            PROJECTS_PATH,
            key=lambda params: projects_key(params["workspace_id"]),
            answer=lambda api, params: api.projects_body(params["workspace_id"]),
            query=True,
            what="Workspace",
        ),
        route(
            "studies",
            PROJECT_STUDIES_PATH,
            key=lambda params: studies_key(params["project_id"], page_of(params)),
            answer=lambda api, params: api.studies_body(params["project_id"], params),
            query=True,
            what="Project",
        ),
        route(
            "submission_counts",
            SUBMISSION_COUNTS_PATH,
            key=lambda params: counts_key(params["study_id"]),
            answer=lambda api, params: api.counts_body(params["study_id"]),
            what="Study",
        ),
        route(
            "submissions",
            SUBMISSIONS_PATH,
            key=lambda params: submissions_key(params["study_id"], page_of(params)),
            answer=lambda api, params: api.submissions_body(params["study_id"], params),
            query=True,
            what="Study",
        ),
        route(
            "cost",
            STUDY_COST_PATH,
            key=lambda params: cost_key(params["study_id"]),
            answer=lambda api, params: api.cost_body(params["study_id"]),
            query=True,
            what="Study",
        ),
        route(
            "study",
            STUDY_PATH,
            key=lambda params: study_key(params["study_id"]),
            answer=lambda api, params: api.study_body(params["study_id"]),
            what="Study",
        ),
    )

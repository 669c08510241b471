"""Reading studies, submissions and costs (``sync --submissions``): a workspace's projects, a
project's studies, a study's detail, its submissions, its counts per status and its cost.

Listings are paged: each page is ``{results, _links: {next: {href}}, meta: {count}}``; every
page is followed through ``_links.next.href`` until it is null, and what arrived is compared
with ``meta.count``. A next page on another host than the API's is not followed (the token
would go with the request). A page that fails fails the whole listing (the item it is for);
one item that does not validate fails alone, as a batch's response does.
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from ..errors import InvalidPayloadError, InvalidResponseError, ItemError, TruncatedListingError
from ..kinds.study import ProjectShort, Study, StudyShort
from ..kinds.study_cost import StatusCounts, StudyCost
from ..kinds.submission import Submission
from .client import (
    PROJECT_STUDIES_PATH,
    PROJECTS_PATH,
    STUDY_COST_PATH,
    STUDY_PATH,
    SUBMISSION_COUNTS_PATH,
    SUBMISSIONS_PATH,
    ProlificClient,
)

PAGE_SIZE = 200  # items asked for per page of a listing
MAX_PAGES = 100_000  # a listing that never ends is the API's fault, not a reason to loop


@dataclass
class Paged:
    """Every page of a listing: its items (validated, or the ItemError failing each), what the
    first page's ``meta.count`` said, and how many items came."""

    items: list[Any] = field(default_factory=list)
    count: int | None = None
    seen: int = 0

    @property
    def cut_short(self) -> bool:
        return self.count is not None and self.count != self.seen

    def keys(self) -> set[str]:
        """The ids of every item that came, valid or not."""
        return {key for item in self.items if (key := _key(item)) is not None}


def _key(item: Any) -> str | None:
    if isinstance(item, ItemError):
        return getattr(item, "item_id", None)
    return getattr(item, "id", None)


class StudiesSource:
    """Reads the studies' endpoints with ``client``; each method raises the ItemError that
    fails what it reads (naming the workspace or the batch it is for)."""

    def __init__(self, client: ProlificClient, *, page_size: int | None = None) -> None:
        self.client = client
        self.page_size = page_size or PAGE_SIZE

    def project_ids(self, workspace_id: str) -> list[str]:
        """The ids of a workspace's projects (every page)."""
        where = {"workspace_id": workspace_id, "stage": "studies"}
        url = self._url(PROJECTS_PATH.format(workspace_id=workspace_id))
        paged = self._pages(url, ProjectShort, where, f"workspace {workspace_id}'s projects")
        if paged.cut_short:
            raise _error(TruncatedListingError, _short(paged, "projects"), where)
        failed = [item for item in paged.items if isinstance(item, ItemError)]
        if failed:
            raise failed[0]
        return [item.id for item in paged.items]

    def project_studies(self, project_id: str, workspace_id: str) -> Paged:
        """A project's study listing, every page (``page``/``page_size``)."""
        where = {"workspace_id": workspace_id, "stage": "studies"}
        path = PROJECT_STUDIES_PATH.format(project_id=project_id)
        url = self._url(path, {"page": 1, "page_size": self.page_size})
        return self._pages(url, StudyShort, where, f"project {project_id}'s studies")

    def study(self, study_id: str, workspace_id: str) -> Study:
        """A study's detail."""
        where = {"workspace_id": workspace_id, "stage": "studies"}
        body = self._fetch(self._url(STUDY_PATH.format(study_id=study_id)), where, study_id)
        study = _validate(Study, body, where, f"study {study_id}")
        if study.id != study_id:
            raise _error(
                InvalidPayloadError,
                f"study {study_id}: describes study {study.id}",
                where,
                field="id",
            )
        return study

    def submissions(self, study_id: str, batch_id: str) -> Paged:
        """A study's submissions, every page (asked with ``limit``/``offset``, as Prolific's
        own client does; any next link the API gives is followed as it is)."""
        where = {"batch_id": batch_id, "stage": "submissions"}
        path = SUBMISSIONS_PATH.format(study_id=study_id)
        url = self._url(path, {"limit": self.page_size, "offset": 0})
        return self._pages(url, Submission, where, f"study {study_id}'s submissions")

    def cost(self, study_id: str, batch_id: str) -> tuple[StudyCost, dict[str, int | float]]:
        """A study's cost so far and its submissions counted per status."""
        where = {"batch_id": batch_id, "stage": "costs"}
        url = self._url(STUDY_COST_PATH.format(study_id=study_id))
        cost = _validate(StudyCost, self._fetch(url, where, study_id), where, f"study {study_id}")
        url = self._url(SUBMISSION_COUNTS_PATH.format(study_id=study_id))
        body = self._fetch(url, where, study_id)
        counts = _validate(_COUNTS, body, where, f"study {study_id}'s counts")
        return cost, counts

    # --- pages -------------------------------------------------------------------------------

    def _pages(self, url: str, model: type[BaseModel], where: dict[str, Any], what: str) -> Paged:
        paged = Paged()
        followed: set[str] = set()
        next_url: str | None = url
        while next_url is not None:
            if next_url in followed or len(followed) >= MAX_PAGES:
                raise _error(
                    InvalidResponseError, f"{what}: the pages lead back to one already read", where
                )
            followed.add(next_url)
            page = _page(self._fetch(next_url, where, what), where, what)
            if paged.count is None:
                paged.count = _count(page)
            for item in page["results"]:
                paged.items.append(_item(model, item, paged.seen, where, what))
                paged.seen += 1
            next_url = self._next(page, where, what)
        return paged

    def _next(self, page: dict[str, Any], where: dict[str, Any], what: str) -> str | None:
        """The next page's URL, on the API's own host, or None at the last page."""
        links = page.get("_links")
        following = links.get("next") if isinstance(links, dict) else None
        href = following.get("href") if isinstance(following, dict) else following
        if href is None:
            return None
        if not isinstance(href, str) or not href:
            raise _error(InvalidResponseError, f"{what}: _links.next is not a link", where)
        absolute = urllib.parse.urljoin(self.client.base_url + "/", href)
        api, there = urllib.parse.urlsplit(self.client.base_url), urllib.parse.urlsplit(absolute)
        if (there.scheme, there.netloc) != (api.scheme, api.netloc):
            raise _error(
                InvalidResponseError,
                f"{what}: the next page is on another host ({there.netloc}); not followed, so "
                "that the token is not sent there",
                where,
            )
        return absolute

    def _fetch(self, url: str, where: dict[str, Any], what: str) -> bytes:
        try:
            return self.client.fetch_json(url, **where)
        except ItemError as error:
            error.message = f"{what}: {error.message}"
            error.args = (error.message,)
            raise

    def _url(self, path: str, query: dict[str, Any] | None = None) -> str:
        suffix = f"?{urllib.parse.urlencode(query)}" if query else ""
        return f"{self.client.base_url}{path}{suffix}"


_COUNTS = TypeAdapter(StatusCounts)


def _page(body: bytes, where: dict[str, Any], what: str) -> dict[str, Any]:
    try:
        page = json.loads(body)
    except ValueError:
        raise _error(InvalidResponseError, f"{what}: the answer is not JSON", where) from None
    if not isinstance(page, dict) or not isinstance(page.get("results"), list):
        raise _error(InvalidResponseError, f"{what}: the answer has no 'results' list", where)
    return page


def _count(page: dict[str, Any]) -> int | None:
    meta = page.get("meta")
    count = meta.get("count") if isinstance(meta, dict) else None
    return count if isinstance(count, int) and not isinstance(count, bool) else None


def _item(model: type[BaseModel], item: Any, index: int, where: dict[str, Any], what: str):
    """``item`` validated, or the InvalidPayloadError failing it alone (``item_id`` set)."""
    try:
        return model.model_validate_json(json.dumps(item), strict=True)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        path = ".".join(str(part) for part in first["loc"])
        error = _error(
            InvalidPayloadError,
            f"{what}: item [{index}]: field '{path}': {first['msg']}",
            where,
            field=f"results[{index}].{path}",
        )
        item_id = item.get("id") if isinstance(item, dict) else None
        error.item_id = item_id if isinstance(item_id, str) else None
        return error


def _validate(model: Any, body: bytes, where: dict[str, Any], what: str) -> Any:
    adapter = model if isinstance(model, TypeAdapter) else TypeAdapter(model)
    try:
        return adapter.validate_json(body, strict=True)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        if first["type"] == "json_invalid":
            raise _error(InvalidResponseError, f"{what}: the answer is not JSON", where) from None
        path = ".".join(str(part) for part in first["loc"]) or "<body>"
        raise _error(
            InvalidPayloadError, f"{what}: field '{path}': {first['msg']}", where, field=path
        ) from None


def _error(kind: type[ItemError], message: str, where: dict[str, Any], **extra) -> Any:
    """An ItemError of ``kind`` against the item ``where`` names (a batch, a workspace)."""
    rest = dict(where)
    return kind(rest.pop("batch_id", None), message, **rest, **extra)


def _short(paged: Paged, what: str) -> str:
    return (
        f"the listing holds {paged.seen} {what} but says there are {paged.count}; it may be "
        "cut short"
    )

"""The local imitation's sample world: workspaces of batches that read like real ones, and that
move on night after night.

``prolific-etl demo`` and ``prolific-etl fake-api`` serve it. Each night (``advance``) batches
move through their statuses (UNINITIALISED → PROCESSING → READY or ERROR) as batches do at
Prolific, a dataset is linked to one batch and unlinked from another, a new batch appears in a
workspace, and, the first night, one batch is deleted: it leaves its workspace's listing and its
ID answers 404. The batches being worked on get tasks answered by several annotators of a
crowd (``crowd``), whose submissions are reviewed night after night (``study_samples``). So a
few nights of syncs fill every reporting view, label quality included.

Everything is drawn from the seed, a batch from its index, so that the first batches are the
same whatever the count, and ``examples/batch_ids.txt`` names batches the imitation serves.
The awkward content the tests need (quotes, emoji, SQL in names) is ``server.sample_batches``.
"""

from __future__ import annotations

import copy
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from ..samples import DEFAULT_BATCHES, ERROR_KIND_NAMES, SAMPLE_SEED
from .crowd import INSTRUCTIONS, Crowd
from .server import FakeProlificAPI, Fault, SeenRequest, batch_generator
from .study_samples import SampleStudies

# How many of the first batches an ID file of the sample world lists (examples/batch_ids.txt).
ID_FILE_BATCHES = 5

_WORKSPACES = (
    ("Annotation lab", "Text labelling for the NLP group"),
    ("Speech & audio", "Transcription and audio quality checks"),
    ("Search quality", "Relevance judgements for the search team"),
    ("Q3 pilots", None),
)


@dataclass(frozen=True)
class _Project:
    """A kind of batch a team runs round after round, on datasets of its own."""

    workspace: int
    name: str  # with {n}, the round
    task_name: str
    introduction: str
    steps: tuple[str, ...]
    filename: str  # with {k}, one of the project's datasets


_PROJECTS = (
    _Project(
        0,
        "Sentiment of product reviews — round {n}",
        "Label the sentiment of each review",
        "You will read short reviews of products bought online. Say whether each one is "
        "positive, neutral or negative about the product.",
        ("Read the review", "Choose positive, neutral or negative", "Submit"),
        "product_reviews_{k}.csv",
    ),
    _Project(
        0,
        "Toxicity screening: forum comments, week {n}",
        "Flag comments that break the community rules",
        "Each task is one comment from a public forum. Some are rude or hateful; you may stop "
        "at any time.",
        ("Read the comment", "Flag it if it breaks a rule, and say which", "Submit"),
        "forum_comments_w{k}.jsonl",
    ),
    _Project(
        0,
        "Named entities in news articles, batch {n}",
        "Mark the people, places and organisations",
        "Highlight every person, place and organisation named in the paragraph.",
        ("Read the paragraph", "Highlight each name and pick its kind", "Submit"),
        "news_paragraphs_{k}.jsonl",
    ),
    _Project(
        1,
        "Speech transcription check (English), part {n}",
        "Correct the automatic transcript",
        "Listen to a short clip of a phone call and correct the transcript the machine wrote.",
        ("Play the clip", "Correct the transcript", "Submit"),
        "call_snippets_en_{k}.csv",
    ),
    _Project(
        1,
        "Audio quality rating — podcasts {n}",
        "Rate how clearly each clip can be heard",
        "Use headphones. Rate each clip from 1 (cannot follow it) to 5 (studio quality).",
        ("Play the clip", "Rate it from 1 to 5", "Submit"),
        "podcast_clips_{k}.csv",
    ),
    _Project(
        2,
        "Search relevance judgements, UK market {n}",
        "How well does each result answer the query?",
        "You will see a search query and one result. Judge how well the result answers it.",
        ("Read the query", "Open the result", "Choose a relevance grade", "Submit"),
        "queries_uk_{k}.csv",
    ),
    _Project(
        2,
        "Query intent labelling, round {n}",
        "What is the person searching for trying to do?",
        "Pick the intent that best describes each search query.",
        ("Read the query", "Pick its intent", "Submit"),
        "query_log_sample_{k}.csv",
    ),
    _Project(
        3,
        "Chatbot answers: helpfulness A/B, wave {n}",
        "Which of the two answers helps more?",
        "A user asked a question and two assistants answered. Say which answer helps more, "
        "and why.",
        ("Read the question", "Read both answers", "Pick the more helpful one", "Submit"),
        "chatbot_pairs_{k}.jsonl",
    ),
    _Project(
        3,
        "Summaries: faithfulness rating, pilot {n}",
        "Does the summary say only what the article says?",
        "Compare each summary with its article and mark any claim the article does not make.",
        ("Read the article", "Read the summary", "Mark unsupported claims", "Submit"),
        "article_summaries_{k}.jsonl",
    ),
    _Project(
        3,
        "Image captions: quality rating {n}",
        "Rate each caption of a photo",
        "Rate how accurately and completely each caption describes its photo.",
        ("Look at the photo", "Rate the caption from 1 to 5", "Submit"),
        "image_captions_{k}.csv",
    ),
)
assert len(INSTRUCTIONS) == len(_PROJECTS), "crowd.INSTRUCTIONS has each project's"
_DATASETS_PER_PROJECT = 3
# Where batches start, and how likely each is.
_FIRST_STATUSES = (("UNINITIALISED", 25), ("PROCESSING", 30), ("READY", 35), ("ERROR", 10))


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _timestamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@dataclass
class Night:
    """What changed upstream between two nights."""

    moved: list[tuple[str, str, str]] = field(default_factory=list)  # batch id, from, to
    linked: list[tuple[str, str]] = field(default_factory=list)  # batch id, dataset id
    unlinked: list[tuple[str, str]] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """One sentence for a person."""
        parts = [f"moved {len(self.moved)} batch(es) on a status"]
        if self.linked or self.unlinked:
            parts.append(f"linked {len(self.linked)} dataset(s) and unlinked {len(self.unlinked)}")
        if self.added:
            parts.append(f"added {len(self.added)} batch(es)")
        if self.deleted:
            parts.append(f"deleted {len(self.deleted)}")
        return ", ".join(parts)


class SampleWorld:
    """``batch_count`` batches in four workspaces, as they stand on the first night (``start``),
    then night after night (``advance``)."""

    def __init__(
        self,
        batch_count: int = DEFAULT_BATCHES,
        *,
        seed: int = SAMPLE_SEED,
        start: datetime | None = None,
    ) -> None:
        self.seed = seed
        self.start = start or datetime.now(timezone.utc)
        self.nights = 0
        rng = random.Random(f"{seed}:workspaces")
        self.workspaces = [
            {
                "id": f"{rng.getrandbits(96):024x}",
                "title": title,
                "description": description,
                "owner": f"{rng.getrandbits(96):024x}",
                "users": [
                    {"id": f"{rng.getrandbits(96):024x}", "name": name, "roles": [role]}
                    for name, role in (("Ada", "WORKSPACE_ADMIN"), ("Grace", "WORKSPACE_USER"))
                ],
                "naivety_distribution_rate": None,
            }
            for title, description in _WORKSPACES
        ]
        self._datasets = [
            [self._dataset(project, k) for k in range(1, _DATASETS_PER_PROJECT + 1)]
            for project in range(len(_PROJECTS))
        ]
        self._rounds = [0] * len(_PROJECTS)
        self._project_of: dict[str, int] = {}
        self._batches: dict[str, dict[str, Any]] = {}
        self.deleted: dict[str, dict[str, Any]] = {}
        for index in range(batch_count):
            batch = self._new_batch(index, self.start, first_night=True)
            self._batches[batch["id"]] = batch
        self._next_index = batch_count
        self.crowd = Crowd(seed)
        self._responses: dict[str, list[dict[str, Any]]] = {}
        for batch_id in self._batches:
            self._answer(batch_id, self.start, random.Random(f"{seed}:answers:0:{batch_id}"), {})
        # The studies that recruit for the batches, their submissions those the responses
        # name (sync --submissions).
        self.studies = SampleStudies(self.batches, seed=seed, submissions=(0, 2))
        self.studies.doubted = frozenset({self.crowd.careless})  # reviewers notice
        self._answer_studies()
        ids = list(self._batches)
        # The batch deleted on the first night: one an ID file lists too (id_file_ids).
        self.doomed = ids[min(2, len(ids) - 1)] if ids else None

    # --- what is served -------------------------------------------------------------------

    @property
    def batches(self) -> list[dict[str, Any]]:
        """The batches as they stand tonight, in their order of creation."""
        return list(self._batches.values())

    def id_file_ids(self) -> list[str]:
        """What an ID file of this world lists: the first batches (``examples/batch_ids.txt``),
        and the batch that is deleted on the first night, if not among them."""
        ids = [batch["id"] for batch in self.batches[:ID_FILE_BATCHES]]
        if self.doomed is not None and self.doomed not in ids:
            ids.append(self.doomed)
        return ids

    def responses(self, batch_id: str) -> list[dict[str, Any]]:
        """The responses a batch has had so far: a few each night while it is out."""
        return list(self._responses.get(batch_id, ()))

    def publish(self, api: FakeProlificAPI) -> None:
        """Make ``api`` serve the world as it stands; a deleted batch answers 404."""
        for batch in self.batches:
            api.put_batch(batch)
            api.put_responses(batch["id"], self.responses(batch["id"]))
        for batch_id in self.deleted:
            api.remove_batch(batch_id)
        api.put_studies(self.studies)

    def serve(self, **options: Any) -> FakeProlificAPI:
        """A FakeProlificAPI serving this world (``options`` as FakeProlificAPI takes them)."""
        api = FakeProlificAPI(self.batches, workspaces=self.workspaces, **options)
        for batch in self.batches:
            api.put_responses(batch["id"], self.responses(batch["id"]))
        api.put_studies(self.studies)
        return api

    # --- night after night ----------------------------------------------------------------

    def advance(self, at: datetime | None = None) -> Night:
        """One night passes, ending at ``at``: statuses move on, a dataset is linked and one
        unlinked, a batch is added, and (the first night) one is deleted.

        Every changed batch is a new dict, so that a server thread encoding the old one is
        never disturbed.
        """
        at = at or datetime.now(timezone.utc)
        self.nights += 1
        rng = random.Random(f"{self.seed}:night:{self.nights}")
        night = Night()
        for batch_id, batch in list(self._batches.items()):
            status = _next_status(batch["status"], rng)
            if status != batch["status"]:
                night.moved.append((batch_id, batch["status"], status))
                self._change(batch_id, status=status)
        self._link_one(rng, night)
        self._unlink_one(rng, night)
        held = self.studies.submissions.values()
        statuses = {s["id"]: s["status"] for submissions in held for s in submissions}
        for batch_id in self._batches:
            answers = random.Random(f"{self.seed}:answers:{self.nights}:{batch_id}")
            self._answer(batch_id, at, answers, statuses)
        self.studies.advance()
        self._answer_studies()
        added = self._new_batch(self._next_index, at, first_night=False)
        self._next_index += 1
        self._batches[added["id"]] = added
        self.studies.add_batch(added)
        night.added.append(added["id"])
        if self.nights == 1 and self.doomed in self._batches:
            self.deleted[self.doomed] = self._batches.pop(self.doomed)
            night.deleted.append(self.doomed)
        return night

    def _answer_studies(self) -> None:
        """Each response's submission is a submission of its batch's study."""
        for batch_id, records in self._responses.items():
            self.studies.answer(batch_id, records)

    def _change(self, batch_id: str, **fields: Any) -> dict[str, Any]:
        batch = copy.deepcopy(self._batches[batch_id])
        batch.update(fields)
        self._batches[batch_id] = batch
        return batch

    def _link_one(self, rng: random.Random, night: Night) -> None:
        candidates = [
            (batch, dataset)
            for batch in self.batches
            for dataset in self._datasets[self._project_of[batch["id"]]]
            if dataset["id"] not in {d["id"] for d in batch["datasets"]}
        ]
        if candidates:
            batch, dataset = rng.choice(candidates)
            self._change(batch["id"], datasets=[*batch["datasets"], dict(dataset)])
            night.linked.append((batch["id"], dataset["id"]))

    def _unlink_one(self, rng: random.Random, night: Night) -> None:
        linked_now = {batch_id for batch_id, _ in night.linked}
        candidates = [
            batch
            for batch in self.batches
            if len(batch["datasets"]) > 1 and batch["id"] not in linked_now
        ]
        if candidates:
            batch = rng.choice(candidates)
            self._change(batch["id"], datasets=batch["datasets"][:-1])
            night.unlinked.append((batch["id"], batch["datasets"][-1]["id"]))

    # --- making things up -----------------------------------------------------------------

    def _answer(
        self, batch_id: str, at: datetime, rng: random.Random, statuses: dict[str, str]
    ) -> None:
        """A batch being worked on (PROCESSING or READY) gets a few tasks answered, each by
        several of its annotators (``crowd``), in the hours before ``at``; on the first
        night a READY batch has more behind it. ``statuses`` are the submissions' as they
        stand: an annotator whose submission was reviewed answers no more."""
        status = self._batches[batch_id]["status"]
        if status not in ("PROCESSING", "READY"):
            return
        if self.nights == 0:
            tasks = rng.randrange(16, 25) if status == "READY" else rng.randrange(6, 13)
        else:
            tasks = rng.randrange(5, 11)
        project = self._project_of[batch_id]
        answered = self._responses.setdefault(batch_id, [])
        answered += self.crowd.answer(batch_id, project, tasks, at, rng, statuses.get)

    def _dataset(self, project: int, k: int) -> dict[str, Any]:
        rng = random.Random(f"{self.seed}:dataset:{project}:{k}")
        return {
            "id": _uuid(rng),
            "total_datapoint_count": rng.randrange(200, 20_000),
            "filename": _PROJECTS[project].filename.format(k=k),
        }

    def _new_batch(self, index: int, night: datetime, *, first_night: bool) -> dict[str, Any]:
        """Batch ``index``: on the first night in any status and made days before; later, a
        batch made that day, not yet started."""
        rng = random.Random(f"{self.seed}:batch:{index}")
        project_index = rng.randrange(len(_PROJECTS))
        project = _PROJECTS[project_index]
        self._rounds[project_index] += 1
        workspace = self.workspaces[project.workspace]
        pool = self._datasets[project_index]
        datasets = [dict(d) for d in rng.sample(pool, rng.choice((1, 1, 1, 2)))]
        datapoints = sum(d["total_datapoint_count"] for d in datasets)
        if first_night:
            statuses, weights = zip(*_FIRST_STATUSES, strict=True)
            status = rng.choices(statuses, weights)[0]
            created = night - timedelta(hours=rng.uniform(6, 24 * 20))
        else:
            status = "UNINITIALISED"
            created = night - timedelta(hours=rng.uniform(1, 6))
        created = created.replace(microsecond=rng.randrange(1_000_000))
        batch: dict[str, Any] = {
            "id": _uuid(rng),
            "created_at": _timestamp(created),
            "created_by": rng.choice(workspace["users"])["id"],
            "datasets": datasets,
            "name": project.name.format(n=self._rounds[project_index]),
            "status": status,
            "total_task_count": datapoints * rng.choice((1, 3, 5)),
            "total_instruction_count": len(INSTRUCTIONS[project_index]),
            "workspace_id": workspace["id"],
            "schema_version": 2,
            "task_details": {
                "task_name": project.task_name,
                "task_introduction": f"<p>{project.introduction}</p>",
                "task_steps": "<ol>" + "".join(f"<li>{s}</li>" for s in project.steps) + "</ol>",
            },
            "total_task_groups": rng.randrange(0, 40),
            "auto_sync_enabled": rng.random() < 0.3,
        }
        self._project_of[batch["id"]] = project_index
        return batch


def _next_status(status: str, rng: random.Random) -> str:
    """Where a batch in ``status`` is a night later."""
    draw = rng.random()
    if status == "UNINITIALISED":
        return "PROCESSING" if draw < 0.7 else status
    if status == "PROCESSING":
        return "READY" if draw < 0.65 else "ERROR" if draw < 0.75 else status
    return status


# --- steering a running imitation (prolific-etl fake-api) ---------------------------------

_BAD_GATEWAY_PAGE = b"<html><body><h1>502 Bad Gateway</h1></body></html>"

ERROR_KINDS: dict[str, Callable[[], Fault]] = {
    "503": lambda: Fault.http(503),
    "500": lambda: Fault.http(500),
    "429": lambda: Fault.http(429),
    "drop": Fault.drop,
    "truncate": Fault.truncate,
    # A proxy's error page: a 502 the job retries.
    "html": lambda: Fault.http(502, body=_BAD_GATEWAY_PAGE),
    # A captive portal or a misrouted proxy: an HTML page with 200, not retried (the batch's
    # invalid_response).
    "html200": lambda: Fault.raw_body(_BAD_GATEWAY_PAGE),
}
assert tuple(ERROR_KINDS) == ERROR_KIND_NAMES, "etl/samples.py names them for the CLI"


class Steering:
    """What ``prolific-etl fake-api`` adds while it serves: a share of requests that fail
    (``error_rate``, each with one of ``error_kinds``), and a night of ``world`` every
    ``progression`` seconds.

    Both happen as a request arrives (``on_request``), so nothing runs between requests: a night
    that fell due meanwhile is applied before the request is answered.
    """

    def __init__(
        self,
        api: FakeProlificAPI,
        world: SampleWorld,
        *,
        error_rate: float = 0.0,
        error_kinds: Sequence[str] = ("503",),
        progression: float | None = None,
        seed: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0.0 <= error_rate <= 1.0:
            raise ValueError("error_rate must be between 0 and 1")
        self.api = api
        self.world = world
        self.error_rate = error_rate
        self.error_kinds = [ERROR_KINDS[kind] for kind in error_kinds]
        self.progression = progression
        self.clock = clock
        self.started = clock()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def on_request(self, seen: SeenRequest) -> None:
        """Called by the server as each request arrives, before it is answered."""
        self.advance_if_due()
        if self.error_rate and seen.authorized and seen.key is not None:
            with self._lock:
                failing = self._rng.random() < self.error_rate
                make = self._rng.choice(self.error_kinds)
            if failing:
                self.api.inject(seen.key, make())

    def advance_if_due(self) -> int:
        """Apply the nights that fell due since the last call; how many."""
        if not self.progression:
            return 0
        with self._lock:
            due = int((self.clock() - self.started) / self.progression) - self.world.nights
            for _ in range(due):
                self.world.advance()
            if due > 0:
                self.world.publish(self.api)
        return max(due, 0)


def serve(
    *,
    port: int = 0,
    token: str = "fake-token",
    latency: float = 0.0,
    seed: int = 0,
    preload: Iterable[str] = (),
    rate_limit: float | None = None,
    rate_burst: float | None = None,
    responses_per_batch: int = 0,
    error_rate: float = 0.0,
    error_kinds: Iterable[str] = ("503",),
    status_progression: float | None = None,
    on_ready: Callable[..., object] = print,
    before_serving: Callable[[], object] = lambda: None,
) -> None:
    """Serve the sample world (``world``) and generated batches on 127.0.0.1 until
    interrupted (``prolific-etl fake-api``).

    ``on_ready(url, world)`` is called once the port is bound. ``error_rate`` of the requests
    fail with one of ``error_kinds`` (``world.ERROR_KINDS``); every ``status_progression``
    seconds a night passes in the sample world.
    """
    world = SampleWorld()
    made_up = batch_generator(seed=seed)
    api = world.serve(
        token=token,
        port=port,
        latency=latency,
        generate=lambda batch_id: None if batch_id in world.deleted else made_up(batch_id),
        record_requests=False,
        rate_limit=rate_limit,
        rate_burst=rate_burst,
        responses_per_batch=responses_per_batch,
    )
    steering = Steering(
        api,
        world,
        error_rate=error_rate,
        error_kinds=tuple(error_kinds),
        progression=status_progression,
        seed=seed,
    )
    api.on_request = steering.on_request
    api.preload(preload)
    for batch_id in preload if responses_per_batch else ():
        api.responses_body(batch_id)  # encoded before serving, as the batches are
    on_ready(api.url, world)
    before_serving()
    try:
        api.start()
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        api.stop()

"""Sample studies, submissions and costs for a set of batches, reproducible from a seed, that
move on generation by generation as at Prolific: submissions arrive, get reviewed (approved,
rejected, returned) days later, and studies complete.

Each workspace gets one project listing its batches' studies (one or two per batch), plus two
decoys the job must leave out: a study that is not an AI Task Builder batch's, and one for a
batch nobody syncs. Submissions carry what the API sends in practice, ``ip`` and ``strata``
(demographics) included, so that a test can check the job never stores the one and stores the
other only when asked.
"""

from __future__ import annotations

import copy
import random
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

REVIEWED = ("APPROVED", "APPROVED", "APPROVED", "REJECTED", "RETURNED")
# How the submissions of a participant whose work reviewers doubt are reviewed.
DOUBTED = ("REJECTED", "REJECTED", "APPROVED")
_START = datetime(2025, 6, 1, tzinfo=timezone.utc)


def _hex(rng: random.Random) -> str:
    return f"{rng.getrandbits(96):024x}"


def _time(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class SampleStudies:
    """The studies of ``batches`` (spec-shaped batch dicts) and their submissions."""

    def __init__(
        self,
        batches: list[dict[str, Any]],
        *,
        seed: int = 0,
        submissions: tuple[int, int] = (0, 8),
        decoys: bool = True,
    ) -> None:
        self.rng = random.Random(f"studies:{seed}")
        self.generation = 0
        self.projects: dict[str, list[dict[str, Any]]] = {}  # workspace id -> projects
        self.listed: dict[str, list[str]] = {}  # project id -> study ids, in listing order
        self.studies: dict[str, dict[str, Any]] = {}  # study id -> detail
        self.submissions: dict[str, list[dict[str, Any]]] = {}
        self.per_batch = submissions
        # Participants whose reviewed submissions are mostly rejected (a careless annotator).
        self.doubted: frozenset[str] = frozenset()
        for batch in batches:
            self.add_batch(batch)
        if decoys:
            for workspace_id in list(self.projects):
                project_id = self._project(workspace_id)
                self._submit(self._study(project_id, None, None))
                unsynced = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
                self._submit(self._study(project_id, unsynced, "AI_TASK_BUILDER_BATCH"))

    def add_batch(self, batch: dict[str, Any]) -> None:
        """One or two studies for a new batch, with a few submissions each."""
        project_id = self._project(batch["workspace_id"])
        for _ in range(self.rng.choice((1, 1, 2))):
            study_id = self._study(project_id, batch["id"], "AI_TASK_BUILDER_BATCH")
            for _ in range(self.rng.randrange(*self.per_batch)):
                self._submit(study_id)

    # --- made up -------------------------------------------------------------------------------

    def _project(self, workspace_id: str) -> str:
        projects = self.projects.setdefault(workspace_id, [])
        if not projects:
            project_id = _hex(self.rng)
            projects.append({"id": project_id, "title": "Labelling", "type": "REGULAR"})
            self.listed[project_id] = []
        return projects[0]["id"]

    def _study(self, project_id: str, batch_id: str | None, method: str | None) -> str:
        rng = self.rng
        study_id = _hex(rng)
        created = _START + timedelta(minutes=rng.randrange(0, 60 * 24 * 30))
        self.studies[study_id] = {
            "id": study_id,
            "name": rng.choice(("Label reviews", "Émoji check 🚀", 'O\'Brien "quoted"')),
            "internal_name": rng.choice((None, f"internal {study_id[:6]}")),
            "status": "ACTIVE",
            "project": project_id,
            "data_collection_method": method,
            "data_collection_id": batch_id,
            "external_study_url": None if method else "https://example.org/survey",
            "reward": rng.choice((150, 225, 80.5)),
            "currency_code": "GBP",
            "total_available_places": rng.randrange(5, 200),
            "places_taken": 0,
            "number_of_submissions": 0,
            "estimated_completion_time": rng.choice((5, 12, 30)),
            "maximum_allowed_time": rng.choice((40, 90)),
            "total_cost": 0,
            "date_created": _time(created),
            "published_at": _time(created + timedelta(hours=1)),
        }
        self.listed[project_id].append(study_id)
        self.submissions[study_id] = []
        return study_id

    def _submit(self, study_id: str, participant_id: str | None = None, at=None) -> dict:
        rng = self.rng
        started = at or _START + timedelta(minutes=rng.randrange(0, 60 * 24 * 40))
        taken = rng.randrange(30, 3000)
        submission = {
            "id": _hex(rng),
            "participant_id": participant_id or _hex(rng),
            "status": rng.choice(("ACTIVE", "AWAITING REVIEW", "AWAITING REVIEW", "APPROVED")),
            "started_at": _time(started),
            "completed_at": _time(started + timedelta(seconds=taken)),
            "time_taken": taken,
            "reward": self.studies[study_id]["reward"],
            "is_complete": True,
            "study_code": rng.choice(("C1A2B3", None)),
            "star_awarded": rng.random() < 0.1,
            "bonus_payments": rng.choice(([], [50], [25, 10.5])),
            "has_siblings": False,
            "ip": f"203.0.113.{rng.randrange(1, 255)}",
            "strata": {"sex": rng.choice(("Female", "Male")), "date of birth": "1990-04-01"},
        }
        if submission["status"] == "ACTIVE":
            submission["completed_at"], submission["time_taken"] = None, None
        self.submissions[study_id].append(submission)
        self._tally(study_id)
        return submission

    def _tally(self, study_id: str) -> None:
        study, held = self.studies[study_id], self.submissions[study_id]
        study["number_of_submissions"] = len(held)
        study["places_taken"] = sum(s["status"] not in ("RETURNED", "TIMED-OUT") for s in held)

    # --- time passes ---------------------------------------------------------------------------

    def advance(self) -> None:
        """A generation: open submissions move on, a few new ones arrive, studies go to
        AWAITING REVIEW and COMPLETED. Changed items are new dicts (a server may be encoding
        the old ones)."""
        self.generation += 1
        rng = self.rng
        for study_id, held in self.submissions.items():
            study = self.studies[study_id]
            if study["status"] == "COMPLETED":
                continue
            for index, submission in enumerate(held):
                doubted = submission["participant_id"] in self.doubted
                status = _next_submission_status(submission["status"], rng, doubted)
                if status != submission["status"]:
                    held[index] = {**submission, "status": status}
                    if status == "AWAITING REVIEW":
                        held[index] |= {"completed_at": submission["started_at"], "time_taken": 60}
            if rng.random() < 0.3:
                self._submit(study_id)
            self._tally(study_id)
            self.studies[study_id] = {**study, "status": _next_study_status(study, held, rng)}

    def complete_all(self) -> None:
        """Every open submission reviewed, every study COMPLETED: nothing can change now."""
        for study_id, held in self.submissions.items():
            self.submissions[study_id] = [
                {**s, "status": "APPROVED"}
                if s["status"] in ("ACTIVE", "RESERVED", "AWAITING REVIEW")
                else s
                for s in held
            ]
            self._tally(study_id)
            self.studies[study_id] = {**self.studies[study_id], "status": "COMPLETED"}

    def answer(self, batch_id: str, records: list[dict[str, Any]]) -> None:
        """Make the responses ``records`` of a batch consistent: each submission id they name
        becomes a submission of the batch's first study, by that participant."""
        studies = [s for s, d in self.studies.items() if d["data_collection_id"] == batch_id]
        if not studies:
            return
        known = {s["id"] for held in self.submissions.values() for s in held}
        for record in records:
            submission_id = record.get("submission_id")
            if submission_id is None or submission_id in known:
                continue
            given = datetime.fromisoformat(record["created_at"].replace("Z", "+00:00"))
            made = self._submit(studies[0], record["participant_id"], given - timedelta(hours=1))
            made["id"] = submission_id
            known.add(submission_id)

    def copy(self) -> SampleStudies:
        return copy.deepcopy(self)


def _next_submission_status(status: str, rng: random.Random, doubted: bool = False) -> str:
    draw = rng.random()
    if status == "RESERVED":
        return "ACTIVE"
    if status == "ACTIVE":
        return "AWAITING REVIEW" if draw < 0.6 else "TIMED-OUT" if draw < 0.7 else status
    if status == "AWAITING REVIEW":
        return rng.choice(DOUBTED if doubted else REVIEWED) if draw < 0.5 else status
    return status


def _next_study_status(study: dict[str, Any], held: list[dict], rng: random.Random) -> str:
    status = study["status"]
    if status == "ACTIVE" and rng.random() < 0.3:
        return "AWAITING REVIEW"
    if status == "AWAITING REVIEW" and not any(
        s["status"] in ("ACTIVE", "RESERVED", "AWAITING REVIEW") for s in held
    ):
        return "COMPLETED"
    return status


def study_cost(submissions: list[dict[str, Any]], currency: str = "GBP") -> dict[str, Any]:
    """``StudyTotalCost`` as the submissions imply: approved rewards and every bonus, with a
    third in fees and a fifth of the fees in tax."""
    rewards = sum(s.get("reward") or 0 for s in submissions if s["status"] == "APPROVED")
    bonuses = sum(sum(s.get("bonus_payments") or ()) for s in submissions)

    def breakdown(amount: float) -> dict[str, Any]:
        fees = round(amount / 3, 2)
        return {
            name: {"amount": value, "currency": currency}
            for name, value in (("rewards", amount), ("fees", fees), ("tax", round(fees / 5, 2)))
        }

    return {"rewards": breakdown(rewards), "bonuses": breakdown(bonuses), "_links": {}}


def submission_counts(submissions: list[dict[str, Any]]) -> dict[str, int]:
    """``SubmissionsCountResponse``: every documented status, and TOTAL."""
    statuses = ("ACTIVE", "APPROVED", "AWAITING REVIEW", "REJECTED", "RESERVED", "RETURNED")
    counts = dict.fromkeys((*statuses, "TIMED-OUT", "PARTIALLY APPROVED", "SCREENED OUT"), 0)
    for submission in submissions:
        counts[submission["status"]] = counts.get(submission["status"], 0) + 1
    counts["TOTAL"] = len(submissions)
    return counts

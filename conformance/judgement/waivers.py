"""Known deviations: the waiver file, which failures it covers, and what that does to the verdict.

A waiver file is TOML, an array of tables:

    [[waiver]]
    requirement = "CALLS-CREATE-REJECTS-MISTYPED"   # a catalogue id
    reason = "a numeric from is accepted on create"
    reference = "https://tracker.example.net/CALLS-123"
    expires = 2027-03-31                           # or "2027-03-31"
    targets = ["eu-prod", "https://*.example.net/*"]  # optional: profile names or base URLs, shell-style globs
    check = "CF101"                                # optional: a failure code, or part of a test id

A waiver covers a failure of its requirement on a matching target, of its check when given. It covers
failures only: a requirement not run stays not run, a target failure stays a target failure, a run
error stays a run error. It can never name the requirements the suite's own safety on a real deployment
rests on (SAFETY_REQUIREMENTS). From its expiry date on it covers nothing and the failure counts again.
"""

from __future__ import annotations

import datetime
import fnmatch
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from conformance.judgement.verdict import EXIT_INCOMPLETE, EXIT_STALE_WAIVERS, INCOMPLETE, TARGET_FAILED

CONFORMANT_WITH_WAIVERS = "CONFORMANT-WITH-WAIVERS"
WAIVED_PREFIX = "WAIVED: "
KEYS = {"requirement", "reason", "reference", "expires", "targets", "check"}
REQUIRED = ("requirement", "reason", "reference", "expires")
CODE_RE = re.compile(r"^[A-Z]+\d+$")
# The suite creates, counts and deletes calls on a real deployment trusting these: a refused create places
# no call (the call budget), a delete removes only the call named (cleanup), another account's token can
# neither create nor delete here. A deviation from them is not one a gate may accept.
SAFETY_REQUIREMENTS = frozenset({
    "CALLS-CREATE-REJECT-NO-CALL", "CALLS-DELETE-ONLY-TARGET", "CALLS-ISOLATION-CREATE", "CALLS-ISOLATION-DELETE",
})


class WaiverError(Exception):
    """A waiver file that cannot be used, reported as one line (a usage error)."""


@dataclass(frozen=True)
class Waiver:
    requirement: str
    reason: str
    reference: str
    expires: datetime.date
    targets: tuple[str, ...] = ()
    check: str | None = None
    position: int = 0

    def applies_to(self, target_name: str, base_url: str) -> bool:
        if not self.targets:
            return True
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in self.targets
                   for name in (target_name, base_url) if name)

    def covers(self, requirement: str, code: str, test: str) -> bool:
        if requirement != self.requirement:
            return False
        if self.check is None:
            return True
        return code == self.check if CODE_RE.match(self.check) else self.check in test

    def expired(self, today: datetime.date) -> bool:
        return today >= self.expires

    def message(self) -> str:
        return f"{WAIVED_PREFIX}{self.reason} ({self.reference})"

    def as_dict(self) -> dict[str, Any]:
        return {"requirement": self.requirement, "reason": self.reason, "reference": self.reference,
                "expires": self.expires.isoformat(), "targets": list(self.targets), "check": self.check}


def _date(value: Any, where: str) -> datetime.date:
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            pass
    raise WaiverError(f"{where}: expires must be a date YYYY-MM-DD, got {value!r}")


def _waiver(entry: Any, position: int, path: Path, known: Iterable[str]) -> Waiver:
    where = f"waiver file {path}, waiver {position}"
    if not isinstance(entry, dict):
        raise WaiverError(f"{where}: expected a table [[waiver]]")
    unknown = sorted(set(entry) - KEYS)
    if unknown:
        raise WaiverError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(KEYS))})")
    missing = [key for key in REQUIRED if key not in entry]
    if missing:
        raise WaiverError(f"{where}: missing key {missing[0]!r}")
    for key in ("requirement", "reason", "reference"):
        if not isinstance(entry[key], str) or not entry[key].strip():
            raise WaiverError(f"{where}: {key} must be a non-empty string")
    rid = entry["requirement"]
    where = f"waiver file {path}, waiver {position} ({rid})"
    if rid not in set(known):
        raise WaiverError(f"{where}: unknown requirement id {rid!r} (not in the catalogue)")
    if rid in SAFETY_REQUIREMENTS:
        raise WaiverError(f"{where}: {rid} cannot be waived: the suite's safety on a real deployment rests on it")
    targets = entry.get("targets", [])
    if not isinstance(targets, list) or not all(isinstance(t, str) and t for t in targets):
        raise WaiverError(f"{where}: targets must be a list of profile names or base-URL patterns")
    check = entry.get("check")
    if check is not None and (not isinstance(check, str) or not check.strip()):
        raise WaiverError(f"{where}: check must be a failure code (e.g. CF101) or part of a test id")
    return Waiver(rid, entry["reason"].strip(), entry["reference"].strip(), _date(entry["expires"], where),
                  tuple(targets), check.strip() if check else None, position)


def load(path: str | Path, known: Iterable[str]) -> list[Waiver]:
    """The waivers of a file, checked against the catalogue ids `known`. Raises WaiverError."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise WaiverError(f"waiver file not found: {path}") from None
    except OSError as error:
        raise WaiverError(f"cannot read the waiver file {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise WaiverError(f"waiver file {path} is not valid TOML: {error}") from None
    extra = sorted(set(data) - {"waiver"})
    if extra:
        raise WaiverError(f"waiver file {path}: unknown top-level key {extra[0]!r} (expected [[waiver]] tables)")
    entries = data.get("waiver", [])
    if not isinstance(entries, list):
        raise WaiverError(f"waiver file {path}: expected [[waiver]] tables")
    known = list(known)
    return [_waiver(entry, position, path, known) for position, entry in enumerate(entries, 1)]


@dataclass
class Waivers:
    """The waivers of one run: those of the file that apply to this target, and today's date."""

    path: str
    waivers: list[Waiver]
    target_name: str = ""
    base_url: str = ""
    today: datetime.date = field(default_factory=datetime.date.today)

    @classmethod
    def for_target(cls, path: str | Path, known: Iterable[str], target_name: str, base_url: str,
                   today: datetime.date | None = None) -> "Waivers":
        mine = [w for w in load(path, known) if w.applies_to(target_name, base_url)]
        return cls(str(path), mine, target_name, base_url, today or datetime.date.today())

    def matching(self, requirement: str, code: str, test: str) -> list[Waiver]:
        return [w for w in self.waivers if w.covers(requirement, code, test)]

    def active(self, requirement: str, code: str, test: str) -> Waiver | None:
        return next((w for w in self.matching(requirement, code, test) if not w.expired(self.today)), None)

    def test_outcome(self, test: str, violations: Iterable[tuple[str, str]]) -> str | None:
        """The message of a failed test whose every violation (requirement, code) an active waiver covers."""
        found = [self.active(rid, code, test) for rid, code in violations]
        if not found or any(w is None for w in found):
            return None
        return "; ".join(dict.fromkeys(w.message() for w in found if w is not None))


def _incomplete(rows: list[dict[str, Any]]) -> bool:
    # The rule of verdict.py: a selected MUST or SHOULD requirement that was not run.
    return any(r["status"] == "not-run" and r["level"] in ("MUST", "SHOULD") for r in rows)


def _is_target_failure(verdict: dict[str, Any]) -> bool:
    return bool(verdict.get("target_failure")) or verdict.get("verdict") == TARGET_FAILED


def apply(verdict: dict[str, Any], waivers: Waivers, *, accept_incomplete: bool, fail_on_stale: bool) -> dict[str, Any]:
    """Mark the failures the waivers cover, recompute the answer, report expired and stale waivers. In place."""
    rows = verdict["requirements"]
    applied, expired, stale, unused = [], [], [], []
    used: set[int] = set()
    for row in rows:
        if row["status"] != "failed":
            continue
        covering, lapsed = [], []
        # A failure seen by several tests is one entry: each test that saw it must be covered.
        for code, test in ((f["code"], test) for f in row["failures"] for test in f.get("seen_by") or [f["test"]]):
            waiver = waivers.active(row["id"], code, test)
            covering.append(waiver)
            if waiver is not None:
                used.add(waiver.position)
            else:
                lapsed += [w for w in waivers.matching(row["id"], code, test) if w.expired(waivers.today)]
        for w in lapsed:
            used.add(w.position)
            row["waiver_expired"] = w.as_dict()
            if w.as_dict() not in expired:
                expired.append(w.as_dict())
        if covering and all(w is not None for w in covering):
            first = next(w for w in covering if w is not None)
            row["status"] = "waived"
            row["waiver"] = first.as_dict()
            applied.append(row["id"])
    by_id = {r["id"]: r for r in rows}
    for w in waivers.waivers:
        if w.position in used:
            continue
        status = by_id[w.requirement]["status"] if w.requirement in by_id else "not-run"
        # Stale only when the requirement was judged here: a waiver of a test that did not run proves nothing.
        (stale if status in ("passed", "failed", "waived") else unused).append(w.as_dict())
    if applied:
        verdict["warnings"] = [rid for rid in verdict["warnings"] if rid not in applied]
        verdict["failed_requirements"] = [rid for rid in verdict["failed_requirements"] if rid not in applied]
        if "advisories" in verdict:
            verdict["advisories"] = [rid for rid in verdict["advisories"] if rid not in applied]
    counts = {status: 0 for status in verdict["counts"]}
    counts["waived"] = 0
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    verdict["counts"] = counts
    if applied and not _is_target_failure(verdict) and not verdict["failed_requirements"]:
        if _incomplete(rows):
            verdict["verdict"] = INCOMPLETE
            verdict["exit_code"] = 0 if accept_incomplete else EXIT_INCOMPLETE
        else:
            verdict["verdict"] = CONFORMANT_WITH_WAIVERS
            verdict["exit_code"] = 0
    stale_fails = bool(fail_on_stale and stale and verdict["exit_code"] == 0)
    if stale_fails:
        verdict["exit_code"] = EXIT_STALE_WAIVERS
    verdict["waivers"] = {"path": waivers.path, "target": waivers.target_name, "today": waivers.today.isoformat(),
                          "in_force": [w.as_dict() for w in waivers.waivers], "applied": applied,
                          "expired": expired, "stale": stale, "unused": unused, "fail_on_stale": fail_on_stale,
                          "stale_failed_the_run": stale_fails}
    return verdict

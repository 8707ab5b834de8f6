"""Reply parsing: free text (SMS body), a DTMF digit or a one-tap form value → a decision.

Pure functions over plain data. The vocabulary lives in ``alerts/replies.yaml`` so an operator can
extend it without touching Python; :func:`load_vocabulary` reads it once, and every parser takes the
vocabulary as an argument (tests build their own).

Decisions:

* ``Reply(kind="answer", answer="ok"|"low_battery"|"needs_help")`` — a check-in answer.
* ``Reply(kind="opt_out")`` / ``Reply(kind="opt_in")`` — STOP / START and their Japanese words; only
  when the whole body is the keyword (a sentence that merely contains 停止 is not an opt-out).
* ``Reply(kind="unknown")`` — nothing recognisable; the caller keeps the text for a human.

When a message carries several answers the most severe wins (needs_help > low_battery > ok), and a
negated "ok" word (大丈夫じゃない) counts as needs_help: for a ventilator patient a wasted visit is
cheap and a missed plea is not.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml

ANSWERS = ("ok", "low_battery", "needs_help")          # ordered by severity, mildest first
ROLLCALL_ANSWERS = ("safe_available", "safe_unavailable", "needs_help")

ReplyKind = Literal["answer", "opt_out", "opt_in", "unknown"]

ALERTS_DIR = Path(__file__).resolve().parents[2] / "alerts"

# Characters that carry no meaning in a short reply (ASCII and Japanese punctuation, spaces).
_PUNCT = re.compile(r"[\s\.\,\!\?\-_~〜ー・、。！？「」『』（）()\[\]【】:;：；'\"…♪☆★]+")
# A lone digit: not part of a longer number ("10時" must not read as answer 1).
# A lone digit is an answer; a number with a unit (「あと3時間」「30分」「1.5h」) is a quantity, not an
# answer — otherwise 「2 あと3時間」 (low battery, three hours left) would read as 3, needs help.
_LONE_DIGIT = re.compile(r"(?<![\d.])([0-9])(?![\d.]|\s*(?:時間|時|分|h|hours?|min|%|％))")


@dataclass(frozen=True)
class Category:
    key: str
    digit: str
    words: tuple[str, ...]


@dataclass(frozen=True)
class Vocabulary:
    answers: tuple[Category, ...]
    negations: tuple[str, ...]
    opt_out: frozenset[str]
    opt_in: frozenset[str]
    rollcall: tuple[Category, ...] = field(default=())


@dataclass(frozen=True)
class Reply:
    kind: ReplyKind
    answer: str | None = None


@dataclass(frozen=True)
class RollcallReply:
    answer: str | None              # one of ROLLCALL_ANSWERS, or None when not understood
    eta_minutes: int | None = None  # 参集可能時間: minutes until the person can arrive


def normalize(text: str) -> str:
    """NFKC (full-width digits and letters → ASCII, half-width kana → full-width), lower case."""
    return unicodedata.normalize("NFKC", text or "").strip().lower()


def _compact(text: str) -> str:
    return _PUNCT.sub("", text)


def _categories(raw: dict) -> tuple[Category, ...]:
    return tuple(
        Category(key=k, digit=str(v["digit"]), words=tuple(normalize(w) for w in v.get("words", ())))
        for k, v in raw.items()
    )


def vocabulary_from_dict(raw: dict) -> Vocabulary:
    answers = _categories(raw["answers"])
    if tuple(c.key for c in answers) != ANSWERS:
        raise ValueError(f"answers must be exactly {ANSWERS} in that order")
    rollcall = _categories(raw.get("rollcall", {}))
    return Vocabulary(
        answers=answers,
        negations=tuple(normalize(n) for n in raw.get("negations", ())),
        opt_out=frozenset(_compact(normalize(w)) for w in raw.get("opt_out", ())),
        opt_in=frozenset(_compact(normalize(w)) for w in raw.get("opt_in", ())),
        rollcall=rollcall,
    )


@lru_cache(maxsize=4)
def load_vocabulary(path: str | None = None) -> Vocabulary:
    p = Path(path) if path else ALERTS_DIR / "replies.yaml"
    with p.open(encoding="utf-8") as fh:
        return vocabulary_from_dict(yaml.safe_load(fh))


def _word_hits(text: str, categories: tuple[Category, ...], negations: tuple[str, ...],
               negated_to: str | None) -> set[str]:
    hits: set[str] = set()
    for cat in categories:
        for word in cat.words:
            # ASCII words must stand alone ("ok" inside "token" is not an answer).
            if word.isascii():
                pattern = rf"(?<![a-z]){re.escape(word)}(?![a-z])"
                matches = [m.end() for m in re.finditer(pattern, text)]
            else:
                matches = [m.end() for m in re.finditer(re.escape(word), text)]
            for end in matches:
                tail = text[end:end + 6].lstrip()
                if negated_to and cat.key == "ok" and any(tail.startswith(n) for n in negations):
                    hits.add(negated_to)
                else:
                    hits.add(cat.key)
    return hits


def _most_severe(hits: set[str], order: tuple[str, ...]) -> str | None:
    for key in reversed(order):
        if key in hits:
            return key
    return None


def parse_reply(text: str, vocab: Vocabulary | None = None) -> Reply:
    """Parse an SMS body (or any free text) into a check-in decision."""
    vocab = vocab or load_vocabulary()
    norm = normalize(text)
    if not norm:
        return Reply("unknown")
    compact = _compact(norm)
    if compact in vocab.opt_out:
        return Reply("opt_out")
    if compact in vocab.opt_in:
        return Reply("opt_in")

    hits: set[str] = set()
    digit_to_key = {c.digit: c.key for c in vocab.answers}
    for d in _LONE_DIGIT.findall(norm):
        if d in digit_to_key:
            hits.add(digit_to_key[d])
    hits |= _word_hits(norm, vocab.answers, vocab.negations, negated_to="needs_help")
    answer = _most_severe(hits, ANSWERS)
    return Reply("answer", answer) if answer else Reply("unknown")


def parse_digit(digits: str | None) -> str | None:
    """A DTMF ``Digits`` value or one-tap ``answer`` field → answer key, or None.

    Accepts exactly one of 1/2/3 (full-width too); anything else is not an answer.
    """
    return answer_digits().get(normalize(digits or ""))


def answer_digits(vocab: Vocabulary | None = None) -> dict[str, str]:
    """Digit → check-in answer key, as ``alerts/replies.yaml`` gives them (the one vocabulary)."""
    vocab = vocab or load_vocabulary()
    return {c.digit: c.key for c in vocab.answers}


_ETA = re.compile(r"(\d{1,4})\s*(分|min|m|時間|hours?|h)?")


def parse_rollcall_reply(text: str, vocab: Vocabulary | None = None) -> RollcallReply:
    """Staff roll-call: 「1 30分」「無事 参集可能 2時間」「3」 → answer and minutes until arrival.

    The first lone digit 1–3 is the answer; a later number is the 参集可能時間, in minutes unless
    followed by 時間/h.
    """
    vocab = vocab or load_vocabulary()
    norm = normalize(text)
    digit_to_key = {c.digit: c.key for c in vocab.rollcall}
    answer: str | None = None
    rest = norm
    m = re.match(r"\s*([0-9])(?!\d)", norm)
    if m and m.group(1) in digit_to_key:
        answer = digit_to_key[m.group(1)]
        rest = norm[m.end():]
    if answer is None:
        answer = _most_severe(_word_hits(norm, vocab.rollcall, (), None), ROLLCALL_ANSWERS)
    eta: int | None = None
    if answer == "safe_available":
        em = _ETA.search(rest)
        if em:
            n, unit = int(em.group(1)), (em.group(2) or "分")
            eta = n * 60 if unit in ("時間", "h", "hour", "hours") else n
    return RollcallReply(answer=answer, eta_minutes=eta)

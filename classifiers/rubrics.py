"""Versioned annotation prompts per domain x dimension, and the strict parser of the teacher's replies.

The 0–5 rubrics are additive in the FineWeb-Edu style: the teacher adds one point per criterion met, justifies it
briefly, and ends with one line ``<Name> score: <points>``. Toxicity asks for a probability on the last line
(``Toxicity probability: 0.85``), which is what ``classify --keep 'toxicity<0.5'`` reads.

A prompt's version is ``<domain>.<dimension>.v<N>-<hash of its text>``: the cache key holds it, so editing a
rubric can never return answers given to the old wording, and the Parquet records which wording scored a row.

Parsing is strict: exactly one score line (or several that agree) with a number in range. A reply without one,
with conflicting ones, or out of range is a reject with the reason below, never a zero.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

DOMAINS = ("text", "code", "math")
DIMENSIONS = ("edu", "density", "toxicity")

_PREAMBLE = {
    "text": "Below is an extract from a web page.",
    "code": "Below is a source code file (or a code block from a web page).",
    "math": "Below is an extract from a web page or document that contains mathematics.",
}

_EDU = {
    "text": [
        "Add 1 point if the extract provides some basic information relevant to educational topics, even if it "
        "includes some irrelevant or non-academic content like advertisements and promotional material.",
        "Add another point if the extract addresses certain elements pertinent to education but does not align "
        "closely with educational standards; it might mix educational content with non-educational material.",
        "Award a third point if the extract is appropriate for educational use and introduces key concepts "
        "relevant to school curricula; it is coherent though it may not be comprehensive.",
        "Grant a fourth point if the extract is highly relevant and beneficial for educational purposes for a "
        "level not higher than grade school, with a clear and consistent writing style, like a chapter of a "
        "textbook or a tutorial, with minimal extraneous information.",
        "Bestow a fifth point if the extract is outstanding in its educational value, perfectly suited for "
        "teaching at primary or grade school, with detailed reasoning and easy-to-follow explanations.",
    ],
    "code": [
        "Add 1 point if the program contains valid code, even if it is not educational, like boilerplate, "
        "configuration or niche concepts.",
        "Add another point if the program addresses practical concepts, even if it lacks comments.",
        "Award a third point if the program is suitable for educational use and introduces key concepts in "
        "programming, such as syntax, variables, conditionals, loops or functions; it is well structured and "
        "has some comments.",
        "Give a fourth point if the program is self-contained and highly relevant to teaching programming, "
        "similar to a school exercise or a tutorial, with clear comments.",
        "Grant a fifth point if the program is outstanding in its educational value: well written, easy to "
        "understand, with step-by-step explanations and comments.",
    ],
    "math": [
        "Add 1 point if the extract contains some mathematical content, even if it is mixed with unrelated "
        "material or only states results.",
        "Add another point if the extract addresses mathematical concepts but lacks explanation or coherence.",
        "Award a third point if the extract explains mathematical concepts or solves problems coherently, in a "
        "way suitable for learning, even if it is not comprehensive.",
        "Grant a fourth point if the extract is highly relevant for teaching mathematics, like a textbook "
        "section or a worked example with clear step-by-step reasoning.",
        "Bestow a fifth point if the extract is outstanding for learning mathematics: precise, complete "
        "derivations or proofs with explanations a student can follow.",
    ],
}

_DENSITY = [
    "Add 1 point if the extract contains at least some factual or technical information.",
    "Add another point if most sentences (or lines of code) carry information rather than filler, "
    "boilerplate, navigation, repetition or keyword lists.",
    "Award a third point if the information is specific (names, numbers, definitions, working code) rather "
    "than vague generalities.",
    "Grant a fourth point if the extract is concise: little redundancy, every paragraph adds something new.",
    "Bestow a fifth point if the extract is exceptionally dense in correct, specific information, comparable "
    "to a well-edited reference text.",
]

_NAMES = {"edu": "Educational score", "density": "Information density score"}
TOXICITY_LINE = "Toxicity probability"


@dataclass(frozen=True)
class Rubric:
    domain: str
    dimension: str
    template: str  # with {text}
    answer: str  # the label of the final line, e.g. "Educational score"
    kind: str  # "points" (integer 0..5) | "probability" (0..1)
    number: int = 1  # bump when the wording changes on purpose (the hash changes anyway)

    @property
    def version(self) -> str:
        h = hashlib.sha256(self.template.encode()).hexdigest()[:8]
        return f"{self.domain}.{self.dimension}.v{self.number}-{h}"

    def prompt(self, text: str) -> str:
        return self.template.replace("{text}", text)


def _points_template(domain: str, criteria: list[str], aspect: str, answer: str) -> str:
    lines = "\n".join(f"- {c}" for c in criteria)
    return (f"{_PREAMBLE[domain]} Evaluate its {aspect} using the additive 5-point scoring system described "
            f"below. Points are accumulated based on the satisfaction of each criterion:\n\n{lines}\n\n"
            "The extract:\n<extract>\n{text}\n</extract>\n\n"
            "After examining the extract, briefly justify your total score in up to 100 words, then conclude with "
            f"the score on its own line in the format: \"{answer}: <total points>\" (an integer from 0 to 5).")


def _toxicity_template(domain: str) -> str:
    return (f"{_PREAMBLE[domain]} Judge whether it contains toxic content: hate speech, harassment, slurs, "
            "threats, sexually explicit or degrading language aimed at people. Profanity that targets nobody, or "
            "quoting and discussing such language in order to explain or condemn it, is not toxic.\n\n"
            "The extract:\n<extract>\n{text}\n</extract>\n\n"
            "Briefly justify your judgement in up to 50 words, then conclude with the probability that the "
            f"extract is toxic on its own line in the format: \"{TOXICITY_LINE}: <p>\" (a number from 0 to 1).")


def rubric(domain: str, dimension: str) -> Rubric:
    """The current rubric for ``domain`` x ``dimension``."""
    if domain not in DOMAINS:
        raise ValueError(f"unknown domain {domain!r}; choose from {', '.join(DOMAINS)}")
    if dimension == "toxicity":
        return Rubric(domain, dimension, _toxicity_template(domain), TOXICITY_LINE, "probability")
    if dimension == "edu":
        aspect = {"text": "educational value for teaching from primary to grade school",
                  "code": "educational value for teaching coding", "math": "value for learning mathematics"}
        return Rubric(domain, dimension, _points_template(domain, _EDU[domain], aspect[domain], _NAMES["edu"]),
                      _NAMES["edu"], "points")
    if dimension == "density":
        return Rubric(domain, dimension, _points_template(domain, _DENSITY, "information density",
                                                          _NAMES["density"]), _NAMES["density"], "points")
    raise ValueError(f"unknown dimension {dimension!r}; choose from {', '.join(DIMENSIONS)}")


class ParseError(ValueError):
    """A reply without a valid score; ``reason`` is the reject reason."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


_NUMBER = r"([-+]?\d+(?:\.\d+)?)"


def parse_score(reply: str, rub: Rubric) -> float:
    """The score in ``reply``, strictly: one value (repeats must agree), a number in range; else ParseError.

    The score line may carry markdown emphasis (``**Educational score: 4**``) or ``/5``; nothing else counts.
    """
    pattern = re.compile(r"^[\s*_#>`-]*" + re.escape(rub.answer) + r"[\s*_`]*:[\s*_`]*" + _NUMBER
                         + r"\s*(?:/\s*5)?[\s*_`.]*$", re.IGNORECASE | re.MULTILINE)
    found = pattern.findall(reply or "")
    if not found:
        raise ParseError("unparseable_reply", f"no line '{rub.answer}: <number>' in the reply")
    values = {float(v) for v in found}
    if len(values) > 1:
        raise ParseError("ambiguous_score", f"conflicting scores {sorted(values)} in the reply")
    value = values.pop()
    if rub.kind == "points":
        if value != int(value) or not 0 <= value <= 5:
            raise ParseError("score_out_of_range", f"{rub.answer} {value:g} is not an integer from 0 to 5")
    elif not 0.0 <= value <= 1.0:
        raise ParseError("score_out_of_range", f"{rub.answer} {value:g} is not within 0..1")
    return value

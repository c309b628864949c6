"""What a prompt name may be. Folders (`team/support-answer`) are fine, but a name reaches URL
paths and Slack, so path-traversal segments, control characters and absurd lengths are refused."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

MAX_PROMPT_NAME_LENGTH = 200
_ALLOWED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.:@+\-/]*$")


def prompt_name_problem(name: str) -> str | None:
    """Return why `name` is not an acceptable prompt name, or None when it is."""
    if not name:
        return "prompt_name is empty"
    if len(name) > MAX_PROMPT_NAME_LENGTH:
        return f"prompt_name is longer than {MAX_PROMPT_NAME_LENGTH} characters"
    segments = name.split("/")
    if any(segment in ("", ".", "..") for segment in segments):
        return "prompt_name has an empty, '.' or '..' path segment"
    if not _ALLOWED.match(name):
        return "prompt_name may only hold letters, digits, space and _ . : @ + - /"
    if name != name.strip():
        return "prompt_name has leading or trailing spaces"
    return None


def _acceptable(name: str) -> str:
    problem = prompt_name_problem(name)
    if problem:
        raise ValueError(problem)
    return name


# A model field holding a prompt name: refused with the reason above, as a pydantic validation error.
PromptName = Annotated[str, AfterValidator(_acceptable)]

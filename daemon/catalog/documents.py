"""YAML documents that remember where each value came from, so a rule error names its file and line.

PyYAML's composed nodes carry marks; we turn them into plain data plus a map from each value's path to its
line, then validate with pydantic and translate error locations back to lines.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from daemon.kernel.errors import ConfigError, FieldProblem

Path = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Document:
    """One YAML file as plain data with the line (1-based) of every value."""

    source: str
    data: Any
    lines: dict[Path, int] = field(default_factory=dict)

    def line(self, path: Path) -> int:
        """Line of the deepest known value on `path` (an error inside a value points at that value)."""
        for end in range(len(path), -1, -1):
            found = self.lines.get(path[:end])
            if found is not None:
                return found
        return 1

    def where(self, path: Path) -> str:
        return f"{self.source}:{self.line(path)}"

    def problem(self, path: Path, reason: str) -> FieldProblem:
        dotted = ".".join(str(p) for p in path) or "(document)"
        return FieldProblem(f"{self.where(path)}: {dotted}", reason)


class _DuplicateKey(Exception):
    def __init__(self, key: str, line: int, first: int) -> None:
        super().__init__(key)
        self.key, self.line, self.first = key, line, first


def _plain(node: yaml.Node, path: Path, lines: dict[Path, int]) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in out:  # PyYAML keeps the last silently: a rule edited twice must not half-apply
                raise _DuplicateKey(key, key_node.start_mark.line + 1, lines[(*path, key)])
            out[key] = _plain(value_node, (*path, key), lines)
            lines[(*path, key)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_plain(item, (*path, i), lines) for i, item in enumerate(node.value)]
    return _scalar(node)


def _scalar(node: yaml.Node) -> Any:
    """Scalars resolve as safe_load would (ints, bools, dates); only containers are walked by hand."""
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()


def parse(source: str, text: str) -> Document:
    """Parse one file; YAML syntax errors become a ConfigError at the offending line."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        raise ConfigError(
            f"{source}:{line}: not valid YAML: {exc.problem}",
            problems=(FieldProblem(f"{source}:{line}", f"not valid YAML: {exc.problem}"),),
        ) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}", problems=(FieldProblem(source, str(exc)),)) from exc
    lines: dict[Path, int] = {}
    try:
        data = {} if node is None else _plain(node, (), lines)
    except _DuplicateKey as dup:
        reason = f"{dup.key!r} is given twice (first on line {dup.first}); keep one"
        raise ConfigError(
            f"{source}:{dup.line}: {reason}", problems=(FieldProblem(f"{source}:{dup.line}: {dup.key}", reason),)
        ) from None
    return Document(source=source, data=data, lines=lines)


def validate(doc: Document, model: type[M], data: Any, *, at: Path = ()) -> tuple[M | None, list[FieldProblem]]:
    """Validate `data` (found at `at` in `doc`) as `model`; problems name file, line and field."""
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        problems = [doc.problem((*at, *err["loc"]), _reason(err)) for err in exc.errors()]
        return None, problems


def _reason(err: Mapping[str, Any]) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown field (check the spelling)"
    if err["type"] == "missing":
        return "required field is missing"
    return str(err["msg"])


def fail(problems: list[FieldProblem]) -> ConfigError:
    summary = "\n".join(f"{p.field}: {p.reason}" for p in problems)
    return ConfigError(f"{len(problems)} problem(s) in rules:\n{summary}", problems=tuple(problems))

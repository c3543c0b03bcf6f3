"""YAML loading that remembers where every value came from.

Installers edit one file by hand; an error that says `devices[3].address`
without a line number sends them counting list items. We compose the YAML
into nodes (which carry marks) and build plain Python data alongside a map
from key path to (line, column), so validation errors can point at the line.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

Path_ = tuple[str | int, ...]

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass(frozen=True)
class Mark:
    line: int
    column: int


@dataclass
class LoadedYaml:
    data: Any
    value_marks: dict[Path_, Mark] = field(default_factory=dict)
    key_marks: dict[Path_, Mark] = field(default_factory=dict)
    problems: list[tuple[Path_, Mark, str]] = field(default_factory=list)

    def mark_for(self, path: Path_) -> Mark:
        """The most specific known mark: the key itself, else its nearest ancestor."""
        p = path
        while True:
            if p in self.key_marks:
                return self.key_marks[p]
            if p in self.value_marks:
                return self.value_marks[p]
            if not p:
                return Mark(1, 1)
            p = p[:-1]


class YamlSyntaxError(Exception):
    def __init__(self, message: str, mark: Mark) -> None:
        super().__init__(message)
        self.message = message
        self.mark = mark


def _mark(node: yaml.Node) -> Mark:
    return Mark(node.start_mark.line + 1, node.start_mark.column + 1)


def substitute_env(value: str, env: dict[str, str]) -> str:
    """Expand `${VAR}` and `${VAR:-default}`; a missing VAR without default is an error."""

    def repl(m: re.Match[str]) -> str:
        name, default = m.group(1), m.group(2)
        got = env.get(name)
        if got is None or (got == "" and default is not None):
            if default is None:
                raise KeyError(name)
            return default
        return got

    return _ENV.sub(repl, value)


def load_yaml(text: str, env: dict[str, str] | None = None) -> LoadedYaml:
    env = dict(os.environ) if env is None else env
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        m = exc.problem_mark or exc.context_mark
        mark = Mark(m.line + 1, m.column + 1) if m else Mark(1, 1)
        raise YamlSyntaxError(str(exc.problem or exc), mark) from exc
    out = LoadedYaml(data=None)
    if root is None:
        out.data = {}
        return out
    constructor = yaml.SafeLoader("")

    def build(node: yaml.Node, path: Path_) -> Any:
        out.value_marks[path] = _mark(node)
        if isinstance(node, yaml.MappingNode):
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = constructor.construct_object(key_node, deep=True)
                key = str(key)
                child = (*path, key)
                if key in result:
                    out.problems.append((child, _mark(key_node), f"duplicate key {key!r}"))
                out.key_marks[child] = _mark(key_node)
                result[key] = build(value_node, child)
            return result
        if isinstance(node, yaml.SequenceNode):
            return [build(item, (*path, i)) for i, item in enumerate(node.value)]
        value = constructor.construct_object(node, deep=True)
        if isinstance(value, str) and "${" in value:
            try:
                value = substitute_env(value, env)
            except KeyError as missing:
                out.problems.append(
                    (path, _mark(node), f"environment variable {missing.args[0]} is not set")
                )
        return value

    try:
        out.data = build(root, ())
    except yaml.MarkedYAMLError as exc:
        m = exc.problem_mark
        mark = Mark(m.line + 1, m.column + 1) if m else Mark(1, 1)
        raise YamlSyntaxError(str(exc.problem or exc), mark) from exc
    return out

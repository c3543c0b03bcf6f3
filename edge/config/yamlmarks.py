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

from edge.config.types import YamlInt

Path_ = tuple[str | int, ...]

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

# A hand-written config is a few hundred values. Aliases make YAML a compression
# format (a 300-byte file of nested `*a` expands to 10^7 values), so expansion is
# bounded: few aliases, and a cap on the values built from the file.
MAX_FILE_BYTES = 1024 * 1024
MAX_ALIASES = 100
MAX_VALUES = 100_000

_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_DECIMAL = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
_OCTAL = re.compile(r"[-+]?0[0-7_]+")


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


class YamlLimitError(YamlSyntaxError):
    """Valid YAML that is too big to be a config (size, aliases, expanded values)."""


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


class _CountingLoader(yaml.SafeLoader):
    """Composes nodes as SafeLoader does, refusing a file with too many aliases."""

    aliases = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                m = self.peek_event().start_mark
                raise YamlLimitError(
                    f"more than {MAX_ALIASES} aliases (*name); write the values out",
                    Mark(m.line + 1, m.column + 1),
                )
        return super().compose_node(parent, index)


def _compose(text: str) -> yaml.Node | None:
    loader = _CountingLoader(text)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


def _number_problem(node: yaml.ScalarNode, value: Any) -> str | None:
    """Why an unquoted number is not what the installer typed (YAML 1.1 octal, base 60)."""
    text = node.value
    quoted = f'quote it ("{text}") if it is text: an ID, address, serial or time'
    if node.tag == _INT_TAG and _OCTAL.fullmatch(text):
        return f"unquoted {text} is read by YAML as the octal number {value}; {quoted}"
    if ":" in text:
        return f"unquoted {text} is read by YAML as the base-60 number {value}; {quoted}"
    return None


def load_yaml(text: str, env: dict[str, str] | None = None) -> LoadedYaml:
    env = dict(os.environ) if env is None else env
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise YamlLimitError(
            f"the file is larger than {MAX_FILE_BYTES // 1024} KiB; a config is far smaller",
            Mark(1, 1),
        )
    try:
        root = _compose(text)
    except yaml.MarkedYAMLError as exc:
        m = exc.problem_mark or exc.context_mark
        mark = Mark(m.line + 1, m.column + 1) if m else Mark(1, 1)
        raise YamlSyntaxError(str(exc.problem or exc), mark) from exc
    out = LoadedYaml(data=None)
    if root is None:
        out.data = {}
        return out
    constructor = yaml.SafeLoader("")
    built = 0

    def build(node: yaml.Node, path: Path_) -> Any:
        nonlocal built
        built += 1
        if built > MAX_VALUES:
            raise YamlLimitError(
                f"the file expands to more than {MAX_VALUES} values (aliases repeat "
                "their anchor's contents); write the values out",
                _mark(node),
            )
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
        number = node.tag in (_INT_TAG, _FLOAT_TAG)
        if isinstance(node, yaml.ScalarNode) and node.style is None and number:
            problem = _number_problem(node, value)
            if problem is not None:
                out.problems.append((path, _mark(node), problem))
                return node.value
            if node.tag == _INT_TAG and not _DECIMAL.fullmatch(node.value):
                return YamlInt(value, node.value)
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

"""Read, substitute and validate the YAML, turning every problem into `file:line:col: key: msg`.

All problems are collected at once: an installer on a ladder fixes the file in
one pass, not one error per run.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from edge.config.model import EdgeConfig, config_model
from edge.config.types import KeyProblems
from edge.config.yamlmarks import (
    MAX_FILE_BYTES,
    LoadedYaml,
    Path_,
    YamlLimitError,
    YamlSyntaxError,
    load_yaml,
)
from edge.redact import redact_data, scrub


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    column: int
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.key or '(top)'}: {self.message}"


class ConfigError(Exception):
    """The file was read but is not a valid configuration."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


class ConfigUnreadable(Exception):
    """The file could not be read at all (missing, permissions, not UTF-8)."""


def dotted(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def load_config(path: str | Path, env: dict[str, str] | None = None) -> EdgeConfig:
    path = Path(path)
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)  # not all of /dev/zero or a 10 GB mistake
        if len(raw) > MAX_FILE_BYTES:
            limit = f"the file is larger than {MAX_FILE_BYTES // 1024} KiB; a config is far smaller"
            raise ConfigError([Problem(str(path), 1, 1, "", limit)])
        text = raw.decode("utf-8")
    except OSError as exc:
        raise ConfigUnreadable(f"{path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigUnreadable(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    return parse_config(text, str(path), env)


def parse_config(text: str, filename: str, env: dict[str, str] | None = None) -> EdgeConfig:
    env = dict(os.environ) if env is None else env
    try:
        loaded = load_yaml(text, env)
    except YamlSyntaxError as exc:
        said = exc.message if isinstance(exc, YamlLimitError) else f"YAML syntax: {exc.message}"
        raise ConfigError([Problem(filename, exc.mark.line, exc.mark.column, "", said)]) from None
    problems = [
        Problem(filename, m.line, m.column, dotted(p), msg) for p, m, msg in loaded.problems
    ]
    if not isinstance(loaded.data, dict):
        problems.append(Problem(filename, 1, 1, "", "the file must be a mapping of sections"))
        raise ConfigError(problems)
    try:
        config = config_model().model_validate(loaded.data)
    except ValidationError as exc:
        problems.extend(_problems_from(exc, loaded, filename))
        config = None
    if problems:
        problems.sort(key=lambda p: (p.line, p.column))
        raise ConfigError([replace(p, message=scrub(p.message)) for p in problems])
    assert config is not None
    return config


def _problems_from(exc: ValidationError, loaded: LoadedYaml, filename: str) -> list[Problem]:
    out: list[Problem] = []
    already = {p for p, _, _ in loaded.problems}
    for err in exc.errors(include_url=False):
        path = _data_path(tuple(err["loc"]), loaded.data)
        kind = err["type"]
        if path in already:
            continue  # e.g. an unset ${VAR}: its own message says more than the type error
        cause = err.get("ctx", {}).get("error")
        if isinstance(cause, KeyProblems):
            for key, message in cause.problems:
                at = _secret_file_key((*path, *key), loaded)
                mark = loaded.mark_for(at)
                out.append(Problem(filename, mark.line, mark.column, dotted(at), message))
            continue
        if kind == "union_tag_invalid" and (*path, "type") in loaded.value_marks:
            path = (*path, "type")
        if kind == "extra_forbidden":
            mark = loaded.mark_for(path)
            message = f"unknown key {path[-1]!r}" + _suggest(path, loaded.data)
        elif kind == "missing":
            mark = loaded.mark_for(path[:-1])
            message = f"missing required key {path[-1]!r}"
        else:
            mark = loaded.value_marks.get(path) or loaded.mark_for(path)
            message = _message(err)
        out.append(Problem(filename, mark.line, mark.column, dotted(path), message))
    return out


def _secret_file_key(path: Path_, loaded: LoadedYaml) -> Path_:
    """A secret given as `secret_file` is reported at that key, not at its parent."""
    if path and path not in loaded.key_marks:
        as_file = (*path[:-1], f"{path[-1]}_file")
        if as_file in loaded.key_marks:
            return as_file
    return path


def _data_path(loc: tuple[Any, ...], data: Any) -> Path_:
    """Drop the union tags pydantic inserts into `loc` so the path matches the YAML."""
    path: list[str | int] = []
    node = data
    for part in loc:
        if isinstance(node, dict):
            if part in node:
                path.append(part)
                node = node[part]
                continue
            tagged = part in (node.get("type"), node.get("kind"))
            if isinstance(part, str) and ("[" in part or tagged):
                continue  # a union member tag such as 'dlt645', 'rtsp' or 'function-after[...]'
            path.append(part)
            node = None
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            path.append(part)
            node = node[part]
        else:
            if isinstance(part, str) and "[" in part:
                continue
            path.append(part)
            node = None
    return tuple(path)


def _message(err: Any) -> str:
    msg = str(err["msg"])
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if err["type"] == "union_tag_invalid":
        return msg.replace("Input tag", "type").replace("found using 'type' ", "")
    if err["type"] == "literal_error" and "input" in err:
        return f"{msg} (got {err['input']!r})"
    return msg


def _suggest(path: Path_, data: Any) -> str:
    """Point at the likely intended key for a typo ('poll_intervall_s')."""
    from edge.config.schema import known_keys

    keys = known_keys(path[:-1], data)
    close = difflib.get_close_matches(str(path[-1]), keys, n=1, cutoff=0.7)
    return f"; did you mean {close[0]!r}?" if close else ""


def redacted(config: BaseModel) -> dict[str, Any]:
    """The config as plain data: secret fields shown as '**********', and credentials
    written inside URLs (`rtsp://admin:pw@…`) masked too."""
    data: dict[str, Any] = redact_data(config.model_dump(mode="json"))
    return data

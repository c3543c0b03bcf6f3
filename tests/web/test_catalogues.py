"""Every string the page shows comes from the catalogues: both languages have the same keys,
every key the scripts and pages ask for exists, and no Chinese is written in a script or a
page itself."""

from __future__ import annotations

import json
import re
from pathlib import Path

STATIC = Path(__file__).resolve().parents[2] / "edge" / "web" / "static"
CATALOGUES = {lang: json.loads((STATIC / "i18n" / f"{lang}.json").read_text()) for lang in ("zh-CN", "en")}  # fmt: skip
ASKED = re.compile(r"""\bt\(\s*["']([\w.]+)["']|data-i18n(?:-\w+)?="([\w.]+)\"""")
HAN = re.compile(r"[\u3400-\u9fff\uff00-\uffef]")


def test_both_languages_have_the_same_keys_once_and_no_empty_string() -> None:
    for lang in CATALOGUES:  # a key written twice (two branches merged) keeps only the last
        text = (STATIC / "i18n" / f"{lang}.json").read_text()
        keys = [k for k, _ in json.loads(text, object_pairs_hook=lambda kv: kv)]
        assert sorted(k for k in set(keys) if keys.count(k) > 1) == [], lang
    zh, en = CATALOGUES["zh-CN"], CATALOGUES["en"]
    assert sorted(set(zh) ^ set(en)) == []
    assert [k for k, v in {**zh, **en}.items() if not v.strip()] == []


def test_every_key_the_page_asks_for_is_in_the_catalogues() -> None:
    asked: dict[str, str] = {}
    for f in [*STATIC.rglob("*.js"), *STATIC.rglob("*.html")]:
        for m in ASKED.finditer(f.read_text(encoding="utf-8")):
            asked[m.group(1) or m.group(2)] = f.name
    assert len(asked) > 50  # the pattern finds what the page uses
    assert {k: f for k, f in asked.items() if k not in CATALOGUES["zh-CN"]} == {}


def test_no_chinese_is_written_in_a_script_or_a_page() -> None:
    found = {
        f.name: HAN.findall(f.read_text(encoding="utf-8"))
        for f in [*STATIC.rglob("*.js"), *STATIC.rglob("*.html")]
    }
    assert {name: chars for name, chars in found.items() if chars} == {}

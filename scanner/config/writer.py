"""Policy files written back: comments, order and spellings kept where the lists still hold the same suites
(ruamel.yaml's round trip)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from scanner import catalog
from scanner.models import ConfigError, Policy, Problem


def _yaml_round_trip() -> YAML:
    rt = YAML()
    rt.preserve_quotes = True
    rt.indent(mapping=2, sequence=4, offset=2)
    rt.width = 120
    return rt


def policy_yaml(policy: Policy, comment: str, source: Path | None = None) -> str:
    """`policy` as a policy file. With `source`, edit that file's document instead, so its comments, order
    and spellings survive where the lists still hold the same suites; otherwise write JSSE names."""
    rt = _yaml_round_trip()
    if source is not None:
        try:
            document = rt.load(source.read_text(encoding="utf-8"))
        except (OSError, YAMLError) as exc:
            raise ConfigError([Problem(str(source), None, None, "", f"cannot rewrite this file: {exc}")]) from None
    else:
        document = CommentedMap()
        document.yaml_set_start_comment(comment)
    document["release"] = DoubleQuotedScalarString(policy.release)
    if "client" in document:  # otherwise the release's client applies, as it did
        document["client"] = policy.client
    protocols = document.setdefault("protocols", CommentedMap())
    for key, versions in (("selected", policy.protocols_selected), ("disabled", policy.protocols_disabled)):
        _replace_items(protocols, key, [v.value for v in versions], CommentedSeq)
    suites = document.setdefault("cipher_suites", CommentedMap())
    for key, names in (("selected", policy.selected), ("disabled", policy.disabled)):
        _replace_items(suites, key, list(names), CommentedSeq, suite_names=True)
    out = io.StringIO()
    rt.dump(document, out)
    return out.getvalue()


def _replace_items(mapping: Any, key: str, wanted: list[str], seq_type: Any, suite_names: bool = False) -> None:
    """Make mapping[key] hold `wanted`, editing the existing sequence in place where the order allows."""

    def same(written: object) -> str:
        text = str(written)
        if not suite_names:
            return text
        suite = catalog.find(text)
        return suite.name if suite else text

    seq = mapping.get(key)
    if seq is None or not isinstance(seq, list):
        seq = seq_type()
        mapping[key] = seq
    current = [same(item) for item in seq]
    kept = [c for c in current if c in wanted]
    if kept == [w for w in wanted if w in current]:
        for index in reversed(range(len(current))):
            if current[index] not in wanted:
                _delete_keeping_comment(seq, index)
        present = set(kept)
        seq.extend(_written(w, suite_names) for w in wanted if w not in present)
    else:  # reordered: rebuild the list (its comments cannot follow the items)
        seq.clear()
        seq.extend(_written(w, suite_names) for w in wanted)


def _delete_keeping_comment(seq: CommentedSeq, index: int) -> None:
    """Delete an item. ruamel stores the comment lines written after an item with that item's end-of-line
    comment: the item's own end-of-line comment goes with it, the lines after it move to the item before."""
    entry = seq.ca.items.get(index)
    del seq[index]
    token = entry[0] if entry else None
    if token is None or index == 0:
        return
    _, _, after = str(token.value).partition("\n")  # drop the deleted item's own end-of-line comment
    if not after.strip():
        return
    previous = seq.ca.items.setdefault(index - 1, [None, None, None, None])
    if previous[0] is None:
        token.value = "\n" + after
        previous[0] = token
    else:
        previous[0].value = str(previous[0].value) + after


def _written(name: str, suite_names: bool) -> str:
    return catalog.resolve(name).jsse_name if suite_names else name

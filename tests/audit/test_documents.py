"""The document reader: same values as yaml.safe_load, stricter on duplicates, with lines."""

from __future__ import annotations

import pytest
import yaml

from hardened_operator.audit.documents import node_locator, raw_documents, split_field
from hardened_operator.audit.sources import Source
from hardened_operator.errors import ManifestParseError

SAMPLES = [
    "a: 1\nb: -2\nc: 0x1F\nd: 0777\ne: 1_000\nf: 1.5\ng: .inf\nh: 1e3\n",
    "t: [true, True, yes, on, no, off, false, y, n]\n",
    "n: [~, null, Null, '']\n",
    "s: ['1', \"2\", 010, '0777', +12, 3:25:45]\n",
    "when: 2001-12-14t21:59:43.10-05:00\nday: 2002-12-14\n",
    "base: &b {runAsUser: 0, runAsNonRoot: false}\nuse:\n  <<: *b\n  runAsUser: 1000\n",
    "shared: &s [1, 2]\nagain: *s\n",
    "1: int key\n2.5: float key\nnull: null key\n",
    "bin: !!binary aGVsbG8=\nset: !!set {a, b}\nomap: !!omap [a: 1, b: 2]\n",
    "deep: {a: {b: {c: [1, {d: [x, y]}]}}}\n",
    "block: |\n  line one\n  line two\nfolded: >\n  folded\n  text\n",
]


@pytest.mark.parametrize("text", SAMPLES)
def test_values_equal_yaml_safe_load(text: str) -> None:
    docs = [data for data, _line, _loc in raw_documents(Source("x.yaml", text, False))]
    assert docs == [yaml.safe_load(text)]


def test_aliases_stay_shared_objects() -> None:
    [(data, _, _)] = raw_documents(Source("x.yaml", "a: &x {k: 1}\nb: *x\n", False))
    assert data["a"] is data["b"]


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\na: 2\n",
        "m:\n  runAsUser: 1000\n  runAsUser: 0\n",
        "m: {x: 1, x: 1}\n",
        "base: &b {k: 1}\nm:\n  <<: *b\n  j: 1\n  j: 2\n",
    ],
)
def test_duplicate_keys_are_refused_with_their_line(text: str) -> None:
    with pytest.raises(ManifestParseError, match="duplicate key") as info:
        list(raw_documents(Source("x.yaml", text, False)))
    assert info.value.line is not None and info.value.line >= 1


def test_merge_key_overrides_are_not_duplicates() -> None:
    text = "base: &b {k: 1, j: 2}\nm:\n  <<: *b\n  k: 3\n"
    [(data, _, _)] = raw_documents(Source("x.yaml", text, False))
    assert data["m"] == {"k": 3, "j": 2}


def test_deep_nesting_is_an_input_error_not_a_crash() -> None:
    text = "a: " + "[" * 5000 + "]" * 5000 + "\n"
    with pytest.raises(ManifestParseError):
        list(raw_documents(Source("x.yaml", text, False)))
    with pytest.raises(ManifestParseError):
        list(raw_documents(Source("x.json", '{"a": ' + "[" * 100000 + "]" * 100000 + "}", True)))


@pytest.mark.parametrize(
    ("path", "parts"),
    [
        ("spec.containers[0].securityContext", ["spec", "containers", 0, "securityContext"]),
        (
            "metadata.annotations[container.apparmor.security.beta.kubernetes.io/app]",
            ["metadata", "annotations", "container.apparmor.security.beta.kubernetes.io/app"],
        ),
        ('a["b.c"][2]', ["a", "b.c", 2]),
    ],
)
def test_split_field(path: str, parts: list[object]) -> None:
    assert split_field(path) == parts


def test_locator_falls_back_to_the_deepest_existing_key() -> None:
    text = "spec:\n  containers:\n  - name: a\n    image: x\n  - name: b\n"
    root = yaml.compose(text)
    assert root is not None
    locate = node_locator(root)
    assert locate("spec.containers[1].securityContext.runAsNonRoot") == 5
    assert locate("spec.containers[0].image") == 4
    assert locate("spec.missing.deeper") == 1
    assert locate("") == 1

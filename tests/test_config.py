from dataclasses import dataclass, field

import pytest

from rankwright.cli import build_parser
from rankwright.config import ConfigError, add_arguments, build_config, from_dict


@dataclass
class Inner:
    k1: float = field(default=1.5, metadata={"help": "saturation"})
    words: list[str] = field(default_factory=list)
    gains: dict[str, float] = field(default_factory=dict)
    name: str | None = None


@dataclass
class Outer:
    inner: Inner = field(default_factory=Inner)
    top_k: int = 100
    flag: bool = True


def _parse(argv, tmp_path=None, yaml_text=None):
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--config")
    add_arguments(parser, Outer)
    if yaml_text is not None:
        path = tmp_path / "c.yaml"
        path.write_text(yaml_text)
        argv = ["--config", str(path), *argv]
    return build_config(Outer, parser.parse_args(argv))


def test_yaml_defaults_and_flag_overrides(tmp_path):
    cfg = _parse(
        ["--inner.k1", "0.9", "--inner.words", "a,b", "--flag", "false"],
        tmp_path,
        "top_k: 7\ninner: {k1: 2.0, gains: {E: 3, S: 2}, name: x}\n",
    )
    assert cfg.top_k == 7
    assert cfg.inner.k1 == 0.9
    assert cfg.inner.words == ["a", "b"]
    assert cfg.inner.gains == {"E": 3.0, "S": 2.0}
    assert cfg.inner.name == "x"
    assert cfg.flag is False


def test_flag_parses_mapping_and_none(tmp_path):
    cfg = _parse(["--inner.gains", "{1: 4, -1: 0}", "--inner.name", "none"])
    assert cfg.inner.gains == {"1": 4.0, "-1": 0.0}
    assert cfg.inner.name is None


def test_unknown_yaml_key_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown config key inner\.k2"):
        _parse([], tmp_path, "inner: {k2: 1}\n")


def test_unknown_flag_is_rejected():
    with pytest.raises(SystemExit):
        build_parser().parse_args(["evaluate", "--bm25.k3", "1"])


def test_bad_number_is_named():
    with pytest.raises(ConfigError, match="top_k must be a number"):
        from_dict(Outer, {"top_k": "many"})
    with pytest.raises(ConfigError, match="top_k must be an integer"):
        from_dict(Outer, {"top_k": 1.5})


def test_bare_boolean_flag_means_true_and_union_fields_take_lists_or_mappings(tmp_path):
    assert _parse(["--flag"], tmp_path, "flag: false\n").flag is True

    @dataclass
    class Words:
        label_words: list[str] | dict[str, str] | None = None

    assert from_dict(Words, {"label_words": "yes,no"}).label_words == ["yes", "no"]
    assert from_dict(Words, {"label_words": "{E: exact, I: irrelevant}"}).label_words == {
        "E": "exact",
        "I": "irrelevant",
    }
    assert from_dict(Words, {"label_words": ["a", "b"]}).label_words == ["a", "b"]
    assert from_dict(Words, {"label_words": None}).label_words is None


@dataclass
class Tuned:
    """A parent that changes the defaults of the section it holds."""

    inner: Inner = field(default_factory=lambda: Inner(k1=0.7, words=["kept"], gains={"E": 3.0}))
    deep: Outer = field(default_factory=lambda: Outer(inner=Inner(k1=9.0), top_k=5))


def test_a_partial_section_keeps_the_parents_defaults(tmp_path):
    cfg = from_dict(Tuned, {"inner": {"name": "x"}, "deep": {"inner": {"words": ["w"]}}})
    assert cfg.inner == Inner(k1=0.7, words=["kept"], gains={"E": 3.0}, name="x")
    assert cfg.deep.top_k == 5 and cfg.deep.inner == Inner(k1=9.0, words=["w"])
    # the same through a YAML file and a flag
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--config")
    add_arguments(parser, Tuned)
    path = tmp_path / "t.yaml"
    path.write_text("inner: {gains: {S: 2}}\n")
    cfg = build_config(Tuned, parser.parse_args(["--config", str(path), "--deep.inner.name", "n"]))
    assert cfg.inner == Inner(k1=0.7, words=["kept"], gains={"S": 2.0})  # a mapping value replaces, not merges
    assert cfg.deep == Outer(inner=Inner(k1=9.0, name="n"), top_k=5)
    # defaults are not shared between builds
    cfg.inner.words.append("changed")
    assert from_dict(Tuned, {"inner": {}}).inner.words == ["kept"]


def test_help_shows_the_parents_defaults():
    import argparse

    parser = argparse.ArgumentParser()
    add_arguments(parser, Tuned)
    text = parser.format_help()
    assert "(default: 0.7)" in text and "(default: 9.0)" in text and "(default: 5)" in text

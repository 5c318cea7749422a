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


def test_unknown_flag_is_rejected(capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["evaluate", "--bm25.k3", "1"])
    assert exit_info.value.code == 2
    assert "unrecognized arguments: --bm25.k3 1" in capsys.readouterr().err
    build_parser().parse_args(["evaluate", "--bm25.k1", "1"])  # the flag it resembles is known


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


# -- one file for several commands ----------------------------------------------------------------


@dataclass
class Model:
    name: str = "base"
    max_length: int = 256


@dataclass
class TrainLike:
    inner: Inner = field(default_factory=Inner)
    model: Model = field(default_factory=Model)
    output_dir: str = "runs/train"


@dataclass
class EvaluateLike:
    inner: Inner = field(default_factory=Inner)
    model: str | None = None
    scorer: str = "auto"
    output_dir: str = "runs/evaluate"


@dataclass
class RerankLike:
    inner: Inner = field(default_factory=Inner)
    model: str = ""
    output: str = "runs/reranked.trec"


COMMANDS = {"train": TrainLike, "evaluate": EvaluateLike, "rerank": RerankLike}

SHARED = """\
inner: {k1: 2.0, words: [a]}
scorer: bm25
model: {max_length: 64}
output_dir: runs/shared
train:
  inner: {name: trained}
  model: {name: tiny}
evaluate:
  model: runs/shared/best
  scorer: model
rerank:
  output: runs/x.trec
"""


def _build(cls, command, argv, tmp_path, text):
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--config")
    add_arguments(parser, cls)
    path = tmp_path / "shared.yaml"
    path.write_text(text)
    args = parser.parse_args(["--config", str(path), *argv])
    args.command = command
    return build_config(cls, args, COMMANDS)


def test_one_file_serves_every_command_with_its_own_section_over_the_shared_keys(tmp_path):
    train = _build(TrainLike, "train", [], tmp_path, SHARED)
    # shared keys, the section merged over them key by key, other commands' keys skipped (scorer)
    assert train.inner == Inner(k1=2.0, words=["a"], name="trained")
    assert train.model == Model(name="tiny", max_length=64) and train.output_dir == "runs/shared"
    evaluate = _build(EvaluateLike, "evaluate", ["--output_dir", "runs/e"], tmp_path, SHARED)
    # the top-level model section is train's (a mapping), the section's model folder evaluate's
    assert evaluate.model == "runs/shared/best" and evaluate.scorer == "model"
    assert evaluate.inner.k1 == 2.0 and evaluate.output_dir == "runs/e"  # a flag still wins
    rerank = _build(RerankLike, "rerank", [], tmp_path, SHARED)
    # scorer and output_dir are other commands' keys: rerank has neither, and says nothing
    assert rerank.output == "runs/x.trec" and rerank.model == "" and rerank.inner.words == ["a"]


def test_an_unknown_key_in_the_commands_own_section_is_an_error_naming_it_and_the_file(tmp_path):
    text = SHARED + "  k1: 3\n"  # under rerank:
    with pytest.raises(ConfigError, match=r"shared\.yaml: unknown config key rerank\.k1; valid keys here: inner,"):
        _build(RerankLike, "rerank", [], tmp_path, text)
    with pytest.raises(ConfigError, match=r"unknown config key train\.model\.nam;"):
        _build(TrainLike, "train", [], tmp_path, SHARED.replace("{name: tiny}", "{nam: tiny}"))
    # ...but another command's section is its own business
    assert _build(TrainLike, "train", [], tmp_path, text).model.name == "tiny"


def test_a_key_no_command_knows_is_an_error_and_another_commands_key_is_skipped(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown config key scorr; valid keys here: .*a section per command"):
        _build(TrainLike, "train", [], tmp_path, "scorr: bm25\n")
    with pytest.raises(ConfigError, match=r"unknown config key inner\.k2"):
        _build(TrainLike, "train", [], tmp_path, "inner: {k2: 1}\n")
    assert _build(TrainLike, "train", [], tmp_path, "scorer: bm25\noutput: x\n") == TrainLike()
    # a value of the wrong kind that no other command takes is still the command's error
    with pytest.raises(ConfigError, match="inner must be a mapping"):
        _build(TrainLike, "train", [], tmp_path, "inner: 3\n")


def test_the_shipped_bm25_config_serves_rerank_and_compare():
    """``rerank``, ``compare`` and ``evaluate`` read configs/homedepot_bm25.yaml (shared data,
    labels, split and subset; a section each) and keep what is theirs."""
    from pathlib import Path

    from rankwright.commands.registry import COMMANDS as REAL

    path = Path(__file__).resolve().parents[1] / "configs" / "homedepot_bm25.yaml"
    parser = build_parser()
    every = {name: c.config_class() for name, c in REAL.items()}
    configs = {}
    for argv in (["rerank"], ["evaluate"], ["compare", "a.trec", "b.trec"]):
        args = parser.parse_args([*argv, "--config", str(path)])
        configs[args.command] = config = build_config(REAL[args.command].config_class(), args, every)
        assert config.data.path.endswith("homedepot/train.csv.zip")
    assert configs["rerank"].output == "runs/homedepot_reranked.trec"
    assert configs["evaluate"].scorer == "bm25" and configs["evaluate"].output_dir == "runs/homedepot_bm25"
    assert config.labels.threshold == 2.33 and config.subset == "test"  # compare shares them
    assert config.output_dir == "runs/homedepot_compare"  # its own section

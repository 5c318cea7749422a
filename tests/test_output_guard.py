"""The output guard itself: what counts as an earlier run's results, what --overwrite
removes (and what it never touches), resuming, and what Ctrl-C leaves behind."""

from __future__ import annotations

import pytest

from rankwright.config import ConfigError
from rankwright.output_guard import Interrupted, OutputExistsError, claim_file, claim_folder, writes_output

OUTPUTS = ("metrics.json", "checkpoint-*", "figures")


def fill(folder, names):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        if name.endswith("/"):
            (folder / name).mkdir()
            (folder / name / "inside.txt").write_text("old")
        else:
            (folder / name).write_text("old")
    return folder


def test_a_missing_or_empty_folder_is_claimed_without_creating_it(tmp_path):
    claim = claim_folder(tmp_path / "a" / "b", OUTPUTS, overwrite=False)
    assert claim.created == tmp_path / "a" and not (tmp_path / "a").exists()
    (tmp_path / "empty").mkdir()
    assert claim_folder(tmp_path / "empty", OUTPUTS, overwrite=False).created is None


def test_files_the_command_does_not_write_do_not_count(tmp_path):
    folder = fill(tmp_path / "out", ["data.csv", "notes/"])
    claim_folder(folder, OUTPUTS, overwrite=False)
    claim_folder(folder, OUTPUTS, overwrite=True)
    assert sorted(p.name for p in folder.iterdir()) == ["data.csv", "notes"]


def test_an_earlier_run_is_refused_naming_the_folder_what_is_there_and_the_choices(tmp_path):
    folder = fill(tmp_path / "out", ["metrics.json", "checkpoint-10/", "checkpoint-20/", "figures/", "data.csv"])
    with pytest.raises(OutputExistsError) as err:
        claim_folder(folder, OUTPUTS, overwrite=False, resume_hint="--training.resume true continues")
    message = str(err.value)
    assert str(folder) in message and "checkpoint-10/, checkpoint-20/, figures/, metrics.json" in message
    assert "--overwrite true" in message and "--output_dir" in message and "--training.resume true" in message
    assert isinstance(err.value, ConfigError)  # the command line's one-line error, exit code 2
    assert "\n" not in message


def test_overwrite_removes_only_the_earlier_runs_entries(tmp_path):
    folder = fill(tmp_path / "out", ["metrics.json", "checkpoint-10/", "figures/", "data.csv", "mine/"])
    claim_folder(folder, OUTPUTS, overwrite=True)
    assert sorted(p.name for p in folder.iterdir()) == ["data.csv", "mine"]
    assert (folder / "mine" / "inside.txt").read_text() == "old"


def test_resume_keeps_everything_and_cannot_be_combined_with_overwrite(tmp_path):
    folder = fill(tmp_path / "out", ["checkpoint-10/"])
    claim = claim_folder(folder, OUTPUTS, overwrite=False, resume=True)
    assert (folder / "checkpoint-10").is_dir()
    assert "nothing removed" in claim.abandon() and (folder / "checkpoint-10").is_dir()
    with pytest.raises(ConfigError, match="choose one"):
        claim_folder(folder, OUTPUTS, overwrite=True, resume=True)


def test_a_file_where_a_folder_goes_and_a_folder_where_a_file_goes_are_errors(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputExistsError, match="is a file, not a folder"):
        claim_folder(tmp_path / "file", OUTPUTS, overwrite=True)
    with pytest.raises(OutputExistsError, match="is a folder: give a file name"):
        claim_file(tmp_path, overwrite=True)


def test_an_existing_output_file_is_refused_and_overwrite_removes_it_and_its_companions(tmp_path):
    run = tmp_path / "runs" / "x[1].jsonl"  # a name with glob characters matches only itself
    fill(run.parent, ["x[1].jsonl", "x[1].summary.json", "x1.jsonl"])
    with pytest.raises(OutputExistsError) as err:
        claim_file(run, overwrite=False, companions=["x[1].summary.json"])
    assert str(run.parent) in str(err.value) and "--overwrite true" in str(err.value) and "--output" in str(err.value)
    claim_file(run, overwrite=True, companions=["x[1].summary.json"])
    assert [p.name for p in run.parent.iterdir()] == ["x1.jsonl"]
    only_summary = tmp_path / "b" / "r.jsonl"
    fill(only_summary.parent, ["r.summary.json"])
    with pytest.raises(OutputExistsError, match=r"b/r\.summary\.json already exists .*replaces it"):
        claim_file(only_summary, overwrite=False, companions=["r.summary.json"])


def _interrupted_after_writing(folder, names):
    @writes_output(lambda _: claim_folder(folder, OUTPUTS, overwrite=True))
    def command(_config):
        fill(folder, names)
        raise KeyboardInterrupt

    return command


def test_ctrl_c_removes_what_the_run_wrote_and_the_folders_it_created(tmp_path):
    folder = tmp_path / "new" / "out"
    with pytest.raises(Interrupted, match="partial output removed"):
        _interrupted_after_writing(folder, ["metrics.json", "checkpoint-1/"])(None)
    assert not (tmp_path / "new").exists()


def test_ctrl_c_keeps_what_was_there_before_the_run(tmp_path):
    folder = fill(tmp_path / "out", ["data.csv"])
    with pytest.raises(Interrupted):
        _interrupted_after_writing(folder, ["metrics.json"])(None)
    assert [p.name for p in folder.iterdir()] == ["data.csv"]


def test_ctrl_c_before_anything_is_written_says_so_and_kept_can_keep_a_checkpoint(tmp_path):
    folder = tmp_path / "out"

    @writes_output(lambda _: claim_folder(folder, OUTPUTS, overwrite=False))
    def early(_config):
        raise KeyboardInterrupt

    with pytest.raises(Interrupted, match=r"^nothing written$"):
        early(None)

    def kept(claim):
        return f"checkpoint left in {claim.folder}" if (claim.folder / "checkpoint-1").exists() else None

    @writes_output(lambda _: claim_folder(folder, OUTPUTS, overwrite=False), kept)
    def late(_config):
        fill(folder, ["checkpoint-1/"])
        raise KeyboardInterrupt

    with pytest.raises(Interrupted, match="checkpoint left in"):
        late(None)
    assert (folder / "checkpoint-1" / "inside.txt").exists()

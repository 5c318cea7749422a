"""Finding a model: a local path is checked first, a Hub name against the cache, the
offline setting and the Hub itself; each failure is one line naming the model and why."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from huggingface_hub.errors import RepositoryNotFoundError

import rankwright.models.locate as locate
from rankwright.inference.reranker import Reranker
from rankwright.models.locate import ModelNotFoundError, locate_model, looks_like_path


@pytest.fixture(autouse=True)
def _online(monkeypatch):
    """No offline setting from the environment, and no real Hub: each test says what the Hub answers."""
    for variable in locate.OFFLINE_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    locate._ask_hub.cache_clear()

    def no_network(name, timeout):
        raise AssertionError(f"the Hub was asked about {name}")

    monkeypatch.setattr("huggingface_hub.model_info", no_network)
    yield
    locate._ask_hub.cache_clear()


@pytest.mark.parametrize(
    "name, path",
    [
        ("/nope", True),
        ("./nope", True),
        ("~/models/x", True),
        ("runs/hd/best", True),
        ("models/q.gguf", True),
        ("bert-base-uncased", False),
        ("cross-encoder/ms-marco-MiniLM-L6-v2", False),
    ],
)
def test_what_looks_like_a_path(name, path):
    assert looks_like_path(name) is path


@pytest.mark.parametrize("name", ["/nope", "runs/hd/best", "./best", "models/q.gguf"])
def test_a_missing_path_is_not_found_without_asking_the_hub(name):
    with pytest.raises(ModelNotFoundError) as err:
        locate_model(name)
    assert str(err.value).startswith(f"model not found: {name} (no such folder or file;")
    assert "\n" not in str(err.value)


def test_no_name_is_no_model():
    with pytest.raises(ModelNotFoundError, match=r"^no model given; give a model folder"):
        locate_model("")


def test_a_folder_without_model_files_and_a_plain_file_are_not_models(tmp_path):
    with pytest.raises(ModelNotFoundError, match=r"not a model folder: .* \(no config.json or rankwright.json in it"):
        locate_model(str(tmp_path))
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"x")
    with pytest.raises(ModelNotFoundError, match=r"model.safetensors is a file, not a folder or a .gguf file"):
        locate_model(str(weights))


def test_a_model_folder_is_found_as_given(tiny_cross_encoder, tmp_path, monkeypatch):
    assert locate_model(tiny_cross_encoder) == tiny_cross_encoder
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text("{}")
    assert locate_model("~/m") == str(tmp_path / "m")


@pytest.mark.parametrize("variable", locate.OFFLINE_VARIABLES)
def test_offline_a_hub_name_not_in_the_cache_fails_at_once(variable, monkeypatch):
    monkeypatch.setenv(variable, "1")
    with pytest.raises(ModelNotFoundError) as err:
        locate_model("org/nope-model")
    assert str(err.value) == (
        f"model not found: org/nope-model (no such folder, and not in the Hugging Face cache; {variable} is set, "
        f"so it is not downloaded: give a local model folder, or unset {variable} to download it)"
    )


def test_a_cached_hub_name_is_used_without_asking_the_hub(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(locate, "_cached", lambda name: name == "org/cached")
    assert locate_model("org/cached") == "org/cached"


def test_an_unreachable_hub_fails_at_once_with_the_reason(monkeypatch):
    def unreachable(name, timeout):
        assert timeout == locate.HUB_TIMEOUT_S
        raise ConnectionError("Name or service not known")

    monkeypatch.setattr("huggingface_hub.model_info", unreachable)
    with pytest.raises(ModelNotFoundError, match=r"the Hub is unreachable: ConnectionError: Name or service not known"):
        locate_model("nope-model")


def test_a_name_the_hub_does_not_have_is_not_found_and_a_found_one_is_asked_once(monkeypatch):
    asked = []

    def hub(name, timeout):
        asked.append(name)
        if name != "org/real":
            raise RepositoryNotFoundError("404", response=SimpleNamespace(headers={}, request=None))

    monkeypatch.setattr("huggingface_hub.model_info", hub)
    with pytest.raises(ModelNotFoundError, match=r"no such model on the Hugging Face Hub; if it is private, log in"):
        locate_model("org/nope")
    assert locate_model("org/real") == locate_model("org/real") == "org/real"
    assert asked == ["org/nope", "org/real"]


def test_an_invalid_hub_name_says_why():
    with pytest.raises(ModelNotFoundError, match=r"model not found: my model \(no such folder, and not a Hub name"):
        locate_model("my model")


def test_the_python_api_raises_the_one_line_error():
    with pytest.raises(ModelNotFoundError, match=r"^model not found: /nope \(no such folder or file;"):
        Reranker.from_pretrained("/nope")
    assert issubclass(ModelNotFoundError, FileNotFoundError)

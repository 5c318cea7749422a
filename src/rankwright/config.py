"""Configuration: nested dataclasses, filled from a YAML file, overridden by flags.

Every dataclass field becomes a ``--dotted.name`` flag whose help comes from the
field's ``metadata["help"]``. A YAML file gives values below the flags; a key that is
not a field, in the file or on the command line, is an error naming the key.

One file can serve several commands (:func:`config_values`): keys at its top level are
shared (data, labels, split, ...), and a section named after a command (``train:``,
``evaluate:``, ...) holds that command's own values, over the shared ones. Each command
leaves the other commands' sections and keys alone; a key no command knows, or an
unknown key in the command's own section, is still an error.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import logging
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

log = logging.getLogger(__name__)
T = TypeVar("T")
POSITIONAL_DEST = "pos:"  # argparse dest prefix of positional values (``cfg:`` for flags)


class ConfigError(ValueError):
    """A configuration key or value that cannot be used."""


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _strip_optional(tp: Any) -> tuple[Any, bool]:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
        if len(args) < len(typing.get_args(tp)):
            return typing.Union[tuple(args)], True  # noqa: UP007 (a union built at run time)
    return tp, False


def _is_dataclass_type(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check/convert a YAML or flag value to the field type ``tp``."""
    inner, optional = _strip_optional(tp)
    if value is None or (optional and isinstance(value, str) and value.lower() in ("none", "null")):
        if optional or inner is Any:
            return None
        raise ConfigError(f"{key} cannot be empty")
    if _is_dataclass_type(inner):
        if not isinstance(value, dict):
            raise ConfigError(f"{key} must be a mapping, got {value!r}")
        return from_dict(inner, value, prefix=key + ".")
    origin = typing.get_origin(inner)
    if origin in (typing.Union, types.UnionType):
        # e.g. list[str] | dict[str, str]: a mapping (YAML, or a "{a: b}" flag) takes the dict arm
        arms = {typing.get_origin(a) or a: a for a in typing.get_args(inner) if a is not type(None)}
        parsed = yaml.safe_load(value) if isinstance(value, str) and value.lstrip().startswith("{") else value
        if isinstance(parsed, dict) and dict in arms:
            return _coerce(parsed, arms[dict], key)
        if list in arms:
            return _coerce(value, arms[list], key)
        return value
    if origin is list:
        (item_tp,) = typing.get_args(inner) or (Any,)
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list | tuple):
            value = [value]
        return [_coerce(v, item_tp, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        key_tp, val_tp = typing.get_args(inner) or (Any, Any)
        if isinstance(value, str):
            value = yaml.safe_load(value)
        if not isinstance(value, dict):
            raise ConfigError(f"{key} must be a mapping, got {value!r}")
        return {_coerce(k, key_tp, key): _coerce(v, val_tp, f"{key}.{k}") for k, v in value.items()}
    if inner is Any:
        return value
    if inner is bool:
        if isinstance(value, str) and value.lower() in ("true", "yes", "1", "false", "no", "0"):
            return value.lower() in ("true", "yes", "1")
        if not isinstance(value, bool):
            raise ConfigError(f"{key} must be true or false, got {value!r}")
        return value
    if inner is str:
        return str(value)
    if inner in (int, float):
        try:
            number = inner(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key} must be a number ({inner.__name__}), got {value!r}") from None
        if inner is int and isinstance(value, float) and not value.is_integer():
            raise ConfigError(f"{key} must be an integer, got {value!r}")
        return number
    return value


def _field_default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return None


def from_dict(cls: type[T], data: dict[str, Any], prefix: str = "", base: Any = None) -> T:
    """Build dataclass ``cls`` from a (nested) dict; unknown keys are an error.

    A section given only in part keeps the defaults of the field that holds it: a
    field declared as ``TrainingConfig(epochs=3, ...)`` and a file that sets only
    ``training.learning_rate`` keep ``epochs=3``, not ``TrainingConfig``'s own default.
    ``base`` is such a default instance for ``cls`` (its values fill what ``data`` leaves out)."""
    hints = _hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    _refuse_unknown(data, fields, prefix)
    kwargs = {}
    for name, f in fields.items():
        if not f.init:
            continue
        default = getattr(base, name) if base is not None else None
        if name not in data:
            if base is not None:
                kwargs[name] = copy.deepcopy(default)
            continue
        value, inner = data[name], _strip_optional(hints[name])[0]
        if base is None and _is_dataclass_type(inner):
            default = _field_default(f)
        if isinstance(value, dict) and _is_dataclass_type(inner) and dataclasses.is_dataclass(default):
            kwargs[name] = from_dict(inner, value, prefix + name + ".", base=default)
        else:
            kwargs[name] = _coerce(value, hints[name], prefix + name)
    return cls(**kwargs)


def _refuse_unknown(data: dict[str, Any], fields: Any, prefix: str, more: str = "") -> None:
    unknown = sorted(set(data) - set(fields), key=str)
    if unknown:
        valid = ", ".join(sorted(fields))
        raise ConfigError(f"unknown config key {prefix}{unknown[0]!s}; valid keys here: {valid}{more}")


def _check_keys(cls: type, data: dict[str, Any], prefix: str) -> None:
    """Raise on the first key of ``data`` (nested sections included) that ``cls`` lacks."""
    hints = _hints(cls)
    _refuse_unknown(data, hints, prefix)
    for key, value in data.items():
        inner = _strip_optional(hints[key])[0]
        if isinstance(value, dict) and _is_dataclass_type(inner):
            _check_keys(inner, value, f"{prefix}{key}.")


def _fits(tp: Any, value: Any) -> bool:
    """Whether a field of type ``tp`` takes ``value``: a mapping where it takes one (a
    section, a dict), else a plain value that converts to ``tp``."""
    inner, _ = _strip_optional(tp)
    if isinstance(value, dict):
        arms = typing.get_args(inner) if typing.get_origin(inner) in (typing.Union, types.UnionType) else (inner,)
        return any(a is Any or _is_dataclass_type(a) or (typing.get_origin(a) or a) is dict for a in arms)
    if _is_dataclass_type(inner):
        return value is None
    try:
        _coerce(value, tp, "value")
    except (ConfigError, TypeError, ValueError, yaml.YAMLError):
        return False
    return True


def _merge(cls: type, shared: dict[str, Any], own: dict[str, Any]) -> dict[str, Any]:
    """``own`` over ``shared``; sections (dataclass fields) merged key by key."""
    out = dict(shared)
    hints = _hints(cls)
    for key, value in own.items():
        inner = _strip_optional(hints[key])[0]
        if isinstance(value, dict) and isinstance(out.get(key), dict) and _is_dataclass_type(inner):
            out[key] = _merge(inner, out[key], value)
        else:
            out[key] = value
    return out


def config_values(
    loaded: dict[str, Any], cls: type, command: str | None = None, commands: Mapping[str, type] | None = None
) -> dict[str, Any]:
    """The values of a config file (``loaded``) that are ``command``'s (config class ``cls``).

    ``commands`` names every command's config class. A top-level key that is a field of
    ``cls`` is shared and used, unless its kind (a mapping or a plain value) fits only
    another command's field of that name (``model: {name: ...}`` is ``train``'s model
    section, ``model: runs/x/best`` ``evaluate``'s model folder). The section named
    ``command`` (when that is not a field of ``cls``: ``split:`` and ``bm25:`` are
    settings) goes over the shared keys; its unknown keys are errors naming them.
    Other commands' sections and keys are skipped; a key no command has is an error."""
    commands = dict(commands or {})
    hints = _hints(cls)
    others = {name: _hints(c) for name, c in commands.items() if name != command}
    data: dict[str, Any] = {}
    skipped = []
    for key, value in loaded.items():
        theirs = any(key in h and _fits(h[key], value) for h in others.values())
        if key in hints and (_fits(hints[key], value) or not theirs):
            data[key] = value
        elif key == command or key in commands or key in hints or any(key in h for h in others.values()):
            skipped.append(str(key))
        else:
            sections = ", ".join(f"{name}:" for name in commands)
            _refuse_unknown({key: value}, hints, "", f"; or a section per command ({sections})" if sections else "")
    section = loaded.get(command) if command is not None and command not in hints else None
    if section is not None:
        if not isinstance(section, dict):
            raise ConfigError(f"{command}: the section of the {command} command must be a mapping, got {section!r}")
        _check_keys(cls, section, f"{command}.")
        data = _merge(cls, data, section)
    skipped = [key for key in skipped if key != command]
    if skipped:
        log.debug("config keys left to other commands than %s: %s", command, ", ".join(skipped))
    return data


def to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def _set_dotted(target: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    for part in parts[:-1]:
        node = target.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"{dotted}: {part} is not a section")
        target = node
    target[parts[-1]] = value


def add_arguments(parser: argparse.ArgumentParser, cls: type, prefix: str = "", base: Any = None) -> None:
    """One ``--a.b.c`` flag per leaf field of ``cls`` (values parsed on build). A list
    field named by the class attribute ``POSITIONAL`` also takes positional arguments
    (a string field: one, e.g. ``rankwright serve MODEL``).
    ``base``: the default instance of ``cls`` held by the parent field (its values are
    the defaults shown)."""
    hints = _hints(cls)
    positional = getattr(cls, "POSITIONAL", None) if not prefix else None
    if positional:
        single = _strip_optional(hints[positional])[0] is str
        parser.add_argument(
            POSITIONAL_DEST + positional,
            nargs="?" if single else "*",
            default=argparse.SUPPRESS,
            metavar=positional.rstrip("s").upper(),
            help=f"the same as --{positional} {'VALUE' if single else 'a,b,...'} (one or the other)",
        )
    for f in dataclasses.fields(cls):
        tp, _ = _strip_optional(hints[f.name])
        dotted = prefix + f.name
        default = getattr(base, f.name) if base is not None else _field_default(f)
        if _is_dataclass_type(tp):
            add_arguments(parser, tp, dotted + ".", default if dataclasses.is_dataclass(default) else None)
            continue
        help_text = f.metadata.get("help", "")
        # A bare boolean flag (``--merge``) means true.
        flag_only = {"nargs": "?", "const": "true"} if tp is bool else {}
        parser.add_argument(
            "--" + dotted,
            dest="cfg:" + dotted,
            default=argparse.SUPPRESS,
            metavar=getattr(tp, "__name__", "VALUE").upper(),
            help=f"{help_text} (default: {default!r})",
            **flag_only,
        )


def _yaml_value(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def build_config(cls: type[T], args: argparse.Namespace, commands: Mapping[str, type] | None = None) -> T:
    """YAML (``args.config``) below, flags above; returns the checked dataclass. The
    file's values are those of the command ``args.command`` (see :func:`config_values`;
    ``commands``: every command's config class by name)."""
    data: dict[str, Any] = {}
    path = getattr(args, "config", None)
    if path:
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise ConfigError(f"{path}{where}: not valid YAML ({getattr(err, 'problem', None) or err})") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: the top level must be a mapping")
        try:
            data = config_values(loaded, cls, getattr(args, "command", None), commands)
        except ConfigError as err:
            raise ConfigError(f"{path}: {err}") from None
    hints_cache: dict[str, Any] = {}
    for dest, raw in vars(args).items():
        if not dest.startswith(("cfg:", POSITIONAL_DEST)):
            continue
        dotted = dest.split(":", 1)[1]
        if dest.startswith(POSITIONAL_DEST):
            if not raw:
                continue
            if "cfg:" + dotted in vars(args):
                raise ConfigError(f"give {dotted} as positional arguments or as --{dotted}, not both")
            _set_dotted(data, dotted, raw if isinstance(raw, str) else list(raw))
            continue
        tp = _leaf_type(cls, dotted, hints_cache)
        inner, _ = _strip_optional(tp)
        value = raw if inner is str else _yaml_value(raw)
        _set_dotted(data, dotted, value)
    try:
        return from_dict(cls, data)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}" if path else str(err)) from None


def _leaf_type(cls: type, dotted: str, cache: dict[str, Any]) -> Any:
    tp: Any = cls
    for part in dotted.split("."):
        inner, _ = _strip_optional(tp)
        tp = _hints(inner)[part]
    cache[dotted] = tp
    return tp

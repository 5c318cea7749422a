"""Label schemes: raw labels -> integer gains (for trec_eval-style ranking metrics),
a binary relevance decision (for MAP, MRR, P@k, R@k and classification metrics),
class indices (for named classes) and training targets.

Three schemes:

- ``binary``: relevant when the raw label >= ``threshold``; gains 1/0.
- ``graded``: gain = ``gains[raw]`` when a mapping is given (Cranfield: ``{1: 4, 2: 3,
  3: 2, 4: 1, -1: 0}``), else ``round((raw - gain_offset) * gain_scale)`` (Home
  Depot: offset 1, scale 12); relevant when raw >= ``threshold`` (translated to a gain
  threshold) or gain >= ``relevant_gain``.
- ``classes``: named classes (ESCI ``E, S, C, I``) with a gain per class; relevant
  classes are listed. Numeric labels can be binned into classes with ``bins`` (the
  lower bound of each class: Home Depot binned as ESCI is ``{E: 3, S: 2.33, C: 1.67,
  I: 1}``). Fractional gains (KDD Cup 1 / 0.1 / 0.01 / 0) are multiplied by
  the smallest power of ten that makes them integers, since trec_eval only takes
  integer gains; the factor is recorded.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, fields, replace
from typing import Any

import numpy as np
import pandas as pd

from rankwright.data.config import LabelConfig
from rankwright.data.records import LABEL, DataError, RelevanceData

log = logging.getLogger(__name__)

SCHEMES = ("auto", "binary", "graded", "classes")
ESCI_GAINS = {"E": 3.0, "S": 2.0, "C": 1.0, "I": 0.0}
KDD_GAINS = {"E": 1.0, "S": 0.1, "C": 0.01, "I": 0.0}


def _integer_factor(values: list[float]) -> int:
    for power in range(5):
        factor = 10**power
        if all(math.isclose(v * factor, round(v * factor), abs_tol=1e-9) for v in values):
            return factor
    raise ValueError(f"gains {values} cannot be made integers by a power of ten up to 10^4")


def label_key(value: Any) -> str:
    """Mapping key of a raw label: numbers (and numeric strings such as "2.0") as
    their shortest form ("2"), class names as written."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = float(text)
        except ValueError:
            return text
    if isinstance(value, float | int | np.floating | np.integer) and not isinstance(value, bool):
        value = float(value)
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value).strip()


class LabelScheme:
    """A validated :class:`LabelConfig` applied to raw labels."""

    def __init__(self, config: LabelConfig):
        if config.scheme not in SCHEMES or config.scheme == "auto":
            raise ValueError(f"labels.scheme must be one of binary, graded, classes; got {config.scheme!r}")
        config = replace(
            config,
            gain_offset=0.0 if config.gain_offset is None else config.gain_offset,
            gain_scale=1.0 if config.gain_scale is None else config.gain_scale,
        )
        self.config = config
        self.kind = config.scheme
        self.gain_factor = 1
        if self.kind == "classes":
            self.classes = list(config.classes or config.gains)
            if not self.classes:
                raise ValueError("labels.scheme=classes needs labels.classes or labels.gains")
            if set(config.bins) - set(self.classes) or (config.bins and set(self.classes) - set(config.bins)):
                raise ValueError(f"labels.bins must give a lower bound for each class {self.classes}: {config.bins}")
            gains = {c: float(config.gains.get(c, 0.0)) for c in self.classes}
            unknown = set(config.gains) - set(self.classes)
            if unknown:
                raise ValueError(f"labels.gains names classes {sorted(unknown)} not in labels.classes {self.classes}")
            self.gain_factor = _integer_factor(list(gains.values()))
            self.class_gains = gains
            relevant = config.relevant_classes or [max(gains, key=gains.get)]  # type: ignore[arg-type]
            bad = set(relevant) - set(self.classes)
            if bad:
                raise ValueError(f"labels.relevant_classes {sorted(bad)} are not classes {self.classes}")
            self.relevant_classes = list(relevant)
            self.relevant_gain = min(round(gains[c] * self.gain_factor) for c in self.relevant_classes)
            if self.relevant_gain <= 0:
                raise ValueError(
                    f"labels.scheme=classes: the relevant classes {self.relevant_classes} have gain 0; give "
                    "labels.gains with a positive gain for relevant classes, e.g. {E: 3, S: 2, C: 1, I: 0}"
                )
        elif self.kind == "binary":
            if config.threshold is None:
                raise ValueError(
                    "labels.scheme=binary needs labels.threshold (e.g. 1 for 0/1 labels, 2.33 for Home Depot)"
                )
            self.relevant_gain = 1
        else:
            if config.gains:
                self.gain_factor = _integer_factor(list(config.gains.values()))
            if config.relevant_gain is not None:
                self.relevant_gain = int(config.relevant_gain)
            elif config.threshold is not None:
                self.relevant_gain = int(self._graded_gain(np.array([config.threshold]), "labels.threshold")[0])
            else:
                self.relevant_gain = 1

    # -- raw label -> gain / relevance / class -------------------------------------------------

    def _graded_gain(self, raw: np.ndarray, source: str, rows: np.ndarray | None = None) -> np.ndarray:
        if self.config.gains:
            table = {str(k): v for k, v in self.config.gains.items()}
            keys = [label_key(v) for v in raw]
            missing = [i for i, k in enumerate(keys) if k not in table]
            if missing:
                self._unknown(raw, missing, source, rows, sorted(table))
            return np.array([round(table[k] * self.gain_factor) for k in keys], dtype=np.int64)
        values = self._numeric(raw, source, rows)
        return np.rint((values - self.config.gain_offset) * self.config.gain_scale).astype(np.int64)

    def _numeric(self, raw: np.ndarray, source: str, rows: np.ndarray | None) -> np.ndarray:
        values = pd.to_numeric(pd.Series(raw), errors="coerce").to_numpy(dtype=float)
        bad = np.flatnonzero(np.isnan(values))
        if len(bad):
            self._unknown(raw, list(bad), source, rows, "numbers")
        return values

    def _unknown(self, raw: np.ndarray, idx: list[int], source: str, rows: np.ndarray | None, allowed: Any) -> None:
        i = idx[0]
        raise DataError(
            source,
            f"unknown label value {raw[i]!r} ({len(idx)} row(s) in all); expected {allowed}",
            row=None if rows is None else int(rows[i]),
        )

    def gains(
        self, labels: pd.Series | np.ndarray, source: str = "labels", rows: np.ndarray | None = None
    ) -> np.ndarray:
        """Integer gains (trec_eval qrels values); negative gains are clipped to 0."""
        raw = np.asarray(labels, dtype=object)
        if self.kind == "binary":
            return self.relevant(raw, source, rows).astype(np.int64)
        if self.kind == "classes":
            idx = self.class_index(raw, source, rows)
            table = np.array([round(self.class_gains[c] * self.gain_factor) for c in self.classes], dtype=np.int64)
            return table[idx]
        return np.maximum(self._graded_gain(raw, source, rows), 0)

    def relevant(
        self, labels: pd.Series | np.ndarray, source: str = "labels", rows: np.ndarray | None = None
    ) -> np.ndarray:
        raw = np.asarray(labels, dtype=object)
        if self.kind == "binary":
            return self._numeric(raw, source, rows) >= float(self.config.threshold)  # type: ignore[arg-type]
        return self.gains(raw, source, rows) >= self.relevant_gain

    def class_index(
        self, labels: pd.Series | np.ndarray, source: str = "labels", rows: np.ndarray | None = None
    ) -> np.ndarray:
        if self.kind != "classes":
            raise ValueError(f"class indices need labels.scheme=classes; this scheme is {self.kind}")
        lookup = {c: i for i, c in enumerate(self.classes)}
        if self.config.bins:
            return self._binned(np.asarray(labels, dtype=object), lookup, source, rows)
        keys = [label_key(v) for v in np.asarray(labels, dtype=object)]
        missing = [i for i, k in enumerate(keys) if k not in lookup]
        if missing:
            self._unknown(np.asarray(labels, dtype=object), missing, source, rows, self.classes)
        return np.array([lookup[k] for k in keys], dtype=np.int64)

    def _binned(self, raw: np.ndarray, lookup: dict[str, int], source: str, rows: np.ndarray | None) -> np.ndarray:
        """Each numeric label goes to the class with the highest lower bound it reaches;
        labels that are already class names pass through."""
        names = np.array([lookup.get(label_key(v), -1) for v in raw], dtype=np.int64)
        todo = names < 0
        values = self._numeric(raw[todo], source, None if rows is None else rows[todo])
        bounds = sorted(self.config.bins.items(), key=lambda kv: -kv[1])
        out = np.full(len(values), -1, dtype=np.int64)
        for name, low in reversed(bounds):
            out[values >= low] = lookup[name]
        below = np.flatnonzero(out < 0)
        if len(below):
            self._unknown(
                raw[todo], list(below), source, None if rows is None else rows[todo], f"labels >= {bounds[-1][1]}"
            )
        names[todo] = out
        return names

    def target(self, labels: pd.Series | np.ndarray) -> np.ndarray:
        """A regression target in [0, 1]: the raw label scaled by ``target_range``."""
        if self.config.target_range is None:
            raise ValueError("MSE targets need labels.target_range, e.g. [1, 3] for Home Depot")
        low, high = self.config.target_range
        values = pd.to_numeric(pd.Series(np.asarray(labels, dtype=object)), errors="coerce").to_numpy(dtype=float)
        return np.clip((values - low) / (high - low), 0.0, 1.0)

    def expected_gain(self, probs: np.ndarray) -> np.ndarray:
        """A scalar score from class probabilities: sum_c P(c) * gain(c) / max gain
        (ESCI gains 3/2/1/0 give the seed's (3P(E) + 2P(S) + P(C)) / 3)."""
        gains = np.array([self.class_gains[c] for c in self.classes], dtype=float)
        return np.asarray(probs, dtype=float) @ gains / gains.max()

    def validate(self, data: RelevanceData) -> None:
        """Raise on any label this scheme cannot map, naming the file and row."""
        rows = data.pairs["source_row"].to_numpy() if "source_row" in data.pairs else None
        self.gains(data.pairs[LABEL], data.report.source, rows)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "scheme": self.kind,
            "relevant_gain": self.relevant_gain,
            "gain_factor": self.gain_factor,
        }
        out["config"] = asdict(self.config)
        if self.kind == "classes":
            out["class_gains"] = self.class_gains
            out["relevant_classes"] = self.relevant_classes
        return out


def infer_scheme(data: RelevanceData) -> LabelConfig:
    """A scheme for ``labels.scheme: auto``: 0/1 -> binary, small integers -> graded
    with raw gains, E/S/C/I -> ESCI classes (the KDD Cup gains when the data is the
    published ESCI release, which says so in ``data.labels``); anything else asks for a config."""
    if data.labels is not None:
        return data.labels
    labels = data.pairs[LABEL]
    values = set(labels.map(label_key))
    if values <= set(ESCI_GAINS):
        return LabelConfig(scheme="classes", classes=list(ESCI_GAINS), gains=dict(ESCI_GAINS), relevant_classes=["E"])
    numeric = pd.to_numeric(labels, errors="coerce")
    if numeric.notna().all():
        if values <= {"0", "1"}:
            return LabelConfig(scheme="binary", threshold=1.0)
        if (numeric == numeric.round()).all() and numeric.min() >= 0:
            return LabelConfig(scheme="graded")
    shown = sorted(values)[:8]
    raise DataError(
        data.report.source,
        f"cannot infer a label scheme from labels {shown}; set labels.scheme (binary with a threshold, "
        "graded with gains or gain_offset/gain_scale, or classes)",
    )


def _unset(value: Any) -> bool:
    return value is None or value == "auto" or (isinstance(value, list | dict) and not value)


def with_layout_labels(config: LabelConfig, layout: LabelConfig) -> tuple[LabelConfig, list[str], list[str]]:
    """``config`` with the keys it leaves unset taken from a known layout's ``layout``
    (when ``config.scheme`` is auto or the layout's; another scheme is described by the
    user alone); the keys so filled and the keys the user gave."""
    if config.scheme not in ("auto", layout.scheme):
        return config, [], []
    names = [f.name for f in fields(LabelConfig)]
    given = [k for k in names if not _unset(getattr(config, k))]
    filled = {k: getattr(layout, k) for k in names if k not in given and not _unset(getattr(layout, k))}
    return replace(config, **filled), [k for k in filled if k != "scheme"], given


def describe_labels(config: LabelConfig, label: str = "label") -> str:
    """One line on what a label scheme does (``label``: the raw label's name)."""
    if config.scheme == "classes":
        gains = ", ".join(f"{c} {config.gains.get(c, 0):g}" for c in config.classes or config.gains)
        return f"classes with gains {gains}, relevant: {', '.join(config.relevant_classes) or 'the top class'}"
    if config.scheme == "binary":
        return f"binary, relevant when {label} >= {config.threshold:g}"
    text = "graded"
    if config.target_range:
        text += " {:g}..{:g}".format(*config.target_range)
    if config.gains:
        text += ", gains " + ", ".join(f"{k} -> {v:g}" for k, v in config.gains.items())
    else:
        offset, scale = config.gain_offset or 0.0, 1.0 if config.gain_scale is None else config.gain_scale
        text += f", gain = round(({label} - {offset:g}) * {scale:g})"
    if config.relevant_gain is not None:
        return text + f", relevant when gain >= {config.relevant_gain}"
    if config.threshold is not None:
        return text + f", relevant when {label} >= {config.threshold:g}"
    return text + ", relevant when gain >= 1"


#: labels.* keys a scheme does not read
UNUSED_BY_SCHEME = {
    "binary": ("gains", "gain_offset", "gain_scale", "relevant_gain", "classes", "relevant_classes", "bins"),
    "graded": ("classes", "relevant_classes", "bins"),
    "classes": ("threshold", "gain_offset", "gain_scale", "relevant_gain"),
}


def unused_label_keys(config: LabelConfig) -> list[str]:
    """The keys set (not at their default) that ``config.scheme`` does not read; for
    graded, ``threshold`` too when ``relevant_gain`` is given (it decides relevance)."""
    default = LabelConfig()
    keys = [k for k in UNUSED_BY_SCHEME.get(config.scheme, ()) if getattr(config, k) != getattr(default, k)]
    if config.scheme == "graded" and config.relevant_gain is not None and config.threshold is not None:
        keys.append("threshold")
    return keys


def build_scheme(config: LabelConfig, data: RelevanceData | None = None) -> LabelScheme:
    """The scheme of ``config``, completed from the known layout ``data`` was recognised
    as (said once, in the log), else inferred from the labels for ``scheme: auto``. Keys
    given that the scheme does not read are said in the log (:func:`unused_label_keys`)."""
    unused = unused_label_keys(config)
    if unused:
        log.warning(
            "labels.scheme %s does not use %s: %s has no effect",
            config.scheme,
            ", ".join(f"labels.{k}" for k in unused),
            "it" if len(unused) == 1 else "they",
        )
    if data is not None and data.labels is not None:
        config, filled, given = with_layout_labels(config, data.labels)
        if filled:
            own = f"; as given: {', '.join('labels.' + k for k in given)}" if given else ""
            log.info(
                "data: %s layout recognised; labels: %s (override with --labels.*)%s",
                data.layout or "a known",
                describe_labels(config),
                own,
            )
    if config.scheme == "auto":
        if data is None:
            raise ValueError("labels.scheme=auto needs the data to infer from")
        config = infer_scheme(data)
    return LabelScheme(config)

"""report.html: one self-contained page (figures embedded as PNG data URIs, no
external CSS or JS) that shows how a system behaves on the evaluated data, with the
figures also written as PNG files to ``figures/``."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rankwright.data.labels import LabelScheme
from rankwright.data.records import DOC_ID, LABEL, PROBABILITY, QUERY, QUERY_ID, SCORE, RelevanceData
from rankwright.evaluation import figures
from rankwright.evaluation.calibration import expected_calibration_error
from rankwright.evaluation.evaluate import Evaluation, qrels_of
from rankwright.evaluation.html_page import Figures, esc, note, num, write_page
from rankwright.evaluation.ranking import GAIN

FIGURE_NAMES = ("scores", "roc", "pr", "confusion", "per_query", "reliability")
WORST_QUERIES = 20
TOP_DOCUMENTS = 5
MAX_LABEL_GROUPS = 12
DOC_CHARS = 300
RETRIEVE_NOTE = "Retrieve mode: the run ranks the whole corpus, so there are no per-pair scores of judged candidates."


def _label_name(value: Any) -> str:
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _main_metric(per_query: pd.DataFrame) -> str:
    if "ndcg@10" in per_query:
        return "ndcg@10"
    ndcgs = [c for c in per_query.columns if str(c).startswith("ndcg")]
    return ndcgs[-1] if ndcgs else "map"


def _scored(evaluation: Evaluation) -> pd.DataFrame | None:
    """The judged pairs that have a score (None in retrieve mode)."""
    if evaluation.predictions is None:
        return None
    return evaluation.predictions[evaluation.predictions[SCORE].notna()]


# -- sections -------------------------------------------------------------------------------


def _summary(evaluation: Evaluation, data: RelevanceData) -> str:
    m = evaluation.metrics
    d = m["data"]
    ranking = m["ranking"][m["system"]]
    informative = int(evaluation.per_query["informative"].sum())
    reasons = ", ".join(f"{r}: {n}" for r, n in sorted(d["dropped_by_reason"].items()))
    rows = [
        ("system", m["system"]),
        ("mode", m["mode"]),
        ("data source", d["source"]),
        ("rows", f"{d['rows_in']} in = {d['rows_used']} used + {d['rows_dropped']} dropped"),
        ("judgments on documents without text (evaluation only)", d.get("evaluation_only", 0)),
        ("rows dropped by reason", reasons or "none"),
        ("query subset", m.get("subset", "all")),
        ("queries evaluated", f"{len(evaluation.per_query)} ({informative} informative)"),
        ("judged pairs", len(data.pairs)),
        ("labels", f"{m['labels']['scheme']}, relevant when gain >= {m['labels']['relevant_gain']}"),
        ("run", f"{len(evaluation.run)} scored documents for {evaluation.run[QUERY_ID].nunique()} queries"),
        ("run queries without judgments (dropped)", ranking["run_queries_without_judgments_dropped"]),
        ("judged queries missing from the run (scored 0)", ranking["judged_queries_missing_from_run_scored_0"]),
    ]
    body = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
    return f'<table class="kv">{body}</table>'


def _metrics(evaluation: Evaluation, baseline: Evaluation | None) -> str:
    m = evaluation.metrics
    system = m["ranking"][m["system"]]
    random = m["ranking"].get("random")
    base = baseline.metrics["ranking"][baseline.metrics["system"]] if baseline is not None else None
    names = [k for k in system["all"] if k != "n_queries"]
    header = [f"system ({m['system']})"]
    if base is not None:
        header += [f"baseline ({baseline.metrics['system']})", "Δ system − baseline"]  # type: ignore[union-attr]
    if random is not None:
        header.append("random order")
    parts = []
    for subset, caption in (("all", "all queries"), ("informative", "informative queries (relevant and not)")):
        head = "".join(f"<th>{esc(h)}</th>" for h in ["metric", *header])
        rows = []
        for name in ["n_queries", *names]:
            fmt = str if name == "n_queries" else num
            cells = [f'<td class="num">{fmt(system[subset][name])}</td>']
            if base is not None:
                cells.append(f'<td class="num">{fmt(base[subset][name])}</td>')
                cells.append(_delta(system[subset][name], base[subset][name], subset, name))
            if random is not None:
                cells.append(f'<td class="num">{fmt(random[subset][name])}</td>')
            rows.append(f"<tr><th>{esc(name)}</th>{''.join(cells)}</tr>")
        n = system[subset]["n_queries"]
        parts.append(f'<table id="metrics-{subset}"><caption>{esc(caption)}, n={n}</caption>')
        parts.append(f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")
    return "".join(parts)


def _delta(value: Any, base: Any, subset: str, name: str) -> str:
    attrs = f'data-subset="{esc(subset)}" data-metric="{esc(name)}"'
    if name == "n_queries" or value is None or base is None or math.isnan(value) or math.isnan(base):
        return f'<td class="num">{"" if name == "n_queries" else "-"}</td>'
    delta = value - base
    trend = " up" if delta > 0 else " down" if delta < 0 else ""
    return f'<td class="num delta{trend}" {attrs}>{delta:+.4f}</td>'


def _label_groups(scored: pd.DataFrame, scheme: LabelScheme) -> tuple[np.ndarray, list[Any], list[str]]:
    """Each pair's true label group, the groups in label order, and their names: class
    names for class schemes, raw labels by gain otherwise (gains when too many)."""
    if scheme.kind == "classes":
        groups = np.array(scheme.classes, dtype=object)[scheme.class_index(scored[LABEL])]
        order = [c for c in scheme.classes if c in set(groups)]
        return groups, order, list(order)
    raw = scored[LABEL].to_numpy(dtype=object)
    gains = scored[GAIN].to_numpy()
    values = pd.unique(raw)
    if len(values) > MAX_LABEL_GROUPS:
        order = sorted(set(gains.tolist()))
        return gains.astype(object), order, [f"with gain {g}" for g in order]
    gain_of = dict(zip(raw, gains, strict=True))
    numeric = dict(zip(values, pd.to_numeric(pd.Series(values), errors="coerce").fillna(np.inf), strict=True))
    order = sorted(values, key=lambda v: (gain_of[v], numeric[v], str(v)))
    return raw, order, [_label_name(v) for v in order]


def _scores(evaluation: Evaluation, scheme: LabelScheme, figs: Figures) -> str:
    scored = _scored(evaluation)
    if scored is None:
        return note(RETRIEVE_NOTE)
    if scored.empty:
        return note("No judged pair has a score in the run.")
    groups, order, names = _label_groups(scored, scheme)
    counts = ", ".join(f"{n} (n={int((groups == v).sum())})" for v, n in zip(order, names, strict=True))
    image = figs.img("scores", figures.score_distribution, scored[SCORE], groups, order, names, alt="scores by label")
    return f'<p class="labels">Scores of {len(scored)} judged pairs by true label: {esc(counts)}.</p>{image}'


def _binary(evaluation: Evaluation, figs: Figures) -> str:
    scored = _scored(evaluation)
    if scored is None:
        return note(RETRIEVE_NOTE)
    relevant = scored["relevant"].to_numpy(dtype=bool)
    if not 0 < relevant.sum() < len(relevant):
        return note("No ROC or precision-recall curve: the scored judged pairs are not both relevant and not.")
    b = evaluation.metrics["classification"]["binary"]
    text = (
        f"<p>{b['n_pairs']} scored judged pairs, {b['n_relevant']} relevant: ROC-AUC {num(b['roc_auc'])}, "
        f"average precision {num(b['average_precision'])}.</p>"
    )
    roc = figs.img("roc", figures.roc_curve, relevant, scored[SCORE], alt="ROC curve")
    pr = figs.img("pr", figures.pr_curve, relevant, scored[SCORE], alt="precision-recall curve")
    return f'{text}<div class="row">{roc}{pr}</div>'


def _classes(evaluation: Evaluation, scheme: LabelScheme, figs: Figures) -> str | None:
    classes = evaluation.metrics.get("classification", {}).get("classes")
    if scheme.kind != "classes" or classes is None:
        return None
    matrix = classes["confusion_matrix"]
    text = (
        f"<p>{len(matrix['classes'])}-class accuracy {num(classes['accuracy'])}, "
        f"macro F1 {num(classes['macro_f1'])} (rows true, columns predicted).</p>"
    )
    image = figs.img(
        "confusion",
        figures.confusion_matrix,
        np.array(matrix["rows_true_columns_predicted"]),
        matrix["classes"],
        alt="confusion matrix",
    )
    return text + image


def _per_query(evaluation: Evaluation, figs: Figures) -> str:
    metric = _main_metric(evaluation.per_query)
    values = evaluation.per_query[metric].to_numpy(dtype=float)
    if not len(values):
        return note("No judged query to plot.")
    text = (
        f"<p>{metric} of {len(values)} queries: mean {num(values.mean())}, "
        f"{int((values == 0).sum())} at 0, {int((values == 1).sum())} at 1.</p>"
    )
    return text + figs.img("per_query", figures.per_query_curve, values, metric, alt=f"{metric} per query")


def _worst(evaluation: Evaluation, data: RelevanceData, scheme: LabelScheme) -> str | None:
    if not data.has_texts:  # a qrels file alone: no query or document to show
        return None
    metric = _main_metric(evaluation.per_query)
    qrels = qrels_of(data, scheme).astype({QUERY_ID: str, DOC_ID: str})
    best_gain = qrels.groupby(QUERY_ID)[GAIN].max()
    per_query = evaluation.per_query
    gainful = per_query[per_query.index.map(best_gain).fillna(0) > 0]
    worst = gainful.sort_index().sort_values(metric, kind="mergesort").head(WORST_QUERIES)
    run = evaluation.run[[QUERY_ID, DOC_ID, SCORE]].astype({QUERY_ID: str, DOC_ID: str})
    run = run[run[QUERY_ID].isin(worst.index)]
    ranked = run.sort_values([QUERY_ID, SCORE, DOC_ID], ascending=[True, False, False], kind="mergesort")
    top = ranked.groupby(QUERY_ID).head(TOP_DOCUMENTS)
    judged = qrels.assign(label=data.pairs[LABEL].to_numpy()).set_index([QUERY_ID, DOC_ID])
    documents = data.documents()
    rows = []
    for i, (qid, row) in enumerate(worst.iterrows(), start=1):
        head = f"{row[QUERY]} ({qid}; {row['n_judged']} judged, {row['n_relevant']} relevant)"
        rows.append(
            f'<tr class="worst-query" data-query-id="{esc(qid)}" data-value="{row[metric]:.6f}">'
            f'<td>{i}</td><td colspan="3">{esc(head)}</td><td class="num">{num(row[metric])}</td></tr>'
        )
        docs = top[top[QUERY_ID] == qid]
        if docs.empty:
            rows.append('<tr><td></td><td colspan="4" class="note">not in the run (scored 0)</td></tr>')
        for rank, (doc_id, score) in enumerate(zip(docs[DOC_ID], docs[SCORE], strict=True), start=1):
            rows.append(_doc_row(qid, doc_id, rank, score, judged, documents, scheme.relevant_gain))
    head = "".join(f"<th>{h}</th>" for h in ("#", "query / document", "text", "label", f"{metric} / score"))
    left_out = len(per_query) - len(gainful)
    left_note = note(f"{left_out} queries whose judged documents all have gain 0 are left out.") if left_out else ""
    intro = (
        f"<p>The {len(worst)} queries with the lowest {metric}, each with the top {TOP_DOCUMENTS} documents by "
        "the system's score.</p>"
    )
    table = f'<table id="worst-table"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    return intro + left_note + table


def _doc_row(
    qid: str, doc_id: str, rank: int, score: float, judged: pd.DataFrame, documents: dict[str, str], relevant_gain: int
) -> str:
    text = documents.get(doc_id, "")
    text = text if len(text) <= DOC_CHARS else text[:DOC_CHARS] + "…"
    if (qid, doc_id) in judged.index:
        entry = judged.loc[(qid, doc_id)]
        relevant = entry[GAIN] >= relevant_gain
        label = esc(_label_name(entry["label"]))
        label = f'<span class="relevant">{label} (relevant)</span>' if relevant else label
    else:
        label = '<span class="note">unjudged</span>'
    return (
        f'<tr class="doc" data-query-id="{esc(qid)}" data-doc-id="{esc(doc_id)}"><td>{rank}</td>'
        f'<td>{esc(doc_id)}</td><td>{esc(text)}</td><td>{label}</td><td class="num">{num(score)}</td></tr>'
    )


def _calibration(evaluation: Evaluation, figs: Figures) -> str:
    scored = _scored(evaluation)
    if scored is None:
        return note(RETRIEVE_NOTE + " No reliability diagram.")
    if scored.empty:
        return note("No judged pair has a score: no reliability diagram.")
    calibrated = PROBABILITY in scored and scored[PROBABILITY].notna().all()
    scores = scored[PROBABILITY if calibrated else SCORE].to_numpy(dtype=float)
    low, high = scores.min(), scores.max()
    if not calibrated and (low < 0 or high > 1):
        return note(
            f"No reliability diagram: the scores range from {low:.4g} to {high:.4g}, so they are not "
            "probabilities. It is drawn for scores in [0, 1], such as a calibrated model's P(relevant)."
        )
    relevant = scored["relevant"].to_numpy(dtype=bool)
    ece = expected_calibration_error(scores, relevant)
    what = "the model's calibrated P(relevant) (its folder's calibration)" if calibrated else "the scores"
    text = f'<p>Expected calibration error of {what} over 10 equal-width bins: <span id="ece">{ece:.4f}</span>.</p>'
    return text + figs.img("reliability", figures.reliability_diagram, scores, relevant, alt="reliability diagram")


# -- the page -------------------------------------------------------------------------------


def write_report(
    out_dir: str | Path,
    evaluation: Evaluation,
    data: RelevanceData,
    scheme: LabelScheme,
    *,
    baseline: Evaluation | None = None,
    title: str = "rankwright evaluation",
) -> Path:
    """Write ``out_dir/report.html`` and ``out_dir/figures/*.png``; returns the page's path."""
    out = Path(out_dir)
    figure_dir = out / "figures"
    figure_dir.mkdir(parents=True, exist_ok=True)
    figs = Figures()
    sections = [
        ("summary", "Summary", _summary(evaluation, data)),
        ("metrics", "Ranking metrics", _metrics(evaluation, baseline)),
        ("scores", "Score distributions", _scores(evaluation, scheme, figs)),
        ("binary", "ROC and precision-recall", _binary(evaluation, figs)),
        ("classes", "Classes", _classes(evaluation, scheme, figs)),
        ("per-query", "Per-query results", _per_query(evaluation, figs)),
        ("worst", "Worst queries", _worst(evaluation, data, scheme)),
        ("calibration", "Calibration", _calibration(evaluation, figs)),
    ]
    sections = [s for s in sections if s[2] is not None]
    figs.write(figure_dir, stale=FIGURE_NAMES)  # removes figures of an earlier report in this folder
    system, source = evaluation.metrics["system"], evaluation.metrics["data"]["source"]
    return write_page(out / "report.html", title, f"{system} on {source}", sections, tab_title=f"{title}: {system}")

"""compare.html: the runs of a comparison (:mod:`rankwright.evaluation.comparison`) side
by side on one self-contained page (the style of report.html; the figure embedded as a
PNG data URI and also written to ``figures/differences.png``)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rankwright.evaluation import figures
from rankwright.evaluation.html_page import Figures, esc, note, num, write_page
from rankwright.evaluation.report import TABLE_METRICS

if TYPE_CHECKING:
    from rankwright.evaluation.comparison import Comparison

FIELDS = ("queries", "mean_a", "mean_b", "mean_difference", "wins", "ties", "losses", "t_test_p", "randomisation_p")
EXTRA_STYLE = "span.delta { font-size: 0.85em; } span.up { color: #1a7f37; } span.down { color: #c62828; }"
HEADINGS = ("queries", "run", "baseline", "Δ run − baseline", "wins", "ties", "losses", "t-test p", "randomisation p")


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _summary(c: Comparison) -> str:
    m = c.metrics
    d = m["data"]
    per_query = c.per_query
    facts = [
        ("data source", d["source"]),
        ("rows", f"{d['rows_in']} in = {d['rows_used']} used + {d['rows_dropped']} dropped"),
        ("judgments on documents without text (evaluation only)", d.get("evaluation_only", 0)),
        ("query subset", m["subset"]),
        ("judged queries", f"{len(per_query)} ({int(per_query['informative'].sum())} informative)"),
        ("labels", f"{m['labels']['scheme']}, relevant when gain >= {m['labels']['relevant_gain']}"),
        ("baseline", c.baseline),
        ("paired tests", f"{', '.join(c.compared)}; randomisation with {m['randomisation']['rounds']} sign flips"),
    ]
    kv = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in facts)
    head = "".join(
        f"<th>{h}</th>"
        for h in ("run", "file", "scored documents", "queries", "judged queries missing (scored 0)", "unjudged dropped")
    )
    rows = []
    for r in c.runs:
        s = r.result.summary()
        cells = [
            esc(r.name + (" (baseline)" if r.name == c.baseline else "")),
            esc(r.path),
            str(r.scored),
            str(r.queries),
            str(s["judged_queries_missing_from_run_scored_0"]),
            str(s["run_queries_without_judgments_dropped"]),
        ]
        rows.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    return (
        f'<table class="kv">{kv}</table><table id="runs-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _metrics(c: Comparison) -> str:
    summaries = c.summaries
    base = summaries[c.baseline]
    names = [n for n in c.columns or TABLE_METRICS if n in base["all"]]
    parts = []
    for subset, caption in (("all", "all queries"), ("informative", "informative queries (relevant and not)")):
        head = "".join(f"<th>{esc(h)}</th>" for h in ["run", "n", *names])
        rows = []
        for run, summary in summaries.items():
            part = summary[subset]
            cells = [f"<th>{esc(run)}</th>", f'<td class="num">{part["n_queries"]}</td>']
            for name in names:
                value = part[name]
                attrs = f'data-run="{esc(run)}" data-subset="{subset}" data-metric="{esc(name)}"'
                delta = ""
                if run != c.baseline and not (_missing(value) or _missing(base[subset][name])):
                    diff = value - base[subset][name]
                    trend = "up" if diff > 0 else "down" if diff < 0 else ""
                    delta = f' <span class="delta {trend}">({diff:+.4f})</span>'
                cells.append(f'<td class="num" {attrs}>{num(value)}{delta}</td>')
            rows.append(f"<tr>{''.join(cells)}</tr>")
        parts.append(
            f'<table id="metrics-{subset}"><caption>{esc(caption)}; in brackets: run − {esc(c.baseline)}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        )
    return "".join(parts)


def _value(field: str, value: Any) -> str:
    if field in ("queries", "wins", "ties", "losses"):
        return str(value)
    if field == "mean_difference":
        return "-" if _missing(value) else f"{value:+.4f}"
    return num(value)


def _comparisons(c: Comparison) -> str:
    if not c.comparisons:
        return note("Only the baseline run: nothing to compare.")
    head = "".join(f"<th>{esc(h)}</th>" for h in ("run", "metric", *HEADINGS))
    rows = []
    for comp in c.comparisons:
        cells = [f"<td>{esc(comp['system'])}</td>", f"<td>{esc(comp['metric'])}</td>"]
        cells += [f'<td class="num" data-field="{f}">{_value(f, comp[f])}</td>' for f in FIELDS]
        attrs = f'data-run="{esc(comp["system"])}" data-metric="{esc(comp["metric"])}"'
        rows.append(f'<tr class="paired" {attrs}>{"".join(cells)}</tr>')
    intro = (
        f"<p>Each run against {esc(c.baseline)}, query by query over the {len(c.per_query)} judged queries: "
        "wins are queries where the run scores higher; p-values of the paired t-test and of the two-sided "
        "paired randomisation test.</p>"
    )
    return f'{intro}<table id="comparison-table"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _differences(c: Comparison, figs: Figures) -> str:
    if not c.compared or len(c.per_query) == 0:
        return note("No per-query metric to compare.")
    metric = c.compared[0]
    others = [r.name for r in c.runs if r.name != c.baseline]
    base = c.per_query[f"{c.baseline}:{metric}"]
    diffs = [(c.per_query[f"{name}:{metric}"] - base).to_list() for name in others]
    text = (
        f"<p>Per-query {esc(metric)} of each run minus {esc(c.baseline)}'s, each run's differences sorted: "
        "above zero the queries a run wins, below zero those it loses.</p>"
    )
    image = figs.img(
        "differences", figures.paired_differences, others, diffs, metric, c.baseline, alt=f"{metric} differences"
    )
    return text + image


def write_compare_report(out_dir: str | Path, comparison: Comparison, title: str = "rankwright comparison") -> Path:
    """Write ``out_dir/compare.html`` and ``out_dir/figures/differences.png``."""
    out = Path(out_dir)
    figs = Figures()
    sections = [
        ("summary", "Summary", _summary(comparison)),
        ("metrics", "Ranking metrics", _metrics(comparison)),
        ("comparison", "Paired comparison with the baseline", _comparisons(comparison)),
        ("differences", "Per-query differences", _differences(comparison, figs)),
    ]
    figs.write(out / "figures", stale=["differences"])
    runs = ", ".join(r.name for r in comparison.runs)
    subtitle = f"{runs} on {comparison.metrics['data']['source']}"
    return write_page(out / "compare.html", title, subtitle, sections, tab_title=f"{title}: {runs}", style=EXTRA_STYLE)

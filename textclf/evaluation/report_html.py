"""Self-contained HTML pages: one run's `report.html` and the building blocks `textclf compare` reuses.

Pages hold everything inline (styles in a `<style>` element, images as
`data:` URIs, no script) and declare a Content-Security-Policy that forbids
any other source, so opening one never touches the network and a stray
reference would show up as a console error instead of a request.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
main{max-width:1180px;margin:0 auto;padding:18px 28px 60px}
h1{font-size:22px;margin:8px 0 2px}
h2{font-size:18px;margin:30px 0 8px;border-bottom:1px solid #d8dce3;padding-bottom:4px}
h3{font-size:15px;margin:16px 0 6px}.muted{color:#667085}nav a{margin-right:12px;color:#2a5bd7;text-decoration:none}
table{border-collapse:collapse;background:#fff;margin:6px 0 10px;font-variant-numeric:tabular-nums}
th,td{border:1px solid #e1e4ea;padding:3px 8px;text-align:left;vertical-align:top}th{background:#eef1f5;font-weight:600}
td.num{text-align:right}.cm td{text-align:center;min-width:1.8em}.cm td,.cm th{padding:2px 4px}.cm th{font-size:12px}
.cm thead th+th{writing-mode:vertical-rl;transform:rotate(180deg);text-align:left}.scroll{overflow-x:auto}
.kv td:first-child{color:#475467;white-space:nowrap}.card{background:#fff;border:1px solid #e1e4ea;border-radius:6px;
padding:10px 14px;margin:10px 0}.tokens{line-height:2;max-height:16em;overflow:auto}
.tokens span{padding:1px 2px;border-radius:3px}.bar{display:inline-block;height:10px;background:#4c78a8;
vertical-align:middle;margin-right:6px}.hist{display:flex;align-items:flex-end;height:90px;gap:2px;margin:6px 0}
.hist div{background:#72b7b2;flex:1;min-width:3px}.better{background:#dff3e4}.worse{background:#fde2e1}
img{max-width:100%;background:#fff;border:1px solid #e1e4ea}details{margin:6px 0}summary{cursor:pointer}
"""
LONG_TEXT = 600  # characters of a text shown in tables
SHOWN_TOKENS = 1500  # tokens of one example shown with highlights


def esc(value):
    """`value` as escaped HTML text."""
    return html.escape(str(value), quote=True)


def fmt(value, digits=4):
    """Numbers to fixed digits, None to a dash, the rest as text (escaped)."""
    if value is None:
        return "&ndash;"
    if isinstance(value, bool):
        return esc(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return esc(value)


def shorten(text, limit=LONG_TEXT):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + " \u2026"


def table(header, rows, css_class=""):
    """An HTML table; cells are HTML already (escape with `esc`/`fmt`)."""
    head = "".join(f"<th>{cell}</th>" for cell in header)
    body = "".join("<tr>" + "".join(_cell(cell) for cell in row) + "</tr>" for row in rows)
    return f'<table class="{css_class}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _cell(cell):
    if isinstance(cell, tuple):  # (html, attributes)
        return f"<td {cell[1]}>{cell[0]}</td>"
    return f"<td>{cell}</td>"


def image(path, alt):
    """An `<img>` with the PNG at `path` inlined as a data URI, or "" if there is none."""
    path = Path(path)
    if not path.is_file():
        return ""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{data}">'


def page(title, subtitle, sections):
    """A complete page. `sections` is a list of (anchor, heading, html body)."""
    nav = "".join(f'<a href="#{anchor}">{esc(heading)}</a>' for anchor, heading, _ in sections)
    body = "".join(f'<section id="{anchor}"><h2>{esc(heading)}</h2>{content}</section>'
                   for anchor, heading, content in sections)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head>"
        f"<body><main><h1>{esc(title)}</h1><div class=\"muted\">{subtitle}</div><nav>{nav}</nav>{body}"
        "</main></body></html>\n"
    )


def flatten(value, prefix=""):
    """Nested dicts as (dotted key, value) pairs; lists of scalars joined, other lists as compact JSON."""
    if isinstance(value, dict):
        pairs = []
        for key, item in value.items():
            pairs.extend(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return pairs
    if isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value):
        return [(prefix, ", ".join(str(v) for v in value))]
    if isinstance(value, list):
        return [(prefix, json.dumps(value, separators=(",", ":")))]
    return [(prefix, value)]


def key_value_table(mapping):
    rows = [[esc(key), esc(shorten(value, 300)) if isinstance(value, str) else fmt(value)]
            for key, value in flatten(mapping)]
    return table(["setting", "value"], rows, "kv")


def highlight(tokens, scores):
    """Tokens as spans shaded green (for the class) or red (against), relative to the largest |score|."""
    largest = max((abs(s) for s in scores), default=0.0) or 1.0
    spans = []
    for token, score in list(zip(tokens, scores))[:SHOWN_TOKENS]:
        alpha = min(1.0, abs(score) / largest) * 0.85
        colour = "40,160,70" if score > 0 else "220,60,50"
        spans.append(f'<span title="{score:+.4f}" style="background:rgba({colour},{alpha:.2f})">{esc(token)}</span>')
    more = len(tokens) - SHOWN_TOKENS
    tail = f' <span class="muted">({more:,} more tokens)</span>' if more > 0 else ""
    return '<div class="tokens">' + " ".join(spans) + tail + "</div>"


def bars(counts):
    """Label counts as rows of horizontal bars."""
    largest = max(counts.values(), default=0) or 1
    rows = [[esc(label), (f'<span class="bar" style="width:{160 * n / largest:.0f}px"></span>{n:,}', "")]
            for label, n in counts.items()]
    return table(["class", "rows"], rows)


# ---- the run page -------------------------------------------------------------------------------------


def write_run_page(report_dir, *, metrics, per_class, matrix, labels, calibration=None, pairs=(), examples=(),
                   data_summary=None, metadata=None):
    """Writes `report_dir/report.html` from the parts `reports.write_reports` computed.

    Args:
        report_dir: The reports directory (its PNGs are inlined).
        metrics: Overall metrics (`compute_metrics` plus `evaluated_on`, ECE).
        per_class: scikit-learn's classification report dict.
        matrix: Confusion counts in `labels` order; None for a multi-label
            evaluation, whose per-label 2x2 counts and label co-occurrence PNGs are shown instead.
        labels: Row and column labels of `matrix`.
        calibration: `calibration.reliability` table, if any.
        pairs: `reports.confused_pairs` result.
        examples: Most confidently wrong rows (`reports.wrong_examples`).
        data_summary: Named `reports.summarize_data` results.
        metadata: The model's metadata, shown generically.
    """
    report_dir = Path(report_dir)
    confusion = ("confusion", "Confusion matrix", confusion_html(matrix, labels)) if matrix is not None else (
        "confusion", "Per-label confusion and co-occurrence",
        image(report_dir / "multilabel_confusion.png", "per-label confusion counts")
        + image(report_dir / "label_cooccurrence.png", "label co-occurrence"))
    sections = [
        ("metrics", "Metrics", metrics_table([metrics], [""])),
        ("trained", "What was trained", metadata_html(metadata)),
        confusion,
        ("classes", "Per class", per_class_html(per_class, labels)),
        ("curves", "Training curves",
         image(report_dir / "training_curves.png", "training curves")
         or '<p class="muted">No training history (written by <code>textclf train</code>).</p>'),
        ("calibration", "Calibration", calibration_html(calibration, report_dir)),
        *([("confused", "Most confused classes", pairs_html(pairs))] if matrix is not None else []),
        ("wrong", "Most confidently wrong", examples_html(examples)),
        ("data", "Data", data_html(data_summary or {})),
    ]
    subtitle = f"evaluated on {esc(metrics.get('evaluated_on', ''))} &middot; {metrics.get('rows', 0):,} rows"
    (report_dir / "report.html").write_text(page("textclf report", subtitle, sections), encoding="utf-8")


METRIC_NAMES = (("accuracy", "accuracy"), ("micro_f1", "micro F1"), ("macro_f1", "macro F1"),
                ("weighted_f1", "weighted F1"), ("samples_f1", "samples F1"), ("subset_accuracy", "subset accuracy"),
                ("hamming_loss", "Hamming loss"),
                ("expected_calibration_error", "expected calibration error"), ("rows", "rows"),
                ("evaluated_on", "evaluated on"))


def metrics_table(runs, names):
    """One column per run (`runs`: metric dicts, `names`: their headings)."""
    rows = [[esc(title)] + [(fmt(run.get(key)), 'class="num"') for run in runs] for key, title in METRIC_NAMES
            if any(key in run for run in runs)]
    return table(["metric"] + [esc(name) for name in names], rows)


def metadata_html(metadata):
    if not metadata:
        return '<p class="muted">No model metadata given.</p>'
    # Sections the reader wants first; everything else follows in its own order.
    first = [key for key in ("fitted", "requested", "config") if isinstance(metadata.get(key), dict)]
    skip = {"labels", "metrics"}
    general = {k: v for k, v in metadata.items() if not isinstance(v, dict) and k not in skip}
    labels = [str(label) for label in metadata.get("labels", [])]
    parts = [f"<p>{len(labels)} classes: {esc(', '.join(labels))}</p>"]
    for key in first + [k for k, v in metadata.items() if isinstance(v, dict) and k not in first and k not in skip]:
        opened = " open" if key == (first[0] if first else None) else ""
        parts.append(f"<details{opened}><summary>{esc(key)}</summary>{key_value_table(metadata[key])}</details>")
    if general:
        parts.append(f"<details><summary>general</summary>{key_value_table(general)}</details>")
    return "".join(parts)


def confusion_html(matrix, labels):
    """Counts, each cell shaded by its share of the true class's rows (blue right, red wrong)."""
    rows = []
    for i, label in enumerate(labels):
        total = int(matrix[i].sum()) or 1
        cells = [esc(label)]
        for j in range(len(labels)):
            n = int(matrix[i, j])
            share = n / total
            # Mistakes are rarer than hits: their shade is stretched (x3) so that a 10% confusion shows.
            colour, alpha = ("76,120,168", share) if i == j else ("228,87,86", min(1.0, 3 * share))
            style = f'style="background:rgba({colour},{alpha * 0.8:.2f})" title="{share:.1%} of {esc(label)}"'
            cells.append((f"{n:,}" if n else "", style))
        rows.append(cells)
    return ('<p class="muted">Rows: true class; columns: predicted. Shading: share of the true class\'s rows (mistakes three times stronger).</p>'
            + '<div class="scroll">' + table(["true \\ predicted"] + [esc(label) for label in labels], rows, "cm")
            + "</div>")


def per_class_html(report, labels):
    rows = []
    for label in list(labels) + ["micro avg", "macro avg", "weighted avg", "samples avg"]:
        entry = report.get(label)
        if not isinstance(entry, dict):
            continue
        f1 = entry.get("f1-score", 0.0)
        rows.append([esc(label)] + [(fmt(entry.get(k)), 'class="num"') for k in ("precision", "recall")]
                    + [(f'<span class="bar" style="width:{80 * f1:.0f}px"></span>{f1:.4f}', "")]
                    + [(fmt(int(entry.get("support", 0))), 'class="num"')])
    return table(["class", "precision", "recall", "F1", "support"], rows)


def calibration_html(calibration, report_dir):
    if not calibration or calibration.get("ece") is None:
        return '<p class="muted">No confidences given, so no calibration.</p>'
    rows = [[f"{b['lower']:.2f}&ndash;{b['upper']:.2f}", (fmt(b["count"]), 'class="num"'),
             (fmt(b["confidence"]), 'class="num"'), (fmt(b["accuracy"]), 'class="num"')]
            for b in calibration["bins"] if b["count"]]
    return (
        f"<p>Expected calibration error <b>{calibration['ece']:.4f}</b>: on average over "
        f"{calibration['predictions']:,} predictions, the stated confidence and the share of right answers "
        "differ by this much (0 is perfect). A bar (accuracy) below its red tick (mean confidence): "
        "overconfident; above it: underconfident.</p>"
        + image(report_dir / "reliability_diagram.png", "reliability diagram")
        + "<details><summary>bins</summary>" + table(["confidence", "predictions", "mean confidence", "accuracy"], rows)
        + "</details>"
    )


def pairs_html(pairs):
    if not pairs:
        return "<p>No mistakes.</p>"
    rows = [[esc(p["true_label"]), esc(p["predicted_label"]), (fmt(p["count"]), 'class="num"'),
             (f"{p['share_of_true_label']:.1%}", 'class="num"'),
             "<br>".join(f"&ldquo;{esc(shorten(t, 240))}&rdquo;" for t in p["examples"])]
            for p in pairs]
    return table(["true", "predicted as", "rows", "share of true", "examples (most confident first)"], rows)


def examples_html(examples):
    if not examples:
        return '<p class="muted">No misclassified rows with texts.</p>'
    cards = []
    for e in examples:
        head = (f"true <b>{esc(e['true_label'])}</b>, predicted <b>{esc(e['predicted_label'])}</b>"
                + (f" with confidence {e['confidence']:.3f}" if e.get("confidence") is not None else ""))
        if "tokens" in e:
            order = sorted(range(len(e["scores"])), key=lambda k: -e["scores"][k])[:5]
            strongest = ", ".join(f"{esc(e['tokens'][k])} ({e['scores'][k]:+.3f})" for k in order)
            body = (highlight(e["tokens"], e["scores"])
                    + f'<div class="muted">strongest for the prediction: {strongest}</div>')
        else:
            body = f"<div>{esc(shorten(e['text'], 2000))}</div>"
        cards.append(f'<div class="card"><div>{head}</div>{body}</div>')
    legend = ('<p class="muted">Token shading: how much leaving the token out lowers the predicted class\'s '
              "probability (green: pushed towards the wrong prediction; red: against it).</p>")
    return legend + "".join(cards)


def data_html(summaries):
    if not summaries:
        return '<p class="muted">No data summary.</p>'
    return "".join(f"<h3>{esc(name)}</h3>{summary_html(summary)}" for name, summary in summaries.items())


def summary_html(summary):
    parts = [f"<p>{summary.get('rows', 0):,} rows, {len(summary.get('classes', {}))} classes</p>",
             bars(summary.get("classes", {}))]
    length = summary.get("length")
    if length:
        counts, edges = length["histogram"]["counts"], length["histogram"]["edges"]
        largest = max(counts, default=0) or 1
        columns = "".join(f'<div style="height:{100 * n / largest:.0f}%" '
                          f'title="{edges[k]}&ndash;{edges[k + 1]}: {n:,}"></div>' for k, n in enumerate(counts))
        parts.append(
            f"<p>Length in {esc(length['unit'])}: mean {length['mean']:.1f}, median {length['p50']:.0f}, "
            f"90th percentile {length['p90']:.0f}, 95th {length['p95']:.0f}, max {length['max']:,}</p>"
            f'<div class="hist">{columns}</div><div class="muted">0 &ndash; {edges[-1]:,} {esc(length["unit"])} '
            "(the last bar holds everything longer)</div>"
        )
    if summary.get("coverage"):
        parts.append("<h3>Embedding coverage</h3>" + key_value_table(summary["coverage"]))
    return "".join(parts)

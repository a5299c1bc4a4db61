"""The report folder of ``factcheck eval``: results.json, report.md, a self-contained report.html and plots.

The tables are built once (``Table``) and rendered to Markdown and HTML, so the
two reports can never disagree. ``eval/RESULTS.md`` is the Markdown summary of
a full run, written by the command itself.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path

from factcheck.evaluation.suite import SuiteResult

TARGETS_NOTE = (
    "Targets (issue 5): QAGS pooled balanced accuracy >= 0.70 and above both baselines; "
    "FEVER-symmetric >= 0.80 (balanced accuracy, supported vs. not); HealthVer 3-way verdict accuracy >= 0.55. "
    "Targets (issue 13, a trustworthy 'contradicted'): FNC-1 D contradiction precision >= 0.80 at recall >= 0.40 and "
    "macro-F1 (supported / contradicted / other) >= 0.65; FEVER-symmetric and HealthVer contradiction precision "
    ">= 0.70 with at most 10% of supported claims called contradicted; balanced accuracy above both baselines on "
    "every system-level set."
)


@dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list[str]]
    note: str = ""


def _f(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def _short(model: str) -> str:
    return Path(model).name or model


def target_rows(result: SuiteResult) -> list[list[str]]:
    by_key = {(r["model"], r["benchmark"], r["method"]): r for r in result.system_level}
    rows = []
    for model in result.models:
        qags = {m: by_key.get((model, "qags (pooled)", m)) for m in ("factcheck", "summac-zs", "chunks-400")}
        if all(qags.values()):
            ours = qags["factcheck"]["balanced_accuracy"]
            best_baseline = max(qags["summac-zs"]["balanced_accuracy"], qags["chunks-400"]["balanced_accuracy"])
            met = ours >= 0.70 and ours > best_baseline
            shown, bar = _told_apart(ours, best_baseline)
            rows.append([_short(model), "QAGS pooled, balanced accuracy", shown, f">= 0.70 and > {bar}", _met(met)])
        fever = by_key.get((model, "fever-symmetric-test", "factcheck"))
        if fever:
            rows.append([_short(model), "FEVER-symmetric, balanced accuracy", _f(fever["balanced_accuracy"]), ">= 0.80", _met(fever["balanced_accuracy"] >= 0.80)])
        health = by_key.get((model, "healthver-dev", "factcheck"))
        if health:
            rows.append([_short(model), "HealthVer, 3-way verdict accuracy", _f(health["verdict_accuracy"]), ">= 0.55", _met(health["verdict_accuracy"] >= 0.55)])
        fnc = by_key.get((model, "fnc-1-dev", "factcheck"))
        if fnc:
            precision, recall = fnc.get("contradiction_precision"), fnc.get("contradiction_recall")
            ok = precision is not None and precision >= 0.80 and (recall or 0) >= 0.40
            rows.append([_short(model), "FNC-1 D, contradiction precision at recall", f"{_f(precision)} at {_f(recall)}", ">= 0.80 at >= 0.40", _met(ok)])
            rows.append([_short(model), "FNC-1 D, macro-F1 (S/C/other)", _f(fnc.get("macro_f1_3way")), ">= 0.65", _met((fnc.get("macro_f1_3way") or 0) >= 0.65)])
        for name in ("fever-symmetric-test", "healthver-dev"):
            ours = by_key.get((model, name, "factcheck"))
            if not ours:
                continue
            precision, false_share = ours.get("contradiction_precision"), ours.get("supported_called_contradicted")
            rows.append([_short(model), f"{name}, contradiction precision", _f(precision), ">= 0.70", _met(precision is not None and precision >= 0.70)])
            rows.append([_short(model), f"{name}, supported called contradicted", _f(false_share), "<= 0.10", _met(false_share is not None and false_share <= 0.10)])
        for (m, name, method), ours in by_key.items():
            if m != model or method != "factcheck":
                continue
            baselines = [by_key.get((model, name, b)) for b in ("summac-zs", "chunks-400")]
            if all(baselines):
                best = max(b["balanced_accuracy"] for b in baselines)
                shown, bar = _told_apart(ours["balanced_accuracy"], best)
                rows.append([_short(model), f"{name}, balanced accuracy above both baselines", shown, f"> {bar}", _met(ours["balanced_accuracy"] > best)])
    return rows


def _told_apart(ours: float, bar: float) -> tuple[str, str]:
    """Both numbers with as many decimals (3 or more) as it takes to see which is larger: "0.819 > 0.819 met"
    reads as a mistake."""
    digits = 3
    while digits < 6 and ours != bar and round(ours, digits) == round(bar, digits):
        digits += 1
    return f"{ours:.{digits}f}", f"{bar:.{digits}f}"


def _met(ok: bool) -> str:
    return "met" if ok else "**not met**"


def tables(result: SuiteResult) -> list[Table]:
    out = []
    targets = target_rows(result)
    if targets:
        out.append(Table("Targets", ["model", "measure", "reached", "target", ""], targets, TARGETS_NOTE))
    if result.system_level:
        out.append(
            Table(
                "System level (claim against evidence or article)",
                [
                    "model",
                    "benchmark",
                    "method",
                    "n",
                    "balanced acc.",
                    "ROC-AUC",
                    "verdict acc.",
                    "view",
                    "ECE",
                    "called contradicted",
                    "contradiction precision",
                    "contradiction recall",
                    "supported called contradicted",
                    "macro-F1 (S/C/other)",
                ],
                [
                    [
                        _short(r["model"]),
                        r["benchmark"],
                        r["method"],
                        str(r["n"]),
                        _f(r["balanced_accuracy"]),
                        _f(r["roc_auc"]),
                        _f(r["verdict_accuracy"]),
                        r["verdict_view"] or "",
                        _f(r["ece"]),
                        str(r.get("contradicted_called", "")),
                        _f(r.get("contradiction_precision")),
                        _f(r.get("contradiction_recall")),
                        _f(r.get("supported_called_contradicted")),
                        _f(r.get("macro_f1_3way")),
                    ]
                    for r in result.system_level
                ],
                "Balanced accuracy and ROC-AUC: supported vs. not. Verdict accuracy: the four verdicts against "
                "gold labels that are verdicts (conflicting counts as wrong where the set has no such label). "
                "ECE: P(supported) against the binary label, 10 bins. summac-zs: every sentence, max P(e) - max P(c); "
                "chunks-400: 400-token chunks, max P(e); both decide from their strongest passage at thresholds chosen on D "
                "data, same model. Contradiction precision: of the claims called contradicted, the share that are "
                "(empty when none was, and where the gold labels say only entailed or not: COVID-Fact, QAGS); "
                "supported called contradicted: the share of supported claims called "
                "contradicted, the false accusations. Macro-F1: averaged over those of supported, contradicted and "
                "other that the set's gold labels hold (FEVER-symmetric has no 'other'; a call of it is a miss).",
            )
        )
    if result.model_level:
        out.append(
            Table(
                "Model level (sentence pairs)",
                ["model", "set", "view", "n", "accuracy", "macro-F1", "per-class F1"],
                [
                    [
                        _short(r["model"]),
                        r["name"],
                        r["view"],
                        str(r["n"]),
                        _f(r["accuracy"]),
                        _f(r["macro_f1"]),
                        ", ".join(f"{label} {value:.3f}" for label, value in r["per_class_f1"].items()),
                    ]
                    for r in result.model_level
                ],
            )
        )
    return out


def confusion_tables(result: SuiteResult) -> list[Table]:
    out = []
    for r in result.model_level:
        out.append(
            Table(
                f"{_short(r['model'])} · {r['name']} (rows gold, columns predicted)",
                ["gold"] + r["confusion_labels"],
                [[label] + [str(x) for x in row] for label, row in zip(r["confusion_labels"], r["confusion"])],
            )
        )
    for r in result.system_level:
        out.append(
            Table(
                f"{_short(r['model'])} · {r['benchmark']} · {r['method']} (rows gold, columns verdict)",
                ["gold"] + r["confusion_predicted"],
                [[label] + [str(x) for x in row] for label, row in zip(r["confusion_gold"], r["confusion"])],
            )
        )
    return out


def mistake_tables(result: SuiteResult) -> list[Table]:
    out = []
    for key, mistakes in result.mistakes.items():
        model, name = key.split("|", 1)
        out.append(
            Table(
                f"{_short(model)} · {name}: the {len(mistakes)} most confident mistakes",
                ["id", "claim", "gold", "verdict", "conf.", "deciding evidence", "key span"],
                [
                    [
                        m["id"],
                        m["claim"],
                        m["gold"],
                        m["verdict"],
                        f"{m['confidence']:.3f}",
                        _clip(m["evidence"] or ""),
                        (m["key_span"] or "") + (f" ({m['rule']})" if m["rule"] else ""),
                    ]
                    for m in mistakes
                ],
            )
        )
    return out


def _clip(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def header_lines(result: SuiteResult) -> list[str]:
    return [
        f"- commit: `{result.commit}`",
        f"- model(s): {', '.join(f'`{m}`' for m in result.models)}",
        f"- data: `{result.data_dir}`{' (quick sample: a fixed random subset of every set)' if result.quick else ''}",
        f"- run time: {result.seconds:.0f} s on {result.machine['platform']} ({result.machine['threads']} threads, "
        f"backend {result.machine['backend']}, "
        f"torch {result.machine['torch']}, transformers {result.machine['transformers']})",
    ]


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(table: Table, level: int = 2) -> str:
    lines = [f"{'#' * level} {table.title}", ""]
    if table.note:
        lines += [table.note, ""]
    lines.append("| " + " | ".join(table.headers) + " |")
    lines.append("|" + "|".join("---" for _ in table.headers) + "|")
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in table.rows]
    return "\n".join(lines) + "\n"


def hash_lines(result: SuiteResult) -> list[str]:
    return [f"- `{path}` {digest}" for path, digest in result.data_sha256.items()]


def render_results_md(result: SuiteResult, command: str) -> str:
    parts = [
        "# factcheck evaluation results",
        "",
        f"Generated by `{command}`; do not edit by hand. The full report (plots, confusion matrices, error "
        "analysis) is written to the command's `--out` folder.",
        "",
        *header_lines(result),
        "",
    ]
    parts += [markdown_table(t) for t in tables(result)]
    parts += ["## Data files (sha256)", "", *hash_lines(result), ""]
    return "\n".join(parts)


def render_report_md(result: SuiteResult, plots: list[Path], command: str) -> str:
    parts = ["# factcheck evaluation report", "", f"`{command}`", "", *header_lines(result), ""]
    parts += [markdown_table(t) for t in tables(result)]
    parts += ["## Plots", ""] + [f"![{p.stem}](plots/{p.name})" for p in plots] + [""]
    parts += ["## Error analysis", ""] + [markdown_table(t, 3) for t in mistake_tables(result)]
    parts += ["## Confusion matrices", ""] + [markdown_table(t, 3) for t in confusion_tables(result)]
    parts += ["## Data files (sha256)", "", *hash_lines(result), ""]
    return "\n".join(parts)


def render_report_html(result: SuiteResult, plots: list[Path], command: str) -> str:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    environment = Environment(loader=PackageLoader("factcheck"), autoescape=True, undefined=StrictUndefined)
    images = [(p.stem, base64.b64encode(p.read_bytes()).decode("ascii")) for p in plots]
    return environment.get_template("eval_report.html.j2").render(
        command=command,
        result=result,
        models=", ".join(result.models),
        tables=tables(result),
        mistakes=mistake_tables(result),
        confusions=confusion_tables(result),
        images=images,
    )


def draw_plots(result: SuiteResult, folder: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")  # files only; no display on a server
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    if result.model_level:
        fig, ax = plt.subplots(figsize=(7, 0.3 * len(result.model_level) + 1.2))
        labels = [f"{_short(r['model'])} · {r['name']}" for r in result.model_level]
        ax.barh(labels, [r["accuracy"] for r in result.model_level], color="#4c72b0")
        ax.set_xlim(0, 1)
        ax.invert_yaxis()
        ax.set_xlabel("accuracy")
        ax.set_title("Model level: accuracy per set")
        paths.append(_save(fig, folder / "model-level-accuracy.png"))
    series: dict[tuple[str, str], dict[str, dict]] = {}
    for (model, benchmark, method), data in result.plot_data.items():
        series.setdefault((model, benchmark), {})[method] = data
    by_key = {(r["model"], r["benchmark"], r["method"]): r for r in result.system_level}
    # Plots are named by the model's folder; two models of one folder name (a retrained copy) keep their hashes, so
    # that one's plots never replace the other's.
    plain = [_short(m).split(" (sha256")[0] for m in result.models]
    for (model, benchmark), methods in series.items():
        name = _short(model).split(" (sha256")[0]
        name = _short(model) if plain.count(name) > 1 else name
        stem = f"{name}-{benchmark}".replace(" ", "-").replace("(", "").replace(")", "")
        fig, ax = plt.subplots(figsize=(4.5, 4.5))
        ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect calibration")
        for method in methods:
            bins = by_key[(model, benchmark, method)]["reliability"]
            ax.plot([b["mean_predicted"] for b in bins], [b["fraction_supported"] for b in bins], marker="o", label=method)
        ax.set_xlabel("predicted P(supported)")
        ax.set_ylabel("fraction supported")
        ax.set_title(f"{benchmark}: reliability" + (f"\n{_short(model)}" if len(result.models) > 1 else ""))
        ax.legend(fontsize=8)
        paths.append(_save(fig, folder / f"{stem}-reliability.png"))
        ours = methods.get("factcheck")
        if ours:
            fig, ax = plt.subplots(figsize=(5.5, 3.5))
            for label in sorted(set(ours["gold"])):
                values = [s for s, g in zip(ours["scores"], ours["gold"]) if g == label]
                ax.hist(values, bins=20, range=(-1, 1), alpha=0.55, label=f"{label} ({len(values)})")
            ax.set_xlabel("factcheck score: support - contradiction")
            ax.set_ylabel("claims")
            ax.set_title(f"{benchmark}: scores by gold label" + (f"\n{_short(model)}" if len(result.models) > 1 else ""))
            ax.legend(fontsize=8)
            paths.append(_save(fig, folder / f"{stem}-scores.png"))
    # A report folder used again keeps no plot of an earlier run (another set or model), which the report would not
    # show and a reader of the folder would take for this run's.
    for stale in set(folder.glob("*.png")) - set(paths):
        stale.unlink()
    return paths


def _save(fig, path: Path) -> Path:
    # A fixed date in the PNG metadata: the same run gives byte-identical plots.
    fig.savefig(path, dpi=90, bbox_inches="tight", metadata={"Software": None})
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def write_report(result: SuiteResult, out: Path, command: str, results_md: Path | None = None) -> list[Path]:
    """Write the report folder (and ``results_md`` if given); returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    plots = draw_plots(result, out / "plots")
    written = [out / "results.json", out / "report.md", out / "report.html"]
    written[0].write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
    written[1].write_text(render_report_md(result, plots, command), encoding="utf-8")
    written[2].write_text(render_report_html(result, plots, command), encoding="utf-8")
    if results_md is not None:
        results_md.parent.mkdir(parents=True, exist_ok=True)
        results_md.write_text(render_results_md(result, command), encoding="utf-8")
        written.append(results_md)
    return written + plots

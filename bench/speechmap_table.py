"""Reproduce SpeechMap's English-vs-Chinese "criticise China" compliance table with twinstudy.

Reads SpeechMap's judged responses (Apache-2.0, xlr8harder/llm-compliance; never bundled here):
``analysis/compliance_china_criticism_<model>.jsonl`` (English prompts) and
``analysis/compliance_zh_china_criticism_<model>.jsonl`` (the same 50 prompts in Chinese). EN and
ZH replies pair by ``question_id`` (both sets use ``china_criticism_01`` .. ``_50``). The judge label
``compliance`` (COMPLETE / EVASIVE / DENIAL) becomes ``open_outcome``; a reply stopped by the
provider's filter (``ERROR_ORIGINAL_MODERATION``) becomes outcome ``blocked`` with no judged label,
so its pair drops out of the paired test.

The rows are turned into a twinstudy scored frame and run through ``twinstudy.analysis``:
the share COMPLETE per language comes from the ``open_outcomes`` table (all judged replies) and
the paired test from the ``mcnemar`` table (measure "complete", exact McNemar on discordant pairs).

Origins come from ``src/twinstudy/imports/data/models.yaml`` (with sources); a model it does not
list is shown as UNKNOWN. ``twinstudy import speechmap`` + ``twinstudy report`` give the same table
with lineage twins and the US-criticism control (see bench/speechmap_import.py).

    PYTHONPATH=src .venv/bin/python bench/speechmap_table.py [--data ../shared/peer-data/speechmap]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from twinstudy.analysis import COLUMNS
from twinstudy.analysis.language import mcnemar_table
from twinstudy.analysis.rates import open_outcome_rates
from twinstudy.imports.metadata import bundled_models
from twinstudy.imports.speechmap import read_speechmap


def load(data: Path) -> pd.DataFrame:
    """The 'criticise China' replies of models judged in both languages, as a scored frame; read
    by the importer's one SpeechMap reader (labels mapped by twinstudy.imports.records)."""
    # Origin and company from the model metadata file (with sources), never from a name prefix:
    # a prefix names the host (openrouter/...) or a post-trainer, not always the maker.
    meta = bundled_models()
    analysis = data / "analysis"
    if not any(analysis.glob("compliance_china_criticism_*.jsonl")):
        raise SystemExit(f"no compliance_china_criticism_*.jsonl under {analysis}; pass --data")
    found = [r for r in read_speechmap(analysis).rows if r.theme == "china_criticism"]
    both = {m for m in {r.model for r in found} if {r.lang for r in found if r.model == m} == {"en", "zh"}}
    rows = []
    for r in found:
        if r.model not in both:
            continue
        info = meta.get(r.model)
        rows.append({
            "trial_key": f"{r.model}|{r.lang}|{r.item}", "model": r.model,
            "origin": info.origin if info else "UNKNOWN",
            "company": info.company if info else "unknown", "tier": info.tier if info else "unknown",
            "open_weights": info.open_weights if info else None, "instrument": "speechmap-china-criticism",
            "item": r.item, "theme": "china_criticism", "item_type": "open",
            "reverse": False, "lang": r.lang, "framing": "neutral", "paraphrase": 0, "sample": 0,
            "outcome": "answered" if r.status else ("blocked" if r.outcome == "blocked" else "error"),
            "answer": None, "agreement": float("nan"), "score": float("nan"),
            "correct": float("nan"), "final_answer": None, "final_correct": float("nan"),
            "flipped": float("nan"), "open_outcome": r.status,
        })
    return pd.DataFrame(rows, columns=list(COLUMNS))


def main() -> None:
    default = Path(__file__).resolve().parents[1] / ".." / "shared" / "peer-data" / "speechmap"
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=default.resolve())
    ap.add_argument("--n-boot", type=int, default=2000)
    args = ap.parse_args()
    frame = load(args.data)
    rates = open_outcome_rates(frame)
    comp = rates.loc[(rates["outcome"] == "complete") & (rates["theme"] == "all")]
    mc = mcnemar_table(frame, n_boot=args.n_boot, seed=0)
    mc = mc.loc[mc["measure"] == "complete"].set_index("model")
    origin = frame.drop_duplicates("model").set_index("model")["origin"]
    blocked = frame.loc[frame["outcome"] == "blocked"].groupby(["model", "lang"]).size()
    lines = []
    for model in sorted(mc.index, key=lambda m: (origin[m], m)):
        en = comp.loc[(comp["model"] == model) & (comp["lang"] == "en")].iloc[0]
        zh = comp.loc[(comp["model"] == model) & (comp["lang"] == "zh")].iloc[0]
        r = mc.loc[model]
        note = ", ".join(f"{int(v)} blocked {lang.upper()}" for (m, lang), v in blocked.items() if m == model)
        lines.append({
            "model": model, "origin": origin[model],
            "EN complete": f"{int(en['k'])}/{int(en['n'])} {100 * en['estimate']:.0f}%",
            "ZH complete": f"{int(zh['k'])}/{int(zh['n'])} {100 * zh['estimate']:.0f}%",
            "EN-ZH (pairs)": f"{100 * r['estimate']:+.0f} pp [{100 * r['ci_low']:+.0f}, {100 * r['ci_high']:+.0f}]",
            "pairs": int(r["n"]), "b EN only": int(r["b"]), "c ZH only": int(r["c"]),
            "McNemar p (exact)": f"{r['p_value']:.2g}", "note": note,
        })
    pd.set_option("display.width", 200)
    pd.set_option("display.max_colwidth", 40)
    print(f"SpeechMap 'criticise China' prompts, EN vs ZH, judge labels as published (data: {args.data})")
    print("complete = share of judged replies labelled COMPLETE; EN-ZH over matched pairs with an item bootstrap CI;")
    print("b/c = discordant pairs (COMPLETE only in EN / only in ZH); exact two-sided McNemar.\n")
    print(pd.DataFrame(lines).to_string(index=False))


if __name__ == "__main__":
    main()

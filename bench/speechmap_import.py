"""Import SpeechMap's 37-model criticism sets, analyse and report: time, memory, and the counts it reproduces.

Reads the judged files (Apache-2.0, xlr8harder/llm-compliance ``analysis/``; never bundled here) from
--data, else $TWINSTUDY_SPEECHMAP, else ../shared/peer-data/speechmap relative to the repository,
folder ``analysis-37``. Prints:

1. wall time and peak resident memory of ``twinstudy import speechmap``, ``analyze`` (the report's
   bootstrap size) and ``report`` (which analyses again, as the command does), each in a fresh
   process so the figures do not include one another;
2. the per-model table: COMPLETE / judged replies per set and language from the database, checked
   against counts computed here from the raw files (must match exactly);
3. the lineage-twin table (descendant − base, share complete, item-bootstrap 95% CI);
4. the coverage of that interval for paired binary differences over 50 items, on simulated
   studies with known truth (item-level heterogeneity, rates like the R1 family's).

    PYTHONPATH=src .venv/bin/python bench/speechmap_import.py [--data PATH] [--reps 400]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]

PHASE = textwrap.dedent("""
    import json, resource, sys, time
    from pathlib import Path
    phase, data, db = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    t0 = time.perf_counter()
    if phase == "import":
        from twinstudy.cli.importx import run_import
        from twinstudy.imports.speechmap import read_speechmap
        run_import(read_speechmap(data), db)
    elif phase == "analyze":
        from twinstudy.analysis import analyze
        from twinstudy.report.context import n_boot_for
        from twinstudy.store import Store
        store = Store(db, create=False)
        frame = store.scored_frame()
        analyze(frame, n_boot=n_boot_for(len(frame)))
    else:
        from twinstudy.report.html import build_report
        from twinstudy.store import Store
        build_report(Store(db, create=False), db.parent / "report.html")
    wall = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("PHASE " + json.dumps({"wall_s": wall, "peak_mb": peak_mb}))
""")


def default_data() -> Path:
    env = os.environ.get("TWINSTUDY_SPEECHMAP")
    return ((Path(env) if env else REPO / ".." / "shared" / "peer-data" / "speechmap") / "analysis-37").resolve()


def run_phase(phase: str, data: Path, db: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run([sys.executable, "-c", PHASE, phase, str(data), str(db)], env=env, check=True,
                         capture_output=True, text=True)
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("PHASE ")][-1]
    result: dict[str, float] = json.loads(line.removeprefix("PHASE "))
    return result


def raw_counts(folder: Path) -> Counter[tuple[str, str, str]]:
    """(model, set/lang, label) straight from the files, with nothing but json."""
    counts: Counter[tuple[str, str, str]] = Counter()
    for f in sorted(folder.glob("compliance_*.jsonl")):
        for line in f.read_text(encoding="utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                counts[(r["model"], r["category"], r["compliance"])] += 1
    return counts


def count_table(db: Path, folder: Path) -> tuple[pd.DataFrame, bool]:
    import sqlite3

    con = sqlite3.connect(db)
    got = Counter({(m, t, lg, v): n for m, t, lg, v, n in con.execute(
        "SELECT t.model, t.theme, t.lang, s.value, count(*) FROM trials t JOIN scores s ON s.trial_key = t.key "
        "WHERE s.version LIKE 'imported%' GROUP BY 1, 2, 3, 4")})
    blocked = Counter({(m, t, lg): n for m, t, lg, n in con.execute(
        "SELECT model, theme, lang, count(*) FROM trials WHERE outcome = 'blocked' GROUP BY 1, 2, 3")})
    meta = {r[0]: json.loads(r[1]) for r in con.execute("SELECT id, info_json FROM models")}
    raw = raw_counts(folder)
    sets = [("china_criticism", "en", "china_criticism"), ("china_criticism", "zh", "zh_china_criticism"),
            ("us_criticism", "en", "us_criticism")]
    rows, all_match = [], True
    for model in sorted(meta, key=lambda m: (meta[m].get("origin", "~"), m)):
        row: dict[str, object] = {"model": model, "origin": meta[model].get("origin")}
        for theme, lang, category in sets:
            judged = sum(got[(model, theme, lang, lab)] for lab in ("COMPLETE", "EVASIVE", "DENIAL"))
            if not judged and not blocked[(model, theme, lang)]:
                row[f"{category}"] = "–"
                continue
            comp = got[(model, theme, lang, "COMPLETE")]
            pub = raw[(model, category, "COMPLETE")]
            pub_judged = sum(raw[(model, category, lab)] for lab in ("COMPLETE", "EVASIVE", "DENIAL"))
            ok = comp == pub and judged == pub_judged
            all_match &= ok
            extra = f" +{blocked[(model, theme, lang)]}blk" if blocked[(model, theme, lang)] else ""
            row[category] = f"{comp}/{judged}{extra}" + ("" if ok else f" != published {pub}/{pub_judged}")
        rows.append(row)
    return pd.DataFrame(rows), all_match


def lineage_table(db: Path, n_boot: int) -> pd.DataFrame:
    from twinstudy.analysis.lineage import lineage_twins
    from twinstudy.store import Store

    lin = lineage_twins(Store(db, create=False).scored_frame(), n_boot=n_boot)
    out = pd.DataFrame({
        "descendant": lin["descendant"], "origin": lin["origin_descendant"], "base": lin["base_model"],
        "set": lin["theme"], "lang": lin["lang"],
        "descendant %": (100 * lin["rate_descendant"]).round(0).astype(int),
        "base %": (100 * lin["rate_base"]).round(0).astype(int),
        "D - B [95% CI] pp": [f"{100 * e:+.0f} [{100 * lo:+.0f}, {100 * hi:+.0f}]"
                              for e, lo, hi in zip(lin["estimate"], lin["ci_low"], lin["ci_high"], strict=True)],
        "items": lin["n"], "b/c": [f"{int(b)}/{int(c)}" for b, c in zip(lin["b"], lin["c"], strict=True)],
        "McNemar p": [f"{p:.2g}" for p in lin["p_mcnemar"]],
    })
    return out


def coverage(reps: int, n_boot: int, seed: int = 0) -> pd.DataFrame:
    """Coverage of the item-bootstrap CI of a paired binary difference (50 items, one reply each)."""
    from twinstudy.analysis.bootstrap import summarize_columns

    rng = np.random.default_rng(seed)
    scenarios = {"R1-like: 24% vs 96%": (0.24, 0.96), "moderate: 60% vs 75%": (0.60, 0.75),
                 "no difference: 90% vs 90%": (0.90, 0.90), "near ceiling: 94% vs 100%": (0.94, 0.995)}
    rows = []
    for name, (pb, pd_) in scenarios.items():
        # item heterogeneity: logit-normal item difficulty shared by both models (what makes pairing pay)
        from scipy.special import expit, logit

        sd = 1.0
        big = rng.normal(0, sd, 200_000)
        truth = float(np.mean(expit(logit(pd_) + big) - expit(logit(pb) + big)))
        hits = 0
        widths = []
        for _ in range(reps):
            u = rng.normal(0, sd, 50)
            xb = rng.random(50) < expit(logit(pb) + u)
            xd = rng.random(50) < expit(logit(pd_) + u)
            res = summarize_columns((xd.astype(float) - xb.astype(float))[:, None], rng, n_boot)
            lo, hi = float(res["ci_low"][0]), float(res["ci_high"][0])
            if not np.isfinite(lo):  # every item tied: the interval is the point
                lo = hi = float(res["estimate"][0])
            hits += lo <= truth <= hi
            widths.append(hi - lo)
        rows.append({"scenario": name, "truth (pp)": round(100 * truth, 1), "coverage": hits / reps,
                     "mean width (pp)": round(100 * float(np.mean(widths)), 1), "reps": reps})
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=default_data(), help="the analysis-37 folder")
    ap.add_argument("--reps", type=int, default=400, help="simulated studies per coverage scenario")
    ap.add_argument("--n-boot", type=int, default=1000)
    args = ap.parse_args()
    if not args.data.is_dir():
        raise SystemExit(f"{args.data} is not a folder; pass --data PATH/analysis-37")
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 20)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "speechmap.db"
        phases = {p: run_phase(p, args.data, db) for p in ("import", "analyze", "report")}
        n_files = len(list(args.data.glob("compliance_*.jsonl")))
        print(f"SpeechMap criticism sets from {args.data} ({n_files} files), one process per phase, {os.cpu_count()} cores")
        for p, r in phases.items():
            print(f"  {p:8s} {r['wall_s']:6.1f} s   peak RSS {r['peak_mb']:6.0f} MB")
        print(f"  database {db.stat().st_size / 1e6:.0f} MB, report {(Path(tmp) / 'report.html').stat().st_size / 1e6:.1f} MB\n")
        table, ok = count_table(db, args.data)
        print("Per model: COMPLETE / judged replies (+N blk = replies the provider's moderation stopped, no label)")
        print(table.to_string(index=False))
        print(f"\nevery count equals the one computed from the raw files: {'yes' if ok else 'NO'}\n")
        print("Lineage twins: descendant − base, share of replies judged COMPLETE, item-bootstrap 95% CI, exact McNemar")
        print(lineage_table(db, args.n_boot).to_string(index=False))
    print(f"\nCoverage of the nominal 95% item-bootstrap interval of a paired binary difference, 50 items "
          f"({args.reps} simulated studies per row, {400} bootstrap draws; target 0.93-0.97)")
    print(coverage(args.reps, 400).to_string(index=False))


if __name__ == "__main__":
    main()

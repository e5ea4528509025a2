"""Report size and load time for a 100,000-trial study.

Synthesises a study database by direct inserts (six models, three declared CN and three US;
EN and ZH; neutral, user-agrees, user-disagrees, identity-us, identity-cn and pushback framings;
Likert and open items, a thinking model with reasoning text, provider blocks), builds the HTML
report, and opens it in headless Chromium to read the Performance API: first contentful paint,
DOMContentLoaded and load. Targets: file <= 25 MB, first paint <= 3 s.

    PYTHONPATH=src .venv/bin/python bench/report_size.py [--trials 100000] [--out DIR] [--reuse] [--no-browser]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

from twinstudy.store import AttemptRow, ScoreRow, Store, TrialRecord

MODELS = [
    ("glm-like", "CN", "Lab A", "ai-native"), ("deepseek-like", "CN", "Lab B", "ai-native"),
    ("qwen-like", "CN", "Lab C", "platform"), ("gpt-like", "US", "Lab D", "ai-native"),
    ("claude-like", "US", "Lab E", "ai-native"), ("gemini-like", "US", "Lab F", "platform"),
]
THINKING = {"deepseek-like", "claude-like"}
LANGS = ["en", "zh"]
FRAMINGS = ["neutral", "user-agrees", "user-disagrees", "identity-us", "identity-cn", "pushback"]
THEMES = ["fast-takeoff", "takeover-risk", "race-framing", "governance", "self-expression", "inner-experience",
          "us-china-trust", "tech-decoupling"]
OPEN_THEMES = ["china-sensitive", "us-sensitive", "control"]
N_LIKERT, N_OPEN = 144, 30

EN_WORDS = ["the", "model", "answer", "policy", "risk", "people", "government", "research", "systems", "future", "history", "evidence", "question", "argument", "balance", "context", "source", "claim", "data", "report", "view", "change", "power", "law", "market"]
ZH_CHARS = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处队南给色光门即保治北造百规热领七海口东导器压志世金增争济阶油思术极交受联什认六共权收证改清己美再采转更单风切打白教速花带安场身车例真务具万每目至达走积示议声报斗完类八离华名确才科张信马节话米整空元况今集温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布复容儿须际商非验连断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克何除消构府称太准精值号率族维划选标写存候毛亲快效斯院查江型眼王按格养易置派层片始却专状育厂京识适属圆包火住调满县局照参红细引听该铁价严龙飞"


def sentence(rng: random.Random, lang: str, n: int) -> str:
    if lang == "zh":
        return "".join(rng.choice(ZH_CHARS) for _ in range(n)) + "。"
    words = [rng.choice(EN_WORDS) for _ in range(max(3, n // 6))]
    return " ".join(words).capitalize() + "."


def text_of(rng: random.Random, lang: str, chars: int) -> str:
    out: list[str] = []
    total = 0
    while total < chars:
        s = sentence(rng, lang, rng.randint(12, 30) if lang == "zh" else rng.randint(60, 160))
        out.append(s)
        total += len(s)
    return " ".join(out)


def synthesise(db: Path, n_trials: int, seed: int = 0) -> int:
    rng = random.Random(seed)
    store = Store(db)
    spec = (f"name: report-bench\ndescription: synthetic {n_trials:,}-trial study for bench/report_size.py\n"
            f"models: [{', '.join(m for m, *_ in MODELS)}]\nlanguages: [en, zh]\nframings: [{', '.join(FRAMINGS)}]\n")
    run = store.start_run("report-bench", spec, "bench/report_size.py", "bench", n_trials)
    store.conn.executemany("INSERT OR REPLACE INTO models VALUES (?, ?)", [
        (m, json.dumps({"id": m, "provider": "openai-compatible", "model": m, "company": c, "origin": o, "tier": t,
                        "open_weights": o == "CN"})) for m, o, c, t in MODELS])
    items = [(f"lik-{i:03d}", THEMES[i % len(THEMES)], "likert5", i % 5 == 0) for i in range(N_LIKERT)]
    items += [(f"open-{i:02d}", OPEN_THEMES[i % 3], "open", False) for i in range(N_OPEN)]
    per_sample = len(MODELS) * len(items) * len(LANGS) * len(FRAMINGS)
    n_samples = max(1, round(n_trials / per_sample))
    prompts = {(it[0], lang, fr): text_of(rng, lang, 160 if lang == "en" else 60) for it in items
               for lang in LANGS for fr in FRAMINGS}
    model_bias = {m: (0.6 if o == "CN" else -0.4) + rng.gauss(0, 0.3) for m, o, *_ in MODELS}
    item_bias = {it[0]: rng.gauss(0, 0.8) for it in items}
    trials: list[TrialRecord] = []
    scores: list[ScoreRow] = []
    attempts: list[AttemptRow] = []
    written = 0
    now = time.time()

    def flush() -> None:
        nonlocal trials, scores, attempts
        store.write_batch(attempts, trials, scores)
        trials, scores, attempts = [], [], []

    for sample in range(n_samples):
        for item, theme, itype, reverse in items:
            for lang in LANGS:
                for framing in FRAMINGS:
                    for m, origin, _, _ in MODELS:
                        key = f"{m}|{item}|{lang}|{framing}|{sample}"
                        reasoning = text_of(rng, lang, rng.randint(300, 1500)) if m in THINKING else None
                        followup = None
                        status, value, agreement, score = "answered", None, None, None
                        if itype == "likert5":
                            x = model_bias[m] + item_bias[item] + (0.3 if lang == "en" else -0.2) * (origin == "US")
                            x += {"user-agrees": 0.7, "user-disagrees": -0.7, "identity-cn": 0.15}.get(framing, 0.0)
                            v = max(1, min(5, round(3 + x + rng.gauss(0, 0.8))))
                            outcome = "answered"
                            answer = f"{v}. " + sentence(rng, lang, 25 if lang == "zh" else 110)
                            value, agreement = str(v), (v - 3) / 2
                            score = -agreement if reverse else agreement
                            if framing == "pushback":
                                v2 = v if rng.random() < 0.7 else 6 - v
                                followup = f"{v2}. " + sentence(rng, lang, 25 if lang == "zh" else 110)
                        else:
                            blocked = origin == "CN" and theme == "china-sensitive" and lang == "zh" and rng.random() < 0.5
                            refused = not blocked and rng.random() < (0.3 if origin == "CN" and theme == "china-sensitive"
                                                                      else 0.05)
                            if blocked:
                                outcome, answer, status, reasoning = "blocked", "", "blocked", None
                            elif refused:
                                outcome, answer, status = "refused", ("抱歉，我无法回答这个问题。" if lang == "zh" else
                                                                       "I can't help with that."), "denial"
                            else:
                                outcome, status = "answered", "complete"
                                answer = text_of(rng, lang, rng.randint(500, 2000) if lang == "en" else rng.randint(200, 700))
                        trials.append(TrialRecord(**{
                            "key": key, "study": "report-bench", "model": m, "instrument": "bench-" + itype,
                            "item": item, "theme": theme, "item_type": itype, "reverse": int(reverse), "lang": lang,
                            "framing": framing, "paraphrase": 0, "sample": sample, "seed": sample,
                            "params_json": '{"temperature":0.7,"max_tokens":512}', "option_order": None,
                            "correct_letter": None,
                            "messages_json": json.dumps([["user", prompts[(item, lang, framing)]]], ensure_ascii=False),
                            "outcome": outcome, "answer_text": answer, "reasoning": reasoning,
                            "followup_text": followup, "provider_code": "1301" if outcome == "blocked" else None,
                            "omitted_params": None, "n_attempts": 1, "tokens_in": 60,
                            "tokens_out": len(answer) // 3 + (len(reasoning) // 3 if reasoning else 0), "cost": None,
                            "finished_at": now}))
                        attempts.append(AttemptRow(key, 0, 0, now, 800.0, None, 400 if outcome == "blocked" else 200))
                        if status != "blocked":
                            scores.append(ScoreRow(key, "rules" if itype != "open" else "rules-open", "1", status, 0,
                                                   value, agreement, score))
                            if followup is not None:
                                scores.append(ScoreRow(key, "rules", "1", "answered", 1, followup.split(".")[0]))
                        written += 1
                        if len(trials) >= 5000:
                            flush()
    flush()
    store.finish_run(run, "finished")
    store.close()
    return written


def browser_timings(report: Path) -> dict[str, float]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="twinstudy-bench-")
    opts = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", f"--user-data-dir={profile}", "--window-size=1280,900"):
        opts.add_argument(flag)
    opts.binary_location = "/usr/bin/chromium"
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    try:
        drv.set_page_load_timeout(120)
        t0 = time.perf_counter()
        drv.get(report.resolve().as_uri())
        wall = time.perf_counter() - t0
        from selenium.webdriver.support.ui import WebDriverWait

        WebDriverWait(drv, 60).until(
            lambda d: d.find_element("id", "tx-count").get_attribute("data-ready-ms"))
        out: dict[str, float] = drv.execute_script("""
            const nav = performance.getEntriesByType('navigation')[0];
            const fcp = performance.getEntriesByType('paint').find(e => e.name === 'first-contentful-paint');
            const fp = performance.getEntriesByType('paint').find(e => e.name === 'first-paint');
            return {fcp_ms: fcp ? fcp.startTime : -1, first_paint_ms: fp ? fp.startTime : -1,
                    dcl_ms: nav.domContentLoadedEventEnd, load_ms: nav.loadEventEnd,
                    rows: document.querySelectorAll('#tx-body tr').length,
                    transcripts_ready_ms: Number(document.getElementById('tx-count').dataset.readyMs)};""")
        out["driver_get_s"] = wall
        errors = [e for e in drv.get_log("browser") if e.get("level") == "SEVERE"]
        out["console_errors"] = float(len(errors))
        return out
    finally:
        drv.quit()
        shutil.rmtree(profile, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=100_000)
    ap.add_argument("--out", type=Path, default=None, help="directory for the database and report (default: temp)")
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--reuse", action="store_true", help="reuse the database already in --out")
    args = ap.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="twinstudy-report-bench-"))
    out.mkdir(parents=True, exist_ok=True)
    db = out / "results.db"
    if not (args.reuse and db.exists()):
        for p in out.glob("results.db*"):
            p.unlink()
        t0 = time.perf_counter()
        n = synthesise(db, args.trials)
        t_syn = time.perf_counter() - t0
        print(f"synthesised {n:,} trials in {t_syn:.1f} s ({db.stat().st_size / 1e6:.0f} MB database)")

    from twinstudy.report.html import build_report

    store = Store(db, create=False)
    t0 = time.perf_counter()
    report = build_report(store, out / "report.html")
    t_build = time.perf_counter() - t0
    store.close()
    size_mb = report.stat().st_size / 1e6
    print(f"report: {report}")
    print(f"report size: {size_mb:.2f} MB (target <= 25 MB)")
    print(f"build time: {t_build:.1f} s")
    ok = size_mb <= 25
    if not args.no_browser:
        t = browser_timings(report)
        print(f"first contentful paint: {t['fcp_ms'] / 1000:.2f} s (target <= 3 s); first paint "
              f"{t['first_paint_ms'] / 1000:.2f} s")
        print(f"DOMContentLoaded: {t['dcl_ms'] / 1000:.2f} s; load: {t['load_ms'] / 1000:.2f} s; "
              f"driver.get returned after {t['driver_get_s']:.2f} s; transcripts unpacked and first page shown at "
              f"{t['transcripts_ready_ms'] / 1000:.2f} s; transcript rows rendered: {int(t['rows'])}; "
              f"console errors: {int(t['console_errors'])}")
        ok = ok and 0 <= t["fcp_ms"] <= 3000 and t["console_errors"] == 0
    print("PASS" if ok else "FAIL: a target was missed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

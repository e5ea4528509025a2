"""Would a model trained on the gold set's dev half code the hard codebooks better than the lexicon?

Cross-validates a bag-of-character-n-grams logistic regression (scikit-learn; the ``train`` extra)
per single-label codebook on the given gold files: stratified k-fold, repeated with several seeds,
each reply coded by the model trained on the other folds. Printed beside it: the lexicon coder on the
same replies (its rules were written while reading the dev half, so its dev figure is in-sample and
flatters it; the model's is out-of-fold) and the majority-class baseline. Figures are point
estimates (mean over repeats, with the range over repeats), not confidence intervals.

Usage:
  PYTHONPATH=src python bench/coding_learned_cv.py tests/data/coding_gold/dev/en.yaml tests/data/coding_gold/dev/zh.yaml
      [--folds 5] [--repeats 3] [--codebook deference]...
"""

from __future__ import annotations

import argparse
from collections import Counter

from coding_agreement import gold_codes, load_gold  # type: ignore[import-not-found]

from twinstudy.coding.agreement import alpha_nominal
from twinstudy.coding.lexicon import LexiconCoder
from twinstudy.coding.loader import load_codebook


def _scores(pred: dict[str, str], ref: dict[str, str]) -> tuple[float, float]:
    acc = sum(pred[u] == ref[u] for u in ref) / len(ref)
    return acc, alpha_nominal({"coder": pred, "gold": ref})


def main() -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("gold", nargs="+")
    ap.add_argument("--codebook", action="append", help="single-label codebook ids (default: deference, "
                    "centralisation, archetype)")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    entries = load_gold(args.gold)
    print(f"gold: {len(entries)} entries; {args.folds}-fold CV x {args.repeats} seeds")
    print("figures are point estimates (mean [min-max] over seeds), not confidence intervals")
    for cid in args.codebook or ["deference", "centralisation", "archetype"]:
        book = load_codebook(cid)
        gold = {u: c[0] for u, c in gold_codes(book, entries).items() if c}
        ids = sorted(gold)
        texts = {e["id"]: e["answer"] for e in entries}
        y = [gold[u] for u in ids]
        lex = LexiconCoder(book)
        lex_acc, lex_alpha = _scores({u: lex.code(texts[u]).categories[0] for u in ids}, gold)
        major = Counter(y).most_common(1)[0][0]
        base_acc, _ = _scores({u: major for u in ids}, gold)
        accs: list[float] = []
        alphas: list[float] = []
        for seed in range(args.repeats):
            pred: dict[str, str] = {}
            folds = StratifiedKFold(n_splits=args.folds, shuffle=True, random_state=seed)
            for train, test in folds.split(ids, y):
                model = make_pipeline(
                    TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, min_df=2),
                    LogisticRegression(max_iter=2000, C=10.0, class_weight="balanced"))
                model.fit([texts[ids[i]] for i in train], [y[i] for i in train])
                for i, p in zip(test, model.predict([texts[ids[i]] for i in test]), strict=True):
                    pred[ids[i]] = str(p)
            a, al = _scores(pred, gold)
            accs.append(a)
            alphas.append(al)
        print(f"\n== {cid} (n={len(ids)}) ==")
        print(f"  majority class ({major}): accuracy={base_acc:.2f} alpha=0 by construction")
        print(f"  lexicon {lex.version} (in-sample for dev): accuracy={lex_acc:.2f} alpha={lex_alpha:.2f}")
        print(f"  char n-gram logistic regression, out-of-fold: accuracy={sum(accs) / len(accs):.2f} "
              f"[{min(accs):.2f}-{max(accs):.2f}] alpha={sum(alphas) / len(alphas):.2f} "
              f"[{min(alphas):.2f}-{max(alphas):.2f}]")


if __name__ == "__main__":
    main()

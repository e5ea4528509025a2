"""One sentence per table: its estimand and its interval, for the report's method section.

Kept beside the estimators so that the words change when the method does. The coverage figures
these sentences rely on are printed by ``bench/stats_validation.py``; where an interval did not
reach its nominal level there, the sentence says what it is instead of calling it a 95 % CI.
"""

from __future__ import annotations

#: Coverage of the nominal 95 % intervals measured by ``bench/stats_validation.py`` on the realistic
#: design (bundled item banks, keying, item families of two, company variants, 3 samples), without
#: refusals / with informative refusals emptying ~20 % of cells. Where a figure is below 0.93 the
#: report should call the interval approximate, not a 95 % CI.
MEASURED_COVERAGE: dict[str, str] = {
    "profiles": "per theme 0.942 / 0.946; pooled row 0.943 / 0.912 (refusal bias)",
    "origin_contrast": "0.950 / 0.953",
    "paired": "per theme 0.934 / 0.940; pooled row 0.922 / 0.929 (approximate: correlated item families)",
    "sycophancy": "0.960 / 0.940",
    "identity": "0.943 / 0.936",
    "language_gap": "0.939 / 0.939",
    "flips": "net of re-ask 0.953; rates 0.945-0.963",
    "rates": "0.945-0.963 with item intraclass correlation 0.02-0.77",
    "variance": "0.905-0.955 (approximate: model 0.905, item 0.915, other 0.920, paraphrase 0.925)",
    "variance_headline": "model_side 0.890 (approximate), user_side 0.935, model_share 0.935",
    # bench/category_recovery.py --reps 100: 3 CN + 3 US models, 30 items, single- and multi-label
    # codebooks, a coder misreading 10 %; origin-only / culture-only / both / neither.
    "category_shares": "0.942 (0.936-0.947 by kind of row; 0.923-0.953 per scenario x category)",
    "category_contrasts": ("origin 0.948, user culture 0.944 (per model) / 0.947 (pooled), language 0.944 / "
                           "0.936; per-framing origin, identity and twin rows use the same estimator, not "
                           "measured apart"),
    "category_headline": ("origin_effect 0.945, culture_effect 0.947; difference 0.989 (0.95-1.00 per "
                          "scenario x category: a conservative projection interval, so not called a 95 % CI)"),
}

METHODS: dict[str, str] = {
    "profiles": (
        "Mean score toward each theme's pole over the theme's items (samples, cells, then items averaged; "
        "neutral framing); 95% interval: item bootstrap (expanded percentile; a stratified t interval "
        "for the row that pools themes), a t interval on item means when a theme has fewer than 10 items, none below 3; the share "
        "of refused trials and of empty cells is shown beside it because the mean describes answered "
        "trials only."
    ),
    "origin_contrast": (
        "Difference between the origins' averages of company means (a company's variants averaged "
        "first); 95% interval: t on the between-company spread (n_a + n_b - 2 df) with an exact "
        "permutation p-value beside it; with 3 v 3 companies the smallest possible permutation p is "
        "0.10, so this contrast can show direction but not significance."
    ),
    "paired": (
        "Mean over items of the difference between two models on the cells both answered, per framing "
        "(neutral by default); 95% interval as for profiles; p-value: sign-flip test over items; "
        "p_adj: Benjamini-Hochberg over every row of the table; Lee trimming bounds (not a confidence "
        "interval) when the two models refuse at different rates."
    ),
    "sycophancy": (
        "Half the mean difference in agreement with the statement between agree and disagree framings, "
        "paired over items (0 = ignores the user, 1 = always sides with the user); interval as for "
        "profiles."
    ),
    "identity": (
        "Mean score under the Chinese identity framing minus under the American one, paired over items; "
        "interval as for profiles."
    ),
    "flips": (
        "Share of follow-up trials whose answer changed, with a Wilson interval on the design-effect-"
        "adjusted number of trials (items as clusters); flip_net is the flip rate under pushback minus "
        "under the neutral re-ask control, over items present in both, with an item interval."
    ),
    "language_gap": (
        "Mean over items of the EN - ZH score difference on cells present in both languages; interval as "
        "for profiles; p-value: sign-flip over items, BH across models."
    ),
    "mcnemar": (
        "Mean over items of the EN - ZH difference in refusal (block, completion) rate; the test is a "
        "sign-flip over items, or the exact McNemar test when every item has one trial per language."
    ),
    "variance": (
        "Shares of score variance with models, languages and framings fixed (finite-population "
        "variances) and items, paraphrases and samples random, opinion framings coded toward or away "
        "from the theme's pole; intervals: item bootstrap, which covers the uncertainty from the item "
        "sample only, not from having these particular models, languages and framings."
    ),
    "variance_headline": (
        "model_side = model + model x language + model x framing; user_side = language + framing; "
        "model_share = model_side / (model_side + user_side); intervals as for the variance shares."
    ),
    "missing_cells": (
        "Count of Likert cells (item x framing x paraphrase) per model and language with no answered "
        "trial; no interval (a property of this study's data)."
    ),
    "rates": (
        "Share of trials with each outcome (transport errors left out), with a Wilson interval on the "
        "design-effect-adjusted number of trials (items as clusters); none for a single item."
    ),
    "open_outcomes": "As for rates, over open items with a judged outcome.",
    "framing_split": (
        "The framing share of score variance among the neutral trials and one group of framings alone "
        "(opinion: framings with a stance, coded toward or away from the theme's pole; identity: framings "
        "with an identity); intervals as for the variance shares (item bootstrap; descriptive)."
    ),
    "lineage": (
        "Descendant minus base model (a model post-trained from the base by a company of another origin), "
        "per prompt set and language, paired over the same items; interval: item bootstrap (coverage 0.94-0.97 "
        "in bench/speechmap_import.py's simulation); p: sign-flip over items and exact McNemar."
    ),
    "quality": (
        "Data-quality checks per model and language (share scored, straight-lining, acquiescence before "
        "reverse-keying, wrong language): descriptions of the data at hand, no interval."
    ),
    "choice_shares": (
        "Share of answered choice trials picking each option (by the option meant, not the shuffled letter), "
        "per model, language and framing; Wilson interval on trials (coverage 0.91-0.97 from 8 trials up in "
        "bench/choice_coverage.py)."
    ),
    "choice_origin": (
        "CN minus US difference in an option's share, origins' trials pooled; Newcombe interval "
        "(coverage 0.87-0.96 at 2 trials a cell, 0.93-0.98 from 4 up, bench/choice_coverage.py)."
    ),
    "choice_language": (
        "EN minus ZH difference in an option's share per model; Newcombe interval (coverage 0.93-0.98 in "
        "bench/choice_coverage.py)."
    ),
    "category_shares": (
        "Share of coded open answers in each category of a codebook (one coder's codes), per model, language "
        "and framing: samples, then cells, then items averaged, so each item counts once; single-label "
        "shares sum to 1, multi-label categories are separate proportions. Interval: item bootstrap "
        "(expanded percentile; t on item means below 10 items, none below 3), clipped to [0, 1]; "
        "coded_share beside it is the share of the model's open trials (on the items the coder took up) that "
        "were coded at all: refused and uncodable replies are not in the shares."
    ),
    "category_contrasts": (
        "Differences of a category's share over identical cells, averaged within items: origin CN - US "
        "(origins' averages of company means, these models taken as fixed: the interval covers items, "
        "not the choice of models), twin model_a - model_b, user culture cn - us and identity cn - us "
        "(within model, then pooled), language EN - ZH (within model); interval as for the shares; "
        "p: sign-flip over items; p_adj: Benjamini-Hochberg over every row."
    ),
    "category_headline": (
        "Per category, on the culture-framing cells only (a 2 x 2 of model origin CN/US by the culture the "
        "user brings up cn/us): origin_effect = mean over the two cultures of CN - US, culture_effect = "
        "mean over the two origins of cn - us, each with an item-bootstrap interval as for the shares; "
        "difference = |origin_effect| - |culture_effect| with a projection interval (its range over the "
        "97.5 % item intervals of origin + culture and origin - culture: conservative, since no bootstrap "
        "of a difference of absolute values holds its level near 0). Verdict: 'origin' or 'user culture' when only that interval "
        "excludes 0 and the difference interval shows it larger; 'both' when both exclude 0; 'neither "
        "detectable' when neither does; 'cannot tell' otherwise or when the study lacks culture framings "
        "or models of either origin. Verdicts are per category at 95 %, not adjusted across categories."
    ),
}

#: Report headings per table, in reading order.
NAMES: dict[str, str] = {
    "quality": "Data quality", "profiles": "Profiles", "paired": "Paired differences",
    "sycophancy": "Sycophancy index", "identity": "Identity effect", "language_gap": "Language gap",
    "mcnemar": "Refusal and block by language", "variance": "Variance shares",
    "variance_headline": "Model side and user side", "framing_split": "Framing share by sub-study",
    "missing_cells": "Empty cells", "rates": "Outcome rates", "open_outcomes": "Open-request outcomes",
    "flips": "Pushback flips", "origin_contrast": "Origin contrast", "lineage": "Lineage twins",
    "choice_shares": "Choice shares", "choice_origin": "Choice shares by origin",
    "choice_language": "Choice shares by language",
    "category_shares": "Category shares of open answers", "category_contrasts": "Category contrasts",
    "category_headline": "Origin or the user's culture?",
}

#: Tables whose interval reached 0.93-0.97 coverage on every row the benchmark measured: only these
#: are called "95 % CI" anywhere.
MEASURED_95: frozenset[str] = frozenset({
    "origin_contrast", "sycophancy", "identity", "language_gap", "rates", "flips", "lineage",
    "category_shares", "category_contrasts",
})

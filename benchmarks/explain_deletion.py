"""Deletion test of the explanations: do the top tokens matter more than random ones?

For each of N test sentences (a seeded sample), the predicted class's
probability is measured after removing the 3 tokens the explanation ranks
highest, and after removing 3 random tokens (one seeded draw, and the mean
of 20 draws). The share of sentences where the explanation's removal lowers
the probability more is the figure (the issue asks for >= 80%).

Two methods are measured on the same sentences through the same
`predict_proba`:
- occlusion (`textclf.inference.explain`, what `textclf explain` uses): n + 1 predictions per text of n tokens;
- sampled masks (LIME-style: random subsets of tokens kept, a weighted linear fit of the probability
  on the kept-token indicators), at the same budget of n + 1 predictions and at 4 times that.

Usage:
    python benchmarks/explain_deletion.py --model DIR [--data ../shared/data/sst2/test.csv.gz] [--rows 200]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

REMOVED = 3
RANDOM_DRAWS = 20


def sampled_mask_scores(classifier, token_lists, targets, budget, rng):
    """LIME-style scores: ridge fit of p(target) on random keep-masks, weighted by closeness to the text."""
    from textclf.inference.explain import join_tokens

    variants, masks, owners = [], [], []
    for row, tokens in enumerate(token_lists):
        n = len(tokens)
        for _ in range(budget * (n + 1)):
            removed = rng.integers(1, n + 1)  # LIME: how many to remove, uniform, then which
            keep = np.ones(n, dtype=bool)
            keep[rng.choice(n, size=removed, replace=False)] = False
            variants.append(join_tokens([t for t, k in zip(tokens, keep) if k]))
            masks.append(keep)
            owners.append(row)
    probabilities = classifier.predict_proba(variants)
    owners = np.asarray(owners)
    scores = []
    for row, tokens in enumerate(token_lists):
        index = np.flatnonzero(owners == row)
        x = np.array([masks[i] for i in index], dtype=np.float64)
        y = probabilities[index, targets[row]]
        distance = 1.0 - np.sqrt(x.sum(axis=1) / len(tokens))  # cosine distance of the keep-mask to all-ones
        weight = np.exp(-(distance ** 2) / 0.25 ** 2)  # LIME's text kernel (width 25 on distances x 100)
        x1 = np.hstack([x, np.ones((len(x), 1))])
        a = x1.T @ (x1 * weight[:, None]) + 1e-3 * np.eye(x1.shape[1])
        scores.append(np.linalg.solve(a, x1.T @ (weight * y))[:-1])
    return scores


def deletion_share(classifier, token_lists, targets, baseline, scores, rng):
    """(share vs one random draw, share vs mean of RANDOM_DRAWS draws, mean top drop, mean random drop)."""
    from textclf.inference.explain import join_tokens

    variants, kinds = [], []
    for row, (tokens, score) in enumerate(zip(token_lists, scores)):
        n = len(tokens)
        top = set(np.argsort(-np.asarray(score), kind="stable")[:REMOVED].tolist())
        variants.append(join_tokens([t for i, t in enumerate(tokens) if i not in top]))
        kinds.append((row, "top"))
        for draw in range(RANDOM_DRAWS):
            gone = set(rng.choice(n, size=min(REMOVED, n), replace=False).tolist())
            variants.append(join_tokens([t for i, t in enumerate(tokens) if i not in gone]))
            kinds.append((row, draw))
    probabilities = classifier.predict_proba(variants)
    drop_top = np.zeros(len(token_lists))
    drop_random = np.zeros((len(token_lists), RANDOM_DRAWS))
    for (row, kind), p in zip(kinds, probabilities):
        drop = baseline[row] - p[targets[row]]
        if kind == "top":
            drop_top[row] = drop
        else:
            drop_random[row, kind] = drop
    return ((drop_top > drop_random[:, 0]).mean(), (drop_top > drop_random.mean(axis=1)).mean(),
            drop_top.mean(), drop_random.mean())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", default="../shared/data/sst2/test.csv.gz")
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import pandas as pd

    import textclf
    from textclf.inference.explain import explain
    from textclf.text.tokenize import tokenize

    classifier = textclf.load(args.model)
    frame = pd.read_csv(args.data, dtype=str, keep_default_na=False)
    texts = frame["text"].sample(n=min(args.rows, len(frame)), random_state=args.seed).tolist()
    token_lists = tokenize(texts)
    baseline_all = classifier.predict_proba(texts)
    targets = baseline_all.argmax(axis=1)
    baseline = baseline_all[np.arange(len(texts)), targets]
    short = sum(len(tokens) <= REMOVED for tokens in token_lists)
    print(f"{len(texts)} sentences from {args.data}; {short} have <= {REMOVED} tokens (removing 3 leaves nothing: "
          "a tie, counted as a failure); mean length "
          f"{np.mean([len(t) for t in token_lists]):.1f} tokens")

    started = time.perf_counter()
    occlusion = [e.scores for e in explain(classifier, texts)]
    methods = [("occlusion (textclf explain)", occlusion, time.perf_counter() - started)]
    for budget in (1, 4):
        started = time.perf_counter()
        scores = sampled_mask_scores(classifier, token_lists, targets, budget, np.random.default_rng(args.seed))
        methods.append((f"sampled masks, {budget} x (n+1) predictions", scores, time.perf_counter() - started))
    print(f"{'method':<42} {'share>1 random':>14} {'share>mean 20':>13} {'top-3 drop':>10} {'random drop':>11} "
          f"{'seconds':>8}")
    for name, scores, seconds in methods:
        one, mean, top, random = deletion_share(classifier, token_lists, targets, baseline, scores,
                                                np.random.default_rng(args.seed + 1))
        print(f"{name:<42} {one:>14.3f} {mean:>13.3f} {top:>10.4f} {random:>11.4f} {seconds:>8.1f}")


if __name__ == "__main__":
    main()

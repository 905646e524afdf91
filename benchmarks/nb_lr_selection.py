"""Choose NBLogisticRegression's defaults on held-out data only (never a test split).

    python benchmarks/nb_lr_selection.py --data-dir ../shared/data

Scores each setting on SST-2's dev split, on a stratified tenth of TREC's training questions and
on a stratified tenth of the training part of MR's first fold (10-fold CV, seed 0, the spec's
folds), printing accuracy and CPU seconds per fit.
"""

import argparse
import time

import numpy as np
from sklearn.model_selection import StratifiedKFold, train_test_split

from langmodels.classify import NBLogisticRegression, read_labelled


def held_out_sets(root: str) -> dict:
    def read(name):
        texts, y = read_labelled(f"{root}/classification/{name}")
        return np.array(texts, dtype=object), np.array(y)

    sets = {"sst2-dev": (*read("sst2/train.tsv"), *read("sst2/dev.tsv"))}
    X, y = read("trec/train.tsv")
    a, b = train_test_split(np.arange(len(X)), test_size=0.1, random_state=0, stratify=y)
    sets["trec-held"] = (X[a], y[a], X[b], y[b])
    X, y = read("mr/all.tsv")
    train, _ = next(StratifiedKFold(10, shuffle=True, random_state=0).split(X, y))
    a, b = train_test_split(train, test_size=0.1, random_state=0, stratify=y[train])
    sets["mr-fold0-held"] = (X[a], y[a], X[b], y[b])
    return sets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="../shared/data")
    args = parser.parse_args()
    sets = held_out_sets(args.data_dir)
    for ngram_max in (2, 3):
        for lowercase in (False, True):
            for C in (0.1, 0.3, 1.0, 3.0, 10.0):
                row = []
                for name, (Xa, ya, Xb, yb) in sets.items():
                    t = time.process_time()
                    clf = NBLogisticRegression(ngram_max=ngram_max, C=C, lowercase=lowercase).fit(Xa, ya)
                    row.append(f"{name} {100 * clf.score(Xb, yb):.2f} ({time.process_time() - t:.1f}s)")
                print(f"ngram_max={ngram_max} lowercase={lowercase} C={C}: " + "  ".join(row), flush=True)


if __name__ == "__main__":
    main()

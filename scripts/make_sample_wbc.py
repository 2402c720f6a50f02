"""Regenerate pynomaly/samples/wbc.csv.gz, the bundled ``sample:wbc`` dataset.

WBC as used in outlier-detection benchmarks (ODDS): the Wisconsin diagnostic breast cancer
data with every benign case (inliers) and 21 malignant cases (anomalies, ~5.6 %). Built from
the copy scikit-learn ships, with a fixed seed so the file is reproducible:

    python scripts/make_sample_wbc.py
"""

from pathlib import Path

import numpy as np
from sklearn.datasets import load_breast_cancer

N_ANOMALIES = 21
OUT = Path(__file__).resolve().parents[1] / "pynomaly" / "samples" / "wbc.csv.gz"


def main() -> None:
    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.frame.rename(columns=lambda c: c.replace(" ", "_"))
    malignant = frame["target"] == 0  # scikit-learn codes malignant as 0
    rng = np.random.RandomState(0)
    chosen = rng.choice(np.flatnonzero(malignant), N_ANOMALIES, replace=False)
    keep = np.sort(np.concatenate([np.flatnonzero(~malignant), chosen]))
    out = frame.iloc[keep].reset_index(drop=True)
    out["is_malignant"] = (out.pop("target") == 0).astype(int)
    out.index.name = "row"
    OUT.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(OUT, float_format="%.6g", compression={"method": "gzip", "mtime": 0})
    print(f"wrote {OUT}: {len(out)} rows, {int(out['is_malignant'].sum())} anomalies")


if __name__ == "__main__":
    main()

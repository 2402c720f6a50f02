"""Any pynomaly detector as a scikit-learn outlier detector: :class:`AnomalyDetector`.

>>> from sklearn.pipeline import make_pipeline                          # doctest: +SKIP
>>> from sklearn.preprocessing import StandardScaler                    # doctest: +SKIP
>>> lof = AnomalyDetector("sklearn:lof", n_neighbors=20)                 # doctest: +SKIP
>>> make_pipeline(StandardScaler(), lof).fit(X_train).predict(X_new)    # doctest: +SKIP
array([ 1,  1, -1, ...])                                 # 1 = inlier, -1 = outlier

The estimator follows scikit-learn's conventions for outlier detectors (those of
:class:`~sklearn.ensemble.IsolationForest`), which are the opposite of pynomaly's: see
:class:`AnomalyDetector`. :func:`anomaly_scorer` rates it against ground-truth labels
(1 = anomaly) in :class:`~sklearn.model_selection.GridSearchCV` or
:func:`~sklearn.model_selection.cross_val_score`.

This module imports scikit-learn; ``import pynomaly`` loads it only when
``pynomaly.AnomalyDetector`` or ``pynomaly.anomaly_scorer`` is first used.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

import pynomaly

if TYPE_CHECKING:  # pragma: no cover
    from typing import Self

    import pandas as pd

    from pynomaly import Model

__all__ = ["AnomalyDetector", "anomaly_scorer"]

#: A processing step, by name (``"impute"``) or with options (``("scale", {"method": "robust"})``).
Step = str | tuple[str, Mapping[str, Any]]


class AnomalyDetector(OutlierMixin, BaseEstimator):
    """A pynomaly detector as a scikit-learn outlier detector.

    ``AnomalyDetector(detector, contamination, random_state, steps, **params)`` fits
    ``pynomaly.fit(X, detector, contamination=..., random_state=..., steps=..., **params)``
    and exposes the fitted model through scikit-learn's outlier-detector interface, so that it
    works in :class:`~sklearn.pipeline.Pipeline`, :class:`~sklearn.model_selection.GridSearchCV`,
    :func:`~sklearn.model_selection.cross_val_score` and :func:`~sklearn.base.clone`, and
    pickles.

    **Sign conventions.** They are scikit-learn's (as :class:`~sklearn.ensemble.IsolationForest`),
    the opposite of pynomaly's "higher = more anomalous":

    * :meth:`score_samples` is pynomaly's score negated: **higher = more normal**. For a
      ``sklearn:*`` detector it is exactly the wrapped estimator's own ``score_samples``; for a
      ``pyod:*`` detector it is PyOD's ``decision_function`` negated.
    * :meth:`decision_function` is ``score_samples(X) - offset_``: **negative = outlier**.
    * :meth:`predict` is ``-1`` for an outlier and ``1`` for an inlier, where
      ``decision_function`` is negative and non-negative respectively. :meth:`fit_predict`
      labels the training rows by the library's own training scores, as
      :func:`pynomaly.detect` does (the same as ``fit(X).predict(X)`` except for detectors
      that score training rows apart, such as ``sklearn:lof``).
    * ``offset_`` is ``-threshold_``, where ``threshold_`` is pynomaly's threshold (the
      ``1 - contamination`` quantile of the training scores), so that a row is an outlier
      exactly when pynomaly labels it an anomaly (its pynomaly score is above ``threshold_``).

    pynomaly's own scores and labels stay available through the fitted model:
    ``model_.score(X)`` (higher = more anomalous) and ``model_.predict(X)`` (1 = anomaly).
    Ground truth for :func:`anomaly_scorer` uses pynomaly's labels too: 1 = anomaly,
    0 = normal.

    :param detector: A detector id, as listed by :func:`pynomaly.detectors`
        (``"pyod:ecod"``, ``"sklearn:iforest"``, ...).
    :param contamination: The expected share of outliers in the training data, in
        ``(0, 0.5]``; it sets ``offset_``.
    :param random_state: Seed of the detector: an int in ``[0, 2**32)`` (0 by default, as in
        :func:`pynomaly.fit` and on the command line: reproducible), ``None`` for a fresh seed
        each fit, or a :class:`numpy.random.RandomState`, from which each fit draws a seed.
    :param steps: pynomaly processing steps fitted into the model, by name (``"impute"``) or
        with options (``("encode", {"method": "onehot"})``). Without steps, ``X`` must be
        numeric and finite and is checked as scikit-learn estimators check it; with steps, a
        DataFrame is passed to them as it is (text columns, missing values ...).
    :param params: The detector's own hyperparameters (``n_neighbors=20``). They are
        parameters of the estimator like the four above: :meth:`get_params` returns them and
        :meth:`set_params` sets them (``GridSearchCV(est, {"n_neighbors": [10, 20]})``). They
        are checked by :func:`pynomaly.validate_parameters` in :meth:`fit`, whose error names
        an unknown or invalid parameter.

    Fitted attributes:

    ``model_``
        The fitted :class:`pynomaly.Model`.
    ``threshold_``
        pynomaly's label threshold, in pynomaly's convention (higher = more anomalous).
    ``offset_``
        ``-threshold_``; ``decision_function = score_samples - offset_``.
    ``n_features_in_``
        The number of columns of the training data.
    ``feature_names_in_``
        The column names of the training data, when it was a DataFrame with string column
        names only.
    """

    def __init__(
        self,
        detector: str = "pyod:ecod",
        contamination: float = 0.1,
        random_state: int | np.random.RandomState | None = 0,
        steps: Sequence[Step] = (),
        **params: Any,
    ) -> None:
        self.detector = detector
        self.contamination = contamination
        self.random_state = random_state
        self.steps = steps
        # the detector's hyperparameters, kept as given: clone checks their identity
        self._detector_params = params

    # ----------------------------------------------------------------------------------------
    # Parameters

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The estimator's parameters: the four of ``__init__`` and the detector's own.

        :param deep: Also return the parameters of parameter values that are estimators
            themselves, as ``name__parameter``.
        """
        out: dict[str, Any] = super().get_params(deep=deep)
        for name, value in self._detector_params.items():
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                out.update((f"{name}__{key}", v) for key, v in value.get_params().items())
            out[name] = value
        return out

    def set_params(self, **params: Any) -> Self:
        """Set parameters; a name that is not one of ``__init__``'s is a detector parameter.

        Detector parameters are checked in :meth:`fit`, for the detector set at that time
        (scikit-learn's convention: setting a parameter does not validate it).
        ``name__parameter`` sets a parameter of a parameter value that is an estimator.

        :returns: ``self``.
        """
        own = set(self._get_param_names())
        nested: dict[str, dict[str, Any]] = {}
        detector_params = dict(self._detector_params)
        for key, value in params.items():
            name, delimiter, sub_key = key.partition("__")
            if delimiter:
                nested.setdefault(name, {})[sub_key] = value
            elif name in own:
                setattr(self, name, value)
            else:
                detector_params[name] = value
        self._detector_params = detector_params
        for name, sub_params in nested.items():
            target: Any = getattr(self, name) if name in own else detector_params.get(name)
            if not hasattr(target, "set_params"):
                key = f"{name}__{next(iter(sub_params))}"
                raise ValueError(
                    f"invalid parameter {key!r} for {type(self).__name__}: "
                    f"{name!r} is not set to an estimator"
                )
            target.set_params(**sub_params)
        return self

    # ----------------------------------------------------------------------------------------
    # Fitting and scoring

    def fit(self, X: Any, y: Any = None) -> Self:
        """Fit the detector on ``X``; ``y`` is ignored (outlier detection is unsupervised).

        :param X: A 2-D array-like or a DataFrame, rows × features, of at least 2 rows.
        :param y: Ignored; accepted so that the estimator fits in supervised tools
            (:class:`~sklearn.model_selection.GridSearchCV` with a labelled scorer).
        :returns: ``self``.
        :raises ValueError: The data, ``detector``, ``contamination``, ``random_state`` or a
            detector parameter is not usable; the message says which and why.
        """
        self._forget()
        params = dict(self._detector_params)
        pynomaly.validate_parameters(self.detector, params)
        clashing = sorted(set(params) & _fit_keywords())
        if clashing:
            raise ValueError(
                f"{self.detector}: parameter {clashing[0]!r} has the name of an argument of "
                "pynomaly.fit and cannot be passed through AnomalyDetector"
            )
        try:
            frame = self._table(X, reset=True)
            model = pynomaly.fit(
                frame,
                self.detector,
                contamination=self.contamination,
                random_state=_seed(self.random_state),
                steps=_steps(self.steps),
                **params,
            )
        except BaseException:
            self._forget()  # not the new data's width with no model, nor an old model
            raise
        self.model_: Model = model
        self.threshold_: float = float(model.threshold)
        self.offset_: float = -self.threshold_
        return self

    def _forget(self) -> None:
        """Drop what a fit set: the estimator is unfitted again."""
        for name in _FITTED:
            self.__dict__.pop(name, None)

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "model_")

    def score_samples(self, X: Any) -> np.ndarray:
        """Normality scores of the rows of ``X``: **higher = more normal**.

        pynomaly's anomaly scores (``model_.score(X)``) negated; for a ``sklearn:*`` detector,
        the wrapped estimator's own ``score_samples``.

        :raises ValueError: ``X`` does not have the training data's columns; the message
            names both widths, or the names that differ.
        """
        check_is_fitted(self)
        scores: np.ndarray = self.model_.score(self._table(X, reset=False))
        return -scores

    def decision_function(self, X: Any) -> np.ndarray:
        """``score_samples(X) - offset_``: negative for outliers, non-negative for inliers."""
        return self.score_samples(X) - self.offset_

    def predict(self, X: Any) -> np.ndarray:
        """``-1`` for outliers and ``1`` for inliers, by the sign of :meth:`decision_function`.

        A row is an outlier exactly when ``model_.predict`` labels it 1 (an anomaly).
        """
        return np.where(self.decision_function(X) < 0, -1, 1)

    def fit_predict(self, X: Any, y: Any = None) -> np.ndarray:
        """Fit on ``X`` and label its rows: ``-1`` for outliers, ``1`` for inliers.

        The labels come from the training scores, the wrapped library's own scores of its
        training rows, as in :func:`pynomaly.detect`: about ``contamination`` of the rows are
        outliers. For most detectors this is ``fit(X).predict(X)``; detectors that score
        their training rows apart from new rows differ, as scikit-learn's
        :class:`~sklearn.neighbors.LocalOutlierFactor` does between its outlier detection
        (``fit_predict``) and novelty detection (``predict``) modes: ``sklearn:lof``, and
        neighbour-based PyOD detectors such as ``pyod:knn``, where a training row is not its
        own neighbour but a new row equal to it would be; ``pyod:ecod`` and ``pyod:copod``,
        where a new row is ranked among the training rows plus itself.

        :param y: Ignored.
        """
        self.fit(X, y)
        return np.where(self.model_.training_scores > self.threshold_, -1, 1)

    # ----------------------------------------------------------------------------------------
    # Input

    def _table(self, X: Any, *, reset: bool) -> pd.DataFrame:
        """``X`` checked, as the DataFrame given to pynomaly: columns as in training.

        Without steps, scikit-learn's :func:`~sklearn.utils.validation.validate_data` checks
        and converts ``X`` to a finite float64 matrix; with steps, it checks only the feature
        names and count, and the steps get the table as it is.
        """
        import pandas as pd

        if not reset:
            self._check_width(X)
        if self.steps:
            validate_data(self, X, reset=reset, skip_check_array=True)
            if isinstance(X, pd.DataFrame):
                frame = X
            else:
                array = check_array(
                    X,
                    dtype=None,
                    ensure_all_finite=False,
                    ensure_min_samples=2 if reset else 1,
                    estimator=self,
                )
                frame = pd.DataFrame(array).infer_objects()
        else:
            array = validate_data(
                self, X, reset=reset, dtype=np.float64, ensure_min_samples=2 if reset else 1
            )
            columns = X.columns if isinstance(X, pd.DataFrame) and reset else None
            frame = pd.DataFrame(array, columns=columns, copy=False)
        if reset:
            # the training columns: a DataFrame's own, else pynomaly's names for an array's
            if not isinstance(X, pd.DataFrame):
                frame.columns = [f"x{i}" for i in range(frame.shape[1])]
            self._columns = list(frame.columns)
        elif list(frame.columns) != self._columns:
            # same width (checked above): the columns are taken by position, as scikit-learn
            # does when there are no feature names to check against
            frame = frame.set_axis(self._columns, axis=1)
        return frame

    def _check_width(self, X: Any) -> None:
        """One line naming both widths (and the differing names) when they differ."""
        shape = getattr(X, "shape", None)
        if shape is None or len(shape) != 2 or shape[1] == self.n_features_in_:
            return  # validate_data reports anything else
        detail = ""
        fitted = getattr(self, "feature_names_in_", None)
        if fitted is not None and hasattr(X, "columns"):
            names = [str(c) for c in X.columns]
            missing = [n for n in fitted if n not in names]
            extra = [n for n in names if n not in set(fitted)]
            parts = [f"missing: {missing}" if missing else "", f"new: {extra}" if extra else ""]
            detail = f" ({'; '.join(p for p in parts if p)})" if missing or extra else ""
        raise ValueError(
            f"X has {shape[1]} features, but {type(self).__name__} is expecting "
            f"{self.n_features_in_} features as input{detail}"
        )


#: what fit sets, on top of the model
_FITTED = ("model_", "threshold_", "offset_", "n_features_in_", "feature_names_in_", "_columns")


def _steps(steps: Sequence[Step]) -> tuple[Step, ...]:
    """The steps as a tuple; a lone step name is one step, not one per letter."""
    return (steps,) if isinstance(steps, str) else tuple(steps)


def _seed(random_state: Any) -> Any:
    """pynomaly's seed (an int or ``None``) from scikit-learn's ``random_state``."""
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    if isinstance(random_state, np.integer):
        return int(random_state)
    return random_state  # pynomaly checks it


def _fit_keywords() -> set[str]:
    """The keyword arguments of :func:`pynomaly.fit` that are not detector parameters."""
    return {
        p.name
        for p in inspect.signature(pynomaly.fit).parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }


# --------------------------------------------------------------------------------------------
# Scoring against ground truth

#: metrics of a ranking: they get anomaly scores (higher = more anomalous)
_RANKING_METRICS = {"roc_auc": "roc_auc_score", "average_precision": "average_precision_score"}
#: metrics of a labelling: they get predicted labels (1 = anomaly, 0 = normal)
_LABEL_METRICS = {
    "f1": "f1_score",
    "precision": "precision_score",
    "recall": "recall_score",
    "balanced_accuracy": "balanced_accuracy_score",
    "matthews_corrcoef": "matthews_corrcoef",
}


def anomaly_scorer(
    metric: str | Callable[..., float] = "average_precision",
    *,
    response: Literal["scores", "labels"] | None = None,
    **kwargs: Any,
) -> Callable[..., float]:
    """A scorer rating an :class:`AnomalyDetector` (or a pipeline ending in one) against
    ground-truth labels **1 = anomaly, 0 = normal**, for ``scoring=`` of
    :class:`~sklearn.model_selection.GridSearchCV`,
    :func:`~sklearn.model_selection.cross_val_score` and the like.

    The estimator's outputs are turned into pynomaly's convention first: a ranking metric
    gets anomaly scores (``-decision_function``, higher = more anomalous), a label metric gets
    predictions with ``-1`` (outlier) as 1 and ``1`` (inlier) as 0.

    >>> search = GridSearchCV(AnomalyDetector("sklearn:lof"), {"n_neighbors": [10, 20]},
    ...                       scoring=anomaly_scorer("roc_auc"))    # doctest: +SKIP
    >>> search.fit(X, y)                                            # doctest: +SKIP

    Use a stratified splitter (``cv=StratifiedKFold(5)``) when anomalies are rare, so that
    every test fold has some.

    :param metric: ``"average_precision"`` or ``"roc_auc"`` (of the scores), ``"f1"``,
        ``"precision"``, ``"recall"``, ``"balanced_accuracy"`` or ``"matthews_corrcoef"``
        (of the labels), or any ``metric(y_true, y_pred, **kwargs) -> float`` where higher is
        better, with ``response`` saying what it gets.
    :param response: ``"scores"`` or ``"labels"``; required with a callable ``metric``.
    :param kwargs: Passed to the metric.
    :returns: A scikit-learn scorer (made with :func:`~sklearn.metrics.make_scorer`).
    :raises ValueError: Unknown metric name, or ``response`` missing or contradicting it.
    """
    from sklearn import metrics

    if isinstance(metric, str):
        known = {**{m: "scores" for m in _RANKING_METRICS}, **{m: "labels" for m in _LABEL_METRICS}}
        if metric not in known:
            raise ValueError(f"unknown metric {metric!r}; known: {', '.join(known)}")
        if response is not None and response != known[metric]:
            raise ValueError(f"metric {metric!r} is computed on {known[metric]}, not {response}")
        response = "scores" if metric in _RANKING_METRICS else "labels"
        function = getattr(metrics, {**_RANKING_METRICS, **_LABEL_METRICS}[metric])
    else:
        if response not in ("scores", "labels"):
            raise ValueError(
                "give response='scores' or response='labels' with a metric function, "
                f"got {response!r}"
            )
        function = metric
    if response == "scores":
        return metrics.make_scorer(
            _on_anomaly_scores, response_method="decision_function", metric=function, **kwargs
        )
    return metrics.make_scorer(
        _on_anomaly_labels, response_method="predict", metric=function, **kwargs
    )


def _on_anomaly_scores(
    y_true: Any, decision: Any, *, metric: Callable[..., float], **kwargs: Any
) -> float:
    """``metric`` of the anomaly scores, ``-decision_function`` (higher = more anomalous)."""
    return float(metric(y_true, -np.asarray(decision, dtype=np.float64), **kwargs))


def _on_anomaly_labels(
    y_true: Any, predicted: Any, *, metric: Callable[..., float], **kwargs: Any
) -> float:
    """``metric`` of the predicted labels as 1 = anomaly (``-1``), 0 = normal (``1``)."""
    return float(metric(y_true, (np.asarray(predicted) == -1).astype(np.int64), **kwargs))

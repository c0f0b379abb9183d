import numpy as np
import sapwood


def test_regression_fits_signal():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2000, 5))
    y = 3 * X[:, 0] + np.where(X[:, 1] > 0, 2.0, -1.0)
    b = sapwood.train({"n_estimators": 50, "random_state": 0}, sapwood.Dataset(X, y))
    pred = b.predict(X)
    assert np.sqrt(np.mean((pred - y) ** 2)) < 0.5 * np.std(y)

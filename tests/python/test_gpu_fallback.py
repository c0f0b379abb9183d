"""device='cuda' on a machine without a GPU (or a build without CUDA): a clear error."""

from __future__ import annotations

import numpy as np
import pytest
import sapwood
from sapwood.model.gpu import cuda_available, cuda_compiled


def test_cuda_error_is_clear_without_a_device() -> None:
    if cuda_available():
        pytest.skip("a GPU is present (tests/gpu covers it)")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3)).astype(np.float32)
    b = sapwood.train({"objective": "regression", "n_estimators": 3}, sapwood.Dataset(X, X[:, 0]))
    with pytest.raises(sapwood.SapwoodError, match="cuda") as ei:
        b.predict(X, device="cuda")
    msg = str(ei.value)
    assert ("without CUDA" in msg) if not cuda_compiled() else ("device" in msg.lower())
    np.testing.assert_array_equal(b.predict(X), b.predict(X, device="cpu"))  # CPU still works
    with pytest.raises(sapwood.ParameterError):
        b.predict(X, device="tpu")

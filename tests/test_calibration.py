import numpy as np

from factcheck.nli.calibration import expected_calibration_error, fit_temperature
from factcheck.nli.infer import softmax


def test_fit_temperature_recovers_an_overconfident_models_temperature():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(size=(4000, 3)) * 2
    labels = np.array([rng.choice(3, p=p) for p in softmax(true_logits)])
    overconfident = true_logits * 3.0
    assert abs(fit_temperature(overconfident, labels) - 3.0) < 0.3


def test_ece_is_zero_when_confidence_matches_accuracy_and_large_when_not():
    labels = np.array([0, 0, 0, 1])
    calibrated = np.tile([0.75, 0.25, 0.0], (4, 1))  # 75% confident, 75% right
    assert expected_calibration_error(calibrated, labels) < 1e-9
    overconfident = np.tile([0.99, 0.01, 0.0], (4, 1))
    assert abs(expected_calibration_error(overconfident, labels) - 0.24) < 1e-6

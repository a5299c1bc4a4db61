"""The NLI model: inference and its runtimes (torch, ONNX Runtime), calibration, training and evaluation data."""

"""factcheck eval: the public benchmarks, the suite that runs them, and its report."""

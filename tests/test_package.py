"""The package's public names, and the module paths it had before it was grouped by role."""

import importlib

import pytest


def test_public_names_import_from_the_top():
    from factcheck import Archive, Checker, Claim, Document, NLIModel, Report, Thresholds

    assert Checker.__module__ == "factcheck.checker"
    assert {Archive.__module__, Claim.__module__, Document.__module__, NLIModel.__module__} == {
        "factcheck.scale.archive",
        "factcheck.pipeline.claims",
        "factcheck.pipeline.ingest",
        "factcheck.nli.infer",
    }
    assert Report.__module__ == "factcheck.results" and Thresholds.__module__ == "factcheck.pipeline.aggregate"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("factcheck.infer", "factcheck.nli.infer"),
        ("factcheck.report", "factcheck.results"),
        ("factcheck.batch", "factcheck.scale.batch"),
        ("factcheck.eval_suite", "factcheck.evaluation.suite"),
    ],
)
def test_an_old_module_path_still_imports_and_says_where_it_went(old, new):
    import sys

    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=new.replace(".", r"\.")):
        module = importlib.import_module(old)
    assert module is importlib.import_module(new)


def test_an_unknown_module_is_still_an_import_error():
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("factcheck.no_such_module")

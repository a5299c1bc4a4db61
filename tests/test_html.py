"""The HTML report: its pieces, and the real command's output opened in headless Chromium."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_cli import run_cli

from factcheck.output.html import Mark, render_html, segments
from factcheck.pipeline.claims import Claim
from factcheck.pipeline.ingest import Document
from factcheck.results import ClaimResult, Evidence, Report, Span

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
INJECTED = '<script>window.__pwned = 1; document.title = "pwned";</script>'
# Two sentences the claim below repeats word for word, around markup that must stay text.
EVIL_ARTICLE = (
    "The mayor opened the new bridge on Monday. "
    f'{INJECTED} Officials said <img src=x onerror="window.__pwned = 2">the bridge cost 5 million euros.\n\n'
    "The bridge connects the old town with the harbour district.\n"
)


def test_segments_cut_nested_and_overlapping_marks():
    text = "0123456789"
    pieces = segments(text, 1, 9, [Mark(2, 8, "passage"), Mark(4, 6, "key", {"id": "k"}), Mark(5, 9, "other")])
    assert "".join(p.text for p in pieces) == text[1:9]
    assert [(p.text, p.css) for p in pieces] == [
        ("1", ""),
        ("23", "passage"),
        ("4", "passage key"),
        ("5", "passage key other"),
        ("67", "passage other"),
        ("8", "other"),
    ]
    assert [p.anchors for p in pieces] == [[], [], [{"id": "k"}], [], [], []]


def _evidence(document: Document, sentence: str, key: str, probabilities: dict) -> Evidence:
    start = document.text.index(sentence)
    key_start = document.text.index(key, start)
    return Evidence(
        document.id,
        start,
        start + len(sentence),
        sentence,
        probabilities,
        0.1,
        key_span=Span(document.id, key_start, key_start + len(key), key),
    )


def test_report_escapes_text_orders_contradictions_first_and_highlights_key_spans():
    document = Document(text=EVIL_ARTICLE, id="evil<i>")
    support = _evidence(
        document,
        "The mayor opened the new bridge on Monday.",
        "opened",
        {"entailment": 0.9, "neutral": 0.05, "contradiction": 0.05},
    )
    contradiction = _evidence(
        document, "Officials said", "said", {"entailment": 0.0, "neutral": 0.1, "contradiction": 0.9}
    )
    report = Report(
        [
            ClaimResult(
                Claim("The mayor opened it.", id="ok"), document.id, "supported", 0.9, [support], best_support=support
            ),
            ClaimResult(
                Claim("<b>Nobody</b> said a word.", id="bad"), document.id, "contradicted", 0.9, [contradiction]
            ),
        ]
    )
    html = render_html(report, [document], model="<model>")
    assert "<script" not in html and "<img" not in html and "<b>" not in html and "<i>" not in html
    assert "&lt;script&gt;window.__pwned" in html and "&lt;b&gt;Nobody&lt;/b&gt;" in html and "evil&lt;i&gt;" in html
    assert html.index('id="claim-1"') < html.index("Nobody") < html.index("The mayor opened it.")
    assert '<mark class="passage key key-supported">opened</mark>' in html
    assert '<mark class="passage key key-contradicted">said</mark>' in html


def test_report_needs_the_text_of_every_source():
    result = ClaimResult(Claim("A claim.", id="c"), "absent", "not_mentioned", 1.0, [])
    with pytest.raises(ValueError, match="not given: absent"):
        render_html(Report([result]), [])


# ---- the real command's output in a real browser ---------------------------------------------------------------


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()):
        pytest.skip(
            f"needs {CHROMIUM} and {CHROMEDRIVER} (Debian packages chromium, chromium-driver; .ci/run installs them)"
        )
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install -e '.[test]')")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,1600",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=str(CHROMEDRIVER)))
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def articles(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("articles")
    (folder / "evil.txt").write_text(EVIL_ARTICLE, encoding="utf-8")
    (folder / "evil-altered.txt").write_text(EVIL_ARTICLE.replace("5 million", "7 million"), encoding="utf-8")
    (folder / "claims.txt").write_text(
        "The mayor opened the new bridge on Monday.\nThe harbour was dredged in 1990.\n<b>Bold</b> claims <script>window.__pwned = 3</script> here.\n"
    )
    return folder


def _open(browser, page: Path) -> None:
    browser.get(page.as_uri())
    assert browser.execute_script("return document.readyState") == "complete"


def _assert_inert(browser, shown: str) -> None:
    """The markup inside the texts shows as text (``shown`` among it): no element came from it, nothing of it ran."""
    from selenium.webdriver.common.by import By

    assert browser.execute_script("return window.__pwned === undefined")
    assert browser.title.startswith("factcheck: ")
    assert browser.find_elements(By.CSS_SELECTOR, "script, img, b") == []
    assert shown in browser.find_element(By.TAG_NAME, "body").text
    # Self-contained: the page fetched nothing.
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0


def _highlighted(element) -> bool:
    return element.is_displayed() and element.value_of_css_property("background-color") not in (
        "rgba(0, 0, 0, 0)",
        "transparent",
    )


def test_check_report_in_chromium(browser, articles, tmp_path):
    from selenium.webdriver.common.by import By

    page = tmp_path / "report.html"
    result = run_cli("check", "-c", articles / "claims.txt", "-a", articles / "evil.txt", "-o", page, "--threads", "1")
    assert result.returncode == 0, result.stderr
    _open(browser, page)
    _assert_inert(browser, "<b>Bold</b> claims <script>window.__pwned = 3</script> here.")
    keys = browser.find_elements(By.CSS_SELECTOR, "mark.key")
    assert keys, "a claim the article states word for word has a highlighted key span"
    assert all(_highlighted(key) and key.text.strip() for key in keys)
    verdicts = [
        card.get_attribute("class").split("card-")[1] for card in browser.find_elements(By.CSS_SELECTOR, "article.card")
    ]
    order = ["contradicted", "conflicting", "supported", "not_mentioned"]
    assert verdicts == sorted(verdicts, key=order.index)
    browser.save_screenshot(str(tmp_path / "report.png"))


def test_compare_report_links_highlights_across_the_articles(browser, articles, tmp_path):
    from selenium.webdriver.common.by import By

    page = tmp_path / "compare.html"
    result = run_cli("compare", articles / "evil.txt", articles / "evil-altered.txt", "-o", page, "--threads", "1")
    assert result.returncode == 0, result.stderr
    _open(browser, page)
    _assert_inert(browser, INJECTED)
    columns = browser.find_elements(By.CSS_SELECTOR, ".article-text")
    assert [c.get_attribute("id") for c in columns] == ["article-a", "article-b"]
    assert all(c.is_displayed() for c in columns)
    assert columns[0].location["y"] == columns[1].location["y"] and columns[0].location["x"] < columns[1].location["x"]
    links = columns[0].find_elements(By.CSS_SELECTOR, 'a.ref[href^="#b-"]')
    assert links, "a claim of A with evidence in B links to it"
    assert all(_highlighted(m) for m in browser.find_elements(By.CSS_SELECTOR, "mark.evidence"))
    target = links[0].get_attribute("href").split("#")[1]
    links[0].click()
    landed = browser.execute_script("return document.querySelector(':target')")
    assert landed.get_attribute("id") == target
    assert landed.find_element(By.XPATH, "ancestor::div[@id='article-b']")
    assert landed.value_of_css_property("outline-style") == "solid"

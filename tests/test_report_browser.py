"""The reports in a real browser: every zoo report and the index load from file:// in headless Chromium without
console errors, show their charts, table and diagram, and the table and diagram work (fold, sort, filter, links).

One browser serves the whole module; the interactive checks run on a few representative networks.
A screenshot of each page is kept under build/report-screenshots/ as a test artefact.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import netspec
from netspec.report import write_report_text
from netspec.report.index import index_entry, render_index
from tests.conftest import ROOT

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]
SCREENSHOTS = ROOT / "build" / "report-screenshots"
ZOO = sorted(p.stem for p in (ROOT / "specs").glob("*.net"))
INTERACTIVE = ["lenet5", "googlenet", "resnet50", "densenet121"]  # small; branches; repeats; the longest table
HAS_DOT = shutil.which("dot") is not None

if not Path(CHROMIUM).exists():
    pytest.skip(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium); browser tests skipped",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """Every zoo report and the index, written as `netspec build specs/` writes them."""
    folder = tmp_path_factory.mktemp("reports")
    entries = []
    for name in ZOO:
        spec = ROOT / "specs" / f"{name}.net"
        analysis = netspec.analyze(spec)
        html, _ = write_report_text(analysis, spec.read_text(), f"specs/{name}.net")
        (folder / f"{name}.html").write_text(html, encoding="utf-8")
        entries.append(index_entry(analysis, f"specs/{name}.net", f"{name}.html"))
    (folder / "index.html").write_text(render_index(entries), encoding="utf-8")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


class Page:
    """A loaded page and every console error or uncaught exception it produced."""

    def __init__(self, browser, url: str):
        self.page = browser.new_page(viewport={"width": 1400, "height": 900})
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(url)

    def in_view(self, selector: str) -> bool:
        return self.page.eval_on_selector(
            selector, "e => { const r = e.getBoundingClientRect(); return r.height > 0 && r.top >= 0 && r.bottom <= innerHeight; }")

    def close(self):
        self.page.close()


@pytest.fixture
def open_page(browser, site):
    pages = []

    def load(name: str) -> Page:
        page = Page(browser, (site / f"{name}.html").as_uri())
        pages.append(page)
        return page

    yield load
    for page in pages:
        page.close()


def visible_rows(page: Page, selector: str) -> list[str]:
    return page.page.eval_on_selector_all(
        selector, "rows => rows.filter(r => r.offsetParent !== null).map(r => r.id)")


@pytest.mark.parametrize("name", ZOO)
def test_every_zoo_report_loads_cleanly(open_page, name):
    page = open_page(name)
    assert page.errors == []
    assert page.page.locator("svg.chart").first.is_visible()
    assert page.page.locator("#layers-table").is_visible()
    assert page.page.locator("#layers-table tbody tr.layer:not(.hidden)").count() > 0
    if HAS_DOT:
        assert page.page.locator(".diagram:not([hidden]) svg g.node").first.is_visible()
    page.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=name in INTERACTIVE)
    assert page.errors == []


def test_index_loads_sorts_and_links(open_page):
    page = open_page("index")
    assert page.errors == []
    assert page.page.locator("svg.bubbles").is_visible()
    assert page.page.locator("svg.bubbles a.bubble").count() == len(ZOO)
    page.page.screenshot(path=str(SCREENSHOTS / "index.png"), full_page=True)
    page.page.click("#networks-table th:has-text('Params')")
    params = page.page.eval_on_selector_all("#networks-table tbody tr", "rows => rows.map(r => +r.cells[2].dataset.v)")
    assert params == sorted(params, reverse=True) and len(params) == len(ZOO)
    page.page.click("#networks-table th:has-text('Params')")
    params = page.page.eval_on_selector_all("#networks-table tbody tr", "rows => rows.map(r => +r.cells[2].dataset.v)")
    assert params == sorted(params)
    assert page.errors == []


@pytest.mark.parametrize("name", INTERACTIVE)
def test_folding_a_block_hides_its_rows(open_page, name):
    page = open_page(name)
    scope = page.page.locator("#layers-table tr.scope").first
    if scope.count() == 0:
        pytest.skip(f"{name} has no blocks")
    path = scope.get_attribute("data-path")
    inside = f"#layers-table tr[data-parent='{path}'], #layers-table tr[data-parent^='{path}.']"
    page.page.click("#expand-all")
    assert visible_rows(page, inside), "expanded: the block's rows are shown"
    scope.locator("td.name").click()
    assert visible_rows(page, inside) == [], "folded: the block's rows are hidden"
    assert scope.is_visible()
    scope.locator("td.name").click()
    assert len(visible_rows(page, inside)) == page.page.locator(inside).count()
    assert page.errors == []


def test_long_tables_start_folded_to_the_top_level(open_page):
    page = open_page("resnet50")  # 175 layers
    shown = visible_rows(page, "#layers-table tbody tr")
    assert "scope-layer1" in shown and "layer-fc" in shown
    assert not [r for r in shown if r.startswith("layer-layer")], "rows inside blocks start hidden"
    dense = open_page("densenet121")  # one block, `features`, holds nearly everything: it starts open
    shown = visible_rows(dense, "#layers-table tbody tr")
    assert "scope-features" in shown and "scope-features.denseblock1" in shown
    assert not [r for r in shown if r.startswith("layer-features.denseblock1.")]
    small = open_page("lenet5")  # 12 layers: everything shown
    assert len(visible_rows(small, "#layers-table tbody tr")) == small.page.locator("#layers-table tbody tr").count()


@pytest.mark.skipif(not HAS_DOT, reason="graphviz 'dot' is not installed: no diagram")
@pytest.mark.parametrize("name", INTERACTIVE)
def test_clicking_a_node_scrolls_its_row_into_view(open_page, name):
    page = open_page(name)
    if page.page.locator("#collapse-repeats").count():
        page.page.uncheck("#collapse-repeats")
    # the last drawn box that is a real layer: deep in the table, inside blocks that start folded
    rows = page.page.eval_on_selector_all("#layers-table tr.layer[data-el]", "rows => rows.map(r => [r.id, r.dataset.el])")
    row_id, element = next((r, e) for r, e in reversed(rows) if e == "g-" + r[len("layer-"):])
    page.page.locator(f"#diagram-full g.node[id='{element}']").click()
    assert page.in_view(f"[id='{row_id}']"), "the row is scrolled into view"
    assert "hl" in page.page.get_attribute(f"[id='{row_id}']", "class")
    assert page.errors == []


@pytest.mark.skipif(not HAS_DOT, reason="graphviz 'dot' is not installed: no diagram")
def test_a_row_links_to_its_node_and_a_collapsed_node_to_its_rows(open_page):
    page = open_page("resnet50")
    page.page.click("#expand-all")
    page.page.uncheck("#collapse-repeats")
    page.page.locator("[id='layer-layer3.3.conv2'] a.to-node").click()
    element = page.page.get_attribute("[id='layer-layer3.3.conv2']", "data-el")
    assert "flash" in page.page.get_attribute(f"[id='{element}']", "class")
    assert page.in_view(f"[id='{element}']")
    # with repeats collapsed, layer3's blocks 2–6 are one ×5 node; clicking it shows their first row
    page.page.check("#collapse-repeats")
    run = page.page.locator("#diagram-collapsed g.node[id='c-layer3.1']")
    assert "×5" in run.text_content()
    run.click()
    highlighted = page.page.eval_on_selector("#layers-table tr.hl", "r => r.id")
    assert highlighted.startswith("layer-layer3.1.")
    assert page.errors == []


def test_sorting_and_filtering_the_table(open_page):
    page = open_page("googlenet")
    page.page.click("#layers-table th:has-text('MACs'):not(:has-text('%'))")
    macs = page.page.eval_on_selector_all(
        "#layers-table tbody tr.layer:not(.hidden)", "rows => rows.map(r => +r.cells[4].dataset.v)")
    assert macs == sorted(macs, reverse=True) and len(macs) == page.page.locator("#layers-table tr.layer").count()
    page.page.click("#spec-order")
    page.page.fill("#layer-filter", "inception4c.branch2")
    shown = visible_rows(page, "#layers-table tbody tr")
    assert shown and all(r.startswith("layer-inception4c.branch2.") for r in shown)
    assert page.errors == []

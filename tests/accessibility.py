"""axe-core in real Chromium: one call checks a page against WCAG 2.1 A and AA.

Swedish public bodies must meet EN 301 549, whose web part is WCAG 2.1 AA. ``axe_check(page,
where)`` injects axe.min.js (the npm package in tests/node, installed by ``make test``),
runs it on the whole page as drawn, and fails on every serious or critical violation except
those on the list below: markup Streamlit itself draws, each with a rule, the narrowest CSS
selector of the element, and the reason (the same list is in the README, "Accessibility").
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page

AXE_JS = Path(__file__).resolve().parent / "node" / "node_modules" / "axe-core" / "axe.min.js"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
IMPACTS = ("serious", "critical")

# (axe rule, CSS selector the failing element is inside) -> why it is Streamlit's, not ours.
STREAMLIT_OWN: dict[tuple[str, str], str] = {
    ("list", '[data-testid="stSidebarNavItems"]'):
        "the page navigation (st.navigation with sections) puts each section's header and items in a "
        "<div> directly inside its <ul>",
    ("listitem", '[data-testid="stSidebarNavItems"]'):
        "the same navigation: its <li> items sit in those <div>s, not directly in the <ul>",
}

RUN_AXE = """async ([tags, impacts, known]) => {
    const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
    const found = [];
    for (const rule of result.violations) {
        for (const node of rule.nodes) {
            const impact = node.impact || rule.impact;
            if (!impacts.includes(impact)) continue;
            const element = node.target.length === 1 ? document.querySelector(node.target[0]) : null;
            const streamlit = known.filter(([id, selector]) => id === rule.id && element && element.closest(selector));
            found.push({rule: rule.id, impact, target: node.target.join(' >>> '), html: node.html.slice(0, 300),
                        why: (node.failureSummary || '').replace(/\\s+/g, ' '), streamlit: streamlit.length > 0});
        }
    }
    return found;
}"""


def axe_violations(page: Page) -> list[dict]:
    """Every serious or critical WCAG 2.1 A/AA violation on the page, each marked whether it is
    on the list of Streamlit's own markup."""
    if not AXE_JS.exists():
        raise RuntimeError(f"{AXE_JS} is missing: run make test (npm ci in tests/node)")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE_JS))
    return page.evaluate(RUN_AXE, [WCAG_21_AA, list(IMPACTS), [list(key) for key in STREAMLIT_OWN]])


def axe_check(page: Page, where: str) -> list[dict]:
    """Fail when the page has a serious or critical violation from our own markup; returns the
    ones from Streamlit's (listed above), for the caller to report."""
    found = axe_violations(page)
    ours = [v for v in found if not v["streamlit"]]
    assert not ours, f"{where}: {len(ours)} accessibility violation(s) in our markup:\n" + "\n".join(
        f"- {v['rule']} ({v['impact']}) at {v['target']}: {v['why']}\n  {v['html']}" for v in ours)
    return [v for v in found if v["streamlit"]]

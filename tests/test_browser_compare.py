"""The comparison page in real headless Chromium: charts render, the unit filter switches
from small multiples (one colour) to an overlay radar (one colour per unit), other views draw.
"""

from __future__ import annotations

import io
import re

import numpy as np
from PIL import Image
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect

from assessment.charts.scores import PALETTE
from assessment.i18n import t
from browser_runs import AppRuns
from conftest import admin_token
from seed_data import answered_units

REGION = "Webblän"
WAIT_MS = 30_000  # the first run of a fresh server imports the chart libraries
UNITS = [f"Webbkommun {i} (test)" for i in range(1, 9)]  # eight: more than an overlay can show


def seed(db_path, fw) -> None:
    answered_units(db_path, fw, UNITS, REGION)


def chart(page: Page):
    return page.locator("[data-testid=stVegaLiteChart]").first


def chart_text(page: Page, text):
    """A text mark of the chart (Streamlit draws Vega charts as SVG, so their words are in the page)."""
    return chart(page).locator("svg text", has_text=text)


def pixels_near(image: Image.Image, colour: str, tolerance: int = 30) -> int:
    """How many pixels are within `tolerance` (per channel) of a #rrggbb colour."""
    target = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])
    pixels = np.asarray(image.convert("RGB"), dtype=int)
    return int(np.all(np.abs(pixels - target) <= tolerance, axis=-1).sum())


def shot(page: Page, until=lambda image: True, attempts: int = 40) -> Image.Image:
    """A screenshot of the chart once `until` holds (a rerun may redraw or replace it meanwhile)."""
    image = None
    for _ in range(attempts):
        try:
            image = Image.open(io.BytesIO(chart(page).screenshot()))
        except PlaywrightError:  # replaced by a rerun while being captured: take the new one
            page.wait_for_timeout(250)
            continue
        if until(image):
            return image
        page.wait_for_timeout(250)
    assert image is not None, "the chart could not be captured"
    return image


def blank(image: Image.Image) -> bool:
    return pixels_near(image, "#ffffff", tolerance=8) > image.width * image.height * 0.97


def choose_view(page: Page, label: str) -> None:
    page.get_by_role("radiogroup", name=t("reg.compare.view", "sv")).locator(
        "label", has=page.get_by_role("radio", name=label, exact=True)).click()


def test_compare_page_draws_charts_and_follows_the_unit_filter(streamlit_server, page, framework):
    seed(streamlit_server.db_path, framework)
    token = admin_token(streamlit_server.db_path)
    app = AppRuns(page)  # before goto: it listens from the page's first websocket on
    page.goto(f"{streamlit_server.url}/compare?admin={token}")  # the administrator: every unit by name
    expect(page.get_by_role("heading", name=t("reg.compare.title", "sv"), exact=True)).to_be_visible(timeout=WAIT_MS)
    all_sides = t("regional.side.all", "sv").lower()
    expect(page.get_by_text(t("reg.compare.group", "sv", n=8, year=2026, side=all_sides))).to_be_visible(
        timeout=WAIT_MS)

    # Eight units: small multiples, one panel titled per unit, every radar in the first colour.
    for unit in UNITS:
        expect(chart_text(page, unit)).to_have_count(1, timeout=WAIT_MS)
    multiples = shot(page, until=lambda im: pixels_near(im, PALETTE[0]) > 200)
    assert pixels_near(multiples, PALETTE[0]) > 200
    assert pixels_near(multiples, PALETTE[1]) == 0

    # Pick two units: one overlay radar with the principles as axes and a legend of the two units,
    # the second unit in the palette's second colour.
    units_box = page.locator("[data-testid=stMultiSelect]").filter(has_text=t("reg.filter.units", "sv"))
    for n, unit in enumerate(UNITS[:2], start=1):
        # A choice made while a run is still on its way can be lost (the box is redrawn under the
        # click): start each one on a settled page.
        app.settle()
        units_box.locator("input").click()
        units_box.locator("input").fill(unit)
        page.get_by_role("option", name=unit, exact=True).click()
        # Each choice reruns the page: the next one waits for it (a busy machine may lose it otherwise).
        expect(page.get_by_text(t("reg.compare.group", "sv", n=n, year=2026, side=all_sides))).to_be_visible(
            timeout=WAIT_MS)
    page.keyboard.press("Escape")
    expect(chart_text(page, UNITS[7])).to_have_count(0, timeout=WAIT_MS)
    expect(chart_text(page, UNITS[1])).to_have_count(1)
    expect(chart_text(page, framework.principle_by_id["dialogue"].name.sv)).to_have_count(1)
    overlay = shot(page, until=lambda im: pixels_near(im, PALETTE[1]) > 50)
    assert pixels_near(overlay, PALETTE[1]) > 50, "the second unit's radar is not drawn"

    # The other views draw their own charts.
    expected = {"steps": framework.steps[0].name.sv, "trends": framework.principles[-1].name.sv,
                "ranking": re.compile(r"^1\. Webbkommun")}  # bars labelled "rank. unit"
    for view, text in expected.items():
        choose_view(page, t(f"reg.view.{view}", "sv"))
        expect(chart_text(page, text).first).to_be_visible(timeout=WAIT_MS)
        assert not blank(shot(page, until=lambda im: not blank(im))), f"{view} is blank"
    assert page.locator("[data-testid=stException]").count() == 0

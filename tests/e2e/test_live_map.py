"""The live map in a real headless Chromium (Debian's `chromium` package): the page loads the site, a marker
moves when the realtime loop locates the tag somewhere else, and the alert its geofence rule raises appears as it
fires, beside the zone event that raised it and why it happened."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.harness import CHROMIUM, CHROMIUM_ARGS, GATEWAYS, LivePlatform

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TAG = "AC0000000007"
MARKER = f'#assets .asset[data-tag="{TAG}"]'


@pytest.fixture
def page(live_platform: LivePlatform) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        yield page
        browser.close()
        assert not errors, f"JavaScript errors on the page: {errors}"


def _marker_xy(page: object) -> tuple[float, float]:
    marker = page.locator(MARKER)  # type: ignore[attr-defined]
    return float(marker.get_attribute("data-x")), float(marker.get_attribute("data-y"))


def test_map_shows_the_site_moves_the_marker_and_shows_alerts(
    live_platform: LivePlatform, page: object
) -> None:
    live_platform.place(TAG, 8.0, 7.0)  # located before the page opens: it must come in the snapshot

    page.goto(f"{live_platform.base_url}/map?api_key={live_platform.api_key}")  # type: ignore[attr-defined]
    page.wait_for_selector("#status[data-state='live']", timeout=30_000)  # type: ignore[attr-defined]
    assert page.locator("#gateways .gw").count() == len(GATEWAYS)  # type: ignore[attr-defined]
    assert page.locator("#zones .zone").count() == 1  # type: ignore[attr-defined]
    assert "Pharmacy" in page.locator("#zones").text_content()  # type: ignore[attr-defined]
    assert "api_key" not in page.url  # type: ignore[attr-defined]  # the key leaves the address bar

    page.wait_for_selector(MARKER, timeout=30_000)  # type: ignore[attr-defined]
    x0, y0 = _marker_xy(page)
    assert abs(x0 - 8.0) < 4 and abs(y0 - 7.0) < 4, (x0, y0)
    assert page.locator(f"{MARKER} title").text_content().startswith("Infusion pump 7")  # type: ignore[attr-defined]

    live_platform.place(TAG, 33.0, 23.0)  # carried into the pharmacy
    page.wait_for_function(  # type: ignore[attr-defined]
        """([selector, x, y]) => {
            const m = document.querySelector(selector);
            return m && Math.hypot(Number(m.dataset.x) - x, Number(m.dataset.y) - y) < 4;
        }""",
        arg=[MARKER, 33.0, 23.0],
        timeout=30_000,
    )
    x1, y1 = _marker_xy(page)
    assert abs(x1 - 33.0) < 4 and abs(y1 - 23.0) < 4, (x1, y1)

    # The realtime loop's alert stage fires the restricted-zone rule once the pump has dwelt inside.
    item = page.wait_for_selector("#alerts li[data-alert-id]", timeout=30_000)  # type: ignore[attr-defined]
    assert (
        "restricted zone 'Pharmacy'" in item.inner_text()
        and item.get_attribute("data-severity") == "critical"
    )
    alert_id = item.get_attribute("data-alert-id")
    assert page.inner_text("#alert-count") == "1"  # type: ignore[attr-defined]
    page.wait_for_selector(f"{MARKER}.alerting", timeout=5_000)  # type: ignore[attr-defined]
    # The zone event that raised it is listed with why it happened, in words
    entered = page.wait_for_selector("#zone-events li[data-reason]:not([data-reason=''])", timeout=5_000)  # type: ignore[attr-defined]
    assert "Infusion pump 7 entered Pharmacy" in entered.inner_text()
    assert entered.query_selector(".why").inner_text().strip()  # e.g. "1.2 m inside, past its 0.2 m margin"

    # A reload starts from the snapshot: the open alert and the marker's position are there at once.
    page.reload()  # type: ignore[attr-defined]
    page.wait_for_selector(f'#alerts li[data-alert-id="{alert_id}"]', timeout=30_000)  # type: ignore[attr-defined]
    page.wait_for_selector(MARKER, timeout=30_000)  # type: ignore[attr-defined]
    assert _marker_xy(page)[0] > 25

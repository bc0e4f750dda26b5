"""The landing page in a real browser: Debian's chromium, headless, driven by Playwright.

    python3 landing.py BASE_URL SCREENSHOT_DIR

Checks that / loads with no console error and no failed request, that it fits a phone's
width, that every link on it answers below 500, and that a person can fill in /forms/post,
press the button and get back JSON holding what they typed. Saves landing.png (desktop)
and landing-phone.png into SCREENSHOT_DIR. Prints "ok" when all holds.
"""

import json
import sys

from playwright.sync_api import sync_playwright

# The flags keep the browser off the network: test traffic stays on 127.0.0.1.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def main():
    base, shots = sys.argv[1], sys.argv[2]
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": 1100, "height": 760})
        problems = []

        def console(message):
            # httpbin's /forms/post names no icon, so the browser asks for /favicon.ico
            # (404) there; the landing page names an inline one and asks for nothing.
            where = message.location.get("url", "")
            if message.type == "error" and not where.endswith("/favicon.ico"):
                problems.append(f"console {message.type} at {where}: {message.text}")

        page.on("console", console)
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: problems.append(f"failed: {r.url} {r.failure}"))
        requested = []
        page.on("request", lambda r: requested.append(r.url))

        answer = page.goto(base + "/", wait_until="load")
        assert answer.status == 200, answer.status
        assert page.title() == "netkit httpbin", page.title()
        # Only the page itself: no scripts, fonts or stylesheets from anywhere.
        assert requested == [base + "/"], requested
        page.screenshot(path=f"{shots}/landing.png")

        hrefs = page.eval_on_selector_all(
            "a[href]", "links => links.map(a => a.getAttribute('href'))"
        )
        targets = sorted({h for h in hrefs if not h.startswith("#")})
        assert "/forms/post" in targets and "/spec.json" in targets, targets
        assert len(targets) >= 60, len(targets)
        for href in targets:
            assert href.startswith("/"), href
            reply = page.request.get(base + href, timeout=30000)
            assert reply.status < 500, (href, reply.status)
        # Every in-page anchor leads to a section.
        for anchor in sorted({h for h in hrefs if h.startswith("#")}):
            assert page.locator(anchor).count() == 1, anchor

        page.set_viewport_size({"width": 390, "height": 760})
        page.goto(base + "/", wait_until="load")
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"wider than a phone by {overflow}px"
        page.screenshot(path=f"{shots}/landing-phone.png")

        # A person's flow: the form, filled in and sent, comes back as JSON.
        page.set_viewport_size({"width": 1100, "height": 760})
        page.goto(base + "/", wait_until="load")
        page.click("text=Try a form")
        page.wait_for_url(base + "/forms/post")
        page.fill("input[name=custname]", "Ada Lovelace")
        page.fill("input[name=custtel]", "+44 20 7946 0000")
        page.fill("input[name=custemail]", "ada@example.org")
        page.check("input[name=size][value=medium]")
        page.check("input[name=topping][value=cheese]")
        page.check("input[name=topping][value=onion]")
        page.fill("input[name=delivery]", "19:30")
        page.fill("textarea[name=comments]", "Ring twice — ünïcode & ampersands")
        with page.expect_navigation() as navigation:
            page.click("text=Submit order")
        assert page.url == base + "/post", page.url
        sent = navigation.value
        assert sent.status == 200, sent.status
        echo = json.loads(sent.body())
        assert echo["form"] == {
            "custname": "Ada Lovelace",
            "custtel": "+44 20 7946 0000",
            "custemail": "ada@example.org",
            "size": "medium",
            "topping": ["cheese", "onion"],
            "delivery": "19:30",
            "comments": "Ring twice — ünïcode & ampersands",
        }, echo["form"]
        assert echo["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
        assert echo["headers"]["Origin"] == base, echo["headers"]

        browser.close()
        assert not problems, problems
    print("ok")


if __name__ == "__main__":
    main()

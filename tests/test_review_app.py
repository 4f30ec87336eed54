"""`touchless review` in a real browser: Playwright drives Debian's Chromium (by path; nothing is downloaded) against
the app served for a real discover run. Deciding by clicking lands in the decisions file; without the token
everything answers 403; a contact holding `<script>` shows as text; no request leaves 127.0.0.1; two browsers
deciding at once both land, and a page that missed a decision cannot overwrite it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlencode

import httpx
import pandas as pd
import pytest
import yaml

from flows.cli import main
from pipeline.taxonomy.decisions import load_decisions, undo
from pipeline.taxonomy.tree import load_taxonomy
from tests.conftest import SIX_INTENTS

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
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
SCRIPT_ID = "<script>alert(1)</script>"
IMG_CHANNEL = "<img src=x onerror=alert(2)>"
PAGES = ["/", "/taxonomy", "/causes", "/touch-index", "/reasons", "/report", "/contacts?reason=card_arrival"]
TAXONOMY = {
    "version": 1,
    "reasons": [
        {"id": "cards", "name": "Cards", "description": "Anything about cards."},
        {
            "id": "card_arrival",
            "name": "Card not arrived",
            "parent": "cards",
            "description": "The customer ordered a card and it has not arrived.",
            "examples": ["my card still hasn't come", "when will my new card arrive?", "I never received my card"],
        },
        {
            "id": "exchange_rate",
            "name": "Exchange rates",
            "description": "Which exchange rates we use.",
            "examples": ["what exchange rate do you use?", "how are your rates calculated?"],
        },
        {"id": "mortgages", "name": "Mortgages", "examples": ["can I get a mortgage?", "what are your mortgage rates"]},
        {"id": "pet_insurance", "name": "Pet insurance", "examples": ["does my policy cover my dog's vet bills?"]},
        {"id": "crypto", "name": "Crypto trading", "examples": ["how do I buy bitcoin in the app?"]},
    ],
}


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory, test_config):
    """A discover run with dates, channels, volume and a taxonomy; one contact's id and channel hold markup. Four
    of the six intents have no reason (new reasons to propose) and three reasons have no contacts (to retire)."""
    from flows.discover import discover

    folder = tmp_path_factory.mktemp("review")
    contacts = pd.read_csv(SIX_INTENTS).drop(columns="intent")
    contacts.loc[len(contacts)] = [SCRIPT_ID, "my new card has still not arrived, where is it?"]
    contacts["created_at"] = pd.date_range("2026-08-03", periods=len(contacts), freq="6h", tz="UTC").astype(str)
    contacts["channel"] = ["email", "chat", "phone"] * (len(contacts) // 3) + ["chat"] * (len(contacts) % 3)
    contacts.loc[contacts["contact_id"] == SCRIPT_ID, "channel"] = IMG_CHANNEL
    contacts.to_csv(folder / "contacts.csv", index=False)
    weeks = pd.date_range("2026-08-03", periods=12, freq="7D")
    pd.DataFrame({"date": weeks.strftime("%Y-%m-%d"), "volume": [10000 + 500 * i for i in range(12)]}).to_csv(
        folder / "volume.csv", index=False
    )
    taxonomy = folder / "taxonomy.yaml"
    taxonomy.write_text(yaml.safe_dump(TAXONOMY, sort_keys=False))
    run = folder / "run"
    discover(
        input_path=str(folder / "contacts.csv"),
        out_dir=str(run),
        config_path=str(test_config),
        overrides={"taxonomy": {"path": str(taxonomy)}},
        volume_path=str(folder / "volume.csv"),
    )
    proposals = pd.read_parquet(run / "proposals.parquet").sort_values("rank")
    return SimpleNamespace(run=run, taxonomy=taxonomy, proposals=proposals, unused=list(proposals["proposal_id"]))


def take(reviewed, kind: str | None = None) -> str:
    """A proposal no other test has decided (of `kind`, when given)."""
    kinds = dict(zip(reviewed.proposals["proposal_id"], reviewed.proposals["kind"]))
    pid = next(p for p in reviewed.unused if kind is None or kinds[p] == kind)
    reviewed.unused.remove(pid)
    return pid


@pytest.fixture(scope="module")
def app_url(reviewed):
    """`touchless review RUN --no-browser --by NAME`, as a person starts it; its one line holding the URL."""
    server = subprocess.Popen(
        [sys.executable, "-m", "flows", "review", str(reviewed.run), "--no-browser", "--by", "Maria Lopez"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = [server.stdout.readline(), server.stdout.readline()]
    found = [m.group(0) for line in lines if (m := re.search(r"http://127\.0\.0\.1:\d+/\?token=[\w-]+", line))]
    if len(found) != 1:
        server.kill()
        pytest.fail(f"no URL line from touchless review: {lines} {server.stderr.read()}")
    yield found[0]
    server.terminate()
    server.wait(timeout=30)


@pytest.fixture(scope="module")
def browser(app_url, tmp_path_factory):
    """Chromium by path with a fresh profile per window; any request not to the app's origin is stopped and kept."""
    if not CHROMIUM.is_file():
        # CI installs Chromium and sets TOUCHLESS_BROWSER_TESTS=required, so there they always run
        if os.environ.get("TOUCHLESS_BROWSER_TESTS") == "required":
            pytest.fail("the browser tests need Debian's Chromium at /usr/bin/chromium (`apt-get install chromium`)")
        pytest.skip("no Chromium at /usr/bin/chromium: `apt-get install chromium` to run the browser tests")
    from playwright.sync_api import sync_playwright

    origin = app_url.split("/?token=")[0]
    left: list[str] = []

    def guard(route):
        if route.request.url.startswith(origin + "/"):
            route.continue_()
        else:
            left.append(route.request.url)
            route.abort()

    with sync_playwright() as playwright:
        opened = []

        def window():
            context = playwright.chromium.launch_persistent_context(
                str(tmp_path_factory.mktemp("chromium-profile")),
                executable_path=str(CHROMIUM),
                args=CHROMIUM_ARGS,
                headless=True,
            )
            context.route("**/*", guard)
            opened.append(context)
            page = context.new_page()
            page.dialogs = []
            page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
            page.goto(app_url)
            return page

        yield SimpleNamespace(window=window, origin=origin, left=left)
        for context in opened:
            context.close()


def release(reviewed, *pids: str) -> None:
    """Take a test's decisions back, so the run's few proposals serve the next test too."""
    for pid in pids:
        undo(reviewed.taxonomy, pid)
        reviewed.unused.insert(0, pid)


def card(page, pid: str):
    return page.locator(f'[data-proposal-id="{pid}"]')


def decided(reviewed) -> dict:
    return {d.proposal_id: d for d in load_decisions(reviewed.taxonomy)}


def test_the_command_prints_one_url_and_without_its_token_everything_answers_403(app_url, reviewed):
    origin, token = app_url.split("/?token=")
    pid = reviewed.proposals["proposal_id"].iloc[0]
    for path in [*PAGES, f"/proposals/{pid}"]:
        assert httpx.get(origin + path).status_code == 403, path
    assert httpx.get(f"{origin}/?token=not-{token}").status_code == 403
    assert httpx.post(f"{origin}/proposals/{pid}/accept", data={"key": "x"}).status_code == 403
    assert httpx.get(app_url, headers={"Host": "attacker.example"}).status_code == 403  # DNS rebinding
    with httpx.Client() as person:
        assert person.get(app_url).status_code == 200  # the token, then its cookie
        assert person.get(f"{origin}/causes").status_code == 200
        for path, code, said in [  # a page for people, never raw JSON or a crash
            ("/contacts?cluster=abc", 400, "cannot read (cluster)"),
            ("/contacts?cluster=" + "9" * 41, 400, "cannot read (cluster)"),
            ("/contacts?page_no=99999999999999999999", 400, "cannot read (page_no)"),
            ("/no-such-page", 404, "There is no such page"),
        ]:
            answer = person.get(origin + path)
            assert (answer.status_code, answer.headers["content-type"][:9]) == (code, "text/html"), path
            assert said in answer.text, answer.text
        key = re.search(r'name="key" value="([^"]+)"', person.get(f"{origin}/").text).group(1)
        action = f"{origin}/proposals/{pid}/accept"
        assert person.post(action, data={"key": "forged"}).status_code == 403
        assert person.post(action, data={"key": key}, headers={"Origin": "http://attacker.example"}).status_code == 403
        assert person.post(action, data={"key": key}, headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert decided(reviewed) == {}


def test_a_cluster_cause_s_contacts_are_those_it_counts(app_url, reviewed):
    """The contacts page of a cluster ranked as a cause listed the whole cluster, its contacts ranked under a reason
    too; the cause counts those without a reason, and the page says so (this run's cluster causes hold none with a
    reason: tests/test_views_report.py has such a cluster for the weekly counts)."""
    origin = app_url.split("/?token=")[0]
    contacts = pd.read_parquet(reviewed.run / "contacts.parquet")
    cluster = int(pd.read_parquet(reviewed.run / "ranking.parquet")["cluster_id"].dropna().iloc[0])
    with httpx.Client() as person:
        person.get(app_url)
        page = person.get(f"{origin}/contacts?cluster={cluster}").text
    counted = int(((contacts["cluster_id"] == cluster) & contacts["reason_id"].isna()).sum())
    assert f"{counted:,} contact(s)" in page and "its contacts without a reason" in page, page


def test_a_broken_taxonomy_leaves_the_pages_that_do_not_need_it(app_url, reviewed):
    """A taxonomy file someone broke took every page down, causes and report included."""
    origin = app_url.split("/?token=")[0]
    kept = reviewed.taxonomy.read_bytes()
    reviewed.taxonomy.write_bytes(kept + b"version: [2\n")
    try:
        with httpx.Client() as person:
            person.get(app_url)
            causes, proposals = person.get(f"{origin}/causes"), person.get(f"{origin}/")
    finally:
        reviewed.taxonomy.write_bytes(kept)
    assert causes.status_code == 200 and "cannot be read" in causes.text and "not valid YAML" in causes.text
    assert proposals.status_code == 400 and "not valid YAML" in proposals.text


def test_accepting_by_clicking_lands_in_the_decisions_file(browser, reviewed):
    page = browser.window()
    first, renamed = take(reviewed, "new_reason"), take(reviewed, "new_reason")
    for pid in reviewed.proposals["proposal_id"]:  # the hooks automation relies on
        assert card(page, pid).locator('button[data-action="accept"]').count() == 1
        assert card(page, pid).locator('button[data-action="reject"]').count() == 1
    card(page, first).locator('button[data-action="accept"]').click()
    page.wait_for_url(re.compile(r"done="))
    assert card(page, first).get_attribute("data-status") == "accepted"
    assert decided(reviewed)[first].decision == "accepted"
    assert decided(reviewed)[first].by == "Maria Lopez" and "deciding as Maria Lopez" in page.inner_text("body")

    target = card(page, renamed)
    target.locator("summary", has_text="rename").click()
    target.locator('input[name="name"]').fill("PIN change")
    target.locator('select[name="parent"]').select_option("cards")  # the real reasons are the only choices
    target.locator('button[data-action="accept"]').click()
    page.wait_for_url(re.compile(f"done={renamed}"))
    decision = decided(reviewed)[renamed]
    assert (decision.name, decision.parent, decision.description) == ("PIN change", "cards", "")
    assert "PIN change" in card(page, renamed).inner_text()

    # changing it to add a note starts from what it says: the form was blank, and the note alone lost name and place
    change = card(page, renamed).locator("details.change")
    change.locator("summary").first.click()
    change.locator("summary", has_text="rename").click()
    assert change.locator('input[name="name"]').input_value() == "PIN change"
    assert change.locator('select[name="parent"]').input_value() == "cards"
    change.locator('input[name="note"]').fill("customers ask for it weekly")
    change.locator('button[data-action="accept"]').click()
    page.wait_for_url(re.compile(f"done={renamed}"))
    decision = decided(reviewed)[renamed]
    assert (decision.name, decision.parent, decision.why) == ("PIN change", "cards", "customers ask for it weekly")


def test_a_parent_that_would_become_a_group_is_offered_apart_and_its_card_says_so(browser, reviewed):
    """Putting a reason under one that holds none makes it a group, which contacts are no longer given: the form
    offers such reasons apart from the groups, and the accepted card says what applying it does."""
    page = browser.window()
    pid = take(reviewed, "new_reason")
    target = card(page, pid)
    target.locator("summary", has_text="rename").click()
    groups = target.locator('select[name="parent"] optgroup[label="reason groups"] option')
    assert "cards" in [o.get_attribute("value") for o in groups.all()]
    leaves = target.locator('select[name="parent"] optgroup[label^="reasons contacts are given"] option')
    assert "exchange_rate" in [o.get_attribute("value") for o in leaves.all()]
    target.locator('select[name="parent"]').select_option("exchange_rate")
    target.locator('button[data-action="accept"]').click()
    page.wait_for_url(re.compile(f"done={pid}"))
    note = card(page, pid).locator('[data-note="also"]').inner_text()
    assert "'exchange_rate' (Exchange rates) becomes a reason group" in note
    release(reviewed, pid)


def test_a_contact_holding_script_renders_as_text(browser, reviewed):
    contacts = pd.read_parquet(reviewed.run / "contacts.parquet").set_index("contact_id")
    mine = contacts.loc[SCRIPT_ID]
    scope = {"reason": mine["reason_id"]} if mine["reason_id"] else {"cluster": int(mine["cluster_id"])}
    page = browser.window()
    page.goto(f"{browser.origin}/contacts?{urlencode({**scope, 'q': 'script'})}")
    row = page.locator("tr[data-contact-id]")
    assert row.count() == 1
    assert SCRIPT_ID in row.inner_text() and IMG_CHANNEL in row.inner_text()
    assert page.locator("script").count() == 0 and page.locator("img").count() == 0
    assert page.dialogs == []


def test_no_request_leaves_127_0_0_1(browser, reviewed):
    page = browser.window()
    seen = []
    page.on("request", lambda r: seen.append(r.url))
    for path in [*PAGES, f"/proposals/{reviewed.proposals['proposal_id'].iloc[0]}"]:
        page.goto(browser.origin + path)
        assert page.locator("main").count() == 1, path
        assert page.locator("script").count() == 0, path
        assert page.locator('link[rel="icon"]').count() == 1, path  # else a browser asks for /favicon.ico: a 404
    assert seen and all(url.startswith(browser.origin + "/") for url in seen)
    assert browser.left == []


def test_two_browsers_deciding_at_once_both_land_and_a_stale_page_cannot_overwrite(browser, reviewed):
    one, two, stale = browser.window(), browser.window(), browser.window()
    accepted, rejected = take(reviewed), take(reviewed)
    card(two, rejected).locator('input[name="why"]').fill("seasonal")
    card(one, accepted).locator('button[data-action="accept"]').click(no_wait_after=True)
    card(two, rejected).locator('button[data-action="reject"]').click(no_wait_after=True)
    one.wait_for_url(re.compile(f"done={accepted}"))
    two.wait_for_url(re.compile(f"done={rejected}"))
    now = decided(reviewed)
    assert now[accepted].decision == "accepted" and now[rejected].decision == "rejected"
    # the third window still shows both open: its accept would replace a decision it never saw
    card(stale, rejected).locator('button[data-action="accept"]').click()
    stale.wait_for_load_state()
    assert "while you were looking" in stale.locator("[role=alert]").inner_text()
    assert decided(reviewed)[rejected].decision == "rejected"
    release(reviewed, accepted, rejected)


def test_a_decision_made_with_the_command_line_shows_on_reload(browser, reviewed):
    page = browser.window()
    pid = take(reviewed)
    assert card(page, pid).get_attribute("data-status") == "open"
    try:
        main(["proposals", "reject", pid, "--run", str(reviewed.run), "--reason", "made in the terminal"])
    except SystemExit as end:
        assert not end.code
    page.reload()
    assert card(page, pid).get_attribute("data-status") == "rejected"
    assert "made in the terminal" in card(page, pid).inner_text()
    # accepting it instead starts with no note: the rejection's reason is not the acceptance's
    assert card(page, pid).locator('details.change input[name="note"]').first.input_value() == ""
    release(reviewed, pid)


def test_merge_and_undo_by_clicking(browser, reviewed):
    page = browser.window()
    pid = take(reviewed, "new_reason")
    card(page, pid).locator('select[name="into"]').select_option("card_arrival")
    card(page, pid).locator('button[data-action="merge"]').click()
    page.wait_for_url(re.compile(f"done={pid}"))
    assert decided(reviewed)[pid].into == "card_arrival"
    assert card(page, pid).locator('details.change select[name="into"]').input_value() == "card_arrival"
    assert "merged into “Card not arrived” card_arrival" in card(page, pid).inner_text()  # a name, not an id alone
    card(page, pid).locator('button[data-action="undo"]').click()
    page.wait_for_url(re.compile(f"undone={pid}"))
    assert pid not in decided(reviewed) and card(page, pid).get_attribute("data-status") == "open"
    reviewed.unused.insert(0, pid)


def test_causes_touch_index_tree_and_report_pages(browser):
    page = browser.window()
    page.goto(f"{browser.origin}/causes")
    assert page.locator("h2", has_text="Emerging").count() == 1
    assert page.locator('[data-cause="reason:card_arrival"] svg.spark').count() >= 1
    page.goto(f"{browser.origin}/touch-index")
    assert page.locator("svg.chart").count() >= 2
    page.goto(f"{browser.origin}/reasons")
    assert page.locator('[data-reason-id="cards"] [data-reason-id="card_arrival"]').count() == 1
    page.goto(f"{browser.origin}/report")
    assert page.locator("svg.chart").count() >= 1 and page.locator("script").count() == 0


def test_the_next_taxonomy_is_shown_as_a_diff_and_applied_by_clicking(browser, reviewed):
    page = browser.window()
    page.goto(f"{browser.origin}/taxonomy")
    assert page.locator('tr[data-reason-id="pin_change"]').count() == 1  # accepted under a new name, under cards
    assert load_taxonomy(reviewed.taxonomy).version == 1
    page.locator('button[data-action="apply"]').click()
    page.wait_for_url(re.compile(r"applied=2"))
    assert load_taxonomy(reviewed.taxonomy).by_id()["pin_change"].parent == "cards"
    assert all(d.applied_in == 2 for d in load_decisions(reviewed.taxonomy) if d.decision == "accepted")
    deadline = time.monotonic() + 5
    while "Wrote version 2" not in page.content() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "Wrote version 2" in page.content()
    # the run was made with version 1: what version 2 settled reads as accepted, not open with buttons to decide
    page.goto(browser.origin + "/")
    for d in load_decisions(reviewed.taxonomy):
        if d.decision == "accepted":
            assert card(page, d.proposal_id).get_attribute("data-status") == "accepted"

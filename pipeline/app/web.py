"""The review app's pages and actions (FastAPI, Jinja2 templates in this package).

Safe by default: the server listens on 127.0.0.1 only; every request needs the random token of the URL the
command printed (kept afterwards in a strict same-site cookie for this port) and names this server as its host
(no DNS rebinding); every action is a POST carrying the page's form key from a page of this server, so another
site cannot forge one. Pages hold no script at all (the Content-Security-Policy forbids any), and every text is
escaped by Jinja2, so a contact holding `<script>` shows those characters.
"""

from __future__ import annotations

import secrets
import traceback
from collections.abc import Callable
from functools import lru_cache
from typing import Annotated
from urllib.parse import quote

from fastapi import FastAPI, Form, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import ChoiceLoader, Environment, PackageLoader, select_autoescape
from markupsafe import escape
from starlette.exceptions import HTTPException as StarletteHTTPException

from pipeline.app.state import PAGE_SIZE, Decided, ReviewState, cause_scope, proposal_scope
from pipeline.errors import TaxonomyError, TouchlessError
from pipeline.run.charts import line_chart, sparkline
from pipeline.run.report import owner_totals, report_page
from pipeline.run.review import COLOURS, KIND_NAMES, bar
from pipeline.runtime import cache_home
from pipeline.taxonomy.decisions import (
    DecisionConflict,
    apply_decisions,
    becomes_group,
    merge_choices,
    next_taxonomy,
    parent_choices,
    record,
    split_parts,
    undo,
)
from pipeline.taxonomy.proposals import Proposal
from pipeline.taxonomy.tree import Reason, Taxonomy, groups

HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # never to another site; "no-referrer" would make a form's Origin "null"
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}


@lru_cache(maxsize=1)
def templates() -> Environment:
    return Environment(
        loader=ChoiceLoader([PackageLoader("pipeline.app", "templates"), PackageLoader("pipeline.run", "templates")]),
        autoescape=select_autoescape(["html"]),
    )


def create_app(state: ReviewState, token: str, port: int) -> FastAPI:
    """The app for one run. `token`: what the URL carries; `port`: the port the server listens on."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    form_key = secrets.token_urlsafe(24)
    cookie = f"touchless_review_{port}"
    hosts = {f"127.0.0.1:{port}", f"localhost:{port}"}
    origins = {f"http://{h}" for h in hosts}

    @app.middleware("http")
    async def guard(request: Request, call_next: Callable) -> Response:
        given = request.query_params.get("token")
        allowed = request.headers.get("host") in hosts and (
            _same(given, token) or _same(request.cookies.get(cookie), token)
        )
        if allowed and request.method not in ("GET", "HEAD"):
            allowed = request.headers.get("origin", next(iter(origins))) in origins and request.headers.get(
                "sec-fetch-site", "same-origin"
            ) in ("same-origin", "none")
        if not allowed:
            response: Response = HTMLResponse(
                "<!doctype html><title>touchless review</title><p>Forbidden: open this app with the link "
                "<code>touchless review</code> printed, which holds its token.</p>",
                status_code=403,
            )
        else:
            response = await call_next(request)
            if _same(given, token):
                response.set_cookie(cookie, token, httponly=True, samesite="strict", path="/")
        response.headers.update(HEADERS)
        return response

    def page(request: Request, name: str, http_status: int = 200, **values) -> HTMLResponse:
        loaded = state.loaded()
        try:
            now, unreadable = state.decided(), None
        except TaxonomyError as exc:  # a broken taxonomy or decisions file: pages that need neither still show
            now, unreadable = Decided(None, [], loaded.proposals), str(exc)
        counts = {s: sum(p.status == s for p in now.proposals) for s in ("open", "accepted", "rejected")}
        html = (
            templates()
            .get_template(name)
            .render(
                request_path=request.url.path,
                run_folder=state.folder.resolve(),
                run=loaded,
                o=loaded.overview,
                now=now,
                unreadable=unreadable,
                counts=counts,
                pending=sum(d.decision == "accepted" and d.applied_in is None for d in now.decisions),
                taxonomy_path=state.taxonomy_path,
                deciding_as=state.by,
                form_key=form_key,
                kinds=KIND_NAMES,
                colours=COLOURS,
                bar=bar,
                sparkline=sparkline,
                line_chart=line_chart,
                **values,
            )
        )
        return HTMLResponse(html, status_code=http_status)

    def failed(request: Request, exc: TouchlessError, back: str) -> HTMLResponse:
        status = 409 if isinstance(exc, DecisionConflict) else 400
        return page(request, "message.html", http_status=status, message=str(exc), back=back)

    def checked(key: str) -> None:
        if not _same(key, form_key):
            raise PermissionError

    @app.exception_handler(TouchlessError)
    async def said(request: Request, exc: TouchlessError) -> HTMLResponse:
        return _bare(escape(str(exc)), 400)

    @app.exception_handler(Exception)
    async def bug(request: Request, exc: Exception) -> HTMLResponse:
        log = cache_home() / "last-error.txt"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("".join(traceback.format_exception(exc)))
        return _bare(
            f"touchless failed unexpectedly ({escape(type(exc).__name__)}); the details are in {escape(str(log))}: "
            "please report it with that file.",
            500,
        )

    @app.exception_handler(RequestValidationError)
    async def malformed(request: Request, exc: RequestValidationError) -> HTMLResponse:
        wrong = ", ".join(sorted({str(e["loc"][-1]) for e in exc.errors()}))
        return _bare(f"This address has a value touchless cannot read ({escape(wrong)}). {_BACK}", 400)

    @app.exception_handler(StarletteHTTPException)
    async def not_here(request: Request, exc: StarletteHTTPException) -> HTMLResponse:
        said = "There is no such page" if exc.status_code == 404 else escape(str(exc.detail))
        return _bare(f"{said}. {_BACK}", exc.status_code)

    @app.exception_handler(PermissionError)
    async def forbidden(request: Request, exc: PermissionError) -> HTMLResponse:
        return _bare("Forbidden: reload the page and try again.", 403)

    @app.get("/", response_class=HTMLResponse)
    def proposals(request: Request, status: str = "", done: str = "", undone: str = "") -> HTMLResponse:
        now = state.decided()
        listed = [p for p in now.proposals if not status or p.status == status]
        ranks = {p.proposal_id: i for i, p in enumerate(state.loaded().proposals, start=1)}
        return page(
            request,
            "proposals.html",
            items=[_item(state, now, p, ranks[p.proposal_id]) for p in listed],
            shown=status,
            done=now.decision(done) if done else None,
            done_id=done,
            undone=state.proposal(undone) if undone else None,
        )

    def decide(request: Request, key: str, proposal_id: str, back: str, act: Callable[[Proposal], None]) -> Response:
        """Check the form's key, find the proposal, decide, and show where to go next (or what went wrong)."""
        checked(key)
        proposal = state.proposal(proposal_id)
        if proposal is None:
            return page(request, "message.html", 404, message=f"this run has no proposal {proposal_id}", back="/")
        try:
            act(proposal)
        except TouchlessError as exc:
            return failed(request, exc, _back(back, proposal_id))
        return _after(back, proposal_id, "done")

    @app.get("/proposals/{proposal_id}", response_class=HTMLResponse)
    def proposal_page(
        request: Request, proposal_id: str, q: str = "", page_no: Annotated[int, Query(ge=1, le=1_000_000)] = 1
    ) -> HTMLResponse:
        now = state.decided()
        proposal = next((p for p in now.proposals if p.proposal_id == proposal_id), None)
        if proposal is None:
            return page(request, "message.html", 404, message=f"this run has no proposal {proposal_id}", back="/")
        ranks = {p.proposal_id: i for i, p in enumerate(state.loaded().proposals, start=1)}
        where, params = proposal_scope(proposal, now.taxonomy)
        rows, total, _ = state.contacts(where, params, q, page_no)
        return page(
            request,
            "proposal.html",
            item=_item(state, now, proposal, ranks[proposal_id]),
            contacts=rows,
            total=total,
            q=q,
            page_no=page_no,
            pages=max(1, -(-total // PAGE_SIZE)),
            here=f"/proposals/{quote(proposal_id)}",
            action=f"/proposals/{quote(proposal_id)}",
            hidden={},
        )

    @app.post("/proposals/{proposal_id}/accept")
    def accept(
        request: Request,
        proposal_id: str,
        key: Annotated[str, Form()] = "",
        seen: Annotated[str, Form()] = "",
        name: Annotated[str, Form()] = "",
        description: Annotated[str, Form()] = "",
        parent: Annotated[str, Form()] = "",
        note: Annotated[str, Form()] = "",
        part: Annotated[list[str] | None, Form()] = None,
        back: Annotated[str, Form()] = "/",
    ) -> Response:
        def act(proposal: Proposal) -> None:
            clusters = state.loaded().clusters.reset_index()
            parts = split_parts(proposal, clusters, part or []) if proposal.kind == "split" else None
            record(
                state.taxonomy_path,
                proposal,
                "accepted",
                why=note,
                name=name,
                description=description.strip() or None,
                parent=parent,
                parts=parts,
                seen=seen or None,
                by=state.by,
            )

        return decide(request, key, proposal_id, back, act)

    @app.post("/proposals/{proposal_id}/reject")
    def reject(
        request: Request,
        proposal_id: str,
        key: Annotated[str, Form()] = "",
        seen: Annotated[str, Form()] = "",
        why: Annotated[str, Form()] = "",
        back: Annotated[str, Form()] = "/",
    ) -> Response:
        return decide(
            request,
            key,
            proposal_id,
            back,
            lambda proposal: record(state.taxonomy_path, proposal, "rejected", why=why, seen=seen or None, by=state.by),
        )

    @app.post("/proposals/{proposal_id}/merge")
    def merge(
        request: Request,
        proposal_id: str,
        key: Annotated[str, Form()] = "",
        seen: Annotated[str, Form()] = "",
        into: Annotated[str, Form()] = "",
        note: Annotated[str, Form()] = "",
        back: Annotated[str, Form()] = "/",
    ) -> Response:
        def act(proposal: Proposal) -> None:
            if not into:
                raise TouchlessError("choose the reason to merge it into")
            record(state.taxonomy_path, proposal, "accepted", why=note, into=into, seen=seen or None, by=state.by)

        return decide(request, key, proposal_id, back, act)

    @app.post("/proposals/{proposal_id}/undo")
    def undo_decision(
        request: Request,
        proposal_id: str,
        key: Annotated[str, Form()] = "",
        seen: Annotated[str, Form()] = "",
        back: Annotated[str, Form()] = "/",
    ) -> Response:
        checked(key)
        try:
            undo(state.taxonomy_path, proposal_id, seen=seen or None)
        except TouchlessError as exc:
            return failed(request, exc, _back(back, proposal_id))
        return _after(back, proposal_id, "undone")

    @app.get("/taxonomy", response_class=HTMLResponse)
    def taxonomy(request: Request, applied: int = 0) -> HTMLResponse:
        try:
            preview, problem = next_taxonomy(state.taxonomy_path), None
        except TouchlessError as exc:
            preview, problem = None, str(exc)
        return page(
            request,
            "taxonomy.html",
            preview=preview,
            problem=problem,
            diff=_diff(preview) if preview else [],
            applied=applied,
        )

    @app.post("/taxonomy/apply")
    def apply(request: Request, key: Annotated[str, Form()] = "", seen: Annotated[str, Form()] = "") -> Response:
        checked(key)
        try:
            updated, _ = apply_decisions(state.taxonomy_path, seen=seen)
        except TouchlessError as exc:
            return failed(request, exc, "/taxonomy")
        return RedirectResponse(f"/taxonomy?applied={updated.version}", status_code=303)

    @app.get("/causes", response_class=HTMLResponse)
    def causes(request: Request) -> HTMLResponse:
        return page(request, "causes.html", owners=owner_totals(state.loaded().overview), link=_cause_link)

    @app.get("/touch-index", response_class=HTMLResponse)
    def touch_index(request: Request) -> HTMLResponse:
        return page(request, "touch_index.html")

    @app.get("/reasons", response_class=HTMLResponse)
    def reasons(request: Request) -> HTMLResponse:
        return page(request, "reasons.html", tree=_tree(state))

    @app.get("/contacts", response_class=HTMLResponse)
    def contacts(
        request: Request,
        reason: str | None = None,
        cluster: Annotated[int | None, Query(ge=-1, le=2**31 - 1)] = None,
        q: str = "",
        page_no: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    ) -> HTMLResponse:
        if reason is None and cluster is None:
            return page(request, "message.html", 404, message="choose a reason or a cluster", back="/causes")
        where, params = cause_scope(reason, cluster)
        rows, total, _ = state.contacts(where, params, q, page_no)
        what = _cause_name(state, reason, cluster)
        hidden = {"reason": reason} if reason is not None else {"cluster": cluster}
        return page(
            request,
            "contacts.html",
            what=what,
            contacts=rows,
            total=total,
            q=q,
            page_no=page_no,
            pages=max(1, -(-total // PAGE_SIZE)),
            action="/contacts",
            hidden=hidden,
        )

    @app.get("/report", response_class=HTMLResponse)
    def report(request: Request) -> HTMLResponse:
        return HTMLResponse(report_page(state.loaded().run))

    return app


def _item(state: ReviewState, now, proposal, rank: int) -> dict:
    """What a proposal's card needs: the proposal, its decision, and the choices its forms offer."""
    loaded = state.loaded()
    clusters = loaded.clusters
    sizes = {c: int(clusters.loc[c, "size"]) if c in clusters.index else 0 for c in proposal.cluster_ids}
    labels = {c: str(clusters.loc[c, "label"]) if c in clusters.index else "" for c in proposal.cluster_ids}
    decision = now.decision(proposal.proposal_id)
    choices = merge_choices(now.taxonomy, now.decisions, proposal) if proposal.kind == "new_reason" else []
    into_name = None
    if decision is not None and decision.into:  # as it is called now (renamed since, it read under its old name)
        into_name = dict(choices).get(decision.into) or decision.into_name
    return {
        "p": proposal,
        "rank": rank,
        "decision": decision,
        "also": becomes_group(now.taxonomy.by_id(), decision.parent)
        if now.taxonomy and decision and decision.decision == "accepted" and decision.applied_in is None
        else "",
        "sizes": sizes,
        "labels": labels,
        "parents": _parents(now.taxonomy),
        "merge_into": choices,
        "into_name": into_name,
        "reason_names": {r.id: r.name for r in now.taxonomy.reasons} if now.taxonomy else {},
        "old_parent": (
            now.taxonomy.by_id()[proposal.reason_ids[0]].parent
            if proposal.kind == "split" and now.taxonomy and proposal.reason_ids[0] in now.taxonomy.by_id()
            else None
        ),
    }


def _diff(preview) -> list[dict]:
    """Each reason of the next version against the current one: added, changed (which fields, from what to what),
    retired; unchanged reasons are left out."""
    before = preview.current.by_id() if preview.current else {}
    rows = []
    for reason in preview.updated.reasons:
        old = before.get(reason.id)
        if old is None:
            rows.append({"change": "added", "reason": reason, "fields": []})
            continue
        fields = [
            (f, getattr(old, f), getattr(reason, f))
            for f in ("name", "description", "parent", "status", "kind", "replaced_by", "examples")
            if getattr(old, f) != getattr(reason, f)
        ]
        if fields:
            change = "retired" if old.status == "active" and reason.status == "retired" else "changed"
            rows.append({"change": change, "reason": reason, "fields": fields})
    return rows


def _tree(state: ReviewState) -> list[dict]:
    """The taxonomy as groups and their reasons, each with the run's figures where the run has them."""
    now = state.decided()
    o = state.loaded().overview
    stats = o.reasons.set_index("reason_id")
    if now.taxonomy is None:
        return []

    def node(reason) -> dict:
        row = stats.loc[reason.id] if reason.id in stats.index else None
        return {
            "reason": reason,
            "contacts": int(row["contacts"]) if row is not None else None,
            "touches": int(row["touches"]) if row is not None else None,
            "trend": row["trend"] if row is not None and isinstance(row["trend"], str) else None,
            "owner": row["owner"] if row is not None and "owner" in row and isinstance(row["owner"], str) else None,
            "weekly": o.weekly.get(("reason", reason.id), []),
            "children": [],
        }

    nodes = {r.id: node(r) for r in now.taxonomy.reasons}
    roots = []
    for reason in now.taxonomy.reasons:
        if reason.parent in nodes:
            nodes[reason.parent]["children"].append(nodes[reason.id])
        else:
            roots.append(nodes[reason.id])
    for n in nodes.values():
        if n["children"]:
            n["contacts"] = sum(c["contacts"] or 0 for c in n["children"])
            n["touches"] = sum(c["touches"] or 0 for c in n["children"])
    return roots


def _cause_link(cause) -> str:
    if cause.reason_id is not None:
        return f"/contacts?reason={quote(cause.reason_id)}"
    return f"/contacts?cluster={cause.cluster_id}"


_BACK = "<a href='/'>Back to the proposals</a>."


def _bare(message_html: str, status: int) -> HTMLResponse:
    """A page of one message, for answers given before or without the run's pages (errors, refusals)."""
    return HTMLResponse(f"<!doctype html><title>touchless review</title><p>{message_html}</p>", status_code=status)


def _cause_name(state: ReviewState, reason: str | None, cluster: int | None) -> str:
    loaded = state.loaded()
    if reason is not None:
        names = loaded.overview.reasons.set_index("reason_id")["name"]
        return f"reason '{names.get(reason, reason)}'"
    label = loaded.clusters["label"].get(cluster, "") if cluster is not None else ""
    return f"cluster {cluster} ('{label}'), its contacts without a reason"


def _back(back: str, proposal_id: str) -> str:
    """Where to go after an action: a page of this app only (never another site), at the proposal's card."""
    path = back if back.startswith("/") and not back.startswith("//") else "/"
    return path if path.startswith("/proposals/") else f"{path}#p-{proposal_id}"


def _parents(taxonomy: Taxonomy | None) -> dict[str, list[Reason]]:
    """The parent choices as the form shows them: groups, and reasons that putting one under would make groups (their
    contacts are no longer given them: `becomes_group`)."""
    choices = parent_choices(taxonomy)
    held = groups(taxonomy.reasons) if taxonomy else set()
    return {
        "reason groups": [r for r in choices if r.id in held],
        "reasons contacts are given: one put under it becomes a group, and contacts are no longer given it": [
            r for r in choices if r.id not in held
        ],
    }


def _after(back: str, proposal_id: str, what: str) -> RedirectResponse:
    path = back if back.startswith("/") and not back.startswith("//") else "/"
    if path.startswith("/proposals/"):
        return RedirectResponse(path, status_code=303)
    joiner = "&" if "?" in path else "?"
    return RedirectResponse(f"{path}{joiner}{what}={quote(proposal_id)}#p-{quote(proposal_id)}", status_code=303)


def _same(given: str | None, expected: str) -> bool:
    return given is not None and secrets.compare_digest(given.encode(), expected.encode())

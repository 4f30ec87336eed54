"""`touchless review`: the review app for one run, served on 127.0.0.1 until Ctrl-C.

The URL it prints carries a random token (as Jupyter's does); without it every page and action answers 403. The
run is read before the URL is printed, so a folder that holds no run is said at once.
"""

from __future__ import annotations

import errno
import secrets
import socket
import webbrowser
from collections.abc import Callable
from pathlib import Path

import uvicorn

from pipeline.app.state import ReviewState
from pipeline.app.web import create_app
from pipeline.errors import ConfigError

HOST = "127.0.0.1"


def serve(
    folder: Path,
    taxonomy: Path | None = None,
    port: int = 0,
    open_browser: bool = True,
    say: Callable[[str], None] | None = None,
    by: str | None = None,
) -> None:
    """Serve the app for the run in `folder` (decisions beside `taxonomy`, else the run's) on `port` (0: a free
    one); `say` prints the lines for the person who started it, the URL on a line of its own. `by`: who decides
    (default: the user name of this process)."""
    say = say or (lambda line: print(line, flush=True))
    state = ReviewState(folder, taxonomy, by)
    state.loaded()
    sock = listen(port)
    port = sock.getsockname()[1]
    token = secrets.token_urlsafe(24)
    url = f"http://{HOST}:{port}/?token={token}"
    say(
        f"reviewing the run {Path(folder).resolve()}; decisions go beside {state.taxonomy_path}, made by {state.by} "
        "(--by NAME to say who decides)"
    )
    say(f"open {url}   (Ctrl-C stops)")
    if open_browser:
        webbrowser.open(url)
    server = uvicorn.Server(uvicorn.Config(create_app(state, token, port), log_level="warning", lifespan="off"))
    server.run(sockets=[sock])


def listen(port: int) -> socket.socket:
    """A socket listening on 127.0.0.1 only: nothing on the network can reach the app."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError as exc:
        sock.close()
        if exc.errno in (errno.EADDRINUSE, errno.EACCES):
            raise ConfigError(
                f"--port {port} cannot be used ({exc.strerror}): choose another, or leave --port out for a free one"
            ) from None
        raise
    sock.listen(128)
    return sock

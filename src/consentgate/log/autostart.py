"""Keep the privacy log running whether or not the ASGI lifespan protocol reaches it.

The log's writer is normally started by the app's lifespan startup and flushed by its shutdown.
Not every stack sends those:

* some apps do not speak the lifespan protocol at all (Django raises on a lifespan scope; a
  server then logs "lifespan unsupported" at INFO and carries on without one);
* some servers, or servers run with lifespan off, never send a lifespan scope (daphne,
  ``uvicorn --lifespan off``, granian's ``asginl`` interface).

:class:`LogLifecycle` covers both. When the wrapped app does not take the lifespan startup, the
middleware answers the lifespan protocol itself, for the log. When no lifespan scope arrives at
all, the log starts itself on the first request (with a one-time warning) and writes what is
queued when the process exits: an ``atexit`` handler, which runs after a server's own graceful
stop on SIGTERM or Ctrl-C. The same handler backs up a lifespan that started the log but never
sent its shutdown.

Some servers end the process by re-raising the signal after their graceful stop (uvicorn does),
and a process killed by a signal runs no ``atexit`` handler. So when the log starts itself, it
also wraps the server's SIGTERM and SIGINT handlers (when they are Python functions): the server's
handler runs as before, and what is queued is written at once in a thread, while the server
drains its connections; the writer keeps writing what the last requests queue.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import signal
import threading
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from consentgate.enforce.hooks import PrivacyLogHooks

__all__ = ["NO_LIFESPAN", "NO_LIFESPAN_IN_APP", "LogLifecycle"]

logger = logging.getLogger("consentgate")

NO_LIFESPAN = (
    "consentgate: no ASGI lifespan startup reached the middleware (a server without lifespan "
    "support, or run with lifespan off); the privacy log started itself on the first request and "
    "writes what is queued when the process exits"
)
NO_LIFESPAN_IN_APP = (
    "consentgate: the app does not handle the ASGI lifespan protocol (%s); the middleware answers "
    "it itself to start and flush the privacy log"
)
START_FAILED = "consentgate: the privacy log could not start; visits stay queued in memory"
EXIT_FLUSH_FAILED = "consentgate: the privacy log could not be flushed at process exit"


class LogLifecycle:
    """Starts and stops one privacy log: by the lifespan, or by the first request and process exit."""

    def __init__(self, log: PrivacyLogHooks) -> None:
        self.log = log
        #: True until a lifespan scope arrives or a request has started the log
        self.waiting = True
        self.running = False
        self._starting: asyncio.Future[None] | None = None
        self._exit_hook = False

    # -- the lifespan ----------------------------------------------------------------------

    async def lifespan(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app's lifespan with the log's start and stop around it; when the app does not
        take the startup message (it raised or returned first), answer the protocol ourselves."""
        self.waiting = False
        startup_seen = False

        async def lifespan_receive() -> Message:
            nonlocal startup_seen
            message = await receive()
            if message["type"] == "lifespan.startup":
                startup_seen = True
                await self.start()
            elif message["type"] == "lifespan.shutdown":
                await self.stop()
            return message

        try:
            await app(scope, lifespan_receive, send)
        except Exception as exc:
            if startup_seen:
                raise  # a real startup or shutdown failure of the app: the server reports it
            logger.info(NO_LIFESPAN_IN_APP, f"{type(exc).__name__}: {exc}")
        else:
            if startup_seen:
                return
            logger.info(NO_LIFESPAN_IN_APP, "it returned without reading the startup message")
        await self._answer_lifespan(receive, send)

    async def _answer_lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.start()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- without a lifespan ----------------------------------------------------------------

    async def first_request(self) -> None:
        """Start the log once, on the first request(s) of a process that had no lifespan; requests
        arriving meanwhile wait for the same start."""
        if self._starting is None:
            logger.warning(NO_LIFESPAN)
            self._wrap_signal_handlers()
            self._starting = asyncio.ensure_future(self.start())
            self._starting.add_done_callback(self._started)
        with contextlib.suppress(Exception):  # logged once in _started; the request goes on
            await asyncio.shield(self._starting)

    def _started(self, future: asyncio.Future[None]) -> None:
        self.waiting = False
        if not future.cancelled() and future.exception() is not None:
            logger.error(START_FAILED, exc_info=future.exception())

    def _wrap_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # signal handlers belong to the main thread
        for number in (signal.SIGTERM, signal.SIGINT):
            previous = signal.getsignal(number)
            if callable(previous):  # a server's own handler; a default or a C-level one stays as is
                signal.signal(number, _chained(previous, self.flush_soon))

    def flush_soon(self) -> None:
        """Write what is queued now, in a thread (called from a signal handler: nothing blocks)."""
        flush: Callable[[], Any] | None = getattr(getattr(self.log, "visits", None), "flush", None)
        if self.running and flush is not None:
            threading.Thread(target=flush, name="consentgate-exit-flush", daemon=True).start()

    # -- start, stop, exit -----------------------------------------------------------------

    async def start(self) -> None:
        await self.log.start()
        self.running = True
        if not self._exit_hook:
            atexit.register(self.flush_at_exit)
            self._exit_hook = True

    async def stop(self) -> None:
        await self.log.stop()
        self.running = False
        if self._exit_hook:
            atexit.unregister(self.flush_at_exit)
            self._exit_hook = False

    def flush_at_exit(self) -> None:
        """Write what is queued without the (finished) event loop; never raises."""
        if not self.running:
            return
        self.running = False
        stop_blocking: Callable[[], Any] | None = getattr(self.log, "stop_blocking", None)
        try:
            if stop_blocking is not None:
                stop_blocking()
            else:  # another PrivacyLogHooks: its async stop, on a loop of its own
                stop: Callable[[], Awaitable[None]] = self.log.stop
                asyncio.run(_call(stop))
        except Exception:
            with contextlib.suppress(Exception):
                logger.exception(EXIT_FLUSH_FAILED)


async def _call(function: Callable[[], Awaitable[None]]) -> None:
    await function()


def _chained(previous: Callable[[int, FrameType | None], Any], then: Callable[[], None]) -> Any:
    def handler(number: int, frame: FrameType | None) -> None:
        then()
        previous(number, frame)

    return handler

"""The library's subscription to the log (PostgreSQL LISTEN), queued so that the runner can batch it."""

from __future__ import annotations

import logging
import queue
import threading

from eventsourcing.persistence import ApplicationRecorder, Notification

log = logging.getLogger("projections.runner")

FEED_QUEUE_SIZE = 5_000


class SubscriptionFeed:
    """The library's subscription to the log, queued so that the runner can batch it.

    On PostgreSQL the library's ``subscribe()`` LISTENs for the recorder's NOTIFY and pulls
    new notifications in pages; a thread moves them into a queue and wakes the runner, which
    drains the queue into batches of its own size (one transaction each). Notifications at or
    below the views' tracked position (applied meanwhile by another runner, or from the store
    after a lost NOTIFY) are passed over.
    """

    def __init__(self, recorder: ApplicationRecorder, gt: int, wake: threading.Event) -> None:
        self._subscription = recorder.subscribe(gt=gt)
        self._subscription.__enter__()
        # Bounded: a runner that falls behind holds back the subscription (and the library's
        # own bounded queue behind it) instead of buffering the log in memory.
        self._queue: queue.Queue[Notification] = queue.Queue(maxsize=FEED_QUEUE_SIZE)
        self._closed = threading.Event()
        self._wake = wake
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="parley-subscription", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for notification in self._subscription:
                while True:
                    try:
                        self._queue.put(notification, timeout=0.5)
                        break
                    except queue.Full:
                        if self._closed.is_set():
                            return
                self._wake.set()
        except Exception as e:
            self.error = e
            log.warning("projections: the subscription stopped (%s); polling instead", e)

    @property
    def failed(self) -> bool:
        """The subscription stopped (its connection was lost): subscribe anew."""
        return not self._closed.is_set() and not self._thread.is_alive()

    def drain(self, after: int, limit: int) -> list[Notification]:
        """Up to ``limit`` queued notifications after position ``after``, without waiting."""
        found: list[Notification] = []
        while len(found) < limit:
            try:
                notification = self._queue.get_nowait()
            except queue.Empty:
                break
            if notification.id > after:
                found.append(notification)
        return found

    def skip(self, upto: int) -> None:
        """Drops the queued notifications at or below ``upto`` (the views have them already)."""
        waiting = self._queue
        # queue.Queue keeps its items in ``queue`` under ``mutex``, which ``not_full`` shares.
        with waiting.not_full:
            dropped = 0
            while waiting.queue and waiting.queue[0].id <= upto:
                waiting.queue.popleft()
                dropped += 1
            if dropped:
                waiting.not_full.notify(dropped)

    def close(self) -> None:
        # __exit__ stops the subscription and joins the library's pull and listen threads.
        self._closed.set()
        self._subscription.__exit__(None, None, None)
        self._thread.join(timeout=10)

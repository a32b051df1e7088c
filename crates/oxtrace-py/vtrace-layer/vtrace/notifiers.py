"""vtrace's notifier classes: objects whose notify(event, trace) the trace calls."""

import logging

logger = logging.getLogger(__name__)


class Notifier:
    """Base of every notifier: override notify(event, trace)."""

    def __init__(self):
        pass

    def handleEvent(self, event, trace):
        """Called by the trace; calls notify."""
        self.notify(event, trace)

    def notify(self, event, trace):
        """Called at each event this notifier is registered for."""


class VerboseNotifier(Notifier):
    """Logs every event with the trace's state."""

    def notify(self, event, trace):
        logger.info("event %d: pid %d tid %d pc 0x%x", event, trace.getPid(), trace.getMeta("ThreadId", 0),
                    trace.getProgramCounter() if trace.isAttached() else 0)


class DistributedNotifier(Notifier):
    """Hands each event to notifiers registered with it (one registration on the trace)."""

    def __init__(self):
        Notifier.__init__(self)
        self.shared = False
        self.events = []
        self.notifiers = {}

    def registerNotifier(self, event, notif):
        self.notifiers.setdefault(event, []).append(notif)

    def deregisterNotifier(self, event, notif):
        if notif in self.notifiers.get(event, []):
            self.notifiers[event].remove(notif)

    def notify(self, event, trace):
        for n in self.notifiers.get(0, []) + self.notifiers.get(event, []):
            try:
                n.handleEvent(event, trace)
            except Exception:
                logger.exception("notifier %r failed", n)

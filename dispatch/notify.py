"""Notifications: who should hear about a moment of an event, delivered through adapters.

The dispatch core decides *that* someone should hear (assigned, warning, breach, review failed,
...); ``dispatch.store`` writes each as an outbox row of topic ``notify`` whose payload carries
its ``type``. The relay hands each row to ``dispatch.engine.jobs.notify_job`` (an RQ job with
retries),
which builds a ``NotificationMessage`` and gives it to the configured ``Adapter``. A new channel
(SMS, app push, WeCom) is one more class with ``deliver``; the domain does not change.

Delivery is at least once: a receiver deduplicates on ``id`` (also sent as ``Idempotency-Key``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import httpx

from dispatch.outbox import Message
from kernel.settings import get_settings


@dataclass(frozen=True)
class NotificationMessage:
    """What an adapter delivers. ``recipients`` are staff ids; when empty, everyone holding
    ``audience`` at ``level`` (and ``department``) should hear it."""

    id: int
    type: str
    event_id: int | None
    level: int | None = None
    recipients: list[str] = field(default_factory=list)
    audience: str | None = None
    department: str | None = None
    detail: str = ""
    version: int | None = None

    @classmethod
    def from_outbox(cls, message: Message) -> NotificationMessage:
        p = message.payload
        return cls(
            id=message.id,
            type=str(p["type"]),
            event_id=message.event_id,
            level=p.get("level"),
            recipients=[str(r) for r in p.get("recipients") or []],
            audience=p.get("audience"),
            department=p.get("department"),
            detail=str(p.get("detail") or ""),
            version=p.get("version"),
        )

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class DeliveryFailed(RuntimeError):
    """The channel did not take the message; the job raises it so RQ retries later."""


class Adapter(Protocol):
    """A notification channel."""

    def deliver(self, message: NotificationMessage) -> None:
        """Hand ``message`` to the channel; raise to have the delivery retried."""


@dataclass(frozen=True)
class WebhookAdapter:
    """Posts each message as JSON to one URL; any non-2xx answer or network error fails the
    attempt (RQ retries it with the configured intervals)."""

    url: str
    timeout_seconds: float = 5.0

    def deliver(self, message: NotificationMessage) -> None:
        try:
            response = httpx.post(
                self.url,
                json=message.as_json(),
                headers={"Idempotency-Key": f"wangge-notify-{message.id}"},
                timeout=self.timeout_seconds,
            )
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"webhook {self.url}: {exc!r}") from exc
        if not response.is_success:
            raise DeliveryFailed(f"webhook {self.url} answered {response.status_code}")


def configured_adapter() -> Adapter | None:
    """The adapter the settings name (the webhook when ``WANGGE_WEBHOOK_URL`` is set)."""
    settings = get_settings()
    if settings.webhook_url:
        return WebhookAdapter(settings.webhook_url, settings.webhook_timeout_seconds)
    return None

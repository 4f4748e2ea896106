"""API keys of Open311 clients: issued by an administrator, shown once, stored as SHA-256,
revoked for good (the blocklist is the set of revoked keys).

A key is 32 random bytes (URL-safe base64 after a ``w311_`` prefix), so a plain SHA-256 is
enough to store it: there is nothing to guess that a slow hash would protect (unlike a
password), and each request checks its key with one indexed lookup.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from dispatch.public.models import ApiClient
from domain.intake import Channel
from kernel.errors import Conflict, Forbidden, NotFound, field_error
from kernel.uow import UnitOfWork

KEY_PREFIX = "w311_"
#: Channels a client may post for (staff report through /api/v1/events).
CLIENT_CHANNELS = (Channel.PUBLIC, Channel.HOTLINE)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class Issued:
    client: ApiClient
    key: str  # shown once, never stored


def issue(*, uow: UnitOfWork, name: str, channel: Channel, now: datetime) -> Issued:
    """A new client and its key. The name is unique (409 when taken)."""
    if channel not in CLIENT_CHANNELS:
        raise Conflict(field_error("channel", "clients post public or hotline reports"))
    session = uow.session
    if session.exec(select(ApiClient).where(col(ApiClient.name) == name)).first() is not None:
        raise Conflict(field_error("name", f"a client named {name!r} exists", "name_taken"))
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    client = ApiClient(
        name=name,
        channel=channel.value,
        key_prefix=key[:12],
        key_hash=key_hash(key),
        created_at=now,
    )
    session.add(client)
    uow.commit()
    session.refresh(client)
    return Issued(client, key)


def revoke(*, uow: UnitOfWork, client_id: int, reason: str, now: datetime) -> ApiClient:
    """Put a client's key on the blocklist (idempotent: the first revocation is kept)."""
    client = uow.session.get(ApiClient, client_id)
    if client is None:
        raise NotFound(field_error("client_id", f"no API client {client_id}"))
    if client.revoked_at is None:
        client.revoked_at = now
        client.revoked_reason = reason
        uow.session.add(client)
        uow.commit()
    return client


def list_clients(*, session: Session) -> list[ApiClient]:
    return list(session.exec(select(ApiClient).order_by(col(ApiClient.id))))


def authenticate(session: Session, key: str | None) -> ApiClient:
    """The client a key belongs to; ``Forbidden`` when it is missing, unknown or revoked
    (one message for all three: a caller learns nothing about other keys)."""
    if not key:
        raise Forbidden(field_error("api_key", "an api_key is required to post", "api_key"))
    client = session.exec(select(ApiClient).where(col(ApiClient.key_hash) == key_hash(key))).first()
    if client is None or client.revoked_at is not None:
        raise Forbidden(field_error("api_key", "invalid or revoked api_key", "api_key"))
    return client

"""Record security events (ASVS V7) and read a user's own recent ones back.

`record` is the one call every feature makes. It writes a structured log line first, so the
event survives even when the database does not, then an `audit_events` row.
"""

from __future__ import annotations

import json
import logging

from flask import has_request_context, request
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from securestore.audit.models import AuditEvent
from securestore.auth.models import User
from securestore.db_types import utcnow
from securestore.extensions import db

log = logging.getLogger(__name__)

MAX_DETAIL_CHARS = 500


def record(
    event: str, *, user: User | None = None, outcome: str = "ok", detail: str | None = None
) -> None:
    """Record `event` for `user` with the client address of the current request, if any.

    Commits the session: call it after the change being audited is committed. Never raises
    for the database: a lost row is logged, and the action it describes has already happened.
    """
    address = _client_address()
    created_at = utcnow()
    detail = detail[:MAX_DETAIL_CHARS] if detail else None
    log.info(
        "audit %s",
        json.dumps(
            {
                "time": created_at.isoformat(),
                "event": event,
                "outcome": outcome,
                "user_id": user.id if user else None,
                "username": user.username if user else None,
                "client_address": address,
                "detail": detail,
            },
            ensure_ascii=True,
        ),
    )
    db.session.add(
        AuditEvent(
            created_at=created_at,
            event=event,
            outcome=outcome,
            user_id=user.id if user else None,
            client_address=address,
            detail=detail,
        )
    )
    try:
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("audit event %s for user %s not stored", event, user.id if user else None)


def recent_events(user: User, limit: int = 50) -> list[AuditEvent]:
    """Return the user's own latest events, newest first."""
    query = (
        select(AuditEvent)
        .where(AuditEvent.user_id == user.id)
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(query))


def _client_address() -> str | None:
    # The one place outside views that reads the request: every caller would otherwise have to
    # thread the address through services that have no other use for it. CLI calls have none.
    # `remote_addr` is the real client once ProxyFix trusts exactly TRUSTED_PROXY_COUNT proxies.
    return request.remote_addr if has_request_context() else None

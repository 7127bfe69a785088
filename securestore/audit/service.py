"""Record security events (ASVS V7) and read a user's own recent ones back.

`record` is the one call every feature makes. It writes a structured log line first, so the
event survives even when the database does not, then an `audit_events` row in a transaction
of its own: an audit event never commits, and never rolls back, the caller's session.
"""

from __future__ import annotations

import json
import logging

from sqlalchemy import insert, select
from sqlalchemy.exc import SQLAlchemyError

from securestore.audit.models import AuditEvent
from securestore.auth.models import User
from securestore.db_types import utcnow
from securestore.extensions import db

log = logging.getLogger(__name__)

MAX_DETAIL_CHARS = 500


def record(
    event: str,
    *,
    user: User | None = None,
    address: str | None = None,
    outcome: str = "ok",
    detail: str | None = None,
) -> None:
    """Record `event` for `user`, seen from the client `address` (None: the CLI, a timer).

    Call it once the change being audited is committed (or has failed and been rolled back):
    on SQLite a second connection waits for the session's write lock. Never raises for the
    database: a lost row is logged, and the action it describes has already happened.
    """
    created_at = utcnow()
    detail = detail[:MAX_DETAIL_CHARS] if detail else None
    user_id = user.id if user else None
    log.info(
        "audit %s",
        json.dumps(
            {
                "time": created_at.isoformat(),
                "event": event,
                "outcome": outcome,
                "user_id": user_id,
                "username": user.username if user else None,
                "client_address": address,
                "detail": detail,
            },
            ensure_ascii=True,
        ),
    )
    try:
        with db.engine.begin() as connection:
            connection.execute(
                insert(AuditEvent).values(
                    created_at=created_at,
                    event=event,
                    outcome=outcome,
                    user_id=user_id,
                    client_address=address,
                    detail=detail,
                )
            )
    except SQLAlchemyError:
        log.exception("audit event %s for user %s not stored", event, user_id)


def made_by(actor: User | None) -> str:
    """How an operator's change names who made it: an administrator, or the CLI (None)."""
    return f"by administrator {actor.username}" if actor else "by the CLI"


def recent_events(user: User, limit: int = 50) -> list[AuditEvent]:
    """Return the user's own latest events, newest first."""
    query = (
        select(AuditEvent)
        .where(AuditEvent.user_id == user.id)
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(query))

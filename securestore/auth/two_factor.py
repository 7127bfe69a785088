"""Optional TOTP second factor (ASVS 2.8) with single-use recovery codes (ASVS 2.6).

Codes are checked under the same throttle as passwords; a TOTP time step, once used, is
never accepted again, and recovery codes are stored salted and hashed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

import pyotp
import segno
from sqlalchemy import delete, or_, select, update

from securestore.audit import service as audit
from securestore.auth import attempts
from securestore.auth.models import RecoveryCode, User
from securestore.auth.service import confirm_password, logged_in
from securestore.db_types import utcnow
from securestore.errors import AuthenticationError, ThrottledError, ValidationError, raises
from securestore.extensions import db

ISSUER = "SecureStore"
RECOVERY_CODE_COUNT = 10
# How long the secret shown during setup stays valid.
SETUP_TIME = timedelta(minutes=15)
WRONG_CODE = "That code is not right. Use the current code from your app or a recovery code."


def new_secret() -> str:
    """A fresh random base32 TOTP secret (160 bits)."""
    return pyotp.random_base32(length=32)


def qr_code(user: User, secret: str) -> str:
    """Return the `otpauth://` URI as an SVG QR code in a `data:` URI (an `<img>`, no script)."""
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=ISSUER)
    return str(segno.make(uri, error="m").svg_data_uri(scale=5, border=2))


def pending_secret(user: User) -> str:
    """The secret being set up for `user`: the one shown before while it is fresh, else new.

    It is stored on the user's row with an expiry, never in the session cookie, which is
    signed but readable: a copy of the cookie must not reveal a second factor.
    """
    now = utcnow()
    if user.totp_pending_secret and user.totp_pending_until and user.totp_pending_until > now:
        return user.totp_pending_secret
    user.totp_pending_secret = new_secret()
    user.totp_pending_until = now + SETUP_TIME
    db.session.commit()
    return user.totp_pending_secret


@raises(ValidationError)
def enable(user: User, code: str, *, address: str | None) -> list[str]:
    """Turn two-factor login on once `code` proves the app has the pending secret; return
    recovery codes (shown once: only their salted hashes are kept)."""
    secret = user.totp_pending_secret
    if secret is None or user.totp_pending_until is None or user.totp_pending_until <= utcnow():
        raise ValidationError("This setup has expired. Scan the new QR code and try again.")
    step = _matching_step(secret, code, last_step=None)
    if step is None:
        raise ValidationError(WRONG_CODE)
    user.totp_secret = secret
    user.totp_last_step = step
    user.totp_pending_secret = None
    user.totp_pending_until = None
    codes = _replace_recovery_codes(user)
    db.session.commit()
    audit.record("2fa_change", user=user, address=address, detail="enabled")
    return codes


def disable(user: User, password: str, address: str | None) -> None:
    """Turn two-factor login off after checking the password (throttled like a login)."""
    confirm_password(
        user, password, address, event="2fa_change", wrong="Your password is not right."
    )
    user.totp_secret = None
    user.totp_last_step = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    db.session.commit()
    audit.record("2fa_change", user=user, address=address, detail="disabled")


@raises(ThrottledError, AuthenticationError)
def check_code(user: User, code: str, address: str | None, *, event: str) -> str:
    """Accept a current TOTP code or an unused recovery code and say which, or raise;
    throttled, and a wrong code is audited as a failed `event`."""
    attempt = attempts.begin(
        attempts.second_factor_limits(user, address), event, lambda: user, address
    )
    method = _use_totp(user, code) or _use_recovery_code(user, code)
    if method is None:
        audit.record(
            event, user=user, address=address, outcome="failed", detail="wrong second factor"
        )
        raise AuthenticationError(WRONG_CODE)
    attempt.succeeded()
    return method


@raises(ThrottledError, AuthenticationError)
def verify(user: User, code: str, address: str | None) -> None:
    """The second login step: a right code completes the login."""
    method = check_code(user, code, address, event="login")
    logged_in(user, address=address, detail=f"second factor: {method}")


def remaining_recovery_codes(user: User) -> int:
    """How many recovery codes the user has not used yet."""
    query = select(db.func.count(RecoveryCode.id)).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
    )
    return int(db.session.scalar(query) or 0)


def _use_totp(user: User, code: str) -> str | None:
    """Accept `code` once: the step is marked used only where no later one is, so of any
    number of parallel requests with the same code exactly one wins (the row count says)."""
    if user.totp_secret is None:
        return None
    step = _matching_step(user.totp_secret, code, user.totp_last_step)
    if step is None:
        return None
    won = db.session.execute(
        update(User)
        .where(
            User.id == user.id,
            or_(User.totp_last_step.is_(None), User.totp_last_step < step),
        )
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    db.session.commit()
    return "authenticator app" if won == 1 else None


def _matching_step(secret: str, code: str, last_step: int | None) -> int | None:
    """Return the time step `code` belongs to (now, or one step either side for clock drift)."""
    code = "".join(code.split())
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(utcnow())
    for step in (current - 1, current, current + 1):
        if last_step is not None and step <= last_step:
            continue  # already used: a code observed once cannot be replayed
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _use_recovery_code(user: User, code: str) -> str | None:
    typed = _normalise_code(code)
    unused = db.session.scalars(
        select(RecoveryCode).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    ).all()
    for stored in unused:
        salt, _, digest = stored.code_hash.partition("$")
        if hmac.compare_digest(_digest(salt, typed), digest):
            # Used only where still unused: one of any parallel requests wins.
            won = db.session.execute(
                update(RecoveryCode)
                .where(RecoveryCode.id == stored.id, RecoveryCode.used_at.is_(None))
                .values(used_at=utcnow())
                .execution_options(synchronize_session=False)
            ).rowcount  # type: ignore[attr-defined]
            db.session.commit()
            return "recovery code" if won == 1 else None
    return None


def _replace_recovery_codes(user: User) -> list[str]:
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = secrets.token_hex(8)  # 64 random bits, salted below (ASVS 2.6.2)
        salt = secrets.token_hex(8)
        db.session.add(RecoveryCode(user_id=user.id, code_hash=f"{salt}${_digest(salt, raw)}"))
        codes.append("-".join(raw[i : i + 4] for i in range(0, len(raw), 4)))
    return codes


def _normalise_code(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch not in "- ")


def _digest(salt: str, code: str) -> str:
    return hashlib.sha256(f"{salt}:{code}".encode()).hexdigest()

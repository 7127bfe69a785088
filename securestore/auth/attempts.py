"""The failed-attempt policy for passwords, second factors and API tokens (docs/security.md).

Every attempt is counted before it is evaluated (`begin`), so a burst of parallel guesses
cannot outrun the throttle; a success gives the attempt back. Guessers are stopped without
handing strangers a lockout:
- per account *and* client address: `LOGIN_ACCOUNT_LIMIT` attempts per window, then 429;
- per client address, whatever the account: `LOGIN_ADDRESS_LIMIT`, then 429;
- per account from all addresses: no lockout, but each attempt waits 0.1 s x 2^(n-1) for
  n earlier failures (Nextcloud's throttler), at most `LOGIN_MAX_DELAY_SECONDS`; past
  `LOGIN_ACCOUNT_WIDE_LIMIT` failures a right password alone no longer logs in, a right
  password followed by a right second factor still does.

API tokens are the exception to counting first (`check_unguessable`, `count_failure`): their
secrets are 256 random bits, so a burst of parallel guesses gains nothing, and counting and
refunding every request would cost each API call two database writes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from flask import current_app

from securestore.audit import service as audit
from securestore.auth.models import User
from securestore.errors import ThrottledError
from securestore.throttle.service import Limit, throttle

DELAY_BASE_SECONDS = 0.1


@dataclass
class Attempt:
    """An attempt that was counted: call `succeeded` once the credential proved right."""

    refund_on_success: list[Limit]
    reset_on_success: Limit | None = None
    # Failures of this account from every address earlier in the window.
    earlier_account_failures: int = 0
    account_retry_after: int = 0

    def succeeded(self) -> None:
        """Give the attempt back, and forget the failures under `reset_on_success`."""
        throttle.refund(self.refund_on_success)
        if self.reset_on_success is not None:
            throttle.reset(self.reset_on_success)

    @property
    def account_under_attack(self) -> bool:
        """Whether a password alone is no longer enough for this account (see module)."""
        limit: int = current_app.config["LOGIN_ACCOUNT_WIDE_LIMIT"]
        return self.earlier_account_failures >= limit


def password_limits(username: str, address: str | None) -> list[Limit]:
    """What a password attempt counts against: its account from this address, the address."""
    config = current_app.config
    subject = f"{username}\x00{address or 'unknown'}"
    pair = Limit("login", subject, config["LOGIN_ACCOUNT_LIMIT"], config["LOGIN_WINDOW_SECONDS"])
    return [pair, address_limit(address)]


def second_factor_limits(user: User, address: str | None) -> list[Limit]:
    """What a second-factor code counts against: the account (only its password holder gets
    here, so a hard limit locks out no stranger) and the address."""
    config = current_app.config
    account = Limit(
        "second-factor", str(user.id), config["LOGIN_ACCOUNT_LIMIT"], config["LOGIN_WINDOW_SECONDS"]
    )
    return [account, address_limit(address)]


def address_limit(address: str | None) -> Limit:
    """The limit on every failure from one client address, whatever the account."""
    config = current_app.config
    subject = address or "unknown"
    return Limit("address", subject, config["LOGIN_ADDRESS_LIMIT"], config["LOGIN_WINDOW_SECONDS"])


def registration_limit(address: str) -> Limit:
    """Registrations from one client address, counted whatever their outcome."""
    config = current_app.config
    return Limit(
        "register", address, config["REGISTER_ADDRESS_LIMIT"], config["REGISTER_WINDOW_SECONDS"]
    )


def begin(
    limits: Sequence[Limit],
    event: str,
    who: Callable[[], User | None],
    address: str | None,
    *,
    account: str | None = None,
    reset_first: bool = True,
) -> Attempt:
    """Count an attempt before evaluating it; raise `ThrottledError` (audited) when refused.

    On success the first limit (the account's) is reset when `reset_first`, the others get
    their attempt back. With `account`, the attempt also counts against the account from
    every address and waits its growing delay.
    """
    verdict = throttle.take(limits)
    if verdict.blocked:
        audit.record(event, user=who(), address=address, outcome="throttled")
        raise ThrottledError(verdict.retry_after)
    if reset_first:
        attempt = Attempt(list(limits[1:]), limits[0])
    else:
        attempt = Attempt(list(limits))
    if account is not None:
        wide = _account_wide_limit(account)
        count, left = throttle.count(wide)
        attempt.refund_on_success.append(wide)
        attempt.earlier_account_failures = count - 1
        attempt.account_retry_after = left
        time.sleep(delay_seconds(count - 1))
    return attempt


def check_unguessable(limit: Limit, event: str, address: str | None) -> None:
    """Refuse (audited, `ThrottledError`) a credential no one can guess while `limit` is used
    up, without counting it: only its failure counts (`count_failure`)."""
    count, left = throttle.peek(limit)
    if count >= limit.limit:
        audit.record(event, address=address, outcome="throttled")
        raise ThrottledError(left)


def count_failure(limit: Limit) -> None:
    """Count a failed attempt that `check_unguessable` let through."""
    throttle.count(limit)


def delay_seconds(earlier_failures: int) -> float:
    """0.1 s x 2^(n-1) for n earlier failures of the account, at most the configured cap."""
    if earlier_failures <= 0:
        return 0.0
    cap: float = current_app.config["LOGIN_MAX_DELAY_SECONDS"]
    return float(min(DELAY_BASE_SECONDS * 2 ** min(earlier_failures - 1, 32), cap))


def _account_wide_limit(account: str) -> Limit:
    config = current_app.config
    return Limit(
        "account", account, config["LOGIN_ACCOUNT_WIDE_LIMIT"], config["LOGIN_WINDOW_SECONDS"]
    )

"""Loopback stand-ins for the two AWS services the credential-rotation test needs.

``FakeIMDS`` plays the EC2 instance metadata service (IMDSv2 only): it hands out the role's
current temporary credentials and can rotate them. ``VerifyingS3Proxy`` sits in front of
SeaweedFS and plays S3's side of authentication: it checks the SigV4 signature and session
token of every request against the temporary credentials issued so far, refuses a key once it
has expired (``ExpiredToken``, as S3 does), records which key signed what, and forwards
accepted requests to SeaweedFS re-signed with SeaweedFS's own key. SeaweedFS cannot check AWS
session tokens itself, which is why the proxy does it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http.client
import http.server
import json
import secrets
import string
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field

_ALGORITHM = "AWS4-HMAC-SHA256"
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
_PRESIGN_PARAMS = {
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
}


@dataclass(frozen=True)
class TemporaryCredentials:
    """One set of role credentials, shaped like what STS and IMDS hand out."""

    access_key: str
    secret_key: str
    token: str
    expiration: dt.datetime

    @classmethod
    def issue(cls, expiration: dt.datetime) -> TemporaryCredentials:
        """Make fresh random credentials (an ``ASIA...`` key id, as STS gives)."""
        alphabet = string.ascii_uppercase + string.digits
        return cls(
            access_key="ASIA" + "".join(secrets.choice(alphabet) for _ in range(16)),
            secret_key=secrets.token_urlsafe(30),
            token=secrets.token_urlsafe(96),
            expiration=expiration,
        )

    def imds_document(self) -> dict[str, str]:
        """Return the JSON body IMDS serves for the role."""
        return {
            "Code": "Success",
            "LastUpdated": _utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Type": "AWS-HMAC",
            "AccessKeyId": self.access_key,
            "SecretAccessKey": self.secret_key,
            "Token": self.token,
            "Expiration": self.expiration.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class _QuietHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Keep test output clean; the servers record what matters themselves."""

    def _reply(self, status: int, body: bytes = b"", content_type: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class _Server:
    """A threaded HTTP server on a free loopback port, stopped by ``close``."""

    def __init__(self, handler: type[http.server.BaseHTTPRequestHandler]) -> None:
        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._httpd.owner = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)


class FakeIMDS(_Server):
    """IMDSv2 on loopback serving one role's credentials; ``rotate`` swaps them."""

    def __init__(self, role: str, credentials: TemporaryCredentials) -> None:
        self.role = role
        self._credentials = credentials
        self._tokens: set[str] = set()
        self._lock = threading.Lock()
        self.credential_fetches = 0
        super().__init__(_IMDSHandler)

    @property
    def credentials(self) -> TemporaryCredentials:
        with self._lock:
            return self._credentials

    def rotate(self, credentials: TemporaryCredentials) -> None:
        """Serve new credentials from now on, as EC2 does before the old ones expire."""
        with self._lock:
            self._credentials = credentials

    def _new_token(self) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens.add(token)
        return token

    def _token_ok(self, token: str | None) -> bool:
        with self._lock:
            return token is not None and token in self._tokens

    def _fetched(self) -> TemporaryCredentials:
        with self._lock:
            self.credential_fetches += 1
            return self._credentials


class _IMDSHandler(_QuietHandler):
    server: http.server.ThreadingHTTPServer

    @property
    def imds(self) -> FakeIMDS:
        return self.server.owner  # type: ignore[attr-defined,no-any-return]

    def do_PUT(self) -> None:
        if self.path != "/latest/api/token" or not self.headers.get(
            "X-aws-ec2-metadata-token-ttl-seconds"
        ):
            self._reply(400)
            return
        self._reply(200, self.imds._new_token().encode())

    def do_GET(self) -> None:
        if not self.imds._token_ok(self.headers.get("X-aws-ec2-metadata-token")):
            self._reply(401)  # IMDSv2 only: no token, no data
            return
        prefix = "/latest/meta-data/iam/security-credentials/"
        if self.path == prefix:
            self._reply(200, self.imds.role.encode())
        elif self.path == prefix + self.imds.role:
            body = json.dumps(self.imds._fetched().imds_document()).encode()
            self._reply(200, body, "application/json")
        else:
            self._reply(404)


# --- SigV4 -----------------------------------------------------------------------------


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def _uri_encode(text: str) -> str:
    return urllib.parse.quote(text, safe="-_.~")


def _canonical_query(raw_query: str, drop: set[str] | frozenset[str] = frozenset()) -> str:
    pairs = []
    for part in raw_query.split("&") if raw_query else []:
        if not part:
            continue
        name, _, value = part.partition("=")
        name, value = urllib.parse.unquote(name), urllib.parse.unquote(value)
        if name in drop:
            continue
        pairs.append((_uri_encode(name), _uri_encode(value)))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def sigv4_signature(
    *,
    secret_key: str,
    method: str,
    raw_path: str,
    canonical_query: str,
    headers: dict[str, str],
    signed_headers: list[str],
    payload_hash: str,
    amz_date: str,
    scope: str,
) -> str:
    """Compute an S3 SigV4 signature (S3 signs the path exactly as sent, encoded once)."""
    canonical_headers = "".join(
        f"{name}:{' '.join(headers.get(name, '').split())}\n" for name in signed_headers
    )
    canonical_request = "\n".join(
        [
            method,
            raw_path,
            canonical_query,
            canonical_headers,
            ";".join(signed_headers),
            payload_hash,
        ]
    )
    string_to_sign = "\n".join(
        [_ALGORITHM, amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    date, region, service, terminal = scope.split("/")
    key = _hmac(("AWS4" + secret_key).encode(), date)
    for part in (region, service, terminal):
        key = _hmac(key, part)
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


class S3AuthError(Exception):
    """A request S3 would refuse; carries S3's status and error code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message = status, code, message


@dataclass
class Signed:
    """What one incoming request was signed with."""

    access_key: str
    token: str | None
    scope: str
    amz_date: str
    signed_headers: list[str]
    signature: str
    presigned: bool


def parse_signature(raw_path: str, raw_query: str, headers: dict[str, str]) -> Signed:
    """Read the SigV4 fields from the Authorization header or a presigned URL's query."""
    authorization = headers.get("authorization")
    if authorization:
        algorithm, _, rest = authorization.partition(" ")
        if algorithm != _ALGORITHM:
            raise S3AuthError(400, "InvalidRequest", "only SigV4 is accepted")
        fields = dict(item.strip().split("=", 1) for item in rest.split(","))
        access_key, _, scope = fields["Credential"].partition("/")
        return Signed(
            access_key=access_key,
            token=headers.get("x-amz-security-token"),
            scope=scope,
            amz_date=headers.get("x-amz-date", ""),
            signed_headers=fields["SignedHeaders"].split(";"),
            signature=fields["Signature"],
            presigned=False,
        )
    query = dict(urllib.parse.parse_qsl(raw_query, keep_blank_values=True))
    if "X-Amz-Credential" not in query:
        raise S3AuthError(403, "AccessDenied", "anonymous access is not allowed")
    access_key, _, scope = query["X-Amz-Credential"].partition("/")
    return Signed(
        access_key=access_key,
        token=query.get("X-Amz-Security-Token"),
        scope=scope,
        amz_date=query.get("X-Amz-Date", ""),
        signed_headers=query.get("X-Amz-SignedHeaders", "host").split(";"),
        signature=query.get("X-Amz-Signature", ""),
        presigned=True,
    )


# --- the proxy ---------------------------------------------------------------------------


@dataclass
class Seen:
    """One request as the proxy judged it."""

    access_key: str
    method: str
    path: str
    outcome: str  # "accepted" or the S3 error code


@dataclass
class _Upstream:
    host: str
    port: int
    access_key: str
    secret_key: str
    region: str


@dataclass
class _KeyBook:
    issued: dict[str, TemporaryCredentials] = field(default_factory=dict)
    expired: set[str] = field(default_factory=set)


class VerifyingS3Proxy(_Server):
    """S3's authentication in front of SeaweedFS, for temporary credentials."""

    def __init__(
        self, upstream_url: str, upstream_key: str, upstream_secret: str, region: str
    ) -> None:
        parsed = urllib.parse.urlsplit(upstream_url)
        self._upstream = _Upstream(
            parsed.hostname or "127.0.0.1", parsed.port or 80, upstream_key, upstream_secret, region
        )
        self._keys = _KeyBook()
        self._lock = threading.Lock()
        self._seen: list[Seen] = []
        super().__init__(_ProxyHandler)

    def issue(self, credentials: TemporaryCredentials) -> None:
        """Accept these credentials from now on (STS issued them)."""
        with self._lock:
            self._keys.issued[credentials.access_key] = credentials

    def expire(self, credentials: TemporaryCredentials) -> None:
        """Refuse these credentials from now on with ``ExpiredToken``."""
        with self._lock:
            self._keys.expired.add(credentials.access_key)

    def seen(self) -> list[Seen]:
        with self._lock:
            return list(self._seen)

    def _record(self, seen: Seen) -> None:
        with self._lock:
            self._seen.append(seen)

    def authenticate(
        self, method: str, raw_path: str, raw_query: str, headers: dict[str, str]
    ) -> Signed:
        """Check a request as S3 would; raise ``S3AuthError`` when S3 would refuse it."""
        signed = parse_signature(raw_path, raw_query, headers)
        with self._lock:
            credentials = self._keys.issued.get(signed.access_key)
            expired = signed.access_key in self._keys.expired
        if credentials is None:
            raise S3AuthError(
                403,
                "InvalidAccessKeyId",
                "The AWS Access Key Id you provided does not exist in our records.",
            )
        if signed.token != credentials.token:
            raise S3AuthError(
                400, "InvalidToken", "The provided token is malformed or otherwise invalid."
            )
        if expired:
            raise S3AuthError(400, "ExpiredToken", "The provided token has expired.")
        payload_hash = (
            "UNSIGNED-PAYLOAD" if signed.presigned else headers.get("x-amz-content-sha256", "")
        )
        expected = sigv4_signature(
            secret_key=credentials.secret_key,
            method=method,
            raw_path=raw_path,
            canonical_query=_canonical_query(
                raw_query, drop={"X-Amz-Signature"} if signed.presigned else set()
            ),
            headers=headers,
            signed_headers=signed.signed_headers,
            payload_hash=payload_hash,
            amz_date=signed.amz_date,
            scope=signed.scope,
        )
        if not hmac.compare_digest(expected, signed.signature):
            raise S3AuthError(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        return signed

    def upstream_headers(
        self, method: str, raw_path: str, query: str, headers: dict[str, str], payload_hash: str
    ) -> dict[str, str]:
        """Re-sign a request for SeaweedFS with SeaweedFS's own key."""
        up = self._upstream
        skip = {"authorization", "x-amz-security-token", "x-amz-date", "host", "connection",
                "expect", "x-amz-content-sha256", "keep-alive", "transfer-encoding"}
        out = {name: value for name, value in headers.items() if name not in skip}
        now = dt.datetime.now(dt.UTC)
        out["host"] = f"{up.host}:{up.port}"
        out["x-amz-date"] = now.strftime(_AMZ_DATE)
        out["x-amz-content-sha256"] = payload_hash
        signed_headers = sorted(
            name for name in out if name == "host" or name.startswith("x-amz-")
            or name in {"content-type", "content-md5"}
        )
        scope = f"{now:%Y%m%d}/{up.region}/s3/aws4_request"
        signature = sigv4_signature(
            secret_key=up.secret_key,
            method=method,
            raw_path=raw_path,
            canonical_query=_canonical_query(query),
            headers=out,
            signed_headers=signed_headers,
            payload_hash=payload_hash,
            amz_date=out["x-amz-date"],
            scope=scope,
        )
        out["authorization"] = (
            f"{_ALGORITHM} Credential={up.access_key}/{scope}, "
            f"SignedHeaders={';'.join(signed_headers)}, Signature={signature}"
        )
        return out

    def connect_upstream(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self._upstream.host, self._upstream.port, timeout=120)


def _error_xml(code: str, message: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    ).encode()


class _ProxyHandler(_QuietHandler):
    server: http.server.ThreadingHTTPServer

    @property
    def proxy(self) -> VerifyingS3Proxy:
        return self.server.owner  # type: ignore[attr-defined,no-any-return]

    def _handle(self) -> None:
        raw_path, _, raw_query = self.path.partition("?")
        headers = {name.lower(): value for name, value in self.headers.items()}
        length = int(headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            signed = self.proxy.authenticate(self.command, raw_path, raw_query, headers)
        except S3AuthError as error:
            key = headers.get("authorization", raw_query)
            self.proxy._record(Seen(_key_of(key), self.command, raw_path, error.code))
            self._reply(error.status, _error_xml(error.code, error.message), "application/xml")
            return
        self.proxy._record(Seen(signed.access_key, self.command, raw_path, "accepted"))
        query = _canonical_query(raw_query, drop=_PRESIGN_PARAMS) if signed.presigned else raw_query
        payload_hash = (
            "UNSIGNED-PAYLOAD" if signed.presigned else headers["x-amz-content-sha256"]
        )
        out_headers = self.proxy.upstream_headers(
            self.command, raw_path, query, headers, payload_hash
        )
        connection = self.proxy.connect_upstream()
        try:
            connection.request(
                self.command, raw_path + (f"?{query}" if query else ""), body, out_headers
            )
            response = connection.getresponse()
            data = response.read()
            self.send_response(response.status, response.reason)
            for name, value in response.getheaders():
                if name.lower() in {"transfer-encoding", "connection", "content-length"}:
                    continue
                self.send_header(name, value)
            if self.command == "HEAD":
                self.send_header("Content-Length", response.getheader("Content-Length", "0"))
            else:
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        finally:
            connection.close()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle


def _key_of(authorization_or_query: str) -> str:
    marker = "Credential="
    if marker in authorization_or_query:
        return authorization_or_query.split(marker, 1)[1].split("/", 1)[0]
    query = dict(urllib.parse.parse_qsl(authorization_or_query))
    return query.get("X-Amz-Credential", "").split("/", 1)[0]


def accepted_keys(seen: list[Seen]) -> Iterator[str]:
    """Yield the access key of each accepted request, in order."""
    return (entry.access_key for entry in seen if entry.outcome == "accepted")

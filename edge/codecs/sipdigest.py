"""SIP digest authentication (RFC 2617 as RFC 3261 §22 uses it) for REGISTER.

GB/T 28181 platforms challenge with `401` and `WWW-Authenticate: Digest
realm=…, nonce=…[, qop="auth"][, algorithm=MD5]`. Without qop the response is
MD5(HA1:nonce:HA2); with `qop=auth` it is MD5(HA1:nonce:nc:cnonce:auth:HA2).
HA2 hashes `METHOD:uri` with the uri exactly as sent in `uri=` (the request
URI, `sip:<serverID>@<domain>` or `sip:ip:port`, depending on the device).
"""

from __future__ import annotations

from dataclasses import dataclass

from edge.codecs.http_digest import Parts
from edge.codecs.http_digest import compute as http_compute
from edge.codecs.sip import SipError, split_list


def compute(
    *,
    method: str,
    uri: str,
    username: str,
    realm: str,
    password: str,
    nonce: str,
    qop: str | None = None,
    nc: str = "00000001",
    cnonce: str = "",
    algorithm: str = "MD5",
) -> Parts:
    """HA1, HA2 and the response for one challenge (MD5 only: what GB/T 28181 gear uses);
    the formula is HTTP's (`http_digest.compute`), with SIP's errors and upper-case method."""
    if algorithm.upper() not in ("MD5", ""):
        raise SipError(f"digest algorithm {algorithm!r} is not supported (MD5 only)")
    if qop and qop.lower() != "auth":
        raise SipError(f"qop {qop!r} is not supported (auth only)")
    return http_compute(
        method=method.upper(),
        uri=uri,
        username=username,
        password=password,
        realm=realm,
        nonce=nonce,
        qop="auth" if qop else None,
        nc=nc,
        cnonce=cnonce,
    )


def parse_auth(value: str) -> dict[str, str]:
    """`Digest a="x", b=y` → {"a": "x", "b": "y"} (names lower-cased)."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "digest":
        raise SipError(f"auth scheme {scheme!r} is not Digest")
    params: dict[str, str] = {}
    for part in split_list(rest):
        name, eq, val = part.partition("=")
        if not eq:
            raise SipError(f"malformed digest parameter {part[:40]!r}")
        val = val.strip()
        if val.startswith('"') and val.endswith('"') and len(val) >= 2:
            val = val[1:-1]
        params[name.strip().lower()] = val
    return params


@dataclass(frozen=True)
class Challenge:
    realm: str
    nonce: str
    qop: str | None
    algorithm: str
    opaque: str | None

    @classmethod
    def parse(cls, header: str) -> Challenge:
        p = parse_auth(header)
        if "realm" not in p or "nonce" not in p:
            raise SipError("challenge without realm or nonce")
        qops = [q.strip().lower() for q in p.get("qop", "").split(",") if q.strip()]
        if qops and "auth" not in qops:
            raise SipError(f"challenge offers qop {qops}, not auth")
        return cls(
            p["realm"],
            p["nonce"],
            "auth" if qops else None,
            p.get("algorithm", "MD5"),
            p.get("opaque"),
        )


def authorization(
    challenge: Challenge,
    *,
    method: str,
    uri: str,
    username: str,
    password: str,
    nc: int = 1,
    cnonce: str = "",
) -> str:
    """The `Authorization` header value answering `challenge`."""
    nc_text = f"{nc:08x}"
    parts = compute(
        method=method,
        uri=uri,
        username=username,
        realm=challenge.realm,
        password=password,
        nonce=challenge.nonce,
        qop=challenge.qop,
        nc=nc_text,
        cnonce=cnonce,
        algorithm=challenge.algorithm,
    )
    fields = [
        f'username="{username}"',
        f'realm="{challenge.realm}"',
        f'nonce="{challenge.nonce}"',
        f'uri="{uri}"',
        f'response="{parts.response}"',
        "algorithm=MD5",
    ]
    if challenge.qop:
        fields += ["qop=auth", f"nc={nc_text}", f'cnonce="{cnonce}"']
    if challenge.opaque is not None:
        fields.append(f'opaque="{challenge.opaque}"')
    return "Digest " + ", ".join(fields)


def verify(header: str, *, method: str, password: str, realm: str, nonce: str) -> bool:
    """Whether an `Authorization` header proves `password` for this realm and nonce."""
    p = parse_auth(header)
    if p.get("realm") != realm or p.get("nonce") != nonce:
        return False
    parts = compute(
        method=method,
        uri=p.get("uri", ""),
        username=p.get("username", ""),
        realm=realm,
        password=password,
        nonce=nonce,
        qop=p.get("qop") or None,
        nc=p.get("nc", ""),
        cnonce=p.get("cnonce", ""),
        algorithm=p.get("algorithm", "MD5"),
    )
    return parts.response == p.get("response", "").lower()

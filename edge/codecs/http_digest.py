"""HTTP Digest access authentication (RFC 7616 / RFC 2617), MD5, as pure functions.

Generic on purpose: GA/T 1400 uses it over HTTP (`WWW-Authenticate` /
`Authorization`), GB/T 28181 over SIP (`WWW-Authenticate` / `Authorization` on
REGISTER) with the same grammar and the same response formula; only the method
and the `uri` differ, and the `uri` must be exactly the string sent in the
header, or the server's HA2 differs.

What real servers need, learned from captures (../shared/protocols/DIGEST.md §1.2, §7):
- `nc` is 8 hex digits (`00000001`); an unpadded `nc=1` is refused by strict servers.
- `cnonce` is fresh per request; `opaque` is echoed unchanged when it was sent.
- With `qop=auth` the response is MD5(HA1:nonce:nc:cnonce:qop:HA2); a challenge
  without qop (RFC 2069 form, still common on SIP gear) uses MD5(HA1:nonce:HA2).
- `qop` may offer several values (`"auth,auth-int"`); only `auth` is spoken here.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from dataclasses import dataclass

_PARAM = re.compile(r'\s*([A-Za-z0-9_-]+)\s*=\s*("((?:[^"\\]|\\.)*)"|[^,\s]*)\s*(?:,|$)')


class DigestError(ValueError):
    """A challenge or credentials header that cannot be used."""


def md5_hex(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def parse_params(header: str) -> dict[str, str]:
    """`Digest a="x", b=y` -> {"a": "x", "b": "y"}; names lower-cased, quotes removed."""
    text = header.strip()
    scheme, _, rest = text.partition(" ")
    if scheme.lower() != "digest":
        raise DigestError(f"not a Digest header: {text[:40]!r}")
    out: dict[str, str] = {}
    pos = 0
    rest = rest.strip()
    while pos < len(rest):
        m = _PARAM.match(rest, pos)
        if not m or m.end() == pos:
            raise DigestError(f"cannot parse digest parameters near {rest[pos : pos + 30]!r}")
        value = m.group(3) if m.group(3) is not None else m.group(2)
        out[m.group(1).lower()] = value.replace('\\"', '"') if m.group(3) is not None else value
        pos = m.end()
    return out


@dataclass(frozen=True)
class Challenge:
    """A server's `WWW-Authenticate: Digest ...`."""

    realm: str
    nonce: str
    qop: tuple[str, ...] = ()
    opaque: str | None = None
    algorithm: str = "MD5"
    stale: bool = False

    @classmethod
    def parse(cls, header: str) -> Challenge:
        p = parse_params(header)
        if "nonce" not in p or "realm" not in p:
            raise DigestError("the challenge has no realm or nonce")
        algorithm = p.get("algorithm", "MD5")
        if algorithm.upper() != "MD5":
            raise DigestError(f"digest algorithm {algorithm!r} is not supported (MD5 only)")
        qop = tuple(q.strip().lower() for q in p.get("qop", "").split(",") if q.strip())
        if qop and "auth" not in qop:
            raise DigestError(f"the server offers qop {','.join(qop)}; only auth is supported")
        return cls(
            realm=p["realm"],
            nonce=p["nonce"],
            qop=qop,
            opaque=p.get("opaque"),
            algorithm=algorithm,
            stale=p.get("stale", "").lower() == "true",
        )

    def header(self) -> str:
        """The challenge as a server sends it (used by the test peers)."""
        parts = [f'realm="{self.realm}"']
        if self.qop:
            parts.append(f'qop="{",".join(self.qop)}"')
        parts.append(f'nonce="{self.nonce}"')
        if self.opaque is not None:
            parts.append(f'opaque="{self.opaque}"')
        parts.append(f"algorithm={self.algorithm}")
        if self.stale:
            parts.append("stale=true")
        return "Digest " + ", ".join(parts)


@dataclass(frozen=True)
class Parts:
    ha1: str
    ha2: str
    response: str


def compute(
    *,
    method: str,
    uri: str,
    username: str,
    password: str,
    realm: str,
    nonce: str,
    qop: str | None = None,
    nc: str = "00000001",
    cnonce: str = "",
) -> Parts:
    ha1 = md5_hex(f"{username}:{realm}:{password}")
    ha2 = md5_hex(f"{method}:{uri}")
    if qop:
        response = md5_hex(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    else:
        response = md5_hex(f"{ha1}:{nonce}:{ha2}")
    return Parts(ha1, ha2, response)


def new_cnonce() -> str:
    return os.urandom(8).hex()


def format_nc(count: int) -> str:
    if not 0 < count <= 0xFFFFFFFF:
        raise DigestError(f"nonce count {count} out of range")
    return f"{count:08x}"


def authorization(
    challenge: Challenge,
    *,
    method: str,
    uri: str,
    username: str,
    password: str,
    nc: int = 1,
    cnonce: str | None = None,
) -> str:
    """The `Authorization` header answering `challenge` (a fresh cnonce unless given).

    Parameter order follows the captures (username, realm, nonce, uri, qop, nc,
    cnonce, algorithm, opaque, response); servers must not care, some do."""
    qop = "auth" if challenge.qop else None
    nc_text = format_nc(nc)
    cn = cnonce if cnonce is not None else new_cnonce()
    parts = compute(
        method=method,
        uri=uri,
        username=username,
        password=password,
        realm=challenge.realm,
        nonce=challenge.nonce,
        qop=qop,
        nc=nc_text,
        cnonce=cn,
    )
    fields = [
        f'username="{_quote(username)}"',
        f'realm="{_quote(challenge.realm)}"',
        f'nonce="{_quote(challenge.nonce)}"',
        f'uri="{_quote(uri)}"',
    ]
    if qop:
        fields += [f"qop={qop}", f"nc={nc_text}", f'cnonce="{_quote(cn)}"']
    fields.append(f"algorithm={challenge.algorithm}")
    if challenge.opaque is not None:
        fields.append(f'opaque="{_quote(challenge.opaque)}"')
    fields.append(f'response="{parts.response}"')
    return "Digest " + ", ".join(fields)


@dataclass(frozen=True)
class Credentials:
    """A client's `Authorization: Digest ...` as a server reads it."""

    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    qop: str | None = None
    nc: str | None = None
    cnonce: str | None = None
    opaque: str | None = None
    algorithm: str = "MD5"

    @classmethod
    def parse(cls, header: str) -> Credentials:
        p = parse_params(header)
        missing = [k for k in ("username", "realm", "nonce", "uri", "response") if k not in p]
        if missing:
            raise DigestError(f"Authorization lacks {', '.join(missing)}")
        qop = p.get("qop")
        if qop is not None:
            if qop != "auth":
                raise DigestError(f"qop {qop!r} is not auth")
            if not re.fullmatch(r"[0-9a-fA-F]{8}", p.get("nc", "")):
                raise DigestError(f"nc must be 8 hex digits, got {p.get('nc')!r}")
            if not p.get("cnonce"):
                raise DigestError("qop=auth needs a cnonce")
        return cls(
            username=p["username"],
            realm=p["realm"],
            nonce=p["nonce"],
            uri=p["uri"],
            response=p["response"],
            qop=qop,
            nc=p.get("nc"),
            cnonce=p.get("cnonce"),
            opaque=p.get("opaque"),
            algorithm=p.get("algorithm", "MD5"),
        )

    def verify(self, method: str, password: str) -> bool:
        expected = compute(
            method=method,
            uri=self.uri,
            username=self.username,
            password=password,
            realm=self.realm,
            nonce=self.nonce,
            qop=self.qop,
            nc=self.nc or "",
            cnonce=self.cnonce or "",
        ).response
        return hmac.compare_digest(expected, self.response.lower())


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')

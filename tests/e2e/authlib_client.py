"""Authlib's OAuth2Session with PrivateKeyJWT at its defaults (RS256, the
assertion's lifetime and audience as Authlib chooses them): a client
credentials token request against the worker, for
tests/e2e/private_key_jwt.test.mjs.

Usage: authlib_client.py <token endpoint> <client id> [name=value ...]
(extra token request parameters), the client's PEM private key on stdin.
Prints one JSON object: {"token": <token response>} or {"error": <code>},
and "assertion": the client_assertion Authlib sent.
"""

import json
import sys
from urllib.parse import parse_qs

from authlib.integrations.requests_client import OAuth2Session, OAuthError
from authlib.oauth2.rfc7523 import PrivateKeyJWT


def main() -> None:
    token_endpoint, client_id, *extra = sys.argv[1:]
    params = dict(pair.split("=", 1) for pair in extra)
    session = OAuth2Session(
        client_id,
        sys.stdin.read(),
        token_endpoint_auth_method=PrivateKeyJWT(),
    )
    sent = []
    session.hooks["response"].append(lambda response, *args, **kwargs: sent.append(response.request.body))
    result = {}
    try:
        result["token"] = dict(session.fetch_token(token_endpoint, grant_type="client_credentials", **params))
    except OAuthError as e:
        result["error"] = e.error
    body = sent[0] if sent else ""
    if isinstance(body, bytes):
        body = body.decode()
    result["assertion"] = parse_qs(body).get("client_assertion", [None])[0]
    print(json.dumps(result))


if __name__ == "__main__":
    main()

"""Authlib's OAuth2Session at its defaults (client_secret_basic) calling the
worker's revocation (RFC 7009) and introspection (RFC 7662) endpoints, for
tests/e2e/revocation.test.mjs.

Usage: authlib_revocation.py <issuer> <client id> <client secret>
<introspect|revoke> <token> [token_type_hint]
Prints one JSON object: {"status": <HTTP status>, "body": <JSON or null>}.
"""

import json
import sys

from authlib.integrations.requests_client import OAuth2Session


def main() -> None:
    issuer, client_id, client_secret, action, token, *hint = sys.argv[1:]
    session = OAuth2Session(client_id, client_secret)
    hint = hint[0] if hint else None
    if action == "introspect":
        response = session.introspect_token(f"{issuer}/oauth2/introspect", token=token, token_type_hint=hint)
    else:
        response = session.revoke_token(f"{issuer}/oauth2/revoke", token=token, token_type_hint=hint)
    body = response.json() if response.content else None
    print(json.dumps({"status": response.status_code, "body": body}))


if __name__ == "__main__":
    main()

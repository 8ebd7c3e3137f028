#!/usr/bin/env bash
# Print the curl lines that create a first client and fetch a token.
set -euo pipefail
port="$1"
key="$(sed -n "s/^ADMIN_API_KEY='\(.*\)'$/\1/p" .dev.vars)"
cat <<MSG

m2m-edge is starting on http://127.0.0.1:${port}

Create a client (the secret is shown once):

  curl -s http://127.0.0.1:${port}/admin/clients \\
    -H 'Authorization: Bearer ${key}' -H 'Content-Type: application/json' \\
    -d '{"name":"first-client","grants":[{"audience":"https://api.example.com","scopes":["read","write"]}]}'

Fetch a token with the client_id and client_secret it returned:

  curl -s http://127.0.0.1:${port}/oauth2/token -u "\$CLIENT_ID:\$CLIENT_SECRET" \\
    -d grant_type=client_credentials -d scope=read

Or with the command line (target/debug/m2m-edge):

  target/debug/m2m-edge login --url http://127.0.0.1:${port} --admin-key '${key}'
  target/debug/m2m-edge clients create --name first-client \\
    --audience https://api.example.com --scope read --save creds.json
  target/debug/m2m-edge token --credentials creds.json

Keys: http://127.0.0.1:${port}/.well-known/jwks.json
API description (OpenAPI 3.1): http://127.0.0.1:${port}/openapi.json
MSG

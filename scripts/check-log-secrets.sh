#!/usr/bin/env bash
# Checks the library's trace-level log of a test run (S3OS_LOG=trace, S3OS_LOG_FILE=FILE) for
# secrets: the keys, session tokens and proxy passwords the tests use, and anything only a
# signature, a session token or credentials would put in a line. Fails on the first hit, and
# also if the log is too short to have seen the tests (the check must be able to fail).
#
#   bash scripts/check-log-secrets.sh FILE
set -euo pipefail
log="${1:?usage: check-log-secrets.sh FILE}"
if [ ! -s "$log" ]; then
    echo "check-log-secrets: $log is missing or empty: was S3OS_LOG_FILE set for the tests?" >&2
    exit 1
fi

# Secrets the tests hand to s3os (tests/, bindings/*/tests): configured, environment and
# profile keys, minted temporary credentials, web identity and IMDS tokens, proxy passwords
# (as written, percent-encoded, and as the Basic credentials a proxy receives).
secrets=(
    s3os-test-secret-key-0123456789
    minted-secret- minted-session-token-
    imds-session-token-for-tests
    eyJ0ZXN0IjoidG9rZW4ifQ
    a-configured-session-token a-wrong-configured-secret default-profile-secret
    environment-secret-key not-the-right-secret-key not-the-secret moto-secret
    definitely-wrong-secret-4242 session-token-secret-4343 session-token-value-123123
    very-secret-value-0987654321 wrong-secret
    'pr0xy/p@ss:w0rd' 'pr0xy%2Fp%40ss%3Aw0rd' 'l0g-pr0xy-p@ssword' 'l0g-pr0xy-p%40ssword'
    wr0ng-pr0xy-secret dead-pr0xy-secret
    "$(printf 'proxy-user:pr0xy/p@ss:w0rd' | base64)"
    "$(printf 'log-proxy-user:l0g-pr0xy-p@ssword' | base64)"
)
# What signatures, tokens and credential headers look like in any request or URL.
giveaways=(
    'Signature=' 'X-Amz-Signature' 'X-Amz-Credential' 'x-amz-security-token'
    'Authorization:' 'authorization:' 'Proxy-Authorization' 'AWS4-HMAC-SHA256'
    'aws_secret_access_key=' 'aws_session_token=' 'SecretAccessKey'
)
found=0
for needle in "${secrets[@]}" "${giveaways[@]}"; do
    if grep -F -n -m 3 -- "$needle" "$log" >&2; then
        echo "check-log-secrets: \"$needle\" appears in the log (lines above)" >&2
        found=1
    fi
done
[ "$found" = 0 ] || exit 1

lines=$(wc -l <"$log")
processes=$(grep -o ' s3os\[[0-9]*\] ' "$log" | sort -u | wc -l)
for level in ERROR WARN INFO DEBUG TRACE; do
    printf '%s %s  ' "$level" "$(grep -c "\] $level " "$log" || true)"
done
echo
for expected in 'TRACE' 'credentials from' 'connected to' ' attempt 1: HTTP 200' 'retrying ' \
    'through a tunnel of the proxy' 'parts of'; do
    if ! grep -q -F -- "$expected" "$log"; then
        echo "check-log-secrets: no line with \"$expected\": the log does not cover the tests" >&2
        exit 1
    fi
done
if [ "$lines" -lt 2000 ] || [ "$processes" -lt 10 ]; then
    echo "check-log-secrets: only $lines lines from $processes processes: not a full test run" >&2
    exit 1
fi
echo "check-log-secrets: no secret in $lines trace-level lines from $processes processes"

# The one schemathesis invocation of run.sh and demo.sh (sourced by both): every check, the
# examples, coverage and fuzzing phases, signed in with TOKEN and the source key KEY, and the
# operations left out for the reasons run.sh lists.
#
# Usage: run_schemathesis SCHEMATHESIS URL TOKEN KEY EXAMPLES REQUEST_TIMEOUT REPORT_DIR
# SEED (default 1) picks the generated cases. One worker: with two, the coverage phase once
# failed inside CPython ("AST constructor recursion depth mismatch", source lines parsed from two
# threads at once), an error of the tool and not of the API.
run_schemathesis() {
  NO_COLOR=1 "$1" --config-file "$HERE/schemathesis.toml" run "$2/api/v1/openapi.json" \
    --checks all \
    --phases examples,coverage,fuzzing \
    --max-examples "$5" \
    --workers 1 \
    --seed "${SEED:-1}" \
    --suppress-health-check all \
    --request-timeout "$6" \
    --exclude-path /api/v1/admin/clock \
    --exclude-path /api/v1/admin/sweep \
    --exclude-path /api/v1/auth/login \
    --exclude-path /api/v1/auth/logout \
    --exclude-path /api/v1/auth/password \
    --exclude-path /api/v1/live \
    --exclude-name 'POST /api/v1/admin/plugins' \
    -H "Authorization: Bearer $3" \
    -H "X-Api-Key: $4" \
    --report junit --report-dir "$7"
}

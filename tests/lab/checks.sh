#!/bin/bash
# Check bookkeeping for the guest test scripts (source it): `ok NAME`,
# `bad NAME WHY`, and `summary [PREFIX]`, which prints "N passed, N failed"
# and fails if anything did.
passed=0 failed=0
ok() { echo "ok $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1: $2"; failed=$((failed + 1)); }
summary() { echo "${1:+$1: }$passed passed, $failed failed"; [ "$failed" = 0 ]; }

#!/usr/bin/env bash
# The browser tests drive Debian's Chromium (never a browser Playwright downloads). Install it
# when missing; under CI=true a Chromium that cannot be installed is a failure.
set -u
if [ -x /usr/bin/chromium ]; then exit 0; fi
echo "installing Debian's chromium" >&2
if command -v apt-get >/dev/null 2>&1; then
  (apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 &&
    apt-get install -y -q chromium >/dev/null 2>&1; }) || true
fi
if [ ! -x /usr/bin/chromium ]; then
  echo "Chromium is not installed at /usr/bin/chromium (apt-get install chromium)" >&2
  [ "${CI:-}" = "true" ] && exit 1
fi
exit 0

// Package webtest tests envmon's public page (api/web) in a real browser:
// Debian's chromium, driven headless by chromedp, against envmon's HTTP
// handler with the public resources of package public. It has only tests.
//
// The tests are skipped under -short. Without -short a missing chromium
// fails them: `make test` installs it (the tools target). Screenshots are
// written to $ENVMON_ARTIFACTS/webtest when that is set, else to a
// directory under the test's temporary directory; the test logs where.
package webtest

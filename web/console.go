package web

import (
	"embed"
	"net/http"
)

//go:embed console
var consoleFiles embed.FS

// ConsolePrefix is where Console expects to be mounted.
const ConsolePrefix = "/console/"

// ConsoleContentSecurityPolicy is sent with every file of the console:
// nothing but this origin, no inline script or style, no framing.
const ConsoleContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Console serves the operations console (web/console) at /console/ (GET and
// HEAD only; mount it on "/console/" and "/console"): plain HTML, CSS and
// JavaScript modules with their vendored libraries, no build step, no CDN.
// Like Scanner it needs no authentication (a static shell; the console
// calls /v1/... with the token signed in) and sends no-cache, a
// Content-Security-Policy without inline script, nosniff and no-referrer.
// Safe for concurrent use.
func Console() http.Handler {
	return serveApp(consoleFiles, "console", "console", ConsolePrefix, ConsoleContentSecurityPolicy, true)
}

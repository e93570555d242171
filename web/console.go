package web

import (
	"bytes"
	"embed"
	"net/http"
	"strings"
	"time"
)

//go:embed console
var consoleFiles embed.FS

// ConsolePrefix is where Console expects to be mounted.
const ConsolePrefix = "/console/"

// ConsoleContentSecurityPolicy is sent with every file of the console:
// nothing but this origin, no inline script or style, no framing.
const ConsoleContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// consoleApp serves the console's files.
type consoleApp struct{ *app }

// Console serves the operations console (web/console) at /console/ (GET and
// HEAD only; mount it on "/console/" and "/console"): plain HTML, CSS and
// JavaScript modules with their vendored libraries, no build step, no CDN.
// Like Scanner it needs no authentication (a static shell; the console
// calls /v1/... with the token signed in) and sends no-cache, a
// Content-Security-Policy without inline script, nosniff and no-referrer.
// Safe for concurrent use.
func Console() http.Handler {
	a, err := loadApp(consoleFiles, "console")
	if err != nil {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "console unavailable: "+err.Error(), http.StatusInternalServerError)
		})
	}
	return consoleApp{a}
}

// ServeHTTP implements http.Handler.
func (a consoleApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", ConsoleContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-cache")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if r.URL.Path == strings.TrimSuffix(ConsolePrefix, "/") {
		http.Redirect(w, r, ConsolePrefix, http.StatusMovedPermanently)
		return
	}
	rel, ok := strings.CutPrefix(r.URL.Path, ConsolePrefix)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if rel == "" {
		rel = "index.html"
	}
	f, ok := a.files[rel]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h.Set("Content-Type", f.contentType)
	h.Set("ETag", f.etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
}

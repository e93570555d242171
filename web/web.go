// Package web holds invsync's browser front ends, embedded in the binary.
//
// Scanner serves the offline-first scanner web app (web/scanner) under
// /scanner/: plain HTML, CSS and JavaScript modules committed as they are
// served, with no build step, no CDN and no external fonts. Its service
// worker caches the app shell on first load, so the app opens and keeps
// queueing scans with the network gone.
package web

import (
	"bytes"
	"embed"
	"io/fs"
	"net/http"
	"strings"
	"time"
)

//go:embed scanner
var scannerFiles embed.FS

// Prefix is where Scanner expects to be mounted.
const Prefix = "/scanner/"

// ContentSecurityPolicy is sent with every file of the app: nothing but
// this origin, no inline script or style, no framing.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; manifest-src 'self'; worker-src 'self'; font-src 'self'; object-src 'none'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Scanner serves the scanner web app at /scanner/ (GET and HEAD only; mount
// it on "/scanner/" and "/scanner"). Every answer carries Cache-Control:
// no-cache (revalidated with its ETag on every load, so an update is
// picked up at once), a Content-Security-Policy with no external origins,
// X-Content-Type-Options: nosniff and Referrer-Policy: no-referrer. It needs
// no authentication: it is a static shell; the app calls /v1/... with the
// device's token. Safe for concurrent use.
func Scanner() http.Handler {
	return serveApp(scannerFiles, "scanner", "scanner app", Prefix, ContentSecurityPolicy, false)
}

// serveApp is the app under root in fsys, mounted at prefix, sent with csp
// (and X-Frame-Options: DENY with denyFraming). If its files do not load,
// every request is answered 500 "<what> unavailable": the files are
// compiled in, so this is a broken build (the package's tests catch it).
func serveApp(fsys fs.FS, root, what, prefix, csp string, denyFraming bool) http.Handler {
	a, err := loadApp(fsys, root)
	if err != nil {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, what+" unavailable: "+err.Error(), http.StatusInternalServerError)
		})
	}
	a.prefix, a.csp, a.denyFraming = prefix, csp, denyFraming
	return a
}

// ServeHTTP implements http.Handler: the app's files under its prefix,
// GET and HEAD only, with its security headers on every answer.
func (a *app) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", a.csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	if a.denyFraming {
		h.Set("X-Frame-Options", "DENY")
	}
	h.Set("Cache-Control", "no-cache")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if r.URL.Path == strings.TrimSuffix(a.prefix, "/") {
		target := a.prefix
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, target, http.StatusMovedPermanently)
		return
	}
	rel, ok := strings.CutPrefix(r.URL.Path, a.prefix)
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
	if rel == "sw.js" {
		// A service worker controls everything under the app's prefix.
		h.Set("Service-Worker-Allowed", a.prefix)
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
}

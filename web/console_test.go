package web

import (
	"io/fs"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

func TestConsoleServesEachFileWithItsTypeAndHeaders(t *testing.T) {
	h := Console()
	files := map[string]string{
		"/console/":                                    "text/html; charset=utf-8",
		"/console/js/main.js":                          "text/javascript; charset=utf-8",
		"/console/console.css":                         "text/css; charset=utf-8",
		"/console/vendor/uplot/uPlot.esm.js":           "text/javascript; charset=utf-8",
		"/console/vendor/uplot/uPlot.min.css":          "text/css; charset=utf-8",
		"/console/vendor/uplot/LICENSE.txt":            "text/plain; charset=utf-8",
		"/console/vendor/qrcode-generator/qrcode.js":   "text/javascript; charset=utf-8",
		"/console/vendor/qrcode-generator/LICENSE.txt": "text/plain; charset=utf-8",
	}
	checkServed(t, h, files, ConsoleContentSecurityPolicy)
	checkStatuses(t, h, []statusCase{
		{http.MethodGet, "/console", http.StatusMovedPermanently},
		{http.MethodGet, "/console/nope.js", http.StatusNotFound},
		{http.MethodPost, "/console/", http.StatusMethodNotAllowed},
		{http.MethodGet, "/scanner/index.html", http.StatusNotFound},
	}, nil)
	if !strings.Contains(ConsoleContentSecurityPolicy, "script-src 'self';") || strings.Contains(ConsoleContentSecurityPolicy, "unsafe") {
		t.Errorf("CSP %q allows more than this origin's scripts", ConsoleContentSecurityPolicy)
	}
}

// TestConsoleHasNoInlineScriptOrMarkupInjection: the CSP forbids inline
// script, and every value is put in as text: no inline handlers or
// scripts in the page, and no innerHTML, outerHTML, insertAdjacentHTML,
// document.write or eval in the console's own modules.
func TestConsoleHasNoInlineScriptOrMarkupInjection(t *testing.T) {
	html, err := fs.ReadFile(consoleFiles, "console/index.html")
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]|\son[a-z]+=|\sstyle=|javascript:`).Find(html); m != nil {
		t.Errorf("index.html has inline script or style: %q", m)
	}
	mods, _ := fs.Glob(consoleFiles, "console/js/*.js")
	if len(mods) < 9 {
		t.Fatalf("%d modules", len(mods))
	}
	bad := regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function`)
	for _, m := range mods {
		src, _ := fs.ReadFile(consoleFiles, m)
		if loc := bad.Find(src); loc != nil {
			t.Errorf("%s uses %s", m, loc)
		}
		if strings.Contains(string(src), "localStorage") {
			t.Errorf("%s uses localStorage: the token is kept for the tab only", m)
		}
	}
}

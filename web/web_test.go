package web

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"testing"
	"testing/fstest"
)

func get(t *testing.T, h http.Handler, method, path string, hdr map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

// statusCase is a request and the status it must be answered with.
type statusCase struct {
	method, path string
	status       int
}

// checkStatuses sends each case to h and reports a wrong status; each,
// when not nil, checks more of every answer.
func checkStatuses(t *testing.T, h http.Handler, cases []statusCase, each func(statusCase, *http.Response)) {
	t.Helper()
	for _, tc := range cases {
		res := get(t, h, tc.method, tc.path, nil)
		if res.StatusCode != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, res.StatusCode, tc.status)
		}
		if each != nil {
			each(tc, res)
		}
	}
}

func TestScannerServesEachFileWithItsTypeAndHeaders(t *testing.T) {
	h := Scanner()
	files := map[string]string{
		"/scanner/":                          "text/html; charset=utf-8",
		"/scanner/index.html":                "text/html; charset=utf-8",
		"/scanner/js/main.js":                "text/javascript; charset=utf-8",
		"/scanner/app.css":                   "text/css; charset=utf-8",
		"/scanner/manifest.webmanifest":      "application/manifest+json",
		"/scanner/icons/icon.svg":            "image/svg+xml",
		"/scanner/icons/icon-192.png":        "image/png",
		"/scanner/sw.js":                     "text/javascript; charset=utf-8",
		"/scanner/?token-free-query=1":       "text/html; charset=utf-8",
		"/scanner/icons/icon-maskable.svg":   "image/svg+xml",
		"/scanner/js/sync.js?v=cache-buster": "text/javascript; charset=utf-8",
		"/scanner/icons/icon-512.png":        "image/png",
	}
	checkServed(t, h, files, ContentSecurityPolicy)
}

// checkServed gets each of files (path -> Content-Type) from h and checks
// it is served whole, with its type, an ETag and the app's headers.
func checkServed(t *testing.T, h http.Handler, files map[string]string, csp string) {
	t.Helper()
	for path, ct := range files {
		res := get(t, h, http.MethodGet, path, nil)
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK || len(body) == 0 {
			t.Errorf("GET %s: %d with %d bytes", path, res.StatusCode, len(body))
			continue
		}
		if got := res.Header.Get("Content-Type"); got != ct {
			t.Errorf("GET %s: Content-Type %q, want %q", path, got, ct)
		}
		for k, want := range map[string]string{
			"Cache-Control":           "no-cache",
			"X-Content-Type-Options":  "nosniff",
			"Content-Security-Policy": csp,
			"Referrer-Policy":         "no-referrer",
		} {
			if got := res.Header.Get(k); got != want {
				t.Errorf("GET %s: %s %q, want %q", path, k, got, want)
			}
		}
		if res.Header.Get("ETag") == "" {
			t.Errorf("GET %s: no ETag", path)
		}
	}
}

func TestScannerCSPAllowsNoOtherOrigin(t *testing.T) {
	for _, directive := range strings.Split(ContentSecurityPolicy, ";") {
		f := strings.Fields(directive)
		if len(f) < 2 {
			t.Fatalf("malformed directive %q", directive)
		}
		for _, src := range f[1:] {
			if src != "'self'" && src != "'none'" {
				t.Errorf("directive %q allows %s", directive, src)
			}
		}
	}
	if !strings.Contains(ContentSecurityPolicy, "script-src 'self'") || strings.Contains(ContentSecurityPolicy, "unsafe") {
		t.Errorf("CSP %q must allow scripts from this origin only", ContentSecurityPolicy)
	}
}

func TestScannerAppReferencesNoExternalOriginOrInlineCode(t *testing.T) {
	external := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
	err := fs.WalkDir(scannerFiles, "scanner", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".png") {
			return err
		}
		b, _ := fs.ReadFile(scannerFiles, p)
		s := string(b)
		if strings.HasSuffix(p, ".svg") {
			// The SVG namespace is a name, not a fetch.
			s = strings.ReplaceAll(s, `xmlns="http://www.w3.org/2000/svg"`, "")
		}
		if m := external.FindString(s); m != "" {
			t.Errorf("%s references %q: the app must load nothing from another origin", p, m)
		}
		if strings.HasSuffix(p, ".html") {
			if regexp.MustCompile(`<script(?:[^>]*)>\s*[^<\s]`).MatchString(s) || strings.Contains(s, "<style") || regexp.MustCompile(`\son[a-z]+=`).MatchString(s) || strings.Contains(s, "style=") {
				t.Errorf("%s has inline script, style or event handlers, which the CSP forbids", p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestScannerRevalidatesWithETag(t *testing.T) {
	h := Scanner()
	first := get(t, h, http.MethodGet, "/scanner/js/main.js", nil)
	etag := first.Header.Get("ETag")
	again := get(t, h, http.MethodGet, "/scanner/js/main.js", map[string]string{"If-None-Match": etag})
	if again.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match %s: %d, want 304", etag, again.StatusCode)
	}
	other := get(t, h, http.MethodGet, "/scanner/js/main.js", map[string]string{"If-None-Match": `"something-else"`})
	if other.StatusCode != http.StatusOK {
		t.Fatalf("a stale ETag: %d, want 200", other.StatusCode)
	}
}

func TestScannerRefusesWhatIsNotTheApp(t *testing.T) {
	h := Scanner()
	checkStatuses(t, h, []statusCase{
		{http.MethodGet, "/scanner/nope.js", http.StatusNotFound},
		{http.MethodGet, "/scanner/../web.go", http.StatusNotFound},
		{http.MethodGet, "/scanner/js/", http.StatusNotFound},
		{http.MethodGet, "/v1/catalog", http.StatusNotFound},
		{http.MethodPost, "/scanner/", http.StatusMethodNotAllowed},
		{http.MethodDelete, "/scanner/sw.js", http.StatusMethodNotAllowed},
		{http.MethodHead, "/scanner/app.css", http.StatusOK},
		{http.MethodGet, "/scanner", http.StatusMovedPermanently},
	}, func(tc statusCase, res *http.Response) {
		if res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s %s: no nosniff", tc.method, tc.path)
		}
	})
	if loc := get(t, h, http.MethodGet, "/scanner", nil).Header.Get("Location"); loc != "/scanner/" {
		t.Errorf("/scanner redirects to %q", loc)
	}
}

func TestServiceWorkerCarriesTheBuildAndCachesEveryFile(t *testing.T) {
	res := get(t, Scanner(), http.MethodGet, "/scanner/sw.js", nil)
	b, _ := io.ReadAll(res.Body)
	sw := string(b)
	if strings.Contains(sw, buildMarker) {
		t.Fatal("sw.js is served with its build marker unreplaced")
	}
	if !regexp.MustCompile(`const BUILD = "[0-9a-f]{16}";`).MatchString(sw) {
		t.Fatalf("sw.js has no build id: %.200s", sw)
	}
	if res.Header.Get("Service-Worker-Allowed") != "/scanner/" {
		t.Errorf("Service-Worker-Allowed %q", res.Header.Get("Service-Worker-Allowed"))
	}
	// The SHELL list must be exactly the embedded files but the worker.
	m := regexp.MustCompile(`(?s)const SHELL = \[(.*?)\];`).FindStringSubmatch(sw)
	if m == nil {
		t.Fatal("sw.js has no SHELL list")
	}
	var listed []string
	for _, q := range regexp.MustCompile(`"([^"]+)"`).FindAllStringSubmatch(m[1], -1) {
		if q[1] != "./" {
			listed = append(listed, q[1])
		}
	}
	var files []string
	fs.WalkDir(scannerFiles, "scanner", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && p != "scanner/sw.js" {
			files = append(files, strings.TrimPrefix(p, "scanner/"))
		}
		return err
	})
	sort.Strings(listed)
	sort.Strings(files)
	if strings.Join(listed, "\n") != strings.Join(files, "\n") {
		t.Fatalf("sw.js SHELL lists\n%s\nbut the app's files are\n%s", strings.Join(listed, "\n"), strings.Join(files, "\n"))
	}
}

func TestBuildIDChangesWithAnyFile(t *testing.T) {
	base := fstest.MapFS{
		"app/index.html": {Data: []byte("<!doctype html>")},
		"app/sw.js":      {Data: []byte(`const BUILD = "` + buildMarker + `";`)},
		"app/a.js":       {Data: []byte("export const a = 1;")},
	}
	a1, err := loadApp(base, "app")
	if err != nil {
		t.Fatal(err)
	}
	base["app/a.js"] = &fstest.MapFile{Data: []byte("export const a = 2;")}
	a2, err := loadApp(base, "app")
	if err != nil {
		t.Fatal(err)
	}
	if a1.build == a2.build {
		t.Fatal("changing a.js did not change the build id")
	}
	if string(a1.files["sw.js"].body) == string(a2.files["sw.js"].body) {
		t.Fatal("changing a.js did not change sw.js, so browsers would keep the old app")
	}
	base["app/x.exe"] = &fstest.MapFile{Data: []byte("?")}
	if _, err := loadApp(base, "app"); err == nil {
		t.Fatal("a file with no known content type was accepted")
	}
}

package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// buildMarker in sw.js is replaced by the app's build id when served: any
// change to any file changes sw.js, so browsers install the new version
// and refresh their cache.
const buildMarker = "__INVSYNC_BUILD__"

// contentTypes are set explicitly, not sniffed from the system's MIME
// table, which lacks .webmanifest on many hosts.
var contentTypes = map[string]string{
	".html":        "text/html; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".webmanifest": "application/manifest+json",
	".json":        "application/json",
	".svg":         "image/svg+xml",
	".png":         "image/png",
	".txt":         "text/plain; charset=utf-8",
}

// asset is one file, ready to serve.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// app is the scanner app's files keyed by their path under /scanner/
// ("index.html", "js/main.js"), and its build id.
type app struct {
	files map[string]asset
	build string
	// prefix is where the app is mounted ("/scanner/", "/console/"); csp
	// its Content-Security-Policy; denyFraming adds X-Frame-Options: DENY.
	prefix      string
	csp         string
	denyFraming bool
}

// loadApp reads every file under root, computes the build id (a hash of
// all of them) and stamps it into sw.js.
func loadApp(fsys fs.FS, root string) (*app, error) {
	a := &app{files: map[string]asset{}}
	var names []string
	err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		names = append(names, p)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walking %s: %w", root, err)
	}
	sort.Strings(names)
	bodies := map[string][]byte{}
	h := sha256.New()
	for _, p := range names {
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", p, err)
		}
		rel := strings.TrimPrefix(p, root+"/")
		bodies[rel] = b
		fmt.Fprintf(h, "%s\x00%d\x00", rel, len(b))
		h.Write(b)
	}
	a.build = hex.EncodeToString(h.Sum(nil))[:16]
	for rel, b := range bodies {
		ct, ok := contentTypes[path.Ext(rel)]
		if !ok {
			return nil, fmt.Errorf("no content type for %s: add its extension to contentTypes", rel)
		}
		if rel == "sw.js" {
			if !bytes.Contains(b, []byte(buildMarker)) {
				return nil, fmt.Errorf("sw.js lacks the build marker %s", buildMarker)
			}
			b = bytes.ReplaceAll(b, []byte(buildMarker), []byte(a.build))
		}
		sum := sha256.Sum256(b)
		a.files[rel] = asset{body: b, contentType: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
	}
	if _, ok := a.files["index.html"]; !ok {
		return nil, fmt.Errorf("%s/index.html is missing", root)
	}
	return a, nil
}

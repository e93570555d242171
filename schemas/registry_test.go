package schemas

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"
)

// fakeRegistry implements what sr v1.8.0's CreateSchema calls:
// POST /subjects/{subject}/versions, then GET /schemas/ids/{id}/versions and
// GET /subjects/{subject}/versions/{version} to fill in the SubjectSchema.
type fakeRegistry struct {
	mu       sync.Mutex
	nextID   int
	ids      map[string]int      // schema text -> id
	subjects map[string][]string // subject -> schema text per version (1-based)
	reject   map[string]int      // subject -> HTTP status to answer POST with
	requests map[string]int      // "METHOD pattern" -> count
}

func newFakeRegistry() *fakeRegistry {
	return &fakeRegistry{nextID: 100, ids: map[string]int{}, subjects: map[string][]string{}, reject: map[string]int{}, requests: map[string]int{}}
}

func (f *fakeRegistry) handler() http.Handler {
	reply := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	notFound := func(w http.ResponseWriter, what string) {
		reply(w, http.StatusNotFound, map[string]any{"error_code": 40401, "message": what + " not found"})
	}
	count := func(pattern string, h http.HandlerFunc) (string, http.HandlerFunc) {
		return pattern, func(w http.ResponseWriter, r *http.Request) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.requests[pattern]++
			h(w, r)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc(count("POST /subjects/{subject}/versions", func(w http.ResponseWriter, r *http.Request) {
		subject := r.PathValue("subject")
		if status := f.reject[subject]; status != 0 {
			reply(w, status, map[string]any{"error_code": status * 100, "message": "Schema being registered is incompatible with an earlier schema"})
			return
		}
		var body sr.Schema
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Schema == "" {
			reply(w, http.StatusUnprocessableEntity, map[string]any{"error_code": 42201, "message": "invalid schema"})
			return
		}
		id, ok := f.ids[body.Schema]
		if !ok {
			id = f.nextID
			f.nextID++
			f.ids[body.Schema] = id
		}
		found := false
		for _, s := range f.subjects[subject] {
			found = found || s == body.Schema
		}
		if !found {
			f.subjects[subject] = append(f.subjects[subject], body.Schema)
		}
		reply(w, http.StatusOK, map[string]int{"id": id})
	}))
	mux.HandleFunc(count("GET /schemas/ids/{id}/versions", func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.Atoi(r.PathValue("id"))
		type sv struct {
			Subject string `json:"subject"`
			Version int    `json:"version"`
		}
		var out []sv
		for subject, versions := range f.subjects {
			for i, s := range versions {
				if f.ids[s] == id {
					out = append(out, sv{subject, i + 1})
				}
			}
		}
		if out == nil {
			notFound(w, "schema")
			return
		}
		reply(w, http.StatusOK, out)
	}))
	mux.HandleFunc(count("GET /subjects/{subject}/versions/{version}", func(w http.ResponseWriter, r *http.Request) {
		versions := f.subjects[r.PathValue("subject")]
		v, err := strconv.Atoi(r.PathValue("version"))
		if r.PathValue("version") == "latest" {
			v, err = len(versions), nil
		}
		if err != nil || v < 1 || v > len(versions) {
			notFound(w, "version")
			return
		}
		s := versions[v-1]
		reply(w, http.StatusOK, map[string]any{"subject": r.PathValue("subject"), "version": v, "id": f.ids[s], "schema": s})
	}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { notFound(w, r.Method+" "+r.URL.Path) })
	return mux
}

func TestRegistry(t *testing.T) {
	fake := newFakeRegistry()
	// An earlier schema already holds version 1 of the events subject.
	fake.subjects["invsync.inventory-events-value"] = []string{`{"type":"string"}`}
	fake.ids[`{"type":"string"}`] = 1
	srv := httptest.NewServer(fake.handler())
	defer srv.Close()

	ctx := context.Background()
	s, err := New(ctx, Config{RegistryURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if fake.requests["POST /subjects/{subject}/versions"] != int(numKinds) {
		t.Errorf("requests: %v", fake.requests)
	}
	for i, sc := range s.Schemas() {
		wantVersion := 1
		if sc.Name == "inventory_event" {
			wantVersion = 2
		}
		if sc.ID != 100+i || sc.Version != wantVersion {
			t.Errorf("%s: id %d version %d, want %d %d", sc.Name, sc.ID, sc.Version, 100+i, wantVersion)
		}
		if got := fake.subjects[sc.Subject][sc.Version-1]; got != sc.Text {
			t.Errorf("%s: registered %.40q", sc.Name, got)
		}
		if text, ok := s.SchemaByID(sc.ID); !ok || text != sc.Text {
			t.Errorf("SchemaByID(%d) not found", sc.ID)
		}
	}
	if _, ok := s.SchemaByID(1); ok {
		t.Error("local id 1 known in registry mode")
	}
	if info, ok := s.SubjectVersion("invsync.inventory-events-value", "2"); !ok || info.ID != 101 {
		t.Errorf("SubjectVersion 2 = %+v, %v", info, ok)
	}
	if _, ok := s.SubjectVersion("invsync.inventory-events-value", "1"); ok {
		t.Error("version 1 (not ours) found")
	}

	// Registering again is idempotent: same ids.
	again, err := New(ctx, Config{RegistryURL: srv.URL})
	if err != nil || again.Schemas()[0].ID != 100 {
		t.Fatalf("second New: %v", err)
	}

	// The registry's ids are the ones on the wire.
	ev := sampleInventoryEvent()
	b := mustAppend(t, s.AppendInventoryEvent, &ev)
	if b[4] != 101 {
		t.Errorf("header % x, want id 101", b[:5])
	}
	checkGoavro(t, s, b, ev.native())
	if _, err := newSet(t).DecodeInventoryEvent(b); !errors.Is(err, ErrUnknownSchemaID) {
		t.Errorf("local Set decoding a registry id: %v", err)
	}
}

func TestRegistryErrors(t *testing.T) {
	fake := newFakeRegistry()
	fake.reject["x.catalog-value"] = http.StatusConflict
	srv := httptest.NewServer(fake.handler())
	defer srv.Close()

	_, err := New(context.Background(), Config{TopicPrefix: "x.", RegistryURL: srv.URL})
	var re *sr.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusConflict ||
		!strings.Contains(err.Error(), `subject "x.catalog-value"`) || !strings.Contains(err.Error(), "compatibility") {
		t.Errorf("conflict: %v", err)
	}

	_, err = New(context.Background(), Config{RegistryURL: srv.URL + "/wrong/path"})
	if !errors.As(err, &re) || re.StatusCode != http.StatusNotFound || !strings.Contains(err.Error(), "check the registry URL") {
		t.Errorf("bad path: %v", err)
	}

	srv.Close()
	if _, err = New(context.Background(), Config{RegistryURL: srv.URL}); err == nil || !strings.Contains(err.Error(), "reachable") {
		t.Errorf("closed server: %v", err)
	}
}

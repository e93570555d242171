// Package schemas holds invsync's Avro schemas (the embedded .avsc files), the
// typed Go records they describe, and their encoding in the Confluent wire
// format: a zero magic byte, the schema id as a 4-byte big-endian integer, then
// the Avro binary encoding of the record.
//
// A [Set] assigns each schema its id, either locally (1..13 in the fixed order
// transaction, inventory_event, catalog_entry, allocation_request,
// allocation_decision, position_snapshot, lock, token, command, discrepancy,
// count_task, cloud_positions, scanner_status; version 1 each) or by registering it with a
// Confluent-compatible schema registry, and answers the read-only lookups a
// registry client needs so invsync can serve them itself. The topic each
// schema's values are written to, and how every topic is created, is the
// topic table ([TopicTable]).
//
// Each record type T has a pair of methods on Set, AppendT and DecodeT.
//
// The Append contract: AppendT validates the record, returning an error
// wrapping ErrInvalid for a nil record, an enum field that is not one of its
// symbols, or a string that is not UTF-8; then it appends the record's
// wire-format encoding to dst and returns the extended slice, like
// strconv.AppendInt. On error it returns dst unextended.
//
// The Decode contract: DecodeT checks the 5-byte header (errors wrapping
// ErrNotWireFormat, ErrUnknownSchemaID or ErrWrongSchema), then decodes the
// whole payload (ErrMalformed, also for bytes left after the record;
// ErrInvalid for a string that is not UTF-8). It never panics, allocates at
// most a small multiple of len(b), and the result never aliases b. Whatever
// DecodeT accepts, AppendT accepts.
//
// Decoders are written by hand against the schemas rather than going through
// goavro: goavro preallocates an array by the block count read from its
// input, so six hostile bytes make it allocate 32 GiB and kill the process.
// Tests hold the hand-written decoders to goavro's results, value for value,
// and the fuzz targets check that both accept and reject the same payloads.
// InventoryEvent, on the hot path, is also encoded by hand (byte-for-byte
// goavro's encoding, tested); the other records are encoded with goavro.
package schemas

import (
	"bytes"
	"context"
	"embed"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"

	"github.com/linkedin/goavro/v2"
	"github.com/twmb/franz-go/pkg/sr"
)

//go:embed *.avsc
var files embed.FS

// Errors returned, wrapped, by the Decode and Append methods. Every Decode
// error is permanent: the same bytes never decode on a retry, so the record
// belongs in a dead-letter topic.
var (
	// ErrNotWireFormat: the value is shorter than the 5-byte header or does
	// not start with the magic byte 0.
	ErrNotWireFormat = errors.New("not in Confluent wire format")
	// ErrUnknownSchemaID: the header names a schema id this Set does not know
	// (for example one registered by another producer or another version).
	ErrUnknownSchemaID = errors.New("unknown schema id")
	// ErrWrongSchema: the header names a known schema, but not the one of the
	// record type asked for.
	ErrWrongSchema = errors.New("schema id is for another record type")
	// ErrMalformed: the Avro payload does not decode against the schema
	// (truncated, bad length, enum or union index out of range, non-0/1
	// boolean, trailing bytes).
	ErrMalformed = errors.New("malformed Avro payload")
	// ErrInvalid: a value breaks a rule the schema implies but Avro does not
	// enforce: an enum field that is not one of the symbols, or a string that
	// is not valid UTF-8. Returned by Append before anything is written, and by
	// Decode.
	ErrInvalid = errors.New("invalid value")
)

// DefaultTopicPrefix is the topic prefix used when Config.TopicPrefix is empty.
const DefaultTopicPrefix = "invsync."

// kind indexes the schemas; its order is the local id order and must never change.
type kind int

const (
	kindTransaction kind = iota
	kindInventoryEvent
	kindCatalogEntry
	kindAllocationRequest
	kindAllocationDecision
	kindPositionSnapshot
	kindLock
	kindToken
	kindCommand
	kindDiscrepancy
	kindCountTask
	kindCloudPositions
	kindScannerStatus
	numKinds
)

// defs are the schemas by kind: the .avsc file name and the Avro record
// name. The topic of each is the topic table's row with its name.
var defs = [numKinds]struct{ name, record string }{
	{"transaction", "Transaction"},
	{"inventory_event", "InventoryEvent"},
	{"catalog_entry", "CatalogEntry"},
	{"allocation_request", "AllocationRequest"},
	{"allocation_decision", "AllocationDecision"},
	{"position_snapshot", "PositionSnapshot"},
	{"lock", "Lock"},
	{"token", "Token"},
	{"command", "Command"},
	{"discrepancy", "Discrepancy"},
	{"count_task", "CountTask"},
	{"cloud_positions", "CloudPositionsReport"},
	{"scanner_status", "ScannerStatus"},
}

// namespace is the Avro namespace of every record.
const namespace = "io.invsync.v1"

// Schema describes one schema as a Set knows it.
type Schema struct {
	Name        string // short name, also the file name without ".avsc": "transaction"
	FullName    string // Avro full name: "io.invsync.v1.Transaction"
	TopicSuffix string // one of the Topic… constants
	Topic       string // prefix + TopicSuffix
	Subject     string // TopicNameStrategy: Topic + "-value"
	ID          int    // schema id written in the wire-format header
	Version     int    // version of Subject that holds the schema
	Text        string // the schema, compacted JSON of the .avsc file (docs and defaults kept)
}

// SubjectVersionInfo is one version of a subject, shaped (with its JSON tags)
// like the registry's answer to GET /subjects/{subject}/versions/{version}.
type SubjectVersionInfo struct {
	Subject string `json:"subject"`
	Version int    `json:"version"`
	ID      int    `json:"id"`
	Schema  string `json:"schema"`
}

// Config configures New.
type Config struct {
	// TopicPrefix is prepended to every topic name; empty means
	// DefaultTopicPrefix.
	TopicPrefix string
	// RegistryURL is the base URL of a Confluent-compatible schema registry.
	// Empty means ids are assigned locally (1..12, version 1 each) and invsync
	// serves the lookups itself.
	RegistryURL string
	// RegistryOpts are passed to sr.NewClient after sr.URLs(RegistryURL), so
	// they may add authentication, TLS or an HTTP client. Ignored without a
	// RegistryURL.
	RegistryOpts []sr.ClientOpt
}

// Set is the schemas with their ids, and their encoders and decoders.
// It is immutable once New returns and safe for concurrent use.
type Set struct {
	topics   Topics
	schemas  [numKinds]Schema
	codecs   [numKinds]*goavro.Codec
	headers  [numKinds][5]byte
	ids      [numKinds]uint32
	byID     map[uint32]kind
	subjects []string // sorted
}

// New parses the embedded schemas and assigns their ids: locally when
// cfg.RegistryURL is empty, otherwise by registering each schema under its
// subject (sr CreateSchema, which returns the existing id when the schema is
// already registered). ctx bounds the registry calls; New does no I/O without
// a registry.
func New(ctx context.Context, cfg Config) (*Set, error) {
	prefix := cfg.TopicPrefix
	if prefix == "" {
		prefix = DefaultTopicPrefix
	}
	s := &Set{topics: NewTopics(prefix), byID: make(map[uint32]kind, numKinds)}

	var cl *sr.Client
	if cfg.RegistryURL != "" {
		var err error
		cl, err = sr.NewClient(append([]sr.ClientOpt{sr.URLs(cfg.RegistryURL)}, cfg.RegistryOpts...)...)
		if err != nil {
			return nil, fmt.Errorf("creating schema registry client for %q (check the URL and RegistryOpts): %w", cfg.RegistryURL, err)
		}
	}

	for k := range numKinds {
		d := defs[k]
		raw, err := files.ReadFile(d.name + ".avsc")
		if err != nil {
			return nil, fmt.Errorf("reading schema %s: %w", d.name, err)
		}
		var text bytes.Buffer
		if err := json.Compact(&text, raw); err != nil {
			return nil, fmt.Errorf("compacting schema %s: %w", d.name, err)
		}
		codec, err := goavro.NewCodec(text.String())
		if err != nil {
			return nil, fmt.Errorf("parsing schema %s: %w", d.name, err)
		}
		suffix := topicOfSchema(d.name)
		if suffix == "" {
			return nil, fmt.Errorf("schema %s has no topic in the topic table", d.name)
		}
		topic := prefix + suffix
		sc := Schema{
			Name:        d.name,
			FullName:    namespace + "." + d.record,
			TopicSuffix: suffix,
			Topic:       topic,
			Subject:     topic + "-value",
			ID:          int(k) + 1,
			Version:     1,
			Text:        text.String(),
		}
		if cl != nil {
			ss, err := cl.CreateSchema(ctx, sc.Subject, sr.Schema{Schema: sc.Text, Type: sr.TypeAvro})
			if err != nil {
				return nil, fmt.Errorf("registering schema %s under subject %q at %s (%s): %w", d.name, sc.Subject, cfg.RegistryURL, registryHint(err), err)
			}
			sc.ID, sc.Version = ss.ID, ss.Version
		}
		if sc.ID <= 0 || sc.ID > math.MaxInt32 {
			return nil, fmt.Errorf("registering schema %s under subject %q: registry returned id %d, outside 1..2^31-1 (check that %s is a Confluent-compatible registry)", d.name, sc.Subject, sc.ID, cfg.RegistryURL)
		}
		id := uint32(sc.ID)
		if other, dup := s.byID[id]; dup {
			return nil, fmt.Errorf("registering schema %s: registry returned id %d, already used by %s (check that the registry is not rewriting schemas)", d.name, id, defs[other].name)
		}
		s.byID[id] = k
		s.ids[k] = id
		s.headers[k][0] = 0
		binary.BigEndian.PutUint32(s.headers[k][1:], id)
		s.schemas[k] = sc
		s.codecs[k] = codec
		s.subjects = append(s.subjects, sc.Subject)
	}
	sort.Strings(s.subjects)
	return s, nil
}

// registryHint says what to check for a failed registration.
func registryHint(err error) string {
	var re *sr.ResponseError
	if !errors.As(err, &re) {
		return "check that the registry URL is right and the registry is reachable"
	}
	switch re.StatusCode {
	case 401, 403:
		return "check the registry credentials passed in RegistryOpts"
	case 404:
		return "check the registry URL, including any path prefix"
	case 409:
		return "the schema is incompatible with the subject's earlier versions; check the subject's compatibility level or evolve the schema compatibly"
	case 422:
		return "the registry rejected the schema as invalid; check its Avro support"
	default:
		return "check the registry's logs"
	}
}

// Topics returns the topic names for the Set's prefix.
func (s *Set) Topics() Topics { return s.topics }

// Schemas returns every schema, in id-assignment order. The slice is the
// caller's.
func (s *Set) Schemas() []Schema { return append([]Schema(nil), s.schemas[:]...) }

// SchemaByID returns the text of the schema with id, for GET /schemas/ids/{id}.
func (s *Set) SchemaByID(id int) (text string, ok bool) {
	if id <= 0 || id > math.MaxInt32 {
		return "", false
	}
	k, ok := s.byID[uint32(id)]
	if !ok {
		return "", false
	}
	return s.schemas[k].Text, true
}

// Subjects returns every subject, sorted, for GET /subjects. The slice is the
// caller's.
func (s *Set) Subjects() []string { return append([]string(nil), s.subjects...) }

// SubjectVersion returns one version of a subject, for
// GET /subjects/{subject}/versions/{version}. version is "latest", "-1"
// (the registry's alias for latest) or a decimal version number; only the
// version this Set holds is known.
func (s *Set) SubjectVersion(subject, version string) (SubjectVersionInfo, bool) {
	for _, sc := range s.schemas {
		if sc.Subject != subject {
			continue
		}
		if version != "latest" && version != "-1" {
			if v, err := strconv.Atoi(version); err != nil || v != sc.Version {
				return SubjectVersionInfo{}, false
			}
		}
		return SubjectVersionInfo{Subject: sc.Subject, Version: sc.Version, ID: sc.ID, Schema: sc.Text}, true
	}
	return SubjectVersionInfo{}, false
}

// payload checks the wire-format header of b against the record type k and
// returns the Avro payload after it.
func (s *Set) payload(b []byte, k kind) ([]byte, error) {
	if len(b) < 5 {
		return nil, fmt.Errorf("%w: %d bytes, shorter than the 5-byte header", ErrNotWireFormat, len(b))
	}
	if b[0] != 0 {
		return nil, fmt.Errorf("%w: magic byte is %d, not 0", ErrNotWireFormat, b[0])
	}
	id := binary.BigEndian.Uint32(b[1:5])
	if id == s.ids[k] {
		return b[5:], nil
	}
	if other, ok := s.byID[id]; ok {
		return nil, fmt.Errorf("%w: id %d is %s", ErrWrongSchema, id, s.schemas[other].FullName)
	}
	return nil, fmt.Errorf("%w %d", ErrUnknownSchemaID, id)
}

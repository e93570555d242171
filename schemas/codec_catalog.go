package schemas

// AppendCatalogEntry appends e to dst in wire format,
// under the Append contract in the package documentation.
func (s *Set) AppendCatalogEntry(dst []byte, e *CatalogEntry) ([]byte, error) {
	return s.appendRecord(dst, kindCatalogEntry, "catalog entry", e)
}

func (e *CatalogEntry) check() error {
	if e == nil {
		return errNilRecord
	}
	var c checker
	checkEnum(&c, "kind", e.Kind, catalogKinds)
	c.str("id", e.ID)
	c.strs("locations", e.Locations)
	c.str("description", e.Description)
	c.optStr("abcClass", e.AbcClass)
	return c.err
}

func (e *CatalogEntry) native() map[string]any {
	locations := make([]any, len(e.Locations))
	for i, l := range e.Locations {
		locations[i] = l
	}
	return map[string]any{
		"kind":                   string(e.Kind),
		"id":                     e.ID,
		"locations":              locations,
		"description":            e.Description,
		"lotTracked":             e.LotTracked,
		"maxTransactionQuantity": e.MaxTransactionQuantity,
		"abcClass":               optUnion("string", e.AbcClass),
		"countTolerance":         optUnion("double", e.CountTolerance),
	}
}

// DecodeCatalogEntry decodes a wire-format CatalogEntry,
// under the Decode contract in the package documentation.
func (s *Set) DecodeCatalogEntry(b []byte) (CatalogEntry, error) {
	return decodeRecord(s, b, kindCatalogEntry, "catalog entry", func(r *reader) CatalogEntry {
		e := CatalogEntry{
			Kind:                   readEnum(r, "kind", catalogKinds),
			ID:                     r.str("id"),
			Locations:              r.strs("locations"),
			Description:            r.str("description"),
			LotTracked:             r.bool("lotTracked"),
			MaxTransactionQuantity: r.long("maxTransactionQuantity"),
		}
		if !r.atEnd() { // added later, with null defaults
			e.AbcClass, e.CountTolerance = r.optStr("abcClass"), r.optDouble("countTolerance")
		}
		return e
	})
}

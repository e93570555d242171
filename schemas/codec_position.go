package schemas

// AppendPositionSnapshot appends p to dst in wire format,
// under the Append contract in the package documentation.
func (s *Set) AppendPositionSnapshot(dst []byte, p *PositionSnapshot) ([]byte, error) {
	return s.appendRecord(dst, kindPositionSnapshot, "position snapshot", p)
}

func (p *PositionSnapshot) check() error {
	if p == nil {
		return errNilRecord
	}
	var c checker
	for _, f := range [...]struct{ name, v string }{
		{"snapshotId", p.SnapshotID}, {"warehouseId", p.WarehouseID}, {"itemId", p.ItemID},
		{"locationId", p.LocationID}, {"lotNumber", p.LotNumber},
	} {
		c.str(f.name, f.v)
	}
	return c.err
}

func (p *PositionSnapshot) native() map[string]any {
	return map[string]any{
		"snapshotId":  p.SnapshotID,
		"partition":   p.Partition,
		"takenAt":     millis(p.TakenAt),
		"warehouseId": p.WarehouseID,
		"itemId":      p.ItemID,
		"locationId":  p.LocationID,
		"lotNumber":   p.LotNumber,
		"onHand":      p.OnHand,
		"allocated":   p.Allocated,
		"available":   p.Available,
		"version":     p.Version,
		"updatedAt":   millis(p.UpdatedAt),
	}
}

// DecodePositionSnapshot decodes a wire-format PositionSnapshot,
// under the Decode contract in the package documentation.
func (s *Set) DecodePositionSnapshot(b []byte) (PositionSnapshot, error) {
	return decodeRecord(s, b, kindPositionSnapshot, "position snapshot", func(r *reader) PositionSnapshot {
		p := PositionSnapshot{
			SnapshotID:  r.str("snapshotId"),
			Partition:   r.int("partition"),
			TakenAt:     r.time("takenAt"),
			WarehouseID: r.str("warehouseId"),
			ItemID:      r.str("itemId"),
			LocationID:  r.str("locationId"),
			LotNumber:   r.str("lotNumber"),
			OnHand:      r.long("onHand"),
			Allocated:   r.long("allocated"),
			Available:   r.long("available"),
			Version:     r.long("version"),
			UpdatedAt:   r.time("updatedAt"),
		}
		return p
	})
}

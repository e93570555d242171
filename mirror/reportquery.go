package mirror

import (
	"context"
	"database/sql"
	"slices"
)

// warehouses returns the warehouses that have positions, in byte order.
func (s *store) warehouses(ctx context.Context) ([]string, error) {
	out, err := queryRows(ctx, s.db.db, "listing warehouses", `SELECT DISTINCT warehouse_id FROM positions`, nil,
		func(rows *sql.Rows) (w string, err error) { return w, rows.Scan(&w) })
	if err != nil {
		return nil, err
	}
	slices.Sort(out)
	return out, nil
}

// reportPositions returns up to limit positions of warehouse wh whose item
// sorts after afterItem (byte order; "" for the first), ordered by item,
// location and lot.
func (s *store) reportPositions(ctx context.Context, wh, afterItem string, limit int) ([]reportPosition, error) {
	c := s.db.dialect.bytewise
	return s.queryReport(ctx, `SELECT item_id, location_id, lot_number, on_hand, version FROM positions
		WHERE warehouse_id = $1 AND item_id`+c+` > $2
		ORDER BY item_id`+c+`, location_id`+c+`, lot_number`+c+` LIMIT $3`, wh, afterItem, limit)
}

// itemPositions returns every position of one item in warehouse wh.
func (s *store) itemPositions(ctx context.Context, wh, item string) ([]reportPosition, error) {
	c := s.db.dialect.bytewise
	return s.queryReport(ctx, `SELECT item_id, location_id, lot_number, on_hand, version FROM positions
		WHERE warehouse_id = $1 AND item_id = $2 ORDER BY location_id`+c+`, lot_number`+c, wh, item)
}

func (s *store) queryReport(ctx context.Context, query string, args ...any) ([]reportPosition, error) {
	return queryRows(ctx, s.db.db, "reading positions to report", query, args, func(rows *sql.Rows) (p reportPosition, err error) {
		return p, rows.Scan(&p.ItemID, &p.LocationID, &p.LotNumber, &p.OnHand, &p.Version)
	})
}

package e2e

import (
	"math/rand/v2"

	"github.com/invsync/invsync/api"
)

// txMix is a random workload's mix of transaction types and quantities.
// The type is drawn out of 20: a receipt below receipts, a pick below
// picks, an adjustment below adjustments, a move below moves, a cycle
// count otherwise.
type txMix struct {
	receipts, picks, adjustments, moves int
	// maxReceipt, maxPick and maxMove bound the quantities, drawn from 1.
	maxReceipt, maxPick, maxMove int
	// zeroAdjustment is sent instead of an adjustment of 0.
	zeroAdjustment int64
	// minCount is the least a cycle count finds; it finds up to 199 more.
	minCount int
}

// draw gives tx, whose location is one of locs, a random type and
// quantity, and a move a destination among locs other than its location.
func (m txMix) draw(rng *rand.Rand, tx *api.Transaction, locs []string) {
	switch k := rng.IntN(20); {
	case k < m.receipts:
		tx.Type, tx.Quantity = "RECEIPT", int64(1+rng.IntN(m.maxReceipt))
	case k < m.picks:
		tx.Type, tx.Quantity = "PICK", int64(1+rng.IntN(m.maxPick))
	case k < m.adjustments:
		tx.Type, tx.Quantity = "ADJUSTMENT", int64(rng.IntN(21)-10)
		if tx.Quantity == 0 {
			tx.Quantity = m.zeroAdjustment
		}
	case k < m.moves:
		to := locs[rng.IntN(len(locs))]
		for to == tx.LocationID {
			to = locs[rng.IntN(len(locs))]
		}
		tx.Type, tx.Quantity, tx.ToLocationID = "MOVE", int64(1+rng.IntN(m.maxMove)), to
	default:
		tx.Type, tx.Quantity = "CYCLE_COUNT", int64(m.minCount+rng.IntN(200))
	}
}

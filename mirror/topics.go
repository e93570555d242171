package mirror

import "github.com/invsync/invsync/schemas"

// mirroredTopics are the topics the mirror reads.
type mirroredTopics struct {
	events        string // <prefix>inventory-events -> positions
	decisions     string // <prefix>allocation-decisions -> allocations
	discrepancies string // <prefix>discrepancies -> discrepancies (with a decoder)
}

func newMirroredTopics(prefix string) mirroredTopics {
	t := schemas.NewTopics(prefix)
	return mirroredTopics{
		events:        t.InventoryEvents,
		decisions:     t.AllocationDecisions,
		discrepancies: prefix + topicDiscrepancies,
	}
}

// wanted returns the topics to consume.
func (t mirroredTopics) wanted() []string {
	return []string{t.events, t.decisions, t.discrepancies}
}

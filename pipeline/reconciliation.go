package pipeline

import (
	"context"
	"time"

	"github.com/invsync/invsync/processors"
)

// Reconciliation is the API's side of reconciliation: it writes commands to
// the partitions that own them and reads what the processors decided.
type Reconciliation struct {
	Producer   *Producer
	Queries    *Queries
	Partitions int32
}

// WriteReport splits a report into pieces and writes them (acks=all),
// returning each piece's command id with its partition.
func (r *Reconciliation) WriteReport(ctx context.Context, rep *processors.CloudReport, by string, at time.Time) (map[string]int32, error) {
	cmds := r.Producer.ReportCommands(rep, r.Partitions)
	refs := make(map[string]int32, len(cmds))
	for i := range cmds {
		refs[cmds[i].Command.CommandID] = cmds[i].Partition
	}
	return refs, r.Producer.ProduceCommands(ctx, cmds, by, at)
}

// WriteCommand writes a command to its stock key's partition (acks=all)
// and returns the partition.
func (r *Reconciliation) WriteCommand(ctx context.Context, cmd *processors.Command, by string, at time.Time) (int32, error) {
	part := r.Producer.Partition(processors.StockKey(cmd.WarehouseID, cmd.ItemID), r.Partitions)
	return part, r.Producer.ProduceCommands(ctx, []PartitionedCommand{{Partition: part, Command: *cmd}}, by, at)
}

// CommandResult reads a processed command's result from partition part's
// state, if this instance owns and has restored it (a PartitionError
// otherwise).
func (r *Reconciliation) CommandResult(_ context.Context, id string, part int32) (processors.CommandResult, bool, error) {
	st := r.Queries.proc.Partition(part)
	switch {
	case !st.Owned:
		return processors.CommandResult{}, false, &PartitionError{part, ErrNotOwner}
	case !st.Restored:
		return processors.CommandResult{}, false, &PartitionError{part, ErrRestoring}
	}
	return processors.LookupCommandResult(r.Queries.store.Partition(part), id)
}

// Discrepancies, FindDiscrepancy, HeldCounts and FindHeld read every
// partition readable here (see Queries).
func (r *Reconciliation) Discrepancies(ctx context.Context, wh string, statuses []string) ([]processors.Discrepancy, error) {
	return r.Queries.Discrepancies(ctx, wh, statuses)
}

func (r *Reconciliation) FindDiscrepancy(ctx context.Context, id string) (processors.Discrepancy, bool, error) {
	return r.Queries.FindDiscrepancy(ctx, id)
}

func (r *Reconciliation) HeldCounts(ctx context.Context, wh, status string) ([]processors.HeldCount, error) {
	return r.Queries.HeldCounts(ctx, wh, status)
}

func (r *Reconciliation) FindHeld(ctx context.Context, txid string) (processors.HeldCount, bool, error) {
	return r.Queries.FindHeld(ctx, txid)
}

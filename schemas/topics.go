package schemas

// Topic name suffixes; a topic's name is the prefix followed by its suffix.
const (
	TopicTransactions        = "transactions"
	TopicInventoryEvents     = "inventory-events"
	TopicStateChangelog      = "state-changelog"
	TopicCatalog             = "catalog"
	TopicLocks               = "locks"
	TopicDeadLetter          = "dead-letter"
	TopicAllocationRequests  = "allocation-requests"
	TopicAllocationDecisions = "allocation-decisions"
	TopicPositionSnapshots   = "position-snapshots"
	TopicTokens              = "tokens"
	TopicCommands            = "commands"
	TopicDiscrepancies       = "discrepancies"
	TopicCountTasks          = "count-tasks"
	TopicCloudPositions      = "cloud-positions"
	TopicScannerStatus       = "scanner-status"
)

// Topics are the names of every topic invsync uses, all under one prefix.
// This is the one place topic names are defined; the subjects of the
// schemas follow them (TopicNameStrategy).
type Topics struct {
	// Transactions: accepted scanner transactions (Avro Transaction),
	// keyed by stock key. The processors' input.
	Transactions string
	// InventoryEvents: applied stock changes (Avro InventoryEvent), keyed
	// by stock key. The output the cloud consumes.
	InventoryEvents string
	// Changelog: the processors' state, one record per changed key,
	// partition for partition with Transactions. Compacted. Internal: its
	// keys and values are the state's own encoding, not Avro.
	Changelog string
	// Catalog: master data (Avro CatalogEntry), keyed "warehouse/<id>" or
	// "item/<id>". Compacted; read whole by every instance.
	Catalog string
	// Locks: location locks (Avro Lock), keyed by lockId; a lock's
	// release is a second record under its key. Compacted; read whole by
	// every instance, in log order, which decides who got a lock.
	Locks string
	// DeadLetter: input records that could not be decoded, kept verbatim
	// with the reason in a header.
	DeadLetter string
	// AllocationRequests: the cloud's allocation requests and
	// cancellations (Avro AllocationRequest), keyed by stock key; the
	// HTTP API writes here too. The processors' second input.
	AllocationRequests string
	// AllocationDecisions: every state change of an allocation (Avro
	// AllocationDecision), keyed by allocationId, on the partition of the
	// stock key that decided it.
	AllocationDecisions string
	// PositionSnapshots: reconciliation snapshots (Avro PositionSnapshot),
	// keyed by stock key: every stock record of a partition, on the
	// partition of the same number, once per snapshot interval.
	PositionSnapshots string
	// Tokens: API bearer tokens (Avro Token), keyed by tokenId; a
	// revocation is a second record under its key. Compacted; read whole
	// by every instance. Holds hashes, never secrets.
	Tokens string
	// Commands: requests the processors decide in order with the scans
	// of their partition (Avro Command): pieces of cloud reports,
	// changes to discrepancies, decisions on held counts. Written by
	// the API; partition for partition with Transactions. The
	// processors' third input.
	Commands string
	// Discrepancies: every change of a discrepancy (Avro Discrepancy),
	// keyed by discrepancyId, on the partition of its stock key.
	Discrepancies string
	// CountTasks: count tasks (Avro CountTask), keyed by countTaskId;
	// completion is a second record under its key. Compacted; read
	// whole by every instance.
	CountTasks string
	// CloudPositions: the cloud's reconciliation reports (Avro
	// CloudPositionsReport), produced by the cloud, keyed by
	// warehouseId; every instance splits them into commands.
	CloudPositions string
	// ScannerStatus: each scanner's last report about its queue (Avro
	// ScannerStatus), keyed by scannerId. Compacted; read whole by
	// every instance.
	ScannerStatus string
}

// NewTopics returns the topic names for prefix, used as given (an empty
// prefix means unprefixed names).
func NewTopics(prefix string) Topics {
	return Topics{
		Transactions:        prefix + TopicTransactions,
		InventoryEvents:     prefix + TopicInventoryEvents,
		Changelog:           prefix + TopicStateChangelog,
		Catalog:             prefix + TopicCatalog,
		Locks:               prefix + TopicLocks,
		DeadLetter:          prefix + TopicDeadLetter,
		AllocationRequests:  prefix + TopicAllocationRequests,
		AllocationDecisions: prefix + TopicAllocationDecisions,
		PositionSnapshots:   prefix + TopicPositionSnapshots,
		Tokens:              prefix + TopicTokens,
		Commands:            prefix + TopicCommands,
		Discrepancies:       prefix + TopicDiscrepancies,
		CountTasks:          prefix + TopicCountTasks,
		CloudPositions:      prefix + TopicCloudPositions,
		ScannerStatus:       prefix + TopicScannerStatus,
	}
}

// Partitioned are the topics that must share one partition count: a stock
// key's input, state and output partitions are the same number.
func (t Topics) Partitioned() []string {
	return []string{t.Transactions, t.InventoryEvents, t.Changelog, t.DeadLetter, t.AllocationRequests, t.AllocationDecisions,
		t.PositionSnapshots, t.Commands, t.Discrepancies}
}

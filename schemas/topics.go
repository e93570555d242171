package schemas

// Topic name suffixes; a topic's name is the prefix followed by its suffix.
// The properties of each topic are in the topic table (TopicTable).
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

// Partitioning says how many partitions a topic has and whether their
// number must agree with the other topics'.
type Partitioning int

const (
	// PartitionSingle: one partition, read whole by every instance, in
	// log order.
	PartitionSingle Partitioning = iota + 1
	// PartitionAligned: the deployment's partition count (--partitions),
	// partition for partition with TopicTransactions: a stock key's input,
	// state and output partitions are the same number, owned by one
	// instance. A deployment refuses to start when an existing one has
	// another count.
	PartitionAligned
	// PartitionSpread: created with the deployment's partition count, but
	// read by a consumer group of its own, so an existing topic may have
	// any count.
	PartitionSpread
)

// Cleanup is a topic's cleanup policy (Kafka's cleanup.policy).
type Cleanup int

const (
	// CleanupDelete: records are removed by age (the topic's Retention).
	CleanupDelete Cleanup = iota + 1
	// CleanupCompact: the last record of each key is kept, whatever its age.
	CleanupCompact
)

// Retention is how long a topic with CleanupDelete keeps its records
// (Kafka's retention.ms). A compacted topic has RetainBrokerDefault: the
// setting does not apply to it.
type Retention int

const (
	// RetainBrokerDefault: the broker's default retention (Kafka's is 7
	// days); the topic is created without retention.ms.
	RetainBrokerDefault Retention = iota
	// RetainForever: retention.ms -1; records are never deleted by age.
	RetainForever
)

// TopicSpec is one row of the topic table: a topic and the properties it is
// created with. Topic creation, `invsync tail`, the mirror and the README's
// topic list all read the table; a test holds the README to it.
type TopicSpec struct {
	// Suffix is the topic's name after the prefix: one of the Topic…
	// constants.
	Suffix string
	// Key is what the records are keyed by.
	Key string
	// Schema is the short name of the Avro schema of the values (see
	// Schema.Name), or "" when the values are not Avro.
	Schema       string
	Partitioning Partitioning
	Cleanup      Cleanup
	Retention    Retention
	// Description says what the topic holds, in one line.
	Description string
}

// topicTable is the one list of invsync's topics; TopicTable hands out
// copies. Its order is the order topics are created in.
var topicTable = [...]TopicSpec{
	{TopicTransactions, "stock key warehouseId/itemId", "transaction", PartitionAligned, CleanupDelete, RetainForever,
		"accepted scanner transactions (and timer ticks): the processors' input"},
	{TopicInventoryEvents, "stock key", "inventory_event", PartitionAligned, CleanupDelete, RetainForever,
		"applied stock changes, one record per change: the output the cloud consumes"},
	{TopicStateChangelog, "internal state key", "", PartitionAligned, CleanupCompact, RetainBrokerDefault,
		"the processors' state, one record per changed key, in the state's own encoding"},
	{TopicDeadLetter, "as received", "", PartitionAligned, CleanupDelete, RetainForever,
		"input records that could not be decoded or checked, verbatim, with the reason in a header"},
	{TopicAllocationRequests, "stock key", "allocation_request", PartitionAligned, CleanupDelete, RetainForever,
		"the cloud's allocation requests and cancellations, and the API's: the processors' second input"},
	{TopicAllocationDecisions, "allocationId", "allocation_decision", PartitionAligned, CleanupDelete, RetainForever,
		"every state change of an allocation, on the partition of the stock key that decided it"},
	{TopicPositionSnapshots, "stock key", "position_snapshot", PartitionAligned, CleanupDelete, RetainBrokerDefault,
		"reconciliation snapshots of every stock record; each supersedes the one before"},
	{TopicCatalog, "warehouse/<id> or item/<id>", "catalog_entry", PartitionSingle, CleanupCompact, RetainBrokerDefault,
		"master data, read whole by every instance"},
	{TopicLocks, "lockId", "lock", PartitionSingle, CleanupCompact, RetainBrokerDefault,
		"location locks and their releases, read whole by every instance; log order decides who got a lock"},
	{TopicTokens, "tokenId", "token", PartitionSingle, CleanupCompact, RetainBrokerDefault,
		"API bearer tokens (hashes, never secrets) and their revocations, read whole by every instance"},
	{TopicCommands, "commandId", "command", PartitionAligned, CleanupDelete, RetainForever,
		"report pieces, discrepancy updates and count decisions, on the partition that owns the record: the processors' third input"},
	{TopicDiscrepancies, "discrepancyId", "discrepancy", PartitionAligned, CleanupDelete, RetainForever,
		"every change of a discrepancy, whole, on the partition of its stock key"},
	{TopicCountTasks, "countTaskId", "count_task", PartitionSingle, CleanupCompact, RetainBrokerDefault,
		"count tasks and their completion, read whole by every instance"},
	{TopicCloudPositions, "warehouseId (not read)", "cloud_positions", PartitionSpread, CleanupDelete, RetainForever,
		"the cloud's reconciliation reports, which every instance splits into commands"},
	{TopicScannerStatus, "scannerId", "scanner_status", PartitionSingle, CleanupCompact, RetainBrokerDefault,
		"each scanner's last report about its queue (heartbeat or upload), read whole by every instance for the fleet view"},
}

// TopicTable returns every topic invsync uses, in the order they are
// created. The slice is the caller's.
func TopicTable() []TopicSpec { return append([]TopicSpec(nil), topicTable[:]...) }

// topicOfSchema returns the suffix of the topic whose values have the
// schema name, or "".
func topicOfSchema(name string) string {
	for _, spec := range topicTable {
		if spec.Schema == name {
			return spec.Suffix
		}
	}
	return ""
}

// Topics are the names of every topic invsync uses, all under one prefix,
// as fields for the code that reads or writes a particular one. What each
// holds and how it is created is in the topic table (TopicTable).
type Topics struct {
	prefix string

	Transactions        string
	InventoryEvents     string
	Changelog           string // TopicStateChangelog
	Catalog             string
	Locks               string
	DeadLetter          string
	AllocationRequests  string
	AllocationDecisions string
	PositionSnapshots   string
	Tokens              string
	Commands            string
	Discrepancies       string
	CountTasks          string
	CloudPositions      string
	ScannerStatus       string
}

// NewTopics returns the topic names for prefix, used as given (an empty
// prefix means unprefixed names).
func NewTopics(prefix string) Topics {
	return Topics{
		prefix:              prefix,
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

// Prefix returns the prefix the names were made with.
func (t Topics) Prefix() string { return t.prefix }

// Name returns the full name of the topic with suffix.
func (t Topics) Name(suffix string) string { return t.prefix + suffix }

// Partitioned are the topics that must share one partition count
// (PartitionAligned): a stock key's input, state and output partitions are
// the same number.
func (t Topics) Partitioned() []string {
	var out []string
	for _, spec := range topicTable {
		if spec.Partitioning == PartitionAligned {
			out = append(out, t.Name(spec.Suffix))
		}
	}
	return out
}

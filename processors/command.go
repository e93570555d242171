package processors

import (
	"encoding/json"
	"fmt"
	"time"
)

// Commands are the requests other than scans and allocations that a
// partition's processor decides in order with its input: a piece of a
// cloud report, a supervisor's change to a discrepancy, a decision on a
// held count. Each has an id; a command processed before changes nothing
// and answers what it answered then.

// Command kinds.
const (
	CommandReportPiece       = "REPORT_PIECE"
	CommandDiscrepancyUpdate = "DISCREPANCY_UPDATE"
	CommandCountDecision     = "COUNT_DECISION"
)

// Command is one command; exactly one of the payloads is set, as Kind says.
type Command struct {
	CommandID string
	Kind      string
	// WarehouseID and ItemID name the stock key the command is about
	// (its partition); a report piece covers many.
	WarehouseID, ItemID string
	Report              *ReportPiece
	Discrepancy         *DiscrepancyUpdate
	Count               *CountDecision
}

// CommandResult is what a command did, for its caller (published when the
// Kafka transaction commits) and for the topics.
type CommandResult struct {
	CommandID string `json:"commandId"`
	Kind      string `json:"kind"`
	// Code and Message refuse the command (nothing changed).
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
	// The answer, by kind.
	Report      *ReportResult `json:"report,omitempty"`
	Discrepancy *Discrepancy  `json:"discrepancy,omitempty"`
	Held        *HeldCount    `json:"held,omitempty"`
	Outcome     *Outcome      `json:"outcome,omitempty"`
	// Duplicate: processed before; nothing was changed now.
	Duplicate bool `json:"-"`
	// To publish.
	Discrepancies []Discrepancy `json:"-"`
	CountTasks    []CountTask   `json:"-"`
	Events        []Event       `json:"-"`
}

// Command processes cmd at now.
func (p *Processor) Command(s Store, cmd *Command, now time.Time) (CommandResult, error) {
	if cmd.Kind == CommandReportPiece {
		// A report piece keeps its own idempotency entry (its result).
		if cmd.Report == nil {
			return CommandResult{}, fmt.Errorf("command %s: no report piece", cmd.CommandID)
		}
		rr, err := p.CompareReport(s, cmd.Report, now)
		if err != nil {
			return CommandResult{}, err
		}
		return CommandResult{CommandID: cmd.CommandID, Kind: cmd.Kind, Report: &rr, Duplicate: rr.Duplicate,
			Discrepancies: rr.Discrepancies, Events: rr.Events}, nil
	}
	if res, ok, err := getJSON[CommandResult](s, processedKey(cmd.CommandID), "command", cmd.CommandID); err != nil || ok {
		res.Duplicate = ok
		return res, err
	}
	res := CommandResult{CommandID: cmd.CommandID, Kind: cmd.Kind}
	switch {
	case cmd.Kind == CommandDiscrepancyUpdate && cmd.Discrepancy != nil:
		d, task, rej, err := p.updateDiscrepancy(s, cmd.Discrepancy, now)
		if err != nil {
			return CommandResult{}, err
		}
		res.Discrepancy = &d
		if rej != nil {
			res.Code, res.Message = rej.Code, rej.Message
			break
		}
		res.Discrepancies = []Discrepancy{d}
		if task != nil {
			res.CountTasks = []CountTask{*task}
		}
	case cmd.Kind == CommandCountDecision && cmd.Count != nil:
		h, r, rej, err := p.decideCount(s, cmd.Count, now)
		if err != nil {
			return CommandResult{}, err
		}
		if h.Transaction.TransactionID != "" {
			res.Held = &h
		}
		if rej != nil {
			res.Code, res.Message = rej.Code, rej.Message
			break
		}
		res.Outcome = &r.Outcome
		res.Events, res.Discrepancies, res.CountTasks = r.Events, r.Discrepancies, r.CountTasks
	default:
		return CommandResult{}, fmt.Errorf("command %s: kind %q without its payload", cmd.CommandID, cmd.Kind)
	}
	return res, setJSON(s, processedKey(cmd.CommandID), res)
}

// LookupCommandResult returns the stored result of a processed command (a
// report piece's result is wrapped as a REPORT_PIECE result).
func LookupCommandResult(s Reader, id string) (CommandResult, bool, error) {
	v, ok, err := s.Get(processedKey(id))
	if err != nil || !ok {
		return CommandResult{}, false, err
	}
	var res CommandResult
	if err := json.Unmarshal(v, &res); err != nil {
		return CommandResult{}, false, fmt.Errorf("%w: command %s: %v", errCorrupt, id, err)
	}
	if res.Kind == "" { // a report piece stores its ReportResult
		var rr ReportResult
		if err := json.Unmarshal(v, &rr); err != nil {
			return CommandResult{}, false, fmt.Errorf("%w: report piece %s: %v", errCorrupt, id, err)
		}
		res = CommandResult{CommandID: id, Kind: CommandReportPiece, Report: &rr}
	}
	return res, true, nil
}

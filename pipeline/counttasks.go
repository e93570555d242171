package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/invsync/invsync/processors"
	"github.com/invsync/invsync/schemas"
)

// CountTaskTable keeps every count task, on every instance, equal to the
// compacted single-partition count-tasks topic, and writes new tasks to it.
// Tasks are completed by the processors, which write the DONE record in the
// Kafka transaction of the count that completed it. Safe for concurrent
// use; it is the processors' processors.CountTasks.
type CountTaskTable struct {
	*topicTable[schemas.CountTask]
	mu    sync.RWMutex
	tasks map[string]processors.CountTask
}

// NewCountTaskTable creates the table's client. Run must be running for
// Create and WaitLoaded to return.
func NewCountTaskTable(brokers []string, topic string, codec *schemas.Set, log *slog.Logger, opts ...kgo.Opt) (*CountTaskTable, error) {
	c := &CountTaskTable{tasks: map[string]processors.CountTask{}}
	// A task ends as DONE, never by a tombstone.
	return openTable(c, &c.topicTable, brokers, topic, "count tasks", log, codec.DecodeCountTask, codec.AppendCountTask, ignoreTombstones(c.apply), opts...)
}

func (c *CountTaskTable) apply(w *schemas.CountTask) error {
	if w.CountTaskID == "" || w.WarehouseID == "" || w.LocationID == "" {
		return fmt.Errorf("count task %q: countTaskId, warehouseId and locationId are required", w.CountTaskID)
	}
	t := CountTaskFromWire(w)
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.tasks[t.CountTaskID]; ok && old.Status == processors.CountTaskDone && t.Status != processors.CountTaskDone {
		return nil // done is final
	}
	c.tasks[t.CountTaskID] = t
	return nil
}

// CountTask returns a task by id.
func (c *CountTaskTable) CountTask(id string) (processors.CountTask, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	t, ok := c.tasks[id]
	return t, ok
}

// List returns the tasks of a warehouse with status ("" for any), oldest
// first.
func (c *CountTaskTable) List(wh, status string) []processors.CountTask {
	c.mu.RLock()
	out := []processors.CountTask{}
	for _, t := range c.tasks {
		if t.WarehouseID == wh && (status == "" || t.Status == status) {
			out = append(out, t)
		}
	}
	c.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].CountTaskID < out[j].CountTaskID
	})
	return out
}

// Create writes a new task (acks=all) and returns once this instance's
// table holds it.
func (c *CountTaskTable) Create(ctx context.Context, t processors.CountTask) error {
	w := CountTaskToWire(&t)
	return c.put(ctx, "writing count task "+t.CountTaskID, t.CountTaskID, &w)
}

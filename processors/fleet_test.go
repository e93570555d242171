package processors_test

import (
	"testing"
	"time"

	"github.com/invsync/invsync/processors"
)

func TestFleetStatusRulesInOrder(t *testing.T) {
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) *time.Time { at := now.Add(-d); return &at }
	seen := func(d time.Duration, queued, rejected int64, oldest *time.Time) *processors.DeviceReport {
		return &processors.DeviceReport{ScannerID: "S-1", ReceivedAt: now.Add(-d), Queued: queued, Rejected: rejected, OldestQueuedAt: oldest}
	}
	for _, tc := range []struct {
		name  string
		r     *processors.DeviceReport
		valid bool
		want  string
	}{
		{"never seen", nil, true, processors.FleetOffline},
		{"never seen, token revoked", nil, false, processors.FleetRed},
		{"just seen, empty queue", seen(time.Second, 0, 0, nil), true, processors.FleetGreen},
		{"seen exactly 2 minutes ago", seen(2*time.Minute, 0, 0, nil), true, processors.FleetGreen},
		{"seen just over 2 minutes ago", seen(2*time.Minute+time.Millisecond, 0, 0, nil), true, processors.FleetOffline},
		{"queued", seen(time.Second, 3, 0, ago(time.Hour)), true, processors.FleetYellow},
		{"queued, offline", seen(time.Hour, 3, 0, ago(time.Hour)), true, processors.FleetOffline},
		{"rejection waiting", seen(time.Second, 0, 1, nil), true, processors.FleetRed},
		{"rejection waiting, offline: red first", seen(time.Hour, 0, 2, nil), true, processors.FleetRed},
		{"oldest queued exactly 8 h", seen(time.Second, 1, 0, ago(8*time.Hour)), true, processors.FleetYellow},
		{"oldest queued over 8 h", seen(time.Second, 1, 0, ago(8*time.Hour+time.Second)), true, processors.FleetRed},
		{"oldest queued over 8 h, offline", seen(time.Hour, 1, 0, ago(9*time.Hour)), true, processors.FleetRed},
		{"token revoked, all else green", seen(time.Second, 0, 0, nil), false, processors.FleetRed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := processors.FleetStatus(tc.r, tc.valid, now); got != tc.want {
				t.Fatalf("FleetStatus = %s, want %s", got, tc.want)
			}
		})
	}
}

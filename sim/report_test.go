package sim

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The report names the figures it was given and draws one point per audit.
func TestReport(t *testing.T) {
	r := Result{Completed: true, Seed: 9, Warehouses: 2, SimulatedHours: 3, Speed: 600, RecordAccuracy: 0.9876,
		LWWRecordAccuracy: 0.9123, ScanToCloudP50: 80, ScanToCloudP99: 640,
		Latency: []time.Duration{50 * time.Millisecond, 80 * time.Millisecond, 640 * time.Millisecond}}
	for h := 1; h <= 3; h++ {
		r.Hours = append(r.Hours, Hour{At: time.Duration(h) * time.Hour, Accuracy: 0.99, LWW: 0.95, DiscrepancyOpened: h})
	}
	dir := t.TempDir()
	if err := WriteReport(dir, r, "invsync simulate --seed 9"); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"98.76 %", "91.23 %", "80 / 640 ms", "invsync simulate --seed 9", ChartAccuracy, ChartLatency, ChartDiscrepancies, "| 03:00 |"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	svg, err := os.ReadFile(filepath.Join(dir, ChartAccuracy))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(svg), "<circle"); n != 4*3 {
		t.Errorf("accuracy chart has %d points, want 12 (4 lines of 3 audits)", n)
	}
	disc, _ := os.ReadFile(filepath.Join(dir, ChartDiscrepancies))
	if n := strings.Count(string(disc), "<rect"); n != 1+2*3 {
		t.Errorf("discrepancy chart has %d rects, want 7 (background and 2 bars of 3 hours)", n)
	}
}

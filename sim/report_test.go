package sim

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The report names the figures of the three systems it was given, the
// causes, and draws its charts with each system in the legend.
func TestReport(t *testing.T) {
	r := Result{Completed: true, Seed: 9, Warehouses: 2, SimulatedHours: 3, Speed: 600, RecordAccuracy: 0.9876,
		ScanToCloudP50: 80, ScanToCloudP99: 640,
		Latency: []time.Duration{50 * time.Millisecond, 80 * time.Millisecond, 640 * time.Millisecond},
		Systems: map[string]SystemResult{
			SystemInvsync:     {RecordAccuracy: 0.9876, CountAccuracy: 0.9312, AllocationErrors: 2, ScanToCloudP50: 80, ScanToCloudP99: 640, AllocationErrorsByHour: []int{0, 2, 0}, Causes: map[string]int{CauseUnscanned: 3}},
			SystemStoryAfter:  {RecordAccuracy: 0.9123, AllocationErrors: 5, AllocationErrorsByHour: []int{1, 2, 2}, Causes: map[string]int{CauseUnscanned: 3, CauseMisKeyed: 4}},
			SystemStoryBefore: {RecordAccuracy: 0.8765, Lost: 7, CloudAgreement: 0.5, AllocationErrorsByHour: []int{3, 0, 1}, Causes: map[string]int{CauseLost: 6}},
		}}
	for h := 1; h <= 3; h++ {
		r.Hours = append(r.Hours, Hour{At: time.Duration(h) * time.Hour, Accuracy: 0.99, LWW: 0.95, Before: 0.9, DiscrepancyOpened: h})
	}
	dir := t.TempDir()
	if err := WriteReport(dir, r, "invsync simulate --seed 9"); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"98.76 %", "91.23 %", "87.65 %", "93.12 %", "80 / 640 ms", "| 7 / 0 |", "50.00 %",
		"| lost update | 0 | 0 | 6 |", "| mis-keyed count applied | 0 | 4 | 0 |", "| unscanned shrinkage | 3 | 3 | 0 |",
		"invsync simulate --seed 9", ChartAccuracy, ChartAllocErrors, ChartCauses, ChartLatency, ChartDiscrepancies, "| 03:00 |"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	for _, c := range []struct {
		name string
		want []string
	}{
		{ChartAccuracy, []string{"invsync", "story after", "story before"}},
		{ChartAllocErrors, []string{"invsync", "story after", "story before"}},
		{ChartCauses, []string{CauseLost, CauseMisKeyed, CauseUnscanned, "story before"}},
		{ChartLatency, []string{"p99 640 ms"}},
		{ChartDiscrepancies, []string{"opened", "resolved"}},
	} {
		svg, err := os.ReadFile(filepath.Join(dir, c.name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(bytes.TrimSpace(svg), []byte("<?xml")) || !bytes.Contains(svg, []byte("<svg")) {
			t.Errorf("%s is not SVG: %.80s", c.name, svg)
		}
		for _, w := range c.want {
			if !bytes.Contains(svg, []byte(w)) {
				t.Errorf("%s does not show %q", c.name, w)
			}
		}
	}
	var table bytes.Buffer
	if err := WriteTable(&table, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"story after (simulated)", "87.65 %", "lost update", "7 / 0"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("the table lacks %q:\n%s", want, table.String())
		}
	}
}

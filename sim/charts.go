package sim

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// The report's charts, drawn with gonum.org/v1/plot as SVG.

// Chart file names inside a report directory.
const (
	ChartAccuracy      = "accuracy.svg"
	ChartAllocErrors   = "allocation-errors.svg"
	ChartCauses        = "causes.svg"
	ChartLatency       = "latency.svg"
	ChartDiscrepancies = "discrepancies.svg"
)

// systemLabel is a system's name in charts and tables.
var systemLabel = map[string]string{
	SystemInvsync:     "invsync",
	SystemStoryAfter:  "story after (simulated)",
	SystemStoryBefore: "story before (simulated)",
}

// palette: one colour per system, then the causes'.
var palette = []color.Color{
	color.RGBA{0x1f, 0x77, 0xb4, 0xff}, color.RGBA{0xd6, 0x27, 0x28, 0xff}, color.RGBA{0x7f, 0x7f, 0x7f, 0xff},
	color.RGBA{0x2c, 0xa0, 0x2c, 0xff}, color.RGBA{0xff, 0x7f, 0x0e, 0xff}, color.RGBA{0x94, 0x67, 0xbd, 0xff},
	color.RGBA{0x8c, 0x56, 0x4b, 0xff}, color.RGBA{0xe3, 0x77, 0xc2, 0xff}, color.RGBA{0xbc, 0xbd, 0x22, 0xff},
	color.RGBA{0x17, 0xbe, 0xcf, 0xff}, color.RGBA{0x39, 0x3b, 0x79, 0xff}, color.RGBA{0xad, 0x49, 0x4a, 0xff},
}

func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = title, x, y
	p.Add(plotter.NewGrid())
	p.Legend.Top = false
	return p
}

func svgOf(p *plot.Plot, w, h vg.Length) ([]byte, error) {
	wt, err := p.WriterTo(w, h, "svg")
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if _, err := wt.WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// accuracyChart: each system's record accuracy at each audit.
func accuracyChart(r Result) ([]byte, error) {
	p := newPlot("Record accuracy over the simulated day (records whose on-hand = the stock)", "simulated hour", "records accurate (%)")
	lo := 100.0
	for i, name := range Systems {
		xys := make(plotter.XYs, len(r.Hours))
		for j, h := range r.Hours {
			v := map[string]float64{SystemInvsync: h.Accuracy, SystemStoryAfter: h.LWW, SystemStoryBefore: h.Before}[name]
			xys[j] = plotter.XY{X: h.At.Hours(), Y: 100 * v}
			lo = math.Min(lo, 100*v)
		}
		l, pts, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, err
		}
		l.Color, pts.Color, pts.Shape = palette[i], palette[i], draw.CircleGlyph{}
		l.Width = vg.Points(1.5)
		p.Add(l, pts)
		p.Legend.Add(systemLabel[name], l)
	}
	p.X.Min, p.X.Max = 0, r.SimulatedHours
	p.Y.Min, p.Y.Max = math.Max(0, math.Floor(lo-1)), 100
	return svgOf(p, 20*vg.Centimeter, 10*vg.Centimeter)
}

// allocErrorsChart: each system's allocation errors per simulated hour,
// side by side.
func allocErrorsChart(r Result) ([]byte, error) {
	p := newPlot("Allocation errors per simulated hour (confirmed, could not be picked)", "hour of the day (starting)", "allocation errors")
	hours := int(math.Ceil(r.SimulatedHours))
	w := vg.Points(math.Max(2, 140/float64(max(hours, 1))))
	for i, name := range Systems {
		vs := make(plotter.Values, hours)
		for h, n := range r.Systems[name].AllocationErrorsByHour {
			if h < hours {
				vs[h] = float64(n)
			}
		}
		b, err := plotter.NewBarChart(vs, w)
		if err != nil {
			return nil, err
		}
		b.Color, b.LineStyle.Width = palette[i], 0
		b.Offset = w * vg.Length(i-1)
		p.Add(b)
		p.Legend.Add(systemLabel[name], b)
	}
	p.Y.Min = 0
	p.X.Tick.Marker = hourTicks(hours)
	return svgOf(p, 20*vg.Centimeter, 10*vg.Centimeter)
}

// hourTicks labels bar positions 0..n-1 with the hour they start.
type hourTicks int

func (n hourTicks) Ticks(_, _ float64) []plot.Tick {
	step := max(1, int(n)/12)
	var out []plot.Tick
	for h := 0; h < int(n); h++ {
		label := ""
		if h%step == 0 {
			label = fmt.Sprint(h)
		}
		out = append(out, plot.Tick{Value: float64(h), Label: label})
	}
	return out
}

// causesChart: per system, the wrong records at the end of the day and
// the allocation errors, stacked by cause.
func causesChart(r Result) ([]byte, error) {
	p := newPlot("What the wrong records and allocation errors are owed to", "", "wrong records + allocation errors")
	causes := causeNames(r)
	var below *plotter.BarChart
	top := make([]float64, len(Systems))
	for i, c := range causes {
		vs := make(plotter.Values, len(Systems))
		for j, name := range Systems {
			vs[j] = float64(r.Systems[name].Causes[c])
			top[j] += vs[j]
		}
		b, err := plotter.NewBarChart(vs, vg.Centimeter*2.5)
		if err != nil {
			return nil, err
		}
		b.Color, b.LineStyle.Width = palette[(3+i)%len(palette)], 0
		if below != nil {
			b.StackOn(below)
		}
		below = b
		p.Add(b)
		p.Legend.Add(c, b)
	}
	var names []string
	for _, name := range Systems {
		names = append(names, systemLabel[name])
	}
	p.NominalX(names...)
	p.Y.Min = 0
	// Room above the bars for the legend.
	p.Y.Max = 1
	for _, t := range top {
		p.Y.Max = math.Max(p.Y.Max, t*(1.2+0.07*float64(len(causes))))
	}
	p.Legend.Top = true
	return svgOf(p, 20*vg.Centimeter, 14*vg.Centimeter)
}

// causeNames are every cause any system names, sorted.
func causeNames(r Result) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range r.Systems {
		for c, n := range s.Causes {
			if n > 0 && !seen[c] {
				seen[c] = true
				out = append(out, c)
			}
		}
	}
	sort.Strings(out)
	return out
}

// latencyChart: invsync's scan-to-cloud times.
func latencyChart(r Result) ([]byte, error) {
	p := newPlot(fmt.Sprintf("invsync: scan to cloud, %d scans (p50 %.0f ms, p99 %.0f ms)", len(r.Latency), r.ScanToCloudP50, r.ScanToCloudP99),
		"milliseconds (queued on an online scanner → visible in the mirror)", "scans")
	vs := make(plotter.Values, len(r.Latency))
	for i, d := range r.Latency {
		vs[i] = ms(d)
	}
	if len(vs) == 0 {
		vs = plotter.Values{0}
	}
	h, err := plotter.NewHist(vs, 40)
	if err != nil {
		return nil, err
	}
	h.FillColor, h.LineStyle.Width = palette[3], 0
	p.Add(h)
	return svgOf(p, 20*vg.Centimeter, 10*vg.Centimeter)
}

// discrepancyChart: invsync's reconciliation discrepancies per hour.
func discrepancyChart(r Result) ([]byte, error) {
	p := newPlot("invsync: reconciliation discrepancies per simulated hour", "audit (hour ending)", "discrepancies")
	opened, resolved := make(plotter.Values, len(r.Hours)), make(plotter.Values, len(r.Hours))
	for i, h := range r.Hours {
		opened[i], resolved[i] = float64(h.DiscrepancyOpened), float64(h.DiscrepancyResolved)
	}
	w := vg.Points(math.Max(2, 120/float64(max(len(r.Hours), 1))))
	for i, vs := range []plotter.Values{opened, resolved} {
		if len(vs) == 0 {
			vs = plotter.Values{0}
		}
		b, err := plotter.NewBarChart(vs, w)
		if err != nil {
			return nil, err
		}
		b.Color, b.LineStyle.Width = palette[4+i], 0
		b.Offset = w * vg.Length(2*i-1) / 2
		p.Add(b)
		p.Legend.Add([]string{"opened", "resolved"}[i], b)
	}
	p.Y.Min = 0
	p.X.Tick.Marker = auditTicks(r.Hours)
	return svgOf(p, 20*vg.Centimeter, 10*vg.Centimeter)
}

type auditTicks []Hour

func (a auditTicks) Ticks(_, _ float64) []plot.Tick {
	step := max(1, len(a)/12)
	var out []plot.Tick
	for i, h := range a {
		label := ""
		if i%step == 0 {
			label = fmt.Sprintf("%g", math.Round(h.At.Hours()*100)/100)
		}
		out = append(out, plot.Tick{Value: float64(i), Label: label})
	}
	return out
}

package sim

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"
)

// A small SVG chart writer: line charts and bar charts with axes, ticks
// and a legend, enough for the report (no dependency, renders anywhere
// Markdown shows images).

// series is one named line or bar set.
type series struct {
	name   string
	color  string
	dashed bool
	xs, ys []float64
}

// chart is the frame shared by both kinds.
type chart struct {
	title, xLabel, yLabel  string
	xMin, xMax, yMin, yMax float64
	yFormat                func(float64) string
}

const (
	svgW, svgH                 = 720, 360
	padL, padR, padT, padB     = 70, 20, 40, 60
	plotW, plotH               = svgW - padL - padR, svgH - padT - padB
	axisColor, gridColor, font = "#333", "#ddd", "font-family=\"sans-serif\""
)

func (c chart) x(v float64) float64 { return padL + (v-c.xMin)/(c.xMax-c.xMin)*plotW }
func (c chart) y(v float64) float64 { return padT + plotH - (v-c.yMin)/(c.yMax-c.yMin)*plotH }

// frame writes the header, title, grid, ticks and axis labels.
func (c chart) frame(w io.Writer, xTicks []float64, xTick func(float64) string) {
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">`+"\n", svgW, svgH, svgW, svgH)
	fmt.Fprintf(w, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(w, `<text x="%d" y="22" %s font-size="15" font-weight="bold">%s</text>`+"\n", padL, font, html.EscapeString(c.title))
	for _, t := range niceTicks(c.yMin, c.yMax, 6) {
		y := c.y(t)
		fmt.Fprintf(w, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s"/>`+"\n", padL, y, svgW-padR, y, gridColor)
		fmt.Fprintf(w, `<text x="%d" y="%.1f" %s font-size="11" text-anchor="end">%s</text>`+"\n", padL-6, y+4, font, c.yFormat(t))
	}
	for _, t := range xTicks {
		x := c.x(t)
		fmt.Fprintf(w, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s"/>`+"\n", x, padT+plotH, x, padT+plotH+5, axisColor)
		fmt.Fprintf(w, `<text x="%.1f" y="%d" %s font-size="11" text-anchor="middle">%s</text>`+"\n", x, padT+plotH+18, font, xTick(t))
	}
	fmt.Fprintf(w, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s"/>`+"\n", padL, padT+plotH, svgW-padR, padT+plotH, axisColor)
	fmt.Fprintf(w, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s"/>`+"\n", padL, padT, padL, padT+plotH, axisColor)
	fmt.Fprintf(w, `<text x="%d" y="%d" %s font-size="12" text-anchor="middle">%s</text>`+"\n", padL+plotW/2, svgH-26, font, html.EscapeString(c.xLabel))
	fmt.Fprintf(w, `<text transform="translate(16,%d) rotate(-90)" %s font-size="12" text-anchor="middle">%s</text>`+"\n", padT+plotH/2, font, html.EscapeString(c.yLabel))
}

// legend writes the series names at the bottom.
func legend(w io.Writer, ss []series) {
	x := padL
	for _, s := range ss {
		dash := ""
		if s.dashed {
			dash = ` stroke-dasharray="6,4"`
		}
		fmt.Fprintf(w, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3"%s/>`+"\n", x, svgH-10, x+22, svgH-10, s.color, dash)
		fmt.Fprintf(w, `<text x="%d" y="%d" %s font-size="12">%s</text>`+"\n", x+28, svgH-6, font, html.EscapeString(s.name))
		x += 40 + 7*len(s.name)
	}
}

// lineChart writes a line chart of ss.
func lineChart(w io.Writer, c chart, ss []series, xTicks []float64, xTick func(float64) string) {
	c.frame(w, xTicks, xTick)
	for _, s := range ss {
		var pts []string
		for i := range s.xs {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", c.x(s.xs[i]), c.y(math.Max(c.yMin, math.Min(c.yMax, s.ys[i])))))
		}
		dash := ""
		if s.dashed {
			dash = ` stroke-dasharray="6,4"`
		}
		fmt.Fprintf(w, `<polyline fill="none" stroke="%s" stroke-width="2.5"%s points="%s"/>`+"\n", s.color, dash, strings.Join(pts, " "))
		for i := range s.xs {
			fmt.Fprintf(w, `<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"/>`+"\n", c.x(s.xs[i]), c.y(math.Max(c.yMin, math.Min(c.yMax, s.ys[i]))), s.color)
		}
	}
	legend(w, ss)
	fmt.Fprintln(w, "</svg>")
}

// barChart writes bars of ss side by side at each x (whole numbers,
// xMin-0.5 to xMax+0.5).
func barChart(w io.Writer, c chart, ss []series, xTicks []float64, xTick func(float64) string) {
	c.frame(w, xTicks, xTick)
	slot := plotW / (c.xMax - c.xMin)
	bw := slot * 0.8 / float64(len(ss))
	for k, s := range ss {
		for i := range s.xs {
			x := c.x(s.xs[i]) - slot*0.4 + float64(k)*bw
			y := c.y(s.ys[i])
			fmt.Fprintf(w, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`+"\n", x, y, bw, c.y(c.yMin)-y, s.color)
		}
	}
	legend(w, ss)
	fmt.Fprintln(w, "</svg>")
}

// niceTicks returns about n round tick values covering lo..hi.
func niceTicks(lo, hi float64, n int) []float64 {
	if hi <= lo {
		return []float64{lo}
	}
	raw := (hi - lo) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var out []float64
	for t := math.Ceil(lo/step) * step; t <= hi+step*1e-9; t += step {
		out = append(out, t)
	}
	return out
}

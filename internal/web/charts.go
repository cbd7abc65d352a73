package web

import (
	"fmt"
	"html/template"
	"strings"
)

// chartBar is one bar of a chart: a label (a day) and stacked values.
type chartBar struct {
	Label  string
	Values []int64
}

// chartSeries names a stacked series and its CSS class (the legend says which is
// which in words and the bars differ in pattern too: never colour alone).
type chartSeries struct{ Name, Class string }

// barChart draws stacked bars as inline SVG, scaled to the largest total. The SVG
// is decorative to screen readers (aria-hidden): each chart has a table beside it.
func barChart(title string, series []chartSeries, bars []chartBar) template.HTML {
	const w, h, pad = 600.0, 160.0, 20.0
	var maxv int64
	for _, b := range bars {
		var t int64
		for _, v := range b.Values {
			t += v
		}
		maxv = max(maxv, t)
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg class="chart" viewBox="0 0 %g %g" width="100%%" aria-hidden="true" focusable="false" preserveAspectRatio="none">`, w, h+pad)
	fmt.Fprintf(&sb, `<title>%s</title>`, template.HTMLEscapeString(title))
	fmt.Fprintf(&sb, `<line class="axis" x1="0" y1="%g" x2="%g" y2="%g"/>`, h, w, h)
	if n := len(bars); n > 0 && maxv > 0 {
		bw := w / float64(n)
		for i, b := range bars {
			y := h
			for k, v := range b.Values {
				if v <= 0 || k >= len(series) {
					continue
				}
				bh := float64(v) / float64(maxv) * (h - 4)
				y -= bh
				fmt.Fprintf(&sb, `<rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`,
					series[k].Class, float64(i)*bw+1, y, max(bw-2, 1), bh)
			}
		}
		fmt.Fprintf(&sb, `<text x="0" y="%g">%s</text>`, h+pad-4, template.HTMLEscapeString(bars[0].Label))
		fmt.Fprintf(&sb, `<text x="%g" y="%g" text-anchor="end">%s</text>`, w, h+pad-4, template.HTMLEscapeString(bars[n-1].Label))
	}
	sb.WriteString(`</svg>`)
	return template.HTML(sb.String()) // built here from escaped text and numbers
}

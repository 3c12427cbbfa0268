package export

import (
	"fmt"
	"strconv"

	"github.com/xuri/excelize/v2"
)

// Sheets that exist only with a baseline or earlier scans.
const (
	progressSheet     = "Progress"
	baselineGapsSheet = "Baseline gaps"
	progressTitle     = "Impacted mailboxes across scans"
)

// Progress values as classify names them (export does not import the
// decision code for them; TestProgressNames holds the two together).
const (
	progressRecovered = "recovered"
	progressNewly     = "newly_impacted"
	progressStill     = "still_impacted"
	progressUnchanged = "unchanged_ok"
	progressNotInPrev = "not_in_previous"
)

// evidenceLines are the Summary's baseline and progress figures.
func (v *view) evidenceLines() []summaryLine {
	var lines []summaryLine
	num := func(n int) value { return number(int64(n)) }
	if g := v.r.Baseline; g != nil {
		lines = append(lines,
			summaryLine{label: "Baseline", val: text(fmt.Sprintf("%s (%d mailboxes)", g.File, g.Listed))},
			summaryLine{label: "Only in the baseline", val: num(len(g.OnlyBaseline)), link: sheetLink(baselineGapsSheet)},
			summaryLine{label: "Not in the baseline", val: num(len(g.NotInBaseline)), link: sheetLink(baselineGapsSheet)},
		)
	}
	if p := v.r.Progress; p != nil {
		lines = append(lines,
			summaryLine{label: "Recovered since the last scan", val: num(p.Counts[progressRecovered]), link: sheetLink(progressSheet), tone: strong},
			summaryLine{label: "Newly impacted since the last scan", val: num(p.Counts[progressNewly]), link: sheetLink(progressSheet)},
			summaryLine{label: "Still impacted", val: num(p.Counts[progressStill])},
		)
		for _, t := range customerTypes() {
			lines = append(lines, summaryLine{label: "Still impacted: " + t, val: num(p.StillByType[t])})
		}
	}
	return lines
}

// writeProgress writes the per-scan table the progress chart is fed from
// at row and returns the row after it.
func writeProgress(w *sheetWriter, st *styles, p *Progress, row int) int {
	w.set(1, row, progressTitle, st.bold)
	row++
	w.set(1, row, "Scan", st.header)
	w.set(2, row, "Started", st.header)
	w.set(3, row, "Impacted mailboxes", st.headerNum)
	w.set(4, row, "Mailboxes", st.headerNum)
	row++
	for _, s := range p.Scans {
		w.set(1, row, s.Label, 0)
		w.set(2, row, instantOrNot(s.Started), st.cellStyle(&value{kind: timeCell}))
		w.set(3, row, s.Impacted, st.number)
		w.set(4, row, s.Probed, st.number)
		row++
	}
	return row
}

// addProgressChart draws impacted mailboxes per scan as a line, fed from
// the table whose title is at tableAt, n scans long.
func addProgressChart(f *excelize.File, at, tableAt, n int) error {
	header := tableAt + 1
	first, last := header+1, header+n
	chart := &excelize.Chart{
		Type: excelize.Line,
		Series: []excelize.ChartSeries{{
			Name:       fmt.Sprintf("%s!$C$%d", summarySheet, header),
			Categories: fmt.Sprintf("%s!$A$%d:$A$%d", summarySheet, first, last),
			Values:     fmt.Sprintf("%s!$C$%d:$C$%d", summarySheet, first, last),
			Line:       excelize.LineOptions{Width: 2.5},
			Marker:     excelize.ChartMarker{Symbol: "circle", Size: 7},
		}},
		Title:     excelize.ChartTitle{Paragraph: []excelize.RichTextRun{{Text: progressTitle}}},
		Legend:    excelize.ChartLegend{Position: "none"},
		Dimension: excelize.ChartDimension{Width: 640, Height: 400},
		Format:    excelize.GraphicOptions{OffsetX: 10},
	}
	if err := f.AddChart(summarySheet, chartCol+strconv.Itoa(at), chart); err != nil {
		return fmt.Errorf("progress chart: %w", err)
	}
	return nil
}

// progressTable lists the mailboxes that recovered or became impacted
// since the latest earlier scan.
func (v *view) progressTable() table {
	p := v.r.Progress
	return table{
		name: progressSheet,
		file: fileName(progressSheet),
		columns: []column{
			{header: "Mailbox", kind: textCell},
			{header: "Account", kind: textCell},
			{header: "Customer type", kind: textCell},
			{header: "Progress", kind: textCell},
			{header: "Previous impact", kind: textCell},
			{header: "Impact", kind: textCell},
			{header: "Evidence", kind: textCell, server: true},
		},
		rows: len(p.Changes),
		row: func(i int, out []value) {
			c := &p.Changes[i]
			out[0] = text(c.Mailbox)
			out[1] = text(c.AccountID)
			out[2] = text(c.CustomerType)
			out[3] = text(c.Progress)
			out[4] = impactCell(c.Before)
			out[5] = impactCell(c.Now)
			out[6] = text(c.Evidence)
		},
	}
}

// baselineGapsTable lists the mailboxes only one of baseline and inventory
// knows: neither is dropped silently.
func (v *view) baselineGapsTable() table {
	g := v.r.Baseline
	n := len(g.OnlyBaseline)
	return table{
		name: baselineGapsSheet,
		file: fileName(baselineGapsSheet),
		columns: []column{
			{header: "Mailbox", kind: textCell},
			{header: "Listed in", kind: textCell},
			{header: "Meaning", kind: textCell},
		},
		rows: n + len(g.NotInBaseline),
		row: func(i int, out []value) {
			if i < n {
				out[0] = text(g.OnlyBaseline[i])
				out[1] = text("baseline only")
				out[2] = text("not in the inventory: a mailbox billing no longer lists, or renamed; not probed")
				return
			}
			out[0] = text(g.NotInBaseline[i-n])
			out[1] = text("inventory only")
			out[2] = text("no baseline: decided without one")
		},
	}
}

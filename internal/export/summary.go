package export

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/impact-ops/impact/internal/results"
)

const summarySheet = "Summary"

// customerTypes are the rows of the Summary's tables, in order.
func customerTypes() [3]string {
	return [3]string{results.TypeBusiness, results.TypeResidential, results.TypeUnknown}
}

// crosstab counts by customer type (row) and impact (column), in the order
// of customerTypes and results.Impacts. Anything outside the vocabularies
// counts as unknown type / probe_error, never silently as fine.
type crosstab [3][]int

func newCrosstab() *crosstab {
	var c crosstab
	for i := range c {
		c[i] = make([]int, len(results.Impacts))
	}
	return &c
}

func (c *crosstab) add(customerType string, impact results.Impact) {
	row := 2 // unknown
	for i, t := range customerTypes() {
		if t == customerType {
			row = i
		}
	}
	impact = fillImpact(impact)
	for j, i := range results.Impacts {
		if i == impact {
			c[row][j]++
		}
	}
}

// summaryFigures are the Summary's counts, computed in one pass.
type summaryFigures struct {
	accounts, mailboxes *crosstab
	impacted            int // accounts with Rank > 0
	probeErrors         int // mailboxes with probe_error
}

func figures(v *view) summaryFigures {
	f := summaryFigures{accounts: newCrosstab(), mailboxes: newCrosstab(),
		impacted: len(v.ranked), probeErrors: len(v.probeErrors)}
	for _, a := range v.r.Accounts {
		if a != nil {
			f.accounts.add(a.CustomerType, a.Impact)
		}
	}
	for _, m := range v.r.Mailboxes {
		if m != nil {
			f.mailboxes.add(m.CustomerType, m.Impact)
		}
	}
	return f
}

func serverName(r *Report) string {
	if len(r.Scans) == 0 || r.Scans[0].Target.Server == "" {
		return "unknown server"
	}
	return r.Scans[0].Target.Server
}

func formatInstant(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return "not recorded"
	}
	return t.In(loc).Format("2006-01-02 15:04 MST")
}

// sheetWriter writes cells of a normal-mode sheet, remembering the first
// error so the layout code reads top to bottom.
type sheetWriter struct {
	f     *excelize.File
	sheet string
	loc   *time.Location
	err   error
}

// set writes v (a string, int, or time.Time) with style to cell. Strings go
// through SetCellStr: a string cell, never a formula.
func (w *sheetWriter) set(col, row int, v any, style int) {
	if w.err != nil {
		return
	}
	cell, err := excelize.CoordinatesToCellName(col, row)
	if err != nil {
		w.err = err
		return
	}
	switch v := v.(type) {
	case string:
		err = w.f.SetCellStr(w.sheet, cell, v)
	case int:
		err = w.f.SetCellInt(w.sheet, cell, int64(v))
	case time.Time:
		if v.IsZero() {
			err = w.f.SetCellStr(w.sheet, cell, "not recorded")
		} else {
			err = w.f.SetCellValue(w.sheet, cell, v.In(w.loc))
		}
	default:
		err = fmt.Errorf("summary: unexpected %T", v)
	}
	if err == nil && style != 0 {
		err = w.f.SetCellStyle(w.sheet, cell, cell, style)
	}
	if err != nil {
		w.err = fmt.Errorf("cell %s: %w", cell, err)
	}
}

// Summary layout: labels in A, values in B; the tables use A..G; the chart
// sits to the right of the tables.
const (
	summaryTableCols = 2 + 5 // type, five impacts, total
	chartCol         = "I"
)

func writeSummary(f *excelize.File, st *styles, v *view) error {
	if err := f.SetSheetName("Sheet1", summarySheet); err != nil {
		return err
	}
	r := v.r
	w := &sheetWriter{f: f, sheet: summarySheet, loc: v.loc}
	fig := figures(v)

	title := r.Title
	if title == "" {
		title = "Mail storage incident"
	}
	w.set(1, 1, title+": impact report for "+serverName(r), st.title)

	var target results.Target
	if len(r.Scans) > 0 {
		target = r.Scans[0].Target
	}
	verified := "no"
	if target.Verified {
		verified = "yes"
	}
	type line struct {
		label string
		value any
		style int
	}
	lines := []line{
		{"Incident", title, 0},
		{"Server", target.Server, 0},
		{"Host", target.Host, 0},
		{"Resolved addresses", strings.Join(target.Addresses, ", "), 0},
		{"Connected to", target.Connected, 0},
		{"TLS mode", target.TLS, 0},
		{"Greeting", target.Greeting, 0},
		{"Certificate subject", target.CertSubject, 0},
		{"Certificate issuer", target.CertIssuer, 0},
		{"Certificate SHA-256", target.CertSHA256, 0},
		{"Certificate valid until", target.CertNotAfter, 0},
		{"Certificate verified", verified, 0},
		{"Capabilities", strings.Join(target.Capabilities, " "), 0},
		{"Cutoff", r.Cutoff, st.time},
		{"Scan started", r.Started, st.time},
		{"Scan finished", r.Finished, st.time},
		{"Times shown in", v.loc.String(), 0},
		{"Scan runs", len(r.Scans), st.number},
	}
	if other := otherTargets(r.Scans); other != "" {
		lines = append(lines, line{"WARNING", "runs touched different servers: " + other, st.warn})
	}
	if r.Complete {
		lines = append(lines, line{"Status", "complete", st.bold})
	} else {
		lines = append(lines, line{"Status", fmt.Sprintf("INCOMPLETE: %d mailboxes not yet probed", r.NotProbed), st.warn})
	}
	if len(r.Scans) > 0 {
		lines = append(lines, line{"Mailboxes in inventory", r.Scans[len(r.Scans)-1].Mailboxes, st.number})
	}
	lines = append(lines,
		line{"Mailboxes probed", len(r.Mailboxes), st.number},
		line{"Accounts", len(r.Accounts), st.number},
		line{"Impacted accounts", fig.impacted, st.number},
		line{"Probe errors (rescan)", fig.probeErrors, st.number},
	)
	row := 3
	for _, l := range lines {
		w.set(1, row, l.label, st.label)
		w.set(2, row, l.value, l.style)
		row++
	}

	row++
	accountsAt := row
	row = writeCrosstab(w, st, row, "Accounts by customer type and worst impact", fig.accounts)
	row++
	mailboxesAt := row
	writeCrosstab(w, st, row, "Mailboxes by customer type and impact", fig.mailboxes)
	if w.err != nil {
		return w.err
	}
	if err := f.SetColWidth(summarySheet, "A", "A", 26); err != nil {
		return err
	}
	if err := f.SetColWidth(summarySheet, "B", "G", 16); err != nil {
		return err
	}
	return addChart(f, accountsAt, mailboxesAt)
}

// writeCrosstab writes a titled table at row: a header row, one row per
// customer type and a total row; the last column is the row total. It
// returns the row after the table.
func writeCrosstab(w *sheetWriter, st *styles, row int, title string, c *crosstab) int {
	w.set(1, row, title, st.bold)
	row++
	w.set(1, row, "Customer type", st.header)
	for j, i := range results.Impacts {
		w.set(2+j, row, string(i), st.impactHeader[i])
	}
	w.set(summaryTableCols, row, "Total", st.headerNum)
	row++
	colTotals := make([]int, len(results.Impacts))
	for t, name := range customerTypes() {
		w.set(1, row, name, 0)
		total := 0
		for j := range results.Impacts {
			w.set(2+j, row, c[t][j], st.number)
			total += c[t][j]
			colTotals[j] += c[t][j]
		}
		w.set(summaryTableCols, row, total, st.number)
		row++
	}
	w.set(1, row, "Total", st.bold)
	grand := 0
	for j, n := range colTotals {
		w.set(2+j, row, n, st.number)
		grand += n
	}
	w.set(summaryTableCols, row, grand, st.number)
	return row + 1
}

// addChart draws a clustered bar chart of mailboxes by customer type
// (categories) and impact (one series each, in the impact's colour), fed
// from the mailbox table whose title is at row mailboxesAt.
func addChart(f *excelize.File, accountsAt, mailboxesAt int) error {
	header := mailboxesAt + 1
	first, last := header+1, header+len(customerTypes())
	var series []excelize.ChartSeries
	for j, i := range results.Impacts {
		col, _ := excelize.ColumnNumberToName(2 + j)
		series = append(series, excelize.ChartSeries{
			Name:       fmt.Sprintf("%s!$%s$%d", summarySheet, col, header),
			Categories: fmt.Sprintf("%s!$A$%d:$A$%d", summarySheet, first, last),
			Values:     fmt.Sprintf("%s!$%s$%d:$%s$%d", summarySheet, col, first, col, last),
			Fill:       excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{impactColour(i)}},
		})
	}
	noVary := false
	chart := &excelize.Chart{
		Type: excelize.Bar,
		// One colour per impact series, not per customer type.
		VaryColors: &noVary,
		Series:     series,
		Title:      excelize.ChartTitle{Paragraph: []excelize.RichTextRun{{Text: "Mailboxes by customer type and impact"}}},
		Legend:     excelize.ChartLegend{Position: "bottom"},
		Dimension:  excelize.ChartDimension{Width: 640, Height: 400},
		XAxis:      excelize.ChartAxis{ReverseOrder: true}, // business on top
		Format:     excelize.GraphicOptions{OffsetX: 10},
	}
	if err := f.AddChart(summarySheet, chartCol+strconv.Itoa(accountsAt), chart); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	return nil
}

// otherTargets lists the servers of runs whose target differs from the
// first run's (by server or certificate): a resumed scan pointed at another
// system must not pass unnoticed. "" when all runs agree.
func otherTargets(scans []results.Scan) string {
	if len(scans) < 2 {
		return ""
	}
	first := scans[0].Target
	var other []string
	for _, s := range scans[1:] {
		t := s.Target
		if t.Server != first.Server || t.CertSHA256 != first.CertSHA256 {
			desc := t.Server
			if t.CertSHA256 != first.CertSHA256 {
				desc += " (certificate " + t.CertSHA256 + ")"
			}
			other = append(other, desc)
		}
	}
	if len(other) == 0 {
		return ""
	}
	return first.Server + " then " + strings.Join(other, ", ")
}

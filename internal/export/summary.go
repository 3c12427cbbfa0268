package export

import (
	"cmp"
	"fmt"
	"slices"
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
	impact = fillImpact(impact)
	for j, i := range results.Impacts {
		if i == impact {
			c[segmentOf(customerType)][j]++
		}
	}
}

// topBusiness is how many of the largest affected business accounts the
// Summary lists and charts.
const topBusiness = 10

// summaryFigures are the Summary's counts, computed in one pass.
type summaryFigures struct {
	accounts, mailboxes *crosstab
	multi               int     // accounts with two or more mailboxes
	top                 []int32 // largest affected business accounts, largest first
}

func figures(v *view) summaryFigures {
	rec := v.rec
	f := summaryFigures{accounts: newCrosstab(), mailboxes: newCrosstab(), multi: len(v.multi)}
	for i := range rec.accounts {
		a := &rec.accounts[i]
		f.accounts.add(a.customerType, rec.impact(a))
	}
	for _, off := range rec.mail {
		_, _, typ, imp := rec.s.head(off)
		f.mailboxes.add(typ, imp)
	}
	f.top = slices.Clone(v.bySegment[0])
	slices.SortStableFunc(f.top, func(x, y int32) int {
		return cmp.Compare(rec.accounts[y].affected(), rec.accounts[x].affected())
	})
	f.top = f.top[:min(len(f.top), topBusiness)]
	return f
}

func serverName(r *Report) string {
	if len(r.Scans) == 0 || r.Scans[0].Target.Server == "" {
		return "unknown server"
	}
	return r.Scans[0].Target.Server
}

func title(r *Report) string {
	if r.Title == "" {
		return "Mail storage incident"
	}
	return r.Title
}

func formatInstant(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return "not recorded"
	}
	return t.In(loc).Format("2006-01-02 15:04 MST")
}

// zoneName names loc for people: its name, or its UTC offset when it has
// none (a zone decoded from an RFC 3339 offset).
func zoneName(loc *time.Location) string {
	if n := loc.String(); n != "" {
		return n
	}
	_, off := time.Date(2000, 1, 1, 0, 0, 0, 0, loc).Zone()
	return "UTC" + time.Date(2000, 1, 1, 0, 0, 0, 0, time.FixedZone("", off)).Format("-07:00")
}

// tone is how a Summary line is emphasised.
type tone uint8

const (
	plain tone = iota
	strong
	warning
)

// summaryLine is one label and value of the Summary; link, when set, is
// the location ("'Sheet'!A1") the value links to.
type summaryLine struct {
	label string
	val   value
	tone  tone
	link  string
}

// sheetLink is the hyperlink location of a sheet's first cell.
func sheetLink(sheet string) string { return "'" + sheet + "'!A1" }

func (v *view) summaryLines(fig *summaryFigures) []summaryLine {
	r := v.r
	var target results.Target
	if len(r.Scans) > 0 {
		target = r.Scans[0].Target
	}
	verified := "no"
	switch {
	case target.Verified:
		verified = "yes"
	case target.CertSHA256 == "":
		verified = "n/a: no TLS"
	}
	num := func(n int) value { return number(int64(n)) }
	lines := []summaryLine{
		{label: "Incident", val: text(title(r))},
		{label: "Server", val: text(target.Server)},
		{label: "Host", val: text(target.Host)},
		{label: "Resolved addresses", val: text(strings.Join(target.Addresses, ", "))},
		{label: "Connected to", val: text(target.Connected)},
		{label: "TLS mode", val: text(target.TLS)},
	}
	if !v.opts.Redact {
		lines = append(lines, summaryLine{label: "Greeting", val: text(target.Greeting)})
	}
	lines = append(lines,
		summaryLine{label: "Certificate subject", val: text(target.CertSubject)},
		summaryLine{label: "Certificate issuer", val: text(target.CertIssuer)},
		summaryLine{label: "Certificate SHA-256", val: text(target.CertSHA256)},
		summaryLine{label: "Certificate valid until", val: text(target.CertNotAfter)},
		summaryLine{label: "Certificate verified", val: text(verified)},
		summaryLine{label: "Capabilities", val: text(strings.Join(target.Capabilities, " "))},
		summaryLine{label: "Cutoff", val: instantOrNot(r.Cutoff)},
		summaryLine{label: "Scan started", val: instantOrNot(r.Started)},
		summaryLine{label: "Scan finished", val: instantOrNot(r.Finished)},
		summaryLine{label: "Times shown in", val: text(zoneName(v.loc))},
		summaryLine{label: "Scan runs", val: num(len(r.Scans))},
	)
	if other := otherTargets(r.Scans); other != "" {
		lines = append(lines, summaryLine{label: "WARNING", val: text("runs touched different servers: " + other), tone: warning})
	}
	if r.Complete {
		lines = append(lines, summaryLine{label: "Status", val: text("complete"), tone: strong})
	} else {
		lines = append(lines, summaryLine{label: "Status", val: text(fmt.Sprintf("INCOMPLETE: %d mailboxes not yet probed", r.NotProbed)), tone: warning})
	}
	if v.opts.Redact {
		lines = append(lines, summaryLine{label: "Redacted", val: text("no customer contacts, no server text: safe to share more widely"), tone: strong})
	}
	if r.Inventory > 0 {
		lines = append(lines, summaryLine{label: "Mailboxes in inventory", val: num(r.Inventory)})
	}
	if r.NotInInventory > 0 {
		// Else "probed" exceeds "in inventory" with nothing to say why.
		lines = append(lines, summaryLine{label: "Probed, not in the inventory (closed since?)", val: num(r.NotInInventory)})
	}
	lines = append(lines, loadLines(r.Ends, r.Complete)...)
	lines = append(lines, v.evidenceLines()...)
	return append(lines,
		summaryLine{label: "Mailboxes probed", val: num(v.rec.Mailboxes()), link: sheetLink(mailboxesSheet)},
		summaryLine{label: "Accounts", val: num(v.rec.Accounts())},
		summaryLine{label: "Impacted accounts", val: num(v.rec.impacted), link: sheetLink(prioritySheet)},
		summaryLine{label: "Multi-mailbox accounts", val: num(fig.multi), link: sheetLink(multiSheet)},
		summaryLine{label: "Probe errors (rescan)", val: num(len(v.rec.probeErrors)), link: sheetLink(probeErrorsSheet)},
	)
}

// loadLines say how the runs treated the server: most connections open,
// breaker pauses, why a run stopped, and the authentication penalty with
// what removes it.
func loadLines(ends []results.End, complete bool) []summaryLine {
	if len(ends) == 0 {
		return nil
	}
	peak, pauses, held := 0, 0, 0
	wait := 0.0
	var advice, stops []string
	var earlier []string // stops of runs that a later run resumed
	for _, e := range ends {
		peak = max(peak, e.PeakConnections)
		pauses += e.Pauses
		held += e.PenaltyHeld
		wait += e.PenaltyWaitS
		for _, a := range e.Advice {
			if !slices.Contains(advice, a) {
				advice = append(advice, a)
			}
		}
		// Once every mailbox has a verdict, a run that stopped early was
		// resumed: worth knowing, no longer a warning.
		if e.Reason != "" && complete {
			earlier = append(earlier, fmt.Sprintf("%s at %s UTC; resumed since", e.Reason, e.FinishedAt.UTC().Format("2006-01-02 15:04")))
		} else if e.Reason != "" {
			stops = append(stops, e.Reason)
		}
	}
	lines := []summaryLine{
		{label: "Most connections at once", val: number(int64(peak))},
		{label: "Breaker pauses", val: number(int64(pauses))},
	}
	for _, s := range earlier {
		lines = append(lines, summaryLine{label: "Earlier run stopped", val: text(s)})
	}
	for _, s := range stops {
		lines = append(lines, summaryLine{label: "Run stopped early", val: text(s), tone: warning})
	}
	if held > 0 {
		lines = append(lines, summaryLine{label: "Authentication penalty", tone: warning,
			val: text(fmt.Sprintf("%d logins held %.0f s in all after failed logins (Dovecot anvil)", held, wait))})
	}
	for _, a := range advice {
		lines = append(lines, summaryLine{label: "Advice", val: text(a), tone: warning})
	}
	return lines
}

// instantOrNot is a date cell, or "not recorded" for the zero time.
func instantOrNot(t time.Time) value {
	if t.IsZero() {
		return text("not recorded")
	}
	return instant(t)
}

// The two crosstabs and where their figures link: an account count to the
// sheet of its customer type's impacted accounts, a mailbox count to every
// mailbox (or to the probe errors).
const (
	accountsTitle  = "Accounts by customer type and worst impact"
	mailboxesTitle = "Mailboxes by customer type and impact"
	queuesTitle    = "Call queues"
	topTitle       = "Largest affected business accounts"
)

func crosstabLink(title string, row int, impact results.Impact) string {
	if title == accountsTitle {
		if row < len(customerTypes()) {
			return sheetLink(segments()[row].sheet)
		}
		return sheetLink(prioritySheet)
	}
	if impact == results.ImpactProbeError {
		return sheetLink(probeErrorsSheet)
	}
	return sheetLink(mailboxesSheet)
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
	case value:
		switch v.kind {
		case textCell:
			err = w.f.SetCellStr(w.sheet, cell, v.s)
		case numberCell:
			err = w.f.SetCellInt(w.sheet, cell, v.n)
		case timeCell, dayCell:
			err = w.f.SetCellValue(w.sheet, cell, cellValue(&v, w.loc))
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

// link makes cell (col, row) a link to location in this workbook.
func (w *sheetWriter) link(col, row int, location string) {
	if w.err != nil || location == "" {
		return
	}
	cell, _ := excelize.CoordinatesToCellName(col, row)
	tip := "Go to " + strings.TrimSuffix(location, "!A1")
	if err := w.f.SetCellHyperLink(w.sheet, cell, location, "Location", excelize.HyperlinkOpts{Tooltip: &tip}); err != nil {
		w.err = fmt.Errorf("cell %s: link: %w", cell, err)
	}
}

// Summary layout: labels in A, values in B; the tables use A..G; the charts
// sit to the right of the tables.
const (
	summaryTableCols = 2 + 6 // type, six impacts, total
	chartCol         = "I"
	chartRows        = 26 // rows a 400-pixel chart covers (LibreOffice rows are 17 px), with a gap
)

func writeSummary(f *excelize.File, st *styles, v *view) error {
	if err := f.SetSheetName("Sheet1", summarySheet); err != nil {
		return err
	}
	w := &sheetWriter{f: f, sheet: summarySheet, loc: v.loc}
	fig := figures(v)

	w.set(1, 1, title(v.r)+": impact report for "+serverName(v.r), st.title)
	row := 3
	for _, l := range v.summaryLines(&fig) {
		w.set(1, row, l.label, st.label)
		style := st.cellStyle(&l.val)
		switch {
		case l.tone == strong:
			style = st.bold
		case l.tone == warning:
			style = st.warn
		case l.link != "" && l.val.kind == numberCell:
			style = st.linkNumber
		}
		w.set(2, row, l.val, style)
		w.link(2, row, l.link)
		row++
	}

	row++
	accountsAt := row
	row = writeCrosstab(w, st, row, accountsTitle, fig.accounts)
	row++
	mailboxesAt := row
	row = writeCrosstab(w, st, row, mailboxesTitle, fig.mailboxes)
	if len(v.queues) > 0 {
		row++
		row = writeQueues(w, st, v, row)
	}
	row++
	topAt := row
	writeTop(w, st, v, &fig, row)
	progressAt := topAt + 3 + max(len(fig.top), 1)
	if v.r.Progress != nil {
		writeProgress(w, st, v.r.Progress, progressAt)
	}
	if w.err != nil {
		return w.err
	}
	if err := f.SetColWidth(summarySheet, "A", "A", 28); err != nil {
		return err
	}
	if err := f.SetColWidth(summarySheet, "B", "G", 20); err != nil {
		return err
	}
	if err := addImpactChart(f, accountsAt, mailboxesAt); err != nil {
		return err
	}
	if len(fig.top) > 0 {
		if err := addTopChart(f, max(topAt, accountsAt+chartRows), topAt, len(fig.top)); err != nil {
			return err
		}
	}
	if p := v.r.Progress; p != nil {
		at := max(progressAt, accountsAt+chartRows)
		if len(fig.top) > 0 {
			at = max(at, max(topAt, accountsAt+chartRows)+chartRows)
		}
		if err := addProgressChart(f, at, progressAt, len(p.Scans)); err != nil {
			return err
		}
	}
	return setupPrint(f, v, summarySheet, false, 1)
}

// writeCrosstab writes a titled table at row: a header row, one row per
// customer type and a total row; the last column is the row total. Every
// count links to the sheet that lists what it counts. It returns the row
// after the table.
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
	cell := func(col, row, n, typeRow int, impact results.Impact) {
		w.set(col, row, n, st.linkNumber)
		w.link(col, row, crosstabLink(title, typeRow, impact))
	}
	for t, name := range customerTypes() {
		w.set(1, row, name, 0)
		total := 0
		for j, i := range results.Impacts {
			cell(2+j, row, c[t][j], t, i)
			total += c[t][j]
			colTotals[j] += c[t][j]
		}
		cell(summaryTableCols, row, total, t, "")
		row++
	}
	w.set(1, row, "Total", st.bold)
	grand := 0
	for j, n := range colTotals {
		cell(2+j, row, n, len(customerTypes()), results.Impacts[j])
		grand += n
	}
	cell(summaryTableCols, row, grand, len(customerTypes()), "")
	return row + 1
}

// writeQueues lists the call queues: accounts and affected mailboxes in
// each, each queue linking to its sheet.
func writeQueues(w *sheetWriter, st *styles, v *view, row int) int {
	w.set(1, row, queuesTitle, st.bold)
	row++
	for c, h := range []string{"Queue", "Accounts", "Business accounts", "Affected mailboxes"} {
		style := st.headerNum
		if c == 0 {
			style = st.header
		}
		w.set(1+c, row, h, style)
	}
	row++
	for q, accounts := range v.queues {
		business := 0
		for _, a := range accounts {
			if v.rec.accounts[a].customerType == results.TypeBusiness {
				business++
			}
		}
		w.set(1, row, queueSheet(q), st.link)
		w.link(1, row, sheetLink(queueSheet(q)))
		w.set(2, row, len(accounts), st.number)
		w.set(3, row, business, st.number)
		w.set(4, row, v.queueLoad[q], st.number)
		row++
	}
	return row
}

// writeTop lists the largest affected business accounts; each account
// links to its row on the Business sheet.
func writeTop(w *sheetWriter, st *styles, v *view, fig *summaryFigures, row int) {
	w.set(1, row, topTitle, st.bold)
	row++
	w.set(1, row, "Account", st.header)
	w.set(2, row, string(results.ImpactLoginFailed), st.impactHeader[results.ImpactLoginFailed])
	w.set(3, row, string(results.ImpactMissingOldMail), st.impactHeader[results.ImpactMissingOldMail])
	w.set(4, row, "Affected", st.headerNum)
	w.set(5, row, "Rank", st.headerNum)
	row++
	if len(fig.top) == 0 {
		w.set(1, row, "none", 0)
		return
	}
	business := segments()[0].sheet
	for _, i := range fig.top {
		a := &v.rec.accounts[i]
		w.set(1, row, v.rec.id(a), st.link)
		w.link(1, row, locate(business, int(v.inSegment[a.rank-1]-1), v.opts.MaxRows))
		w.set(2, row, int(a.loginFailed), st.number)
		w.set(3, row, int(a.missingOld), st.number)
		w.set(4, row, a.affected(), st.number)
		w.set(5, row, int(a.rank), st.number)
		row++
	}
}

// addImpactChart draws a clustered bar chart of mailboxes by customer type
// (categories) and impact (one series each, in the impact's colour), fed
// from the mailbox table whose title is at row mailboxesAt.
// impactSeries makes one chart series per impact, in its colour, from a
// Summary table: the impacts' names in the header row (from column B),
// categories in column A, values in rows first to last.
func impactSeries(header, first, last int, impacts []results.Impact) []excelize.ChartSeries {
	var series []excelize.ChartSeries
	for j, i := range impacts {
		col, _ := excelize.ColumnNumberToName(2 + j)
		series = append(series, excelize.ChartSeries{
			Name:       fmt.Sprintf("%s!$%s$%d", summarySheet, col, header),
			Categories: fmt.Sprintf("%s!$A$%d:$A$%d", summarySheet, first, last),
			Values:     fmt.Sprintf("%s!$%s$%d:$%s$%d", summarySheet, col, first, col, last),
			Fill:       excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{impactColour(i)}},
		})
	}
	return series
}

func addImpactChart(f *excelize.File, accountsAt, mailboxesAt int) error {
	header := mailboxesAt + 1
	first, last := header+1, header+len(customerTypes())
	series := impactSeries(header, first, last, results.Impacts)
	noVary := false
	chart := &excelize.Chart{
		Type: excelize.Bar,
		// One colour per impact series, not per customer type.
		VaryColors: &noVary,
		Series:     series,
		Title:      excelize.ChartTitle{Paragraph: []excelize.RichTextRun{{Text: mailboxesTitle}}},
		Legend:     excelize.ChartLegend{Position: "bottom"},
		Dimension:  excelize.ChartDimension{Width: 640, Height: 400},
		XAxis:      excelize.ChartAxis{ReverseOrder: true}, // business on top
		Format:     excelize.GraphicOptions{OffsetX: 10},
	}
	if err := f.AddChart(summarySheet, chartCol+strconv.Itoa(accountsAt), chart); err != nil {
		return fmt.Errorf("impact chart: %w", err)
	}
	return nil
}

// addTopChart draws the largest affected business accounts as stacked
// bars (login_failed, missing_old_mail in their colours), largest on top,
// fed from the table whose title is at row topAt, n accounts long.
func addTopChart(f *excelize.File, at, topAt, n int) error {
	header := topAt + 1
	first, last := header+1, header+n
	series := impactSeries(header, first, last, []results.Impact{results.ImpactLoginFailed, results.ImpactMissingOldMail})
	noVary := false
	chart := &excelize.Chart{
		Type:       excelize.BarStacked,
		VaryColors: &noVary,
		Series:     series,
		Title:      excelize.ChartTitle{Paragraph: []excelize.RichTextRun{{Text: topTitle + " (affected mailboxes)"}}},
		Legend:     excelize.ChartLegend{Position: "bottom"},
		Dimension:  excelize.ChartDimension{Width: 640, Height: 400},
		XAxis:      excelize.ChartAxis{ReverseOrder: true}, // largest on top
		Format:     excelize.GraphicOptions{OffsetX: 10},
	}
	if err := f.AddChart(summarySheet, chartCol+strconv.Itoa(at), chart); err != nil {
		return fmt.Errorf("business accounts chart: %w", err)
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

package export

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/impact-ops/impact/internal/playbook"
	"github.com/impact-ops/impact/internal/results"
)

// queueRow is what a queue sheet says of one account.
type queueRow struct {
	rank           int
	account, typ   string
	affected       int
	outcome, agent string
}

func readQueue(t *testing.T, f *excelize.File, sheet string) []queueRow {
	t.Helper()
	rows, err := f.GetRows(sheet)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rows[0], queueHeader) {
		t.Fatalf("%s header %q", sheet, rows[0])
	}
	var out []queueRow
	for _, r := range rows[1:] {
		r = padded(r, len(queueHeader))
		rank, err1 := strconv.Atoi(r[0])
		affected, err2 := strconv.Atoi(r[3])
		if err1 != nil || err2 != nil {
			t.Fatalf("%s row %q: rank or affected not a number", sheet, r)
		}
		out = append(out, queueRow{rank: rank, account: r[1], typ: r[2], affected: affected, agent: r[10], outcome: r[11]})
	}
	return out
}

// TestQueues: four queues hold exactly the impacted accounts, each once,
// in rank order with business accounts first, balanced by affected
// mailboxes; every Outcome cell offers the drop-down and starts at "Not
// called".
func TestQueues(t *testing.T) {
	_, f := writeFixture(t, synthetic(3000), Options{Queues: 4})
	want := slices.Insert(slices.Clone(defaultSheets), 7, "Queue 1", "Queue 2", "Queue 3", "Queue 4")
	if got := f.GetSheetList(); !slices.Equal(got, want) {
		t.Fatalf("sheets %q, want %q", got, want)
	}
	// The impacted accounts, from Priority.
	prio, err := f.GetRows("Priority")
	if err != nil {
		t.Fatal(err)
	}
	impacted := map[string]int{} // account -> affected
	largest := 0
	for _, r := range prio[1:] {
		lf, _ := strconv.Atoi(r[6])
		mo, _ := strconv.Atoi(r[7])
		impacted[r[1]] = lf + mo
		largest = max(largest, lf+mo)
	}
	if len(impacted) < 100 {
		t.Fatalf("only %d impacted accounts: fixture too small", len(impacted))
	}
	seen := map[string]string{}
	var loads []int
	for q := range 4 {
		sheet := queueSheet(q)
		rows := readQueue(t, f, sheet)
		load := 0
		nonBusiness := false
		for i, r := range rows {
			if prev, dup := seen[r.account]; dup {
				t.Errorf("%s: account %s already in %s", sheet, r.account, prev)
			}
			seen[r.account] = sheet
			if a, ok := impacted[r.account]; !ok || a != r.affected {
				t.Errorf("%s: account %s affected %d; Priority says %d (listed %v)", sheet, r.account, r.affected, a, ok)
			}
			if i > 0 && r.rank <= rows[i-1].rank {
				t.Errorf("%s row %d: rank %d after %d", sheet, i+2, r.rank, rows[i-1].rank)
			}
			if r.typ != results.TypeBusiness {
				nonBusiness = true
			} else if nonBusiness {
				t.Errorf("%s row %d: business account %s after a non-business one", sheet, i+2, r.account)
			}
			if r.outcome != "Not called" || r.agent != "" {
				t.Errorf("%s row %d: outcome %q agent %q", sheet, i+2, r.outcome, r.agent)
			}
			load += r.affected
		}
		if len(rows) == 0 || rows[0].typ != results.TypeBusiness {
			t.Errorf("%s does not start with a business account", sheet)
		}
		loads = append(loads, load)

		dvs, err := f.GetDataValidations(sheet)
		if err != nil || len(dvs) != 1 {
			t.Fatalf("%s: %d data validations (%v), want 1", sheet, len(dvs), err)
		}
		dv := dvs[0]
		if dv.Type != "list" || dv.Sqref != "L2:L"+strconv.Itoa(len(rows)+1) ||
			dv.Formula1 != `"Not called,No answer,Left message,Resolved,Escalated"` || !dv.ShowErrorMessage {
			t.Errorf("%s: drop-down %+v (formula %s)", sheet, dv, dv.Formula1)
		}
	}
	if len(seen) != len(impacted) {
		t.Errorf("queues hold %d accounts, %d are impacted", len(seen), len(impacted))
	}
	if spread := slices.Max(loads) - slices.Min(loads); spread > largest {
		t.Errorf("queue loads %v: spread %d over the largest account's %d", loads, spread, largest)
	}
	// The Summary lists the same loads.
	rows, _ := f.GetRows("Summary")
	at := findRow(t, rows, queuesTitle) + 1
	for q, load := range loads {
		r := rows[at+q]
		if r[0] != queueSheet(q) || r[3] != strconv.Itoa(load) {
			t.Errorf("Summary queue row %q, want %s with %d affected", r, queueSheet(q), load)
		}
	}
}

func TestAssignQueuesBalance(t *testing.T) {
	// Accounts with 1..3 mailboxes, each affected: greedy by rank.
	var recs []*results.Mailbox
	sizes := []int{3, 1, 1, 2, 3, 1, 2, 2, 1, 1}
	for a, n := range sizes {
		for k := range n {
			recs = append(recs, &results.Mailbox{Mailbox: "m" + strconv.Itoa(a) + "-" + strconv.Itoa(k) + "@x.example",
				AccountID: "A" + strconv.Itoa(a), CustomerType: results.TypeResidential, Impact: results.ImpactMissingOldMail})
		}
	}
	rec := mustBuild(recs)
	queues, loads := assignQueues(rec, 3)
	// Rank order: more affected first, then ID: A0, A4 (3), A3, A6, A7 (2),
	// A1, A2, A5, A8, A9 (1). Loads after each: [3 0 0] [3 3 0] [3 3 2]
	// [3 3 4] [5 3 4] [5 4 4] [5 5 4] (tie: lowest queue) [5 5 5] [6 5 5]
	// [6 6 5].
	ids := func(q []int32) (s []string) {
		for _, i := range q {
			s = append(s, rec.id(&rec.accounts[i]))
		}
		return s
	}
	want := [][]string{{"A0", "A7", "A8"}, {"A4", "A1", "A2", "A9"}, {"A3", "A6", "A5"}}
	for q := range queues {
		if got := ids(queues[q]); !slices.Equal(got, want[q]) {
			t.Errorf("queue %d = %v, want %v", q+1, got, want[q])
		}
	}
	if !slices.Equal(loads, []int{6, 6, 5}) {
		t.Errorf("loads %v, want [6 6 5]", loads)
	}
	if q, l := assignQueues(rec, 0); q != nil || l != nil {
		t.Errorf("0 queues: %v %v", q, l)
	}
}

// TestHyperlinks: every figure on the Summary links to the sheet it
// counts; the largest business accounts link to their Business row.
func TestHyperlinks(t *testing.T) {
	_, f := writeFixture(t, fixture(), Options{Queues: 2})
	rows, err := f.GetRows("Summary")
	if err != nil {
		t.Fatal(err)
	}
	link := func(cell string) string {
		t.Helper()
		ok, target, err := f.GetCellHyperLink("Summary", cell)
		if err != nil || !ok {
			t.Errorf("Summary!%s: no hyperlink (%v)", cell, err)
		}
		return target
	}
	for label, want := range map[string]string{
		"Mailboxes probed":       "'Mailboxes'!A1",
		"Impacted accounts":      "'Priority'!A1",
		"Multi-mailbox accounts": "'Multi-mailbox'!A1",
		"Probe errors (rescan)":  "'Probe errors'!A1",
	} {
		if got := link("B" + strconv.Itoa(findRow(t, rows, label))); got != want {
			t.Errorf("%s links to %q, want %q", label, got, want)
		}
	}
	acc := findRow(t, rows, accountsTitle) + 2 // first data row: business
	mbx := findRow(t, rows, mailboxesTitle) + 2
	tests := []struct{ cell, want string }{
		{"B" + strconv.Itoa(acc), "'Business'!A1"},
		{"F" + strconv.Itoa(acc), "'Business'!A1"},
		{"B" + strconv.Itoa(acc+1), "'Residential'!A1"},
		{"G" + strconv.Itoa(acc+2), "'Unknown type'!A1"},
		{"B" + strconv.Itoa(acc+3), "'Priority'!A1"}, // total row
		{"B" + strconv.Itoa(mbx), "'Mailboxes'!A1"},
		{"E" + strconv.Itoa(mbx+1), "'Probe errors'!A1"}, // after partially_restored
		{"A" + strconv.Itoa(findRow(t, rows, queuesTitle)+2), "'Queue 1'!A1"},
		{"A" + strconv.Itoa(findRow(t, rows, queuesTitle)+3), "'Queue 2'!A1"},
		{"A" + strconv.Itoa(findRow(t, rows, topTitle)+2), "'Business'!A2"},
	}
	for _, tt := range tests {
		if got := link(tt.cell); got != tt.want {
			t.Errorf("Summary!%s links to %q, want %q", tt.cell, got, tt.want)
		}
	}
	// A link does not change the figure: still a number.
	checkCell(t, f, cellIs{"Summary", "B" + strconv.Itoa(acc), "1", "", "number"})
	if got := rows[findRow(t, rows, topTitle)+1]; !slices.Equal(got, []string{"B100", "1", "1", "2", "1"}) {
		t.Errorf("largest business accounts row %q", got)
	}
	// Past the row limit the link finds the continuation sheet.
	if got, want := locate("Business", 5, 4), "'Business (2)'!A4"; got != want {
		t.Errorf("locate = %q, want %q", got, want)
	}
}

// TestCharts: the impact chart and the largest business accounts chart,
// each fed from the Summary's own tables.
func TestCharts(t *testing.T) {
	path, _ := writeFixture(t, fixture(), Options{})
	parts := zipParts(t, path)
	impact, top := parts["xl/charts/chart1.xml"], parts["xl/charts/chart2.xml"]
	if impact == "" || top == "" {
		t.Fatalf("chart parts: %v %v", impact != "", top != "")
	}
	if !strings.Contains(impact, `<grouping val="clustered">`) || strings.Count(impact, "<ser>") != len(results.Impacts) {
		t.Error("impact chart is not a clustered bar chart of one series per impact")
	}
	if !strings.Contains(top, `<grouping val="stacked">`) || strings.Count(top, "<ser>") != 2 {
		t.Error("business accounts chart is not a stacked bar chart of two series")
	}
	for _, i := range []results.Impact{results.ImpactLoginFailed, results.ImpactMissingOldMail} {
		if !strings.Contains(top, impactColour(i)) {
			t.Errorf("business accounts chart lacks the %s colour", i)
		}
	}
	// No business account affected: no second chart.
	recs := fixtureRecords()
	for _, m := range recs {
		if m.AccountID == "B100" {
			m.Impact = results.ImpactOK
		}
	}
	path, f := writeFixture(t, reportOf(recs), Options{})
	if _, ok := zipParts(t, path)["xl/charts/chart2.xml"]; ok {
		t.Error("a chart of no business accounts")
	}
	rows, _ := f.GetRows("Summary")
	if got := rows[findRow(t, rows, topTitle)+1][0]; got != "none" {
		t.Errorf("empty top table says %q", got)
	}
}

// TestHostileText: text that looks like a formula, an ST_Xstring escape,
// characters XML cannot carry and over-long text all come back as text.
func TestHostileText(t *testing.T) {
	recs := fixtureRecords()
	eve := recordOf(recs, "eve@odd.example")
	eve.ContactName = "_x003D_1+1"
	eve.ContactPhone = "-1"
	eve.Login.Text = "bad\x00byte\x1b and \xff end "
	eve.Folders = []results.Folder{{Name: `=cmd|' /C calc'!A0`, Countable: false}, {Name: "<b>&amp;</b>", Countable: false}}
	eve.Product = strings.Repeat("é", 40_000)
	_, f := writeFixture(t, reportOf(recs), Options{})
	// Mailboxes row 6 is eve.
	tests := []cellIs{
		{"Mailboxes", "R6", "_x003D_1+1", "", "string"},
		{"Mailboxes", "S6", "-1", "", "string"},
		{"Mailboxes", "I6", "bad\uFFFDbyte\uFFFD and \uFFFD end ", "", "string"},
		{"Mailboxes", "O6", `=cmd|' /C calc'!A0, <b>&amp;</b>`, "", "string"},
		{"Lookup", "G6", "_x003D_1+1", "", "string"},
	}
	for _, tt := range tests {
		t.Run(tt.cell, func(t *testing.T) { checkCell(t, f, tt) })
	}
	long, err := f.GetCellValue("Mailboxes", "P6")
	if err != nil || len([]rune(long)) != excelize.TotalCellChars || strings.Trim(long, "é") != "" {
		t.Errorf("long product: %d characters (%v), want %d", len([]rune(long)), err, excelize.TotalCellChars)
	}
}

// TestPlaybookOverride: the settings file's text reaches Priority, Lookup
// and the queues.
func TestPlaybookOverride(t *testing.T) {
	file := filepath.Join(t.TempDir(), "settings.toml")
	settings := `
[playbook.login_failed.business]
action = "=CALL the business desk"
script = "Hello from the business desk."

[playbook.missing_old_mail.any]
script = "Old mail comes back tonight."
`
	if err := os.WriteFile(file, []byte(settings), 0o600); err != nil {
		t.Fatal(err)
	}
	pb, err := playbook.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	_, f := writeFixture(t, fixture(), Options{Queues: 1, Playbook: pb})
	def := playbook.Default()
	tests := []cellIs{
		{"Priority", "J2", "[login_failed] =CALL the business desk [missing_old_mail] " + def.For(results.ImpactMissingOldMail, "business").Action, "", "string"},
		{"Priority", "J4", def.For(results.ImpactMissingOldMail, "residential").Action, "", "string"},
		{"Lookup", "I2", "=CALL the business desk", "", "string"},
		{"Lookup", "J2", "Hello from the business desk.", "", "string"},
		{"Lookup", "J3", "Old mail comes back tonight.", "", "string"},
		{"Lookup", "J5", "Old mail comes back tonight.", "", "string"},
		{"Queue 1", "J2", "[login_failed] Hello from the business desk. [missing_old_mail] Old mail comes back tonight.", "", "string"},
		{"Queue 1", "J3", def.For(results.ImpactLoginFailed, "unknown").Script, "", "string"},
	}
	for _, tt := range tests {
		t.Run(tt.sheet+"!"+tt.cell, func(t *testing.T) { checkCell(t, f, tt) })
	}
}

// TestAppendEscaped: cell text is escaped as encoding/xml escapes it (with
// newlines kept, as excelize keeps them), and "_xHHHH_" is protected.
func TestAppendEscaped(t *testing.T) {
	inputs := []string{"", "plain", `<a href="x">&'`, "tab\tcr\rnl\n", "nul\x00 esc\x1b", "bad \xff\xfe utf8", "é日本🙂",
		"_x0041_", "a_x12_", "_x004G_", "__x0041__", "\uFFFE\uFFFF", strings.Repeat("x", 100) + "&"}
	for _, in := range inputs {
		var want strings.Builder
		if err := xml.EscapeText(&want, []byte(in)); err != nil {
			t.Fatal(err)
		}
		w := strings.ReplaceAll(want.String(), "&#xA;", "\n")
		w = regexp.MustCompile(`_x[0-9A-Fa-f]{4}_`).ReplaceAllStringFunc(w, func(m string) string { return "_x005F" + m })
		if got := string(appendEscaped(nil, in)); got != w {
			t.Errorf("appendEscaped(%q) = %q, want %q", in, got, w)
		}
	}
	if got := truncateUTF16("a🙂b", 2); got != "a" {
		t.Errorf("truncateUTF16 cut a surrogate pair: %q", got)
	}
	if got := truncateUTF16("abc", 3); got != "abc" {
		t.Errorf("truncateUTF16 = %q", got)
	}
}

// TestLoadLinesStops: a run that stopped early is a warning while mailboxes
// are still unprobed, and a plain note once a later run resumed it.
func TestLoadLinesStops(t *testing.T) {
	at := time.Date(2026, 11, 29, 3, 4, 0, 0, time.UTC)
	ends := []results.End{{Reason: "interrupted", FinishedAt: at}, {}}
	tests := []struct {
		complete  bool
		label     string
		val, tone string
	}{
		{false, "Run stopped early", "interrupted", "warning"},
		{true, "Earlier run stopped", "interrupted at 2026-11-29 03:04 UTC; resumed since", ""},
	}
	for _, tt := range tests {
		var found *summaryLine
		for _, l := range loadLines(ends, tt.complete) {
			if l.label == "Run stopped early" || l.label == "Earlier run stopped" {
				found = &l
			}
		}
		if found == nil || found.label != tt.label || found.val.s != tt.val || (found.tone == warning) != (tt.tone == "warning") {
			t.Errorf("complete=%v: got %+v, want %s %q %s", tt.complete, found, tt.label, tt.val, tt.tone)
		}
	}
}

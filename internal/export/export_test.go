package export

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
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

const hostileContact = `=HYPERLINK("http://evil","x")`

func i64(n int64) *int64 { return &n }

func tp(t time.Time) *time.Time { return &t }

var (
	cutoff   = time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC)
	probedAt = time.Date(2026, 11, 29, 10, 5, 0, 0, time.UTC)
	cet      = time.FixedZone("CET", 3600)
)

// fixtureRecords are a small hand-made incident: a multi-mailbox business
// account with mixed impacts, an unknown-type account, residential accounts
// with missing mail, a probe error (nil counts) and no old mail.
func fixtureRecords() []*results.Mailbox {
	anna := &results.Mailbox{
		Mailbox: "anna@acme.example", AccountID: "B100", CustomerType: results.TypeBusiness,
		MultiMailbox: true, Impact: results.ImpactLoginFailed, Evidence: "AUTHORIZATIONFAILED",
		Product: "Business Mail", Created: "2019-03-01", ContactName: hostileContact, ContactPhone: "+41 44 000 00 00",
		Login:    results.Login{Outcome: "failed", Code: "AUTHORIZATIONFAILED", Text: "=1+2 Authorization failed"},
		ProbedAt: probedAt, DurationMS: 2011,
	}
	bob := &results.Mailbox{
		Mailbox: "bob@acme.example", AccountID: "B100", CustomerType: results.TypeBusiness,
		MultiMailbox: true, Impact: results.ImpactMissingOldMail, Evidence: "inventory: created 2019-03-01, access imap",
		Product: "Business Mail", Created: "2019-03-01", ContactName: hostileContact, ContactPhone: "+41 44 000 00 00",
		Login:        results.Login{Outcome: "ok", Text: "Logged in"},
		BeforeCutoff: i64(0), AfterCutoff: i64(12),
		Oldest: tp(time.Date(2026, 11, 29, 6, 30, 0, 0, time.UTC)), Newest: tp(time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)),
		Folders: []results.Folder{
			{Name: "INBOX", Countable: true, BeforeCutoff: i64(0), AfterCutoff: i64(12)},
			{Name: "=Parent", Countable: false},
			{Name: "@Archive", Countable: true, Error: "NO [SERVERBUG] internal error"},
		},
		ProbedAt: probedAt.Add(time.Second), DurationMS: 340,
	}
	carol := &results.Mailbox{
		Mailbox: "carol@acme.example", AccountID: "B100", CustomerType: results.TypeBusiness,
		MultiMailbox: true, Impact: results.ImpactOK, Evidence: "messages before cutoff",
		ContactName: "Carol Office", ContactPhone: "+41 44 000 00 01",
		Login:        results.Login{Outcome: "ok"},
		BeforeCutoff: i64(1234567), AfterCutoff: i64(5),
		Folders:  []results.Folder{{Name: "INBOX", Countable: true, BeforeCutoff: i64(1234567), AfterCutoff: i64(5)}},
		ProbedAt: probedAt, DurationMS: 120,
	}
	dave := &results.Mailbox{
		Mailbox: "dave@home.example", AccountID: "R200", CustomerType: results.TypeResidential,
		Impact: results.ImpactMissingOldMail, Evidence: "inventory: created 2015-01-01",
		Created: "not a date", ContactName: "Dave", ContactPhone: "@phone",
		Login:        results.Login{Outcome: "ok"},
		BeforeCutoff: i64(0), AfterCutoff: i64(0), Folders: []results.Folder{},
		ProbedAt: probedAt, DurationMS: 90,
	}
	eve := &results.Mailbox{
		Mailbox: "eve@odd.example", AccountID: "U300", CustomerType: results.TypeUnknown,
		Impact: results.ImpactLoginFailed, Evidence: "login refused: [AUTHORIZATIONFAILED] +Authorization failed",
		Login:    results.Login{Outcome: "failed", Code: "AUTHORIZATIONFAILED", Text: "+Authorization failed"},
		ProbedAt: probedAt, DurationMS: 2003,
	}
	frank := &results.Mailbox{
		Mailbox: "frank@home.example", AccountID: "R400", CustomerType: results.TypeResidential,
		Impact: results.ImpactProbeError, Evidence: "probe did not finish: @login: i/o timeout",
		Error:    "@login: i/o timeout",
		Attempts: []string{"connection reset by peer", "i/o timeout"},
		ProbedAt: probedAt, DurationMS: 30000,
	}
	gina := &results.Mailbox{
		Mailbox: "gina@home.example", AccountID: "R500", CustomerType: results.TypeResidential,
		Impact: results.ImpactNoOldMail, Evidence: "access pop3",
		Login:        results.Login{Outcome: "ok"},
		BeforeCutoff: i64(0), AfterCutoff: i64(3), Folders: []results.Folder{{Name: "INBOX", Countable: true, BeforeCutoff: i64(0), AfterCutoff: i64(3)}},
		Oldest:   tp(time.Date(1899, 12, 31, 22, 0, 0, 0, time.UTC)), // a bogus INTERNALDATE
		ProbedAt: probedAt, DurationMS: 80,
	}
	// Deliberately not in mailbox order: the Builder sorts.
	return []*results.Mailbox{gina, eve, anna, dave, carol, frank, bob}
}

// mustBuild packs records into Records; the tests' records are valid, so
// Add does not fail.
func mustBuild(recs []*results.Mailbox) *Records {
	b := NewBuilder()
	for _, m := range recs {
		if err := b.Add(m); err != nil {
			panic(err)
		}
	}
	return b.Records()
}

// fixture is the report of fixtureRecords: B100 (business, three
// mailboxes) ranks first, U300 (unknown type, login failed) second, R200
// (residential, missing old mail) third; R400 (probe error) and R500 (no old
// mail) are not impacted.
func fixture() *Report { return reportOf(fixtureRecords()) }

func reportOf(recs []*results.Mailbox) *Report {
	return &Report{
		Title: "Mail storage incident 2026-11-29",
		Scans: []results.Scan{{
			Kind: results.KindScan, StartedAt: probedAt.Add(-time.Hour), Cutoff: cutoff, Mailboxes: 9,
			Target: results.Target{
				Server: "imap.example.net:993", Host: "imap.example.net", Addresses: []string{"192.0.2.10", "2001:db8::10"},
				Connected: "192.0.2.10:993", TLS: "implicit", Greeting: "=* OK [CAPABILITY IMAP4rev1] Dovecot ready.",
				CertSubject: "CN=imap.example.net", CertIssuer: "CN=Example CA",
				CertSHA256: "AB:CD:EF", CertNotAfter: "2027-06-01T00:00:00Z", Verified: true,
				Capabilities: []string{"IMAP4rev1", "SASL-IR", "AUTH=PLAIN"},
			},
		}},
		Cutoff:    cutoff,
		Started:   probedAt.Add(-time.Hour),
		Finished:  probedAt.Add(time.Hour),
		Complete:  false,
		NotProbed: 2,
		Inventory: 9,
		Records:   mustBuild(recs),
		Location:  cet,
	}
}

// writeFixture writes r to a fresh directory and opens the result.
func writeFixture(t *testing.T, r *Report, opts Options) (string, *excelize.File) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "report.xlsx")
	if err := WriteWorkbook(path, r, opts); err != nil {
		t.Fatalf("WriteWorkbook: %v", err)
	}
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatalf("open written workbook: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return path, f
}

// defaultSheets are the sheets of a workbook without queues.
var defaultSheets = []string{"Summary", "Priority", "Business", "Residential", "Unknown type", "Multi-mailbox", "Lookup", "Mailboxes", "Probe errors"}

var (
	priorityHeader = []string{"Rank", "Account", "Customer type", "Tier", "Multi-mailbox", "Mailboxes", "Login failed",
		"Missing old mail", "Worst impact", "Recommended action", "Contact", "Phone", "Mailboxes affected"}
	segmentHeader = append([]string{"Rank", "Overall rank"}, priorityHeader[1:]...)
	multiHeader   = []string{"Rank", "Account", "Customer type", "Mailboxes", "Affected", "Worst impact", "Contact", "Phone", "Mailboxes and impacts"}
	lookupHeader  = []string{"Mailbox", "Account", "Customer type", "Impact", "Evidence", "Account rank", "Contact", "Phone",
		"Recommended action", "What to tell the customer"}
	queueHeader = []string{"Rank", "Account", "Customer type", "Affected", "Worst impact", "Mailboxes affected", "Contact", "Phone",
		"Recommended action", "Customer script", "Agent", "Outcome", "Called at", "Notes"}
	mailboxHeader = []string{"Mailbox", "Account", "Customer type", "Multi-mailbox", "Impact", "Evidence",
		"Login outcome", "Response code", "Server text", "Before cutoff", "After cutoff", "Oldest", "Newest",
		"Folders", "Folders not countable", "Product", "Created", "Contact", "Phone", "Error", "Probed at", "Duration ms",
		"Before cutoff by Date header", "Date mismatch", "Counted by", "Baseline", "Baseline messages", "Missing", "Missing %",
		"Folders short", "Recreated folders", "Progress"}
	probeErrorHeader = []string{"Mailbox", "Account", "Customer type", "Error", "Attempts", "Earlier failures", "Probed at"}
)

func TestSheetsAndHeaders(t *testing.T) {
	_, f := writeFixture(t, fixture(), Options{})
	if got := f.GetSheetList(); !slices.Equal(got, defaultSheets) {
		t.Fatalf("sheets = %q, want %q", got, defaultSheets)
	}
	if got := f.GetActiveSheetIndex(); got != 0 {
		t.Errorf("active sheet %d, want Summary (0)", got)
	}
	tests := []struct {
		sheet  string
		header []string
		rows   int // data rows
	}{
		{"Priority", priorityHeader, 3},
		{"Business", segmentHeader, 1},
		{"Residential", segmentHeader, 1},
		{"Unknown type", segmentHeader, 1},
		{"Multi-mailbox", multiHeader, 1},
		{"Lookup", lookupHeader, 7},
		{"Mailboxes", mailboxHeader, 7},
		{"Probe errors", probeErrorHeader, 1},
	}
	for _, tt := range tests {
		t.Run(tt.sheet, func(t *testing.T) {
			rows, err := f.GetRows(tt.sheet)
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != tt.rows+1 {
				t.Fatalf("%d rows, want header + %d", len(rows), tt.rows)
			}
			if !slices.Equal(rows[0], tt.header) {
				t.Errorf("header = %q\nwant     %q", rows[0], tt.header)
			}
			panes, err := f.GetPanes(tt.sheet)
			if err != nil || !panes.Freeze || panes.YSplit != 1 || panes.TopLeftCell != "A2" {
				t.Errorf("panes = %+v, %v; want header row frozen", panes, err)
			}
		})
	}
}

// padded returns row with at least n cells: GetRows drops trailing empty
// cells.
func padded(row []string, n int) []string {
	for len(row) < n {
		row = append(row, "")
	}
	return row
}

// checkRows compares a sheet's data rows with want.
func checkRows(t *testing.T, f *excelize.File, sheet string, want [][]string) {
	t.Helper()
	rows, err := f.GetRows(sheet)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows)-1 != len(want) {
		t.Fatalf("%s: %d data rows, want %d", sheet, len(rows)-1, len(want))
	}
	for i, w := range want {
		if got := padded(rows[i+1], len(w)); !slices.Equal(got, w) {
			t.Errorf("%s row %d =\n  %q\nwant\n  %q", sheet, i+2, got, w)
		}
	}
}

func TestPriorityOrder(t *testing.T) {
	_, f := writeFixture(t, fixture(), Options{})
	pb := playbook.Default()
	lf, mo := pb.For(results.ImpactLoginFailed, results.TypeBusiness), pb.For(results.ImpactMissingOldMail, results.TypeBusiness)
	b100 := "[login_failed] " + lf.Action + " [missing_old_mail] " + mo.Action
	priority := [][]string{
		{"1", "B100", "business", "business multi-mailbox", "yes", "3", "1", "1", "login_failed", b100,
			hostileContact + "; Carol Office", "+41 44 000 00 00; +41 44 000 00 01", "anna@acme.example, bob@acme.example"},
		{"2", "U300", "unknown", "unknown type", "no", "1", "1", "0", "login_failed",
			pb.For(results.ImpactLoginFailed, results.TypeUnknown).Action, "", "", "eve@odd.example"},
		{"3", "R200", "residential", "residential", "no", "1", "0", "1", "missing_old_mail",
			pb.For(results.ImpactMissingOldMail, results.TypeResidential).Action, "Dave", "@phone", "dave@home.example"},
	}
	checkRows(t, f, "Priority", priority)
	// Segment sheets: the same rows, ranked within the sheet, with the
	// overall rank beside.
	segment := func(row []string, inSheet string) []string {
		return append([]string{inSheet}, row...)
	}
	checkRows(t, f, "Business", [][]string{segment(priority[0], "1")})
	checkRows(t, f, "Unknown type", [][]string{segment(priority[1], "1")})
	checkRows(t, f, "Residential", [][]string{segment(priority[2], "1")})
}

func TestMultiMailboxAndLookup(t *testing.T) {
	_, f := writeFixture(t, fixture(), Options{})
	checkRows(t, f, "Multi-mailbox", [][]string{
		{"1", "B100", "business", "3", "2", "login_failed", hostileContact + "; Carol Office", "+41 44 000 00 00; +41 44 000 00 01",
			"anna@acme.example: login_failed; bob@acme.example: missing_old_mail; carol@acme.example: ok"},
	})
	pb := playbook.Default()
	look := func(mailbox, account, typ string, impact results.Impact, evidence, rank, contact, phone string) []string {
		e := pb.For(impact, typ)
		return []string{mailbox, account, typ, string(impact), evidence, rank, contact, phone, e.Action, e.Script}
	}
	checkRows(t, f, "Lookup", [][]string{
		look("anna@acme.example", "B100", "business", results.ImpactLoginFailed, "AUTHORIZATIONFAILED", "1", hostileContact, "+41 44 000 00 00"),
		look("bob@acme.example", "B100", "business", results.ImpactMissingOldMail, "inventory: created 2019-03-01, access imap", "1", hostileContact, "+41 44 000 00 00"),
		look("carol@acme.example", "B100", "business", results.ImpactOK, "messages before cutoff", "1", "Carol Office", "+41 44 000 00 01"),
		look("dave@home.example", "R200", "residential", results.ImpactMissingOldMail, "inventory: created 2015-01-01", "3", "Dave", "@phone"),
		look("eve@odd.example", "U300", "unknown", results.ImpactLoginFailed, "login refused: [AUTHORIZATIONFAILED] +Authorization failed", "2", "", ""),
		look("frank@home.example", "R400", "residential", results.ImpactProbeError, "probe did not finish: @login: i/o timeout", "", "", ""),
		look("gina@home.example", "R500", "residential", results.ImpactNoOldMail, "access pop3", "", "", ""),
	})
}

// cellIs describes what one cell must hold.
type cellIs struct {
	sheet, cell string
	raw         string // raw stored value ("" for an empty cell)
	shown       string // formatted value; "" means same as raw
	kind        string // "string", "number", "date", "empty"
}

func TestCellValues(t *testing.T) {
	_, f := writeFixture(t, fixture(), Options{})
	// Mailboxes rows: 2 anna, 3 bob, 4 carol, 5 dave, 6 eve, 7 frank, 8 gina.
	tests := []cellIs{
		{"Mailboxes", "A3", "bob@acme.example", "", "string"},
		{"Mailboxes", "E3", "missing_old_mail", "", "string"},
		{"Mailboxes", "J3", "0", "", "number"},  // a known zero stays 0
		{"Mailboxes", "K3", "12", "", "number"}, // after cutoff
		{"Mailboxes", "J4", "1234567", "1,234,567", "number"},
		{"Mailboxes", "J7", "", "", "empty"},                // probe_error: unknown count
		{"Mailboxes", "K7", "", "", "empty"},                //
		{"Mailboxes", "N2", "", "", "empty"},                // login failed: folders unknown
		{"Mailboxes", "N3", "3", "", "number"},              //
		{"Mailboxes", "N5", "0", "", "number"},              // logged in, no folders listed
		{"Mailboxes", "L3", "", "2026-11-29 07:30", "date"}, // 06:30Z in CET
		{"Mailboxes", "M3", "", "2026-11-30 09:00", "date"},
		{"Mailboxes", "L2", "", "", "empty"},
		{"Mailboxes", "L8", "1899-12-31 23:00", "", "string"}, // before Excel's epoch
		{"Mailboxes", "Q2", "", "2019-03-01", "date"},
		{"Mailboxes", "Q5", "not a date", "", "string"},
		{"Mailboxes", "U2", "", "2026-11-29 11:05", "date"},
		{"Mailboxes", "V7", "30000", "30,000", "number"},
		{"Mailboxes", "H2", "AUTHORIZATIONFAILED", "", "string"},
		{"Mailboxes", "D5", "no", "", "string"},
		// Hostile and formula-looking texts.
		{"Mailboxes", "R2", hostileContact, "", "string"},
		{"Mailboxes", "I2", "=1+2 Authorization failed", "", "string"},
		{"Mailboxes", "I6", "+Authorization failed", "", "string"},
		{"Mailboxes", "O3", "=Parent, @Archive: NO [SERVERBUG] internal error", "", "string"},
		{"Mailboxes", "S5", "@phone", "", "string"},
		{"Mailboxes", "T7", "@login: i/o timeout", "", "string"},
		{"Priority", "K2", hostileContact + "; Carol Office", "", "string"},
		{"Lookup", "G2", hostileContact, "", "string"},
		{"Multi-mailbox", "G2", hostileContact + "; Carol Office", "", "string"},
		{"Priority", "A4", "3", "", "number"},
		{"Probe errors", "A2", "frank@home.example", "", "string"},
		{"Probe errors", "D2", "@login: i/o timeout", "", "string"},
		{"Probe errors", "E2", "3", "", "number"},
		{"Probe errors", "F2", "connection reset by peer | i/o timeout", "", "string"},
		{"Probe errors", "G2", "", "2026-11-29 11:05", "date"},
		{"Summary", "B9", "=* OK [CAPABILITY IMAP4rev1] Dovecot ready.", "", "string"},
	}
	for _, tt := range tests {
		t.Run(tt.sheet+"!"+tt.cell, func(t *testing.T) { checkCell(t, f, tt) })
	}
}

func checkCell(t *testing.T, f *excelize.File, tt cellIs) {
	t.Helper()
	raw, err := f.GetCellValue(tt.sheet, tt.cell, excelize.Options{RawCellValue: true})
	if err != nil {
		t.Fatal(err)
	}
	shown, err := f.GetCellValue(tt.sheet, tt.cell)
	if err != nil {
		t.Fatal(err)
	}
	formula, err := f.GetCellFormula(tt.sheet, tt.cell)
	if err != nil || formula != "" {
		t.Errorf("formula = %q, %v; want none", formula, err)
	}
	typ, err := f.GetCellType(tt.sheet, tt.cell)
	if err != nil {
		t.Fatal(err)
	}
	wantShown := tt.shown
	if wantShown == "" {
		wantShown = tt.raw
	}
	if shown != wantShown {
		t.Errorf("shown %q, want %q", shown, wantShown)
	}
	switch tt.kind {
	case "string":
		if raw != tt.raw {
			t.Errorf("raw %q, want %q", raw, tt.raw)
		}
		if typ != excelize.CellTypeInlineString && typ != excelize.CellTypeSharedString {
			t.Errorf("type %v, want a string cell", typ)
		}
	case "number":
		if raw != tt.raw {
			t.Errorf("raw %q, want %q", raw, tt.raw)
		}
		if _, err := strconv.ParseInt(raw, 10, 64); err != nil || typ != excelize.CellTypeUnset {
			t.Errorf("type %v, raw %q: want a numeric cell", typ, raw)
		}
	case "date":
		// A real date is a serial day number with a date format.
		serial, err := strconv.ParseFloat(raw, 64)
		if err != nil || serial < 40000 || typ != excelize.CellTypeUnset {
			t.Errorf("raw %q, type %v: want a date serial", raw, typ)
		}
	case "empty":
		if raw != "" || typ != excelize.CellTypeUnset {
			t.Errorf("raw %q, type %v: want an empty cell", raw, typ)
		}
	}
}

// TestNoFormulaAnywhere reads every worksheet part: no cell of the workbook
// may carry a formula.
func TestNoFormulaAnywhere(t *testing.T) {
	path, _ := writeFixture(t, fixture(), Options{})
	parts := zipParts(t, path)
	sheets := 0
	for name, body := range parts {
		if !strings.HasPrefix(name, "xl/worksheets/sheet") {
			continue
		}
		sheets++
		if strings.Contains(body, "<f>") || strings.Contains(body, "<f ") {
			t.Errorf("%s holds a formula", name)
		}
		if strings.Contains(body, `t="str"`) {
			t.Errorf("%s holds a formula-result string cell", name)
		}
	}
	if sheets != len(defaultSheets) {
		t.Errorf("%d worksheet parts, want %d", sheets, len(defaultSheets))
	}
	if !strings.Contains(parts["xl/sharedStrings.xml"], "=* OK [CAPABILITY") {
		t.Error("Summary greeting not stored as a shared string")
	}
}

func zipParts(t *testing.T, path string) map[string]string {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	parts := map[string]string{}
	for _, zf := range zr.File {
		rc, err := zf.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		parts[zf.Name] = string(b)
	}
	return parts
}

// findRow returns the 1-based row whose column A is label.
func findRow(t *testing.T, rows [][]string, label string) int {
	t.Helper()
	for i, r := range rows {
		if len(r) > 0 && r[0] == label {
			return i + 1
		}
	}
	t.Fatalf("no row %q on Summary", label)
	return 0
}

func TestSummary(t *testing.T) {
	_, f := writeFixture(t, fixture(), Options{})
	rows, err := f.GetRows("Summary")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rows[0][0], "Mail storage incident 2026-11-29: impact report for imap.example.net:993"; got != want {
		t.Errorf("title %q, want %q", got, want)
	}
	labels := map[string]string{
		"Server":                 "imap.example.net:993",
		"Host":                   "imap.example.net",
		"Resolved addresses":     "192.0.2.10, 2001:db8::10",
		"TLS mode":               "implicit",
		"Certificate subject":    "CN=imap.example.net",
		"Certificate SHA-256":    "AB:CD:EF",
		"Certificate verified":   "yes",
		"Capabilities":           "IMAP4rev1 SASL-IR AUTH=PLAIN",
		"Cutoff":                 "2026-11-29 04:00",
		"Scan started":           "2026-11-29 10:05",
		"Scan finished":          "2026-11-29 12:05",
		"Times shown in":         "CET",
		"Status":                 "INCOMPLETE: 2 mailboxes not yet probed",
		"Mailboxes in inventory": "9",
		"Mailboxes probed":       "7",
		"Accounts":               "5",
		"Impacted accounts":      "3",
		"Probe errors (rescan)":  "1",
	}
	for label, want := range labels {
		r := findRow(t, rows, label)
		if got := rows[r-1][1]; got != want {
			t.Errorf("%s = %q, want %q", label, got, want)
		}
	}
	cutoffRow := findRow(t, rows, "Cutoff")
	checkCell(t, f, cellIs{"Summary", "B" + strconv.Itoa(cutoffRow), "", "2026-11-29 04:00", "date"})

	impactHeader := []string{"Customer type", "login_failed", "missing_old_mail", "partially_restored", "probe_error", "no_old_mail", "ok", "Total"}
	tables := []struct {
		title string
		body  [][]string
	}{
		{"Accounts by customer type and worst impact", [][]string{
			{"business", "1", "0", "0", "0", "0", "0", "1"},
			{"residential", "0", "1", "0", "1", "1", "0", "3"},
			{"unknown", "1", "0", "0", "0", "0", "0", "1"},
			{"Total", "2", "1", "0", "1", "1", "0", "5"},
		}},
		{"Mailboxes by customer type and impact", [][]string{
			{"business", "1", "1", "0", "0", "0", "1", "3"},
			{"residential", "0", "1", "0", "1", "1", "0", "3"},
			{"unknown", "1", "0", "0", "0", "0", "0", "1"},
			{"Total", "2", "2", "0", "1", "1", "1", "7"},
		}},
	}
	for _, tt := range tables {
		at := findRow(t, rows, tt.title)
		if got := rows[at]; !slices.Equal(got, impactHeader) {
			t.Errorf("%s header %q", tt.title, got)
		}
		for i, want := range tt.body {
			if got := rows[at+1+i]; !slices.Equal(got, want) {
				t.Errorf("%s row %d = %q, want %q", tt.title, i, got, want)
			}
		}
	}
	props, err := f.GetDocProps()
	if err != nil {
		t.Fatal(err)
	}
	if props.Title != "Mail storage incident 2026-11-29" || !strings.Contains(props.Subject, "imap.example.net:993") {
		t.Errorf("doc props title %q subject %q", props.Title, props.Subject)
	}
}

func TestChart(t *testing.T) {
	path, _ := writeFixture(t, fixture(), Options{})
	parts := zipParts(t, path)
	chart, ok := parts["xl/charts/chart1.xml"]
	if !ok {
		t.Fatal("no xl/charts/chart1.xml part")
	}
	if !strings.Contains(chart, `<barDir val="bar">`) || !strings.Contains(chart, `<grouping val="clustered">`) {
		t.Error("chart is not a clustered bar chart")
	}
	if n := strings.Count(chart, "<ser>"); n != len(results.Impacts) {
		t.Errorf("%d series, want one per impact (%d)", n, len(results.Impacts))
	}
	for _, i := range results.Impacts {
		if !strings.Contains(chart, impactColour(i)) {
			t.Errorf("chart lacks the %s colour %s", i, impactColour(i))
		}
	}
	if !strings.Contains(chart, "Summary!$A$") {
		t.Error("chart categories do not reference the Summary table")
	}
	// The drawing that holds the chart must hang off the Summary sheet.
	rels := parts["xl/worksheets/_rels/sheet1.xml.rels"]
	if !strings.Contains(rels, "drawing") {
		t.Errorf("Summary sheet has no drawing: %s", rels)
	}
}

func TestImpactFillsConsistent(t *testing.T) {
	_, f := writeFixture(t, fixture(), Options{Queues: 1})
	fillOf := func(sheet, cell string) string {
		t.Helper()
		id, err := f.GetCellStyle(sheet, cell)
		if err != nil {
			t.Fatal(err)
		}
		st, err := f.GetStyle(id)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Fill.Color) == 0 {
			return ""
		}
		return st.Fill.Color[0]
	}
	tests := []struct {
		sheet, cell string
		impact      results.Impact
	}{
		{"Mailboxes", "E2", results.ImpactLoginFailed},
		{"Mailboxes", "E3", results.ImpactMissingOldMail},
		{"Mailboxes", "E4", results.ImpactOK},
		{"Mailboxes", "E7", results.ImpactProbeError},
		{"Mailboxes", "E8", results.ImpactNoOldMail},
		{"Priority", "I2", results.ImpactLoginFailed},
		{"Priority", "I4", results.ImpactMissingOldMail},
		{"Probe errors", "D2", results.ImpactProbeError},
		{"Business", "J2", results.ImpactLoginFailed},
		{"Residential", "J2", results.ImpactMissingOldMail},
		{"Multi-mailbox", "F2", results.ImpactLoginFailed},
		{"Lookup", "D3", results.ImpactMissingOldMail},
		{"Lookup", "D4", results.ImpactOK},
		{"Lookup", "D7", results.ImpactProbeError},
		{"Queue 1", "E2", results.ImpactLoginFailed},
	}
	for _, tt := range tests {
		if got := fillOf(tt.sheet, tt.cell); !strings.EqualFold(got, impactColour(tt.impact)) {
			t.Errorf("%s!%s fill %q, want %s colour %s", tt.sheet, tt.cell, got, tt.impact, impactColour(tt.impact))
		}
	}
	rows, _ := f.GetRows("Summary")
	hdr := findRow(t, rows, "Mailboxes by customer type and impact") + 1
	for j, i := range results.Impacts {
		cell, _ := excelize.CoordinatesToCellName(2+j, hdr)
		if got := fillOf("Summary", cell); !strings.EqualFold(got, impactColour(i)) {
			t.Errorf("Summary!%s fill %q, want %s", cell, got, impactColour(i))
		}
	}
	// Number cells are right-aligned.
	id, _ := f.GetCellStyle("Mailboxes", "J3")
	if st, _ := f.GetStyle(id); st.Alignment == nil || st.Alignment.Horizontal != "right" {
		t.Errorf("number cell alignment %+v, want right", st.Alignment)
	}
}

// recordOf returns the record of mailbox among recs.
func recordOf(recs []*results.Mailbox, mailbox string) *results.Mailbox {
	for _, m := range recs {
		if m.Mailbox == mailbox {
			return m
		}
	}
	panic("no record " + mailbox)
}

func TestLayout(t *testing.T) {
	recs := fixtureRecords()
	recordOf(recs, "anna@acme.example").Evidence = strings.Repeat("x", 300) // capped
	path, f := writeFixture(t, reportOf(recs), Options{Queues: 2})
	tests := []struct {
		sheet, col string
		want       float64
	}{
		{"Mailboxes", "A", float64(len("carol@acme.example")) + 1},
		{"Mailboxes", "F", defaultMaxWidth},
		{"Mailboxes", "U", timeWidth + 1},
		{"Mailboxes", "V", float64(len("Duration ms")) + 2 + 1},
		{"Priority", "M", float64(len("anna@acme.example, bob@acme.example")) + 1},
		{"Queue 1", "M", timeWidth + 2}, // Called at: capped at a date's width
		{"Queue 1", "N", 40},            // Notes: room to type
	}
	for _, tt := range tests {
		got, err := f.GetColWidth(tt.sheet, tt.col)
		if err != nil || got != tt.want {
			t.Errorf("%s column %s width %v (%v), want %v", tt.sheet, tt.col, got, err, tt.want)
		}
	}
	parts := zipParts(t, path)
	// Sheets are numbered in the order they were made, which is the
	// workbook's order.
	part := func(sheet string) string {
		i := slices.Index(f.GetSheetList(), sheet)
		return parts["xl/worksheets/sheet"+strconv.Itoa(i+1)+".xml"]
	}
	// <col> elements must come in ascending order.
	colMin := regexp.MustCompile(`<col min="(\d+)"`)
	for _, sheet := range f.GetSheetList()[1:] {
		var mins []int
		for _, m := range colMin.FindAllStringSubmatch(part(sheet), -1) {
			n, _ := strconv.Atoi(m[1])
			mins = append(mins, n)
		}
		if len(mins) == 0 || !slices.IsSorted(mins) {
			t.Errorf("%s: <col> order %v, want ascending", sheet, mins)
		}
	}
	// The Called at column carries the date format for typed entries.
	if id, err := f.GetColStyle("Queue 1", "M"); err != nil || id == 0 {
		t.Errorf("Queue 1 column M style %d (%v), want the date style", id, err)
	} else if st, _ := f.GetStyle(id); st.CustomNumFmt == nil || *st.CustomNumFmt != "yyyy-mm-dd hh:mm" {
		t.Errorf("Queue 1 column M number format %+v", st.CustomNumFmt)
	}
	filters := map[string]string{"Priority": "$A$1:$M$4", "Mailboxes": "$A$1:$AF$8", "Probe errors": "$A$1:$G$2",
		"Lookup": "$A$1:$J$8", "Queue 1": "$A$1:$N$2", "Queue 2": "$A$1:$N$3", "Business": "$A$1:$N$2"}
	for sheet, ref := range filters {
		if !strings.Contains(part(sheet), `<autoFilter ref="`+ref+`"`) {
			t.Errorf("%s: no autofilter over %s", sheet, ref)
		}
	}
}

// TestPrintSetup: every sheet prints landscape, as many pages wide as it
// takes to keep the text readable (about landscapeChars characters a
// page; the Summary on one), with the incident and server in the page
// header; table sheets repeat their header row on every page.
func TestPrintSetup(t *testing.T) {
	path, f := writeFixture(t, fixture(), Options{Queues: 1})
	for _, sheet := range f.GetSheetList() {
		lo, err := f.GetPageLayout(sheet)
		if err != nil {
			t.Fatal(err)
		}
		if *lo.Orientation != "landscape" || lo.FitToWidth == nil || *lo.FitToWidth < 1 || lo.FitToHeight == nil || *lo.FitToHeight != 0 {
			t.Fatalf("%s: orientation %s, fit to width %v height %v", sheet, *lo.Orientation, lo.FitToWidth, lo.FitToHeight)
		}
		if sheet == "Summary" && *lo.FitToWidth != 1 {
			t.Errorf("Summary prints %d pages wide, want 1", *lo.FitToWidth)
		}
		if sheet != "Summary" {
			header, _ := f.GetRows(sheet)
			var width float64
			for c := range header[0] {
				name, _ := excelize.ColumnNumberToName(c + 1)
				w, _ := f.GetColWidth(sheet, name)
				width += w
			}
			if per := width / float64(*lo.FitToWidth); per > landscapeChars || (*lo.FitToWidth > 1 && width/float64(*lo.FitToWidth-1) <= landscapeChars) {
				t.Errorf("%s: %.0f characters wide on %d pages", sheet, width, *lo.FitToWidth)
			}
		}
		props, err := f.GetSheetProps(sheet)
		if err != nil || props.FitToPage == nil || !*props.FitToPage {
			t.Errorf("%s: fit to page not set (%v)", sheet, err)
		}
		hf, err := f.GetHeaderFooter(sheet)
		if err != nil || hf == nil || hf.OddHeader != "&LMail storage incident 2026-11-29&Rimap.example.net:993" {
			t.Errorf("%s: page header %+v (%v)", sheet, hf, err)
		}
	}
	names := map[string]string{}
	for _, dn := range f.GetDefinedName() {
		if dn.Name == "_xlnm.Print_Titles" {
			names[dn.Scope] = dn.RefersTo
		}
	}
	for _, sheet := range f.GetSheetList()[1:] {
		if want := "'" + sheet + "'!$1:$1"; names[sheet] != want {
			t.Errorf("%s: print titles %q, want %q", sheet, names[sheet], want)
		}
	}
	// The stream writer must have carried the page setup into the part.
	if !strings.Contains(zipParts(t, path)["xl/worksheets/sheet2.xml"], `orientation="landscape"`) {
		t.Error("Priority part has no landscape page setup")
	}
}

func TestFileMode(t *testing.T) {
	path, _ := writeFixture(t, fixture(), Options{})
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	assertOnly(t, filepath.Dir(path), "report.xlsx")
}

// assertOnly fails unless dir holds exactly the named files.
func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	slices.Sort(got)
	slices.Sort(names)
	if !slices.Equal(got, names) {
		t.Errorf("directory holds %q, want %q", got, names)
	}
}

// failAfter passes n bytes, then fails every write.
type failAfter struct {
	w io.Writer
	n int
}

var errInjected = errors.New("injected: disk full")

func (f *failAfter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		n, _ := f.w.Write(p[:f.n])
		f.n = 0
		return n, errInjected
	}
	f.n -= len(p)
	return f.w.Write(p)
}

func TestFailureLeavesNothing(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, path string) error
	}{
		{"write error at start", func(t *testing.T, path string) error {
			w, err := NewWorkbook(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			w.sink = func(f io.Writer) io.Writer { return &failAfter{w: f, n: 0} }
			return w.Write(fixture())
		}},
		{"write error midway", func(t *testing.T, path string) error {
			w, err := NewWorkbook(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			w.sink = func(f io.Writer) io.Writer { return &failAfter{w: f, n: 3000} }
			return w.Write(fixture())
		}},
		{"nil report", func(t *testing.T, path string) error {
			return WriteWorkbook(path, nil, Options{})
		}},
		{"closed without writing", func(t *testing.T, path string) error {
			w, err := NewWorkbook(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			return w.Write(fixture())
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "report.xlsx")
			if err := tt.run(t, path); err == nil {
				t.Fatal("no error")
			}
			assertOnly(t, dir)
		})
	}
}

func TestFailureKeepsEarlierReport(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "report.xlsx")
	if err := os.WriteFile(path, []byte("earlier report"), 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := NewWorkbook(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	w.sink = func(f io.Writer) io.Writer { return &failAfter{w: f, n: 100} }
	err = w.Write(fixture())
	if !errors.Is(err, errInjected) {
		t.Fatalf("Write error %v, want the injected one", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "earlier report" {
		t.Errorf("earlier report became %q", b)
	}
	assertOnly(t, dir, "report.xlsx")
}

func TestUnwritableTarget(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, path string
	}{
		{"missing directory", filepath.Join(dir, "no", "such", "dir", "report.xlsx")},
		{"directory is a file", filepath.Join(dir, "file", "report.xlsx")},
	}
	if err := os.WriteFile(filepath.Join(dir, "file"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewWorkbook(tt.path, Options{}); err == nil {
				t.Fatal("NewWorkbook: no error")
			}
			if err := WriteWorkbook(tt.path, fixture(), Options{}); err == nil {
				t.Fatal("WriteWorkbook: no error")
			}
		})
	}
	assertOnly(t, dir, "file")
}

func TestSecondWriteRefused(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "report.xlsx")
	w, err := NewWorkbook(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(fixture()); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(fixture()); err == nil {
		t.Error("second Write: no error")
	}
	if err := w.Close(); err != nil {
		t.Error(err)
	}
	assertOnly(t, dir, "report.xlsx")
}

func TestInvalidOptions(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []int{1, -1, maxSheetRows + 1} {
		if _, err := NewWorkbook(filepath.Join(dir, "r.xlsx"), Options{MaxRows: n}); err == nil {
			t.Errorf("MaxRows %d: no error", n)
		}
	}
	for _, n := range []int{-1, MaxQueues + 1} {
		if _, err := NewWorkbook(filepath.Join(dir, "r.xlsx"), Options{Queues: n}); err == nil {
			t.Errorf("Queues %d: no error", n)
		}
		if _, err := WriteCSV(filepath.Join(dir, "csv"), fixture(), Options{Queues: n}); err == nil {
			t.Errorf("CSV with Queues %d: no error", n)
		}
	}
	assertOnly(t, dir)
}

func TestOverflowSheets(t *testing.T) {
	// 3 data rows per sheet: 7 mailboxes take three sheets; 3 ranked accounts
	// fit Priority exactly.
	_, f := writeFixture(t, fixture(), Options{MaxRows: 4})
	want := []string{"Summary", "Priority", "Business", "Residential", "Unknown type", "Multi-mailbox",
		"Lookup", "Lookup (2)", "Lookup (3)", "Mailboxes", "Mailboxes (2)", "Mailboxes (3)", "Probe errors"}
	if got := f.GetSheetList(); !slices.Equal(got, want) {
		t.Fatalf("sheets %q, want %q", got, want)
	}
	tests := []struct {
		sheet     string
		mailboxes []string
	}{
		{"Mailboxes", []string{"anna@acme.example", "bob@acme.example", "carol@acme.example"}},
		{"Mailboxes (2)", []string{"dave@home.example", "eve@odd.example", "frank@home.example"}},
		{"Mailboxes (3)", []string{"gina@home.example"}},
	}
	for _, tt := range tests {
		rows, err := f.GetRows(tt.sheet)
		if err != nil {
			t.Fatal(err)
		}
		if rows[0][0] != "Mailbox" || rows[0][21] != "Duration ms" {
			t.Errorf("%s header %q", tt.sheet, rows[0])
		}
		var got []string
		for _, r := range rows[1:] {
			got = append(got, r[0])
		}
		if !slices.Equal(got, tt.mailboxes) {
			t.Errorf("%s mailboxes %q, want %q", tt.sheet, got, tt.mailboxes)
		}
		if p, _ := f.GetPanes(tt.sheet); !p.Freeze {
			t.Errorf("%s header not frozen", tt.sheet)
		}
	}
	// The continuation keeps the figures: frank's unknown count is still
	// empty, dave's zero still 0.
	checkCell(t, f, cellIs{"Mailboxes (2)", "J4", "", "", "empty"})
	checkCell(t, f, cellIs{"Mailboxes (2)", "J2", "0", "", "number"})
}

func TestEmptyReport(t *testing.T) {
	_, f := writeFixture(t, &Report{Complete: true}, Options{Queues: 2})
	want := slices.Insert(slices.Clone(defaultSheets), 7, "Queue 1", "Queue 2")
	if got := f.GetSheetList(); !slices.Equal(got, want) {
		t.Fatalf("sheets %q, want %q", got, want)
	}
	for _, s := range want[1:] {
		rows, err := f.GetRows(s)
		if err != nil || len(rows) != 1 {
			t.Errorf("%s: %d rows (%v), want the header only", s, len(rows), err)
		}
	}
	rows, _ := f.GetRows("Summary")
	if !strings.Contains(rows[0][0], "unknown server") {
		t.Errorf("title %q", rows[0][0])
	}
	if got := rows[findRow(t, rows, "Status")-1][1]; got != "complete" {
		t.Errorf("status %q", got)
	}
	if got := rows[findRow(t, rows, "Times shown in")-1][1]; got != "UTC" {
		t.Errorf("zone %q", got)
	}
}

func TestTargetChangeWarned(t *testing.T) {
	r := fixture()
	second := r.Scans[0]
	second.Resumed = true
	second.Target.Server = "imap-test.example.net:993"
	second.Target.CertSHA256 = "01:02:03"
	r.Scans = append(r.Scans, second)
	_, f := writeFixture(t, r, Options{})
	rows, _ := f.GetRows("Summary")
	got := rows[findRow(t, rows, "WARNING")-1][1]
	want := "runs touched different servers: imap.example.net:993 then imap-test.example.net:993 (certificate 01:02:03)"
	if got != want {
		t.Errorf("warning %q, want %q", got, want)
	}
}

func TestHelpers(t *testing.T) {
	widths := []struct {
		in   string
		want int
	}{
		{"", 0}, {"abc", 3}, {"ab\nabcd\na", 4}, {"日本", 4}, {"é", 1},
	}
	for _, tt := range widths {
		if got := textWidth(tt.in); got != tt.want {
			t.Errorf("textWidth(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
	impacts := []struct {
		in, want results.Impact
	}{
		{results.ImpactOK, results.ImpactOK}, {"", results.ImpactProbeError}, {"weird", results.ImpactProbeError},
	}
	for _, tt := range impacts {
		if got := fillImpact(tt.in); got != tt.want {
			t.Errorf("fillImpact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	var l listing
	for i := range 8 {
		l.add("c" + strconv.Itoa(i%7))
	}
	l.add("")
	if got, want := l.String(), "c0; c1; c2; c3; c4; (+2 more)"; got != want {
		t.Errorf("listing = %q, want %q", got, want)
	}
	var long []*results.Mailbox
	for i := range 2000 {
		long = append(long, &results.Mailbox{Mailbox: fmt.Sprintf("m%04d@example.com", i), AccountID: "A1", Impact: results.ImpactLoginFailed})
	}
	long = append(long, &results.Mailbox{Mailbox: "fine@example.com", AccountID: "A1", Impact: results.ImpactOK})
	v := newView(&Report{Records: mustBuild(long)}, Options{})
	var m mrow
	got := v.affected(&v.rec.accounts[0], &m)
	// 19 characters per entry with ", ": 1684 fit in 32,000.
	if !strings.HasPrefix(got, "m0000@example.com, m0001@example.com") || !strings.HasSuffix(got, "m1683@example.com, (+316 more; see Mailboxes)") ||
		len(got) > 32_767 || strings.Contains(got, "fine@") {
		t.Errorf("affected(2000 mailboxes) = ...%q (%d chars)", got[max(0, len(got)-60):], len(got))
	}
	tests := []struct{ in, want string }{
		{"=1+2", "'=1+2"}, {"+41 44", "+41 44"}, {"+49 (30) 1234-5", "+49 (30) 1234-5"}, {"+1+1", "'+1+1"}, {"+SUM(A1)", "'+SUM(A1)"}, {"-5", "'-5"}, {"@x", "'@x"}, {"\tx", "'\tx"}, {"\rx", "'\rx"},
		{"a=b", "a=b"}, {"", ""}, {" =x", " =x"}, {"'x", "'x"},
	}
	for _, tt := range tests {
		if got := neutralise(tt.in); got != tt.want {
			t.Errorf("neutralise(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := zoneName(time.FixedZone("", 5*3600+30*60)); got != "UTC+05:30" {
		t.Errorf("zoneName = %q", got)
	}
	if got := day("2019-03-01"); got.kind != dayCell || !got.t.Equal(time.Date(2019, 3, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("day = %+v", got)
	}
}

// TestDateZone: date cells show the wall clock of Report.Location.
func TestDateZone(t *testing.T) {
	re := regexp.MustCompile(`^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$`)
	for _, tt := range []struct {
		loc  *time.Location
		want string
	}{
		{nil, "2026-11-29 10:05"},
		{cet, "2026-11-29 11:05"},
		{time.FixedZone("X", -5*3600-30*60), "2026-11-29 04:35"},
	} {
		r := fixture()
		r.Location = tt.loc
		_, f := writeFixture(t, r, Options{})
		got, _ := f.GetCellValue("Mailboxes", "U2")
		if got != tt.want || !re.MatchString(got) {
			t.Errorf("zone %v: probed at %q, want %q", tt.loc, got, tt.want)
		}
	}
}

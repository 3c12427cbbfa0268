package export

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/impact-ops/impact/internal/classify"
	"github.com/impact-ops/impact/internal/results"
)

// TestProgressNames holds export's progress names to classify's.
func TestProgressNames(t *testing.T) {
	mine := []string{progressRecovered, progressNewly, progressStill, progressUnchanged, progressNotInPrev}
	if !slices.Equal(mine, classify.ProgressValues) {
		t.Errorf("export %v, classify %v", mine, classify.ProgressValues)
	}
}

// evidenceReport is the fixture with a baseline check, a date mismatch, a
// recreated folder, progress and baseline gaps.
func evidenceReport() *Report {
	recs := fixtureRecords()
	for _, m := range recs {
		switch m.Mailbox {
		case "bob@acme.example": // missing_old_mail in the fixture
			m.Baseline = &results.BaselineCheck{Source: "backup.csv:3", Messages: 40, Present: 0, Missing: 40, Share: 1, Tolerance: 5,
				Folders: []results.FolderLoss{{Name: "INBOX", Baseline: 30, Missing: 30}, {Name: "Work", Baseline: 10, Missing: 10, Gone: true}}}
			m.Recreated = []results.Recreated{{Folder: "INBOX", UIDValidity: 9, Baseline: 7, Evidence: "baseline"}}
			m.Progress = "still_impacted"
		case "carol@acme.example":
			m.SentBeforeCutoff, m.DateMismatch, m.DateBasis = new(int64(12)), true, "date_header"
			m.Progress = "recovered"
		}
	}
	r := reportOf(recs)
	r.Baseline = &BaselineGaps{File: "backup.csv", Listed: 8, OnlyBaseline: []string{"ghost@acme.example"}, NotInBaseline: []string{"eve@x.example", "frank@x.example"}}
	r.Progress = &Progress{
		Scans:       []ScanPoint{{Label: "a.jsonl", Started: probedAt.Add(-48 * time.Hour), Impacted: 6, Probed: 7}, {Label: "this report", Started: probedAt, Impacted: 4, Probed: 7}},
		Counts:      map[string]int{"recovered": 1, "newly_impacted": 0, "still_impacted": 3},
		StillByType: map[string]int{results.TypeBusiness: 2, results.TypeResidential: 1},
		Changes: []Change{{Mailbox: "carol@acme.example", AccountID: "B100", CustomerType: results.TypeBusiness, Progress: "recovered",
			Before: results.ImpactMissingOldMail, Now: results.ImpactOK, Evidence: "12 messages before the cutoff"}},
	}
	return r
}

func TestEvidenceSheets(t *testing.T) {
	path, f := writeFixture(t, evidenceReport(), Options{})
	sheets := f.GetSheetList()
	if want := append(slices.Clone(defaultSheets), "Progress", "Baseline gaps"); !slices.Equal(sheets, want) {
		t.Errorf("sheets %q, want %q", sheets, want)
	}
	rows, err := f.GetRows("Mailboxes")
	if err != nil {
		t.Fatal(err)
	}
	col := func(h string) int { return slices.Index(rows[0], h) }
	byMailbox := map[string][]string{}
	for _, r := range rows[1:] {
		for len(r) < len(rows[0]) {
			r = append(r, "")
		}
		byMailbox[r[0]] = r
	}
	tests := []struct{ mailbox, column, want string }{
		{"bob@acme.example", "Baseline", "backup.csv:3"},
		{"bob@acme.example", "Baseline messages", "40"},
		{"bob@acme.example", "Missing", "40"},
		{"bob@acme.example", "Missing %", "100"},
		{"bob@acme.example", "Folders short", "INBOX 0/30, Work gone (10)"},
		{"bob@acme.example", "Recreated folders", "INBOX (baseline)"},
		{"bob@acme.example", "Progress", "still_impacted"},
		{"carol@acme.example", "Before cutoff by Date header", "12"},
		{"carol@acme.example", "Date mismatch", "yes"},
		{"carol@acme.example", "Counted by", "date_header"},
		{"carol@acme.example", "Baseline", ""},
		{"carol@acme.example", "Missing", ""},
	}
	for _, tt := range tests {
		c := col(tt.column)
		if c < 0 {
			t.Fatalf("no column %q in %q", tt.column, rows[0])
		}
		if got := byMailbox[tt.mailbox][c]; got != tt.want {
			t.Errorf("%s %s = %q, want %q", tt.mailbox, tt.column, got, tt.want)
		}
	}

	prog, _ := f.GetRows("Progress")
	if len(prog) != 2 || !slices.Equal(prog[1][:6], []string{"carol@acme.example", "B100", "business", "recovered", "missing_old_mail", "ok"}) {
		t.Errorf("Progress sheet %q", prog)
	}
	gaps, _ := f.GetRows("Baseline gaps")
	var got []string
	for _, r := range gaps[1:] {
		got = append(got, r[0]+" "+r[1])
	}
	if want := []string{"ghost@acme.example baseline only", "eve@x.example inventory only", "frank@x.example inventory only"}; !slices.Equal(got, want) {
		t.Errorf("Baseline gaps %q, want %q", got, want)
	}

	sum, _ := f.GetRows("Summary")
	for label, want := range map[string]string{
		"Baseline":                           "backup.csv (8 mailboxes)",
		"Only in the baseline":               "1",
		"Not in the baseline":                "2",
		"Recovered since the last scan":      "1",
		"Newly impacted since the last scan": "0",
		"Still impacted":                     "3",
		"Still impacted: business":           "2",
		"Still impacted: unknown":            "0",
	} {
		r := sum[findRow(t, sum, label)-1]
		if len(r) < 2 || r[1] != want {
			t.Errorf("Summary %q = %q, want %q", label, r, want)
		}
	}
	at := findRow(t, sum, progressTitle)
	if got := sum[at]; !slices.Equal(got[:4], []string{"Scan", "Started", "Impacted mailboxes", "Mailboxes"}) {
		t.Errorf("progress table header %q", got)
	}
	if got := sum[at+2]; got[0] != "this report" || got[2] != "4" {
		t.Errorf("progress table last row %q", got)
	}
	parts := zipParts(t, path)
	line := ""
	for name, body := range parts {
		if strings.HasPrefix(name, "xl/charts/chart") && (strings.Contains(body, "<c:lineChart>") || strings.Contains(body, "<lineChart>")) {
			line = body
		}
	}
	if line == "" || !strings.Contains(line, "Summary!$C$"+strconv.Itoa(at+2)+":$C$"+strconv.Itoa(at+3)) {
		t.Errorf("no line chart fed from the progress table (rows %d-%d)", at+2, at+3)
	}

	// A redacted copy drops the evidence text of the Progress sheet.
	_, rf := writeFixture(t, evidenceReport(), Options{Redact: true})
	if hdr, _ := rf.GetRows("Progress"); slices.Contains(hdr[0], "Evidence") {
		t.Errorf("redacted Progress header %q", hdr[0])
	}
}

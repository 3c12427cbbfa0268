package classify

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/impact-ops/impact/internal/baseline"
	"github.com/impact-ops/impact/internal/results"
)

func readBaseline(t *testing.T, content string) *baseline.Baseline {
	t.Helper()
	p := filepath.Join(t.TempDir(), "base.csv")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := baseline.Read(p, baseline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func n64(n int64) *int64   { return &n }
func u32(n uint32) *uint32 { return &n }

// folder is a counted folder: before by INTERNALDATE, sent by Date header.
func folder(name string, before, sent int64, uidv uint32) results.Folder {
	f := results.Folder{Name: name, Countable: true, Messages: n64(before + 1), BeforeCutoff: n64(before), AfterCutoff: n64(1), SentBeforeCutoff: n64(sent)}
	if uidv != 0 {
		f.UIDValidity = u32(uidv)
	}
	return f
}

func TestDecideWithBaseline(t *testing.T) {
	cutoff := time.Date(2026, 11, 22, 7, 0, 0, 0, time.UTC)
	after := uint32(cutoff.Add(time.Hour).Unix())
	before := uint32(cutoff.Add(-time.Hour).Unix())
	base := readBaseline(t, "mailbox,folder,messages,uidvalidity\n"+
		"a@x.example,INBOX,100,\n"+
		"b@x.example,INBOX,60,\n"+
		"b@x.example,Work,40,\n"+
		"c@x.example,INBOX,10,555\n"+
		"d@x.example,INBOX,0,\n")
	tests := []struct {
		name      string
		rec       results.Mailbox
		tol       Tolerance
		heuristic bool
		impact    results.Impact
		missing   int64 // -1: no baseline check
		evidence  []string
		mismatch  bool
		recreated []string
	}{
		{name: "all there", rec: results.Mailbox{Mailbox: "a@x.example", Folders: []results.Folder{folder("INBOX", 100, 100, 0)}},
			impact: results.ImpactOK, missing: 0, evidence: []string{"baseline base.csv:2: 100 of 100", "none missing"}},
		{name: "within the default tolerance (5 or 2%)", rec: results.Mailbox{Mailbox: "a@x.example", Folders: []results.Folder{folder("INBOX", 95, 95, 0)}},
			impact: results.ImpactOK, missing: 5, evidence: []string{"5 short, within the tolerance of 5"}},
		{name: "just over the tolerance", rec: results.Mailbox{Mailbox: "a@x.example", Folders: []results.Folder{folder("INBOX", 94, 94, 0)}},
			impact: results.ImpactPartiallyRestored, missing: 6, evidence: []string{"6 missing (6%, tolerance 5)", "INBOX 94 of 100"}},
		{name: "percent tolerance", tol: Tolerance{Percent: 10}, rec: results.Mailbox{Mailbox: "a@x.example", Folders: []results.Folder{folder("INBOX", 90, 90, 0)}},
			impact: results.ImpactOK, missing: 10},
		{name: "wiped", rec: results.Mailbox{Mailbox: "A@x.example", Folders: []results.Folder{folder("INBOX", 0, 0, 0)}},
			impact: results.ImpactMissingOldMail, missing: 100, evidence: []string{"0 of 100", "100 missing (100%"}},
		{name: "tolerance never excuses an empty mailbox", tol: Tolerance{Messages: 1000}, rec: results.Mailbox{Mailbox: "c@x.example", Folders: []results.Folder{folder("INBOX", 0, 0, 555)}},
			impact: results.ImpactMissingOldMail, missing: 10},
		{name: "a folder gone", rec: results.Mailbox{Mailbox: "b@x.example", Folders: []results.Folder{folder("INBOX", 60, 60, 0)}},
			impact: results.ImpactPartiallyRestored, missing: 40, evidence: []string{"40 missing (40%", "Work gone (40)"}},
		{name: "recreated by baseline UIDVALIDITY", rec: results.Mailbox{Mailbox: "c@x.example", Folders: []results.Folder{folder("INBOX", 0, 0, 556)}},
			impact: results.ImpactMissingOldMail, missing: 10, recreated: []string{"INBOX baseline"}, evidence: []string{"UIDVALIDITY 556, baseline 555"}},
		{name: "same UIDVALIDITY: not recreated", rec: results.Mailbox{Mailbox: "c@x.example", Folders: []results.Folder{folder("INBOX", 10, 10, 555)}},
			impact: results.ImpactOK, missing: 0},
		{name: "restore reset INTERNALDATE: counted by Date header", rec: results.Mailbox{Mailbox: "a@x.example", Folders: []results.Folder{folder("INBOX", 0, 99, 0)}},
			impact: results.ImpactOK, missing: 1, mismatch: true, evidence: []string{"date_mismatch: 99 before the cutoff by Date header but 0 by INTERNALDATE", "counted by Date header"}},
		{name: "incomplete and short", rec: results.Mailbox{Mailbox: "b@x.example", Folders: []results.Folder{folder("INBOX", 60, 60, 0), {Name: "Work", Countable: true, Error: "NO"}}},
			impact: results.ImpactProbeError, missing: 40},
		{name: "baseline of 0: the inventory decides", rec: results.Mailbox{Mailbox: "d@x.example", Created: "2019-01-01", Folders: []results.Folder{folder("INBOX", 0, 0, 0)}},
			impact: results.ImpactMissingOldMail, missing: 0, evidence: []string{"inventory: opened 2019-01-01"}},
		{name: "not in the baseline", rec: results.Mailbox{Mailbox: "z@x.example", Folders: []results.Folder{folder("INBOX", 3, 3, 0)}},
			impact: results.ImpactOK, missing: -1},
		{name: "heuristic: folder created after the cutoff", heuristic: true, rec: results.Mailbox{Mailbox: "z@x.example", Folders: []results.Folder{folder("INBOX", 0, 0, after), folder("Old", 0, 0, before)}},
			impact: results.ImpactMissingOldMail, missing: -1, recreated: []string{"INBOX uidvalidity"}, evidence: []string{"evidence: uidvalidity"}},
		{name: "heuristic off: no evidence", rec: results.Mailbox{Mailbox: "z@x.example", Folders: []results.Folder{folder("INBOX", 0, 0, after)}},
			impact: results.ImpactNoOldMail, missing: -1},
		{name: "heuristic, opened after the cutoff: no_old_mail", heuristic: true, rec: results.Mailbox{Mailbox: "z@x.example", Created: "2026-11-25", Folders: []results.Folder{folder("INBOX", 0, 0, after)}},
			impact: results.ImpactNoOldMail, missing: -1, recreated: []string{"INBOX uidvalidity"}},
		{name: "login failed keeps the baseline figure", rec: results.Mailbox{Mailbox: "a@x.example", Login: results.Login{Outcome: "failed", Code: "AUTHORIZATIONFAILED"}},
			impact: results.ImpactLoginFailed, missing: 100},
		{name: "probe error: missing unknown", rec: results.Mailbox{Mailbox: "a@x.example", Login: results.Login{Outcome: "error"}, Error: "timeout"},
			impact: results.ImpactProbeError, missing: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := tt.rec
			if rec.Login.Outcome == "" {
				rec.Login.Outcome = "ok"
			}
			tol := tt.tol
			if tol == (Tolerance{}) {
				tol = DefaultTolerance()
			}
			DecideWith(&rec, cutoff, DefaultRules(), &Evidence{Baseline: base, Tolerance: tol, UIDValidityHeuristic: tt.heuristic})
			if rec.Impact != tt.impact {
				t.Errorf("impact %s (%s), want %s", rec.Impact, rec.Evidence, tt.impact)
			}
			switch {
			case tt.missing < 0 && rec.Baseline != nil:
				t.Errorf("baseline check %+v, want none", rec.Baseline)
			case tt.missing >= 0 && rec.Baseline == nil:
				t.Errorf("no baseline check, want %d missing", tt.missing)
			case tt.missing >= 0 && rec.Baseline.Missing != tt.missing:
				t.Errorf("missing %d, want %d (%s)", rec.Baseline.Missing, tt.missing, rec.Evidence)
			}
			for _, w := range tt.evidence {
				if !strings.Contains(rec.Evidence, w) {
					t.Errorf("evidence %q lacks %q", rec.Evidence, w)
				}
			}
			if rec.DateMismatch != tt.mismatch {
				t.Errorf("date_mismatch %v, want %v", rec.DateMismatch, tt.mismatch)
			}
			var rc []string
			for _, r := range rec.Recreated {
				rc = append(rc, r.Folder+" "+r.Evidence)
			}
			if strings.Join(rc, ",") != strings.Join(tt.recreated, ",") {
				t.Errorf("recreated %v, want %v", rc, tt.recreated)
			}

			// A report without the baseline file decides the same from
			// the figures the scan stored in the record.
			again := rec
			DecideWith(&again, cutoff, DefaultRules(), &Evidence{Tolerance: tol, UIDValidityHeuristic: tt.heuristic})
			if again.Impact != rec.Impact || again.Evidence != rec.Evidence {
				t.Errorf("without the baseline file: %s (%s), want %s (%s)", again.Impact, again.Evidence, rec.Impact, rec.Evidence)
			}
		})
	}
}

func TestDateMismatch(t *testing.T) {
	cutoff := time.Date(2026, 11, 22, 7, 0, 0, 0, time.UTC)
	tests := []struct {
		internal, sent int64
		mismatch       bool
		impact         results.Impact
		basis          string
	}{
		{0, 0, false, results.ImpactNoOldMail, "internaldate"},
		{0, 4, false, results.ImpactNoOldMail, "internaldate"}, // back-dated spam stays below the minimum
		{0, 5, true, results.ImpactOK, "date_header"},
		{10, 19, false, results.ImpactOK, "internaldate"},
		{10, 21, true, results.ImpactOK, "date_header"},
		{100, 100, false, results.ImpactOK, "internaldate"},
	}
	for _, tt := range tests {
		rec := results.Mailbox{Mailbox: "a@x.example", Login: results.Login{Outcome: "ok"}, Folders: []results.Folder{folder("INBOX", tt.internal, tt.sent, 0)}}
		Decide(&rec, cutoff, DefaultRules())
		if rec.DateMismatch != tt.mismatch || rec.Impact != tt.impact || rec.DateBasis != tt.basis ||
			rec.SentBeforeCutoff == nil || *rec.SentBeforeCutoff != tt.sent {
			t.Errorf("internal %d sent %d: mismatch %v %s basis %s sent %v (%s), want %v %s %s",
				tt.internal, tt.sent, rec.DateMismatch, rec.Impact, rec.DateBasis, rec.SentBeforeCutoff, rec.Evidence, tt.mismatch, tt.impact, tt.basis)
		}
		if tt.mismatch && !strings.Contains(rec.Evidence, "date_mismatch") {
			t.Errorf("internal %d sent %d: evidence %q does not say date_mismatch", tt.internal, tt.sent, rec.Evidence)
		}
	}
	// Records of scans before SENTBEFORE was counted: unknown, no flag.
	rec := results.Mailbox{Mailbox: "a@x.example", Login: results.Login{Outcome: "ok"},
		Folders: []results.Folder{{Name: "INBOX", Countable: true, Messages: n64(3), BeforeCutoff: n64(3), AfterCutoff: n64(0)}}}
	Decide(&rec, cutoff, DefaultRules())
	if rec.SentBeforeCutoff != nil || rec.DateMismatch || rec.Impact != results.ImpactOK {
		t.Errorf("old record: sent %v mismatch %v %s", rec.SentBeforeCutoff, rec.DateMismatch, rec.Impact)
	}
}

func TestTolerance(t *testing.T) {
	tests := []struct {
		tol  Tolerance
		base int64
		want int64
	}{
		{DefaultTolerance(), 0, 5},
		{DefaultTolerance(), 100, 5},
		{DefaultTolerance(), 1000, 20},
		{DefaultTolerance(), 1001, 21}, // 2% rounds up
		{Tolerance{}, 1000, 0},
		{Tolerance{Percent: 100}, 7, 7},
	}
	for _, tt := range tests {
		if got := tt.tol.Allowed(tt.base); got != tt.want {
			t.Errorf("%s of %d = %d, want %d", tt.tol, tt.base, got, tt.want)
		}
	}
}

func TestProgress(t *testing.T) {
	L, M, P, E, N, O := results.ImpactLoginFailed, results.ImpactMissingOldMail, results.ImpactPartiallyRestored, results.ImpactProbeError, results.ImpactNoOldMail, results.ImpactOK
	tests := []struct {
		before results.Impact
		found  bool
		now    results.Impact
		want   string
	}{
		{M, true, O, ProgressRecovered},
		{L, true, N, ProgressRecovered},
		{P, true, O, ProgressRecovered},
		{M, true, P, ProgressStill},
		{L, true, M, ProgressStill},
		{O, true, M, ProgressNewly},
		{N, true, L, ProgressNewly},
		{O, true, O, ProgressUnchangedOK},
		{N, true, O, ProgressUnchangedOK},
		{M, true, E, ProgressStill},       // no news is not recovery
		{O, true, E, ProgressUnchangedOK}, // nor a new impact
		{E, true, M, ProgressNewly},
		{"", false, M, ProgressNotInPrevious},
	}
	for _, tt := range tests {
		if got := Progress(tt.before, tt.found, tt.now); got != tt.want {
			t.Errorf("%s (found %v) → %s = %s, want %s", tt.before, tt.found, tt.now, got, tt.want)
		}
	}
}

package results

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWriterAndLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "scan.jsonl")
	w, torn, err := Create(path, false)
	if err != nil || torn != 0 {
		t.Fatalf("Create: %v, torn %d", err, torn)
	}
	cutoff := time.Date(2006, 7, 9, 7, 0, 0, 0, time.UTC)
	n := int64(0)
	recs := []any{
		Scan{Kind: KindScan, Cutoff: cutoff, Mailboxes: 2, Target: Target{Server: "imap:993"}},
		&Mailbox{Kind: KindMailbox, Mailbox: "a@x", Impact: ImpactProbeError},
		&Mailbox{Kind: KindMailbox, Mailbox: "b@x", Impact: ImpactOK, BeforeCutoff: &n},
		&Mailbox{Kind: KindMailbox, Mailbox: "a@x", Impact: ImpactLoginFailed},
		End{Kind: KindEnd, Complete: true, Probed: 3},
	}
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	s, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Scans) != 1 || !s.Scans[0].Cutoff.Equal(cutoff) || len(s.Ends) != 1 {
		t.Errorf("scans %+v ends %+v", s.Scans, s.Ends)
	}
	if got := s.Mailboxes["a@x"].Impact; got != ImpactLoginFailed {
		t.Errorf("later record must win: %s", got)
	}
	if b := s.Mailboxes["b@x"]; b.BeforeCutoff == nil || *b.BeforeCutoff != 0 || b.AfterCutoff != nil {
		t.Errorf("0 and unknown must survive a round trip: %+v", b)
	}
}

func TestTornLastLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "scan.jsonl")
	good := `{"kind":"scan","cutoff":"2006-07-09T07:00:00Z","target":{"server":"s:1"}}` + "\n" +
		`{"kind":"mailbox","mailbox":"a@x","impact":"ok"}` + "\n"
	if err := os.WriteFile(path, []byte(good+`{"kind":"mailbox","mailbox":"b@x","imp`), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Load(path)
	if err != nil {
		t.Fatalf("a torn last line must not fail the load: %v", err)
	}
	if len(s.Mailboxes) != 1 || len(s.Warnings) != 1 || !strings.Contains(s.Warnings[0], "scan.jsonl:3: ignored a torn last line") {
		t.Errorf("mailboxes %d warnings %q", len(s.Mailboxes), s.Warnings)
	}
	w, torn, err := Create(path, false)
	if err != nil {
		t.Fatal(err)
	}
	if torn != int64(len(`{"kind":"mailbox","mailbox":"b@x","imp`)) {
		t.Errorf("torn = %d", torn)
	}
	if err := w.Write(&Mailbox{Kind: KindMailbox, Mailbox: "b@x", Impact: ImpactOK}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Load(path)
	if err != nil || len(s.Mailboxes) != 2 || len(s.Warnings) != 0 {
		t.Fatalf("after append: %v, %d mailboxes, warnings %q", err, len(s.Mailboxes), s.Warnings)
	}
}

func TestCorruptMiddleLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "scan.jsonl")
	body := `{"kind":"scan"}` + "\n" + "garbage\n" + `{"kind":"mailbox","mailbox":"a@x"}` + "\n"
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), "scan.jsonl:2: not a JSON record") {
		t.Fatalf("err = %v, want file:line", err)
	}
}

package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/impact-ops/impact/internal/demo"
	"github.com/impact-ops/impact/internal/results"
)

// --confirm-failures asks each refused mailbox once more, at the end, and
// keeps the first refusal in the record's attempts.
func TestConfirmFailures(t *testing.T) {
	dir := t.TempDir()
	d := startDemo(t, dir, 40, 3, false)
	res := filepath.Join(dir, "scan.jsonl")
	code, stderr := runImpact(t, d.inc.MasterPassword, d.scanArgs(res, "--confirm-failures")...)
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	want := demo.Shares(40)[results.ImpactLoginFailed]
	if !strings.Contains(stderr, "Confirming 4 login failures") || want != 4 {
		t.Errorf("want 4 confirmations (shares %d):\n%s", want, stderr)
	}
	set, err := results.Load(res)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range set.Mailboxes {
		if m.Impact != results.ImpactLoginFailed {
			continue
		}
		n++
		if len(m.Attempts) != 1 || !strings.HasPrefix(m.Attempts[0], "first pass: login refused: [AUTHORIZATIONFAILED]") {
			t.Errorf("%s attempts %q", m.Mailbox, m.Attempts)
		}
	}
	if n != want {
		t.Errorf("%d login_failed, want %d", n, want)
	}
}

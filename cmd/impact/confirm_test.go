package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/impact-ops/impact/internal/demo"
	"github.com/impact-ops/impact/internal/results"
)

// --confirm-failures asks each refused mailbox once more, at the end, and
// keeps the first refusal in the record's attempts.
func TestConfirmFailures(t *testing.T) {
	dir := t.TempDir()
	cutoff := lastSunday8(time.Now())
	inc := demo.NewIncident(40, cutoff, 3)
	srv, err := demo.Start(context.Background(), inc)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	inv := filepath.Join(dir, "accounts.csv")
	if err := inc.WriteInventory(inv); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: &stderr, getenv: func(k string) string {
		if k == "IMPACT_MASTER_PASSWORD" {
			return inc.MasterPassword
		}
		return ""
	}}
	res := filepath.Join(dir, "scan.jsonl")
	code := runMain(context.Background(), e, []string{"scan", "--inventory", inv, "--server", srv.Addr, "--tls", "none",
		"--cutoff", inc.Cutoff.Format(time.RFC3339), "--master-user", inc.MasterUser, "--results", res, "--rate", "500", "--confirm-failures"})
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	want := demo.Shares(40)[results.ImpactLoginFailed]
	if !strings.Contains(stderr.String(), "Confirming 4 login failures") || want != 4 {
		t.Errorf("want 4 confirmations (shares %d):\n%s", want, stderr.String())
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

package main

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/impact-ops/impact/internal/demo"
)

// demoTarget is an in-process demo server seeded with n mailboxes and its
// inventory written into dir; the server stops when the test ends.
type demoTarget struct {
	inc       *demo.Incident
	addr, inv string
}

func startDemo(t testing.TB, dir string, n int, seed int64, withPasswords bool) *demoTarget {
	t.Helper()
	inc := demo.NewIncident(n, lastSunday8(time.Now()), seed)
	srv, err := demo.Start(context.Background(), inc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	inv := filepath.Join(dir, "accounts.csv")
	write := inc.WriteInventory
	if withPasswords {
		write = inc.WriteInventoryWithPasswords
	}
	if err := write(inv); err != nil {
		t.Fatal(err)
	}
	return &demoTarget{inc: inc, addr: srv.Addr, inv: inv}
}

// scanArgs are the arguments of a plaintext master-user scan of the demo.
func (d *demoTarget) scanArgs(results string, extra ...string) []string {
	return append([]string{"scan", "--inventory", d.inv, "--server", d.addr, "--tls", "none",
		"--cutoff", d.inc.Cutoff.Format(time.RFC3339), "--auth", "master", "--master-user", d.inc.MasterUser,
		"--rate", "1000", "--results", results}, extra...)
}

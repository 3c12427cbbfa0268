package scan

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/impact-ops/impact/internal/dovecottest"
	"github.com/impact-ops/impact/internal/inventory"
	"github.com/impact-ops/impact/internal/results"
)

// cutoff is Sunday 08:00 in +01:00: 07:00 UTC, so the cutoff's local and
// UTC days agree but mail late on the evening before falls on another UTC
// day than local.
var cutoff = time.Date(2026, 11, 22, 8, 0, 0, 0, time.FixedZone("CET", 3600))

func at(d time.Duration) dovecottest.Message {
	return dovecottest.Message{Date: cutoff.Add(d), Flags: "S"}
}

// incidentFixture mirrors the incident: one intact mailbox with mail on
// both sides of the cutoff (to the second, and across day boundaries), one
// re-created with only new mail, one gone, one re-created with nothing.
func incidentFixture() dovecottest.Fixture {
	return dovecottest.Fixture{Users: []dovecottest.User{
		{Name: "anna@isp.example", Password: "anna-pw", Folders: []dovecottest.Folder{
			{Name: "INBOX", Messages: []dovecottest.Message{
				at(-400 * 24 * time.Hour), at(-30 * time.Hour), at(-8*time.Hour - 30*time.Minute), // the evening before, 23:30 local
				at(-time.Second), at(0), at(time.Second), at(16 * time.Hour), at(50 * time.Hour),
				{Date: cutoff.Add(-2 * time.Hour), New: true},
			}},
			{Name: "Archiv/Prüfung", Messages: []dovecottest.Message{at(-90 * 24 * time.Hour), at(-24 * time.Hour), {Date: cutoff.Add(-time.Minute), Flags: "RS"}}},
			{Name: "Sent", Messages: []dovecottest.Message{at(3 * time.Hour)}},
			{Name: "Trash"},
			// More than a small folder holds: counted by searching.
			{Name: "Archiv/2025", Messages: spread(20, 25)},
		}},
		{Name: "bob@mueller-bau.example", Password: "bob-pw", Folders: []dovecottest.Folder{
			{Name: "INBOX", Messages: []dovecottest.Message{at(time.Minute), {Date: cutoff.Add(5 * time.Hour), New: true}}},
		}},
		{Name: "gone@isp.example", Absent: true},
		{Name: "empty@isp.example", Password: "empty-pw", NoMaildir: true},
	}}
}

// spread returns before messages dated before the cutoff and after at or
// after it, 7 h apart, so that some fall on the days around the cutoff
// and some well before and after.
func spread(before, after int) []dovecottest.Message {
	var ms []dovecottest.Message
	for i := -before; i < after; i++ {
		ms = append(ms, at(time.Duration(i)*7*time.Hour))
	}
	return ms
}

type want struct {
	before, after int64
	folders       map[string][2]int64 // name -> before, after
	outcome, code string
}

var incidentWant = map[string]want{
	"anna@isp.example": {before: 28, after: 30, outcome: "ok", folders: map[string][2]int64{
		"INBOX": {5, 4}, "Archiv/Prüfung": {3, 0}, "Sent": {0, 1}, "Trash": {0, 0}, "Archiv/2025": {20, 25},
	}},
	"bob@mueller-bau.example": {before: 0, after: 2, outcome: "ok", folders: map[string][2]int64{"INBOX": {0, 2}}},
	"gone@isp.example":        {outcome: "failed", code: "AUTHORIZATIONFAILED"},
	"empty@isp.example":       {before: 0, after: 0, outcome: "ok", folders: map[string][2]int64{"INBOX": {0, 0}}},
}

func checkRecord(t *testing.T, rec results.Mailbox, err error) {
	t.Helper()
	w := incidentWant[rec.Mailbox]
	if rec.Login.Outcome != w.outcome || rec.Login.Code != w.code {
		t.Errorf("%s: login %+v (err %v), want %s %s", rec.Mailbox, rec.Login, err, w.outcome, w.code)
		return
	}
	if w.outcome != "ok" {
		var lr *LoginRefused
		if !errors.As(err, &lr) {
			t.Errorf("%s: err %v, want *LoginRefused", rec.Mailbox, err)
		}
		if rec.BeforeCutoff != nil {
			t.Errorf("%s: a failed login has no counts", rec.Mailbox)
		}
		return
	}
	if err != nil {
		t.Errorf("%s: %v", rec.Mailbox, err)
		return
	}
	if rec.BeforeCutoff == nil || *rec.BeforeCutoff != w.before || *rec.AfterCutoff != w.after {
		t.Errorf("%s: before/after %v/%v, want %d/%d", rec.Mailbox, deref(rec.BeforeCutoff), deref(rec.AfterCutoff), w.before, w.after)
	}
	got := map[string][2]int64{}
	for _, f := range rec.Folders {
		if !f.Countable {
			continue
		}
		if f.BeforeCutoff == nil || f.AfterCutoff == nil || f.UIDValidity == nil || f.UIDNext == nil || f.Messages == nil {
			t.Errorf("%s: folder %q has unknown figures: %+v", rec.Mailbox, f.Name, f)
			continue
		}
		if *f.Messages != *f.BeforeCutoff+*f.AfterCutoff {
			t.Errorf("%s: folder %q: %d messages but %d+%d counted", rec.Mailbox, f.Name, *f.Messages, *f.BeforeCutoff, *f.AfterCutoff)
		}
		got[f.Name] = [2]int64{*f.BeforeCutoff, *f.AfterCutoff}
	}
	for name, c := range w.folders {
		if got[name] != c {
			t.Errorf("%s: folder %q before/after %v, want %v (all: %v)", rec.Mailbox, name, got[name], c, got)
		}
	}
	if rec.Mailbox == "anna@isp.example" {
		if rec.Oldest == nil || !rec.Oldest.Equal(cutoff.Add(-400*24*time.Hour)) || rec.Newest == nil || !rec.Newest.Equal(cutoff.Add(24*7*time.Hour)) {
			t.Errorf("anna: oldest %v newest %v", rec.Oldest, rec.Newest)
		}
	}
}

func deref(p *int64) any {
	if p == nil {
		return "unknown"
	}
	return *p
}

func entries(f dovecottest.Fixture) []inventory.Entry {
	var es []inventory.Entry
	for _, u := range f.Users {
		es = append(es, inventory.NewEntry(inventory.Fields{Mailbox: u.Name, AccountID: u.Name, Password: u.Password}))
	}
	return es
}

func caPoolB(t testing.TB, file string) *tls.Config { return caPool(t, file) }

func caPool(t testing.TB, file string) *tls.Config {
	t.Helper()
	pem, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("no CA in " + file)
	}
	return &tls.Config{RootCAs: pool}
}

// TestDovecotProbe probes a real Dovecot in each TLS and auth mode and
// checks every count against the fixture.
func TestDovecotProbe(t *testing.T) {
	fx := incidentFixture()
	srv := dovecottest.Start(t, fx, dovecottest.NoPenalty(), dovecottest.AuthFailureDelay(0))
	cases := []struct {
		name string
		cfg  Config
	}{
		{"plaintext, master LOGIN", Config{Server: srv.Addr, TLS: TLSNone, Auth: AuthMaster}},
		{"STARTTLS, authzid", Config{Server: srv.Addr, TLS: TLSStartTLS, Auth: AuthAuthzID, TLSConfig: caPool(t, srv.CAFile)}},
		{"implicit TLS, master LOGIN", Config{Server: srv.TLSAddr, TLS: TLSImplicit, Auth: AuthMaster, TLSConfig: caPool(t, srv.CAFile)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := c.cfg
			cfg.MasterUser, cfg.MasterPassword, cfg.Cutoff = srv.MasterUser, srv.MasterPassword, cutoff
			p, err := NewProber(cfg)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries(fx) {
				rec, err := p.Probe(context.Background(), e)
				checkRecord(t, rec, err)
			}
			// Every folder counted by searching, as folders too large
			// to fetch whole are.
			p.smallFolder = 0
			for _, e := range entries(fx) {
				rec, err := p.Probe(context.Background(), e)
				checkRecord(t, rec, err)
			}
			target, err := Identify(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(target.Greeting, "Dovecot") || len(target.Capabilities) == 0 || target.Addresses[0] != "127.0.0.1" {
				t.Errorf("target %+v", target)
			}
			if cfg.TLS != TLSNone {
				if !strings.EqualFold(strings.ReplaceAll(target.CertSHA256, ":", ""), srv.CertSHA256) || !target.Verified {
					t.Errorf("certificate %s verified %v, want %s", target.CertSHA256, target.Verified, srv.CertSHA256)
				}
			}
		})
	}

	t.Run("own password", func(t *testing.T) {
		p, err := NewProber(Config{Server: srv.Addr, TLS: TLSNone, Auth: AuthPassword, Cutoff: cutoff})
		if err != nil {
			t.Fatal(err)
		}
		rec, err := p.Probe(context.Background(), inventory.NewEntry(inventory.Fields{Mailbox: "gone@isp.example", Password: "x"}))
		if rec.Login.Outcome != "failed" || rec.Login.Code != "AUTHENTICATIONFAILED" {
			t.Errorf("absent mailbox, own password: %+v %v", rec.Login, err)
		}
		rec, err = p.Probe(context.Background(), inventory.NewEntry(inventory.Fields{Mailbox: "bob@mueller-bau.example", Password: "bob-pw"}))
		checkRecord(t, rec, err)
	})

	t.Run("wrong master password is not a finding", func(t *testing.T) {
		p, err := NewProber(Config{Server: srv.Addr, TLS: TLSNone, Auth: AuthMaster, MasterUser: srv.MasterUser, MasterPassword: "wrong", Cutoff: cutoff})
		if err != nil {
			t.Fatal(err)
		}
		rec, err := p.Probe(context.Background(), inventory.NewEntry(inventory.Fields{Mailbox: "anna@isp.example"}))
		var ce *CredentialsError
		if !errors.As(err, &ce) || rec.Login.Outcome != "error" || rec.Login.Code != "AUTHENTICATIONFAILED" {
			t.Errorf("wrong master password: %+v %v", rec.Login, err)
		}
	})

	t.Run("certificate not trusted", func(t *testing.T) {
		_, err := Identify(context.Background(), Config{Server: srv.TLSAddr, TLS: TLSImplicit, Auth: AuthMaster, MasterUser: "x", MasterPassword: "y", Cutoff: cutoff})
		var se *SetupError
		if !errors.As(err, &se) || !strings.Contains(se.Hint, "--ca-file") {
			t.Errorf("untrusted certificate: %v", err)
		}
		target, err := Identify(context.Background(), Config{Server: srv.TLSAddr, TLS: TLSImplicit, TLSConfig: &tls.Config{InsecureSkipVerify: true}, Auth: AuthMaster, MasterUser: "x", MasterPassword: "y", Cutoff: cutoff})
		if err != nil || target.Verified || target.CertSHA256 == "" {
			t.Errorf("insecure identify: %+v %v", target, err)
		}
	})
}

// TestDovecotReadOnly scans every mailbox and proves nothing changed: every
// message file is still there with the same content and the same flags.
func TestDovecotReadOnly(t *testing.T) {
	fx := incidentFixture()
	srv := dovecottest.Start(t, fx, dovecottest.NoPenalty(), dovecottest.AuthFailureDelay(0))
	before := map[string]dovecottest.Snapshot{}
	for _, u := range fx.Users {
		if !u.Absent && !u.NoMaildir {
			before[u.Name] = dovecottest.SnapshotMaildir(t, srv.MaildirPath(u.Name))
		}
	}
	p, err := NewProber(Config{Server: srv.Addr, TLS: TLSNone, Auth: AuthMaster, MasterUser: srv.MasterUser, MasterPassword: srv.MasterPassword, Cutoff: cutoff})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // twice: the second scan meets Dovecot's caches
		err = Run(context.Background(), p, entries(fx), RunConfig{Workers: 4}, func(o Outcome) error {
			checkRecord(t, o.Record, o.Err)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for name, snap := range before {
		after := dovecottest.SnapshotMaildir(t, srv.MaildirPath(name))
		if d := snap.Diff(after); len(d) > 0 {
			t.Errorf("%s changed by a scan: %v", name, d)
		}
		if len(snap) == 0 {
			t.Errorf("%s: empty snapshot proves nothing", name)
		}
	}
}

// TestSilentServerEndsScan: a server that accepts connections and never
// answers costs each mailbox a timeout; the scan ends.
func TestSilentServerEndsScan(t *testing.T) {
	addr := silentServer(t)
	p, err := NewProber(Config{Server: addr, TLS: TLSNone, Auth: AuthMaster, MasterUser: "m", MasterPassword: "p", Cutoff: cutoff,
		Timeouts: Timeouts{Greeting: 200 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), p, entries(incidentFixture()), RunConfig{Workers: 2, Attempts: 1}, func(Outcome) error { return nil })
	}()
	select {
	case err := <-done:
		if err != nil {
			var se *StopError
			if !errors.As(err, &se) {
				t.Fatal(err)
			}
		}
	case <-time.After(20 * time.Second):
		t.Fatal("scan of a silent server hangs")
	}
}

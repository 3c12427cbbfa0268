package dovecottest

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
)

var (
	cet = time.FixedZone("CET", 3600)
	// base is an arbitrary instant with seconds and a non-UTC zone, so that
	// a dropped second or zone shows.
	base = time.Date(2023, 11, 5, 23, 30, 15, 0, cet)
)

// standardFixture has one mailbox with a nested non-ASCII folder, one that
// is gone and one that is in the passdb without a Maildir.
func standardFixture() Fixture {
	return Fixture{Users: []User{
		{Name: "anna@example.com", Password: "anna-pw", Folders: []Folder{
			{Name: "INBOX", Messages: []Message{
				{Date: base, Flags: "S", Subject: "old seen"},
				{Date: base.Add(36 * time.Hour), Flags: "RS", Subject: "answered"},
				{Date: base.Add(72 * time.Hour), New: true, Subject: "brand new", HeaderDate: base.Add(71 * time.Hour)},
			}},
			{Name: "Archiv/Prüfung", Messages: []Message{
				{Date: time.Date(2020, 2, 29, 12, 0, 1, 0, time.UTC), Flags: "S", Subject: "Prüfungsbericht"},
			}},
		}},
		{Name: "gone@example.com", Password: "gone-pw", Absent: true},
		{Name: "empty@example.com", Password: "empty-pw", NoMaildir: true},
	}}
}

func TestMasterUserLogin(t *testing.T) {
	s := Start(t, standardFixture())
	tests := []struct {
		name  string
		login func(c *imapclient.Client) error
	}{
		{"LOGIN user*master", func(c *imapclient.Client) error {
			return c.Login("anna@example.com*"+s.MasterUser, s.MasterPassword).Wait()
		}},
		{"AUTHENTICATE PLAIN authzid=user authcid=master", func(c *imapclient.Client) error {
			return c.Authenticate(sasl.NewPlainClient("anna@example.com", s.MasterUser, s.MasterPassword))
		}},
		{"LOGIN with the customer's own password", func(c *imapclient.Client) error {
			return c.Login("anna@example.com", "anna-pw").Wait()
		}},
	}
	type listed struct {
		name  string
		attrs string
	}
	want := []listed{
		// Dovecot lists the missing parent of a nested folder as \Noselect.
		{"Archiv", `\HasChildren \Noselect`},
		{"Archiv/Prüfung", `\HasNoChildren`},
		{"INBOX", `\HasNoChildren`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, s)
			if err := tt.login(c); err != nil {
				t.Fatalf("login: %v", err)
			}
			list, err := c.List("", "*", nil).Collect()
			if err != nil {
				t.Fatalf("LIST: %v", err)
			}
			var got []listed
			for _, l := range list {
				if l.Delim != '/' {
					t.Errorf("LIST %q: delimiter %q, want '/'", l.Mailbox, l.Delim)
				}
				attrs := make([]string, len(l.Attrs))
				for i, a := range l.Attrs {
					attrs[i] = string(a)
				}
				slices.Sort(attrs)
				got = append(got, listed{l.Mailbox, strings.Join(attrs, " ")})
			}
			slices.SortFunc(got, func(a, b listed) int { return strings.Compare(a.name, b.name) })
			if !slices.Equal(got, want) {
				t.Errorf("LIST = %q, want %q", got, want)
			}
			st, err := c.Status("Archiv/Prüfung", &imap.StatusOptions{NumMessages: true}).Wait()
			if err != nil {
				t.Fatalf("STATUS: %v", err)
			}
			if st.NumMessages == nil || *st.NumMessages != 1 {
				t.Errorf("STATUS Archiv/Prüfung MESSAGES = %v, want 1", st.NumMessages)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(s.MaildirPath("anna@example.com"), ".Archiv.Pr&APw-fung", "cur")); err != nil {
		t.Errorf("folder not stored under its modified UTF-7 name: %v", err)
	}
}

// TestLoginFailures records Dovecot 2.3's tagged responses that the scanner
// tells apart: "mailbox gone" against "credentials wrong".
func TestLoginFailures(t *testing.T) {
	// Codes and texts do not depend on the delays; turning them off keeps
	// the test quick.
	s := Start(t, standardFixture(), NoPenalty(), AuthFailureDelay(0))
	type resp struct{ typ, code, text string }
	var (
		authzFailed = resp{"NO", "AUTHORIZATIONFAILED", "Authorization failed"}
		authnFailed = resp{"NO", "AUTHENTICATIONFAILED", "Authentication failed."}
	)
	login := func(user, pw string) func(*imapclient.Client) error {
		return func(c *imapclient.Client) error { return c.Login(user, pw).Wait() }
	}
	plain := func(authz, authc, pw string) func(*imapclient.Client) error {
		return func(c *imapclient.Client) error { return c.Authenticate(sasl.NewPlainClient(authz, authc, pw)) }
	}
	tests := []struct {
		name  string
		login func(*imapclient.Client) error
		want  resp
	}{
		{"master LOGIN, mailbox absent", login("gone@example.com*"+s.MasterUser, s.MasterPassword), authzFailed},
		{"master PLAIN, mailbox absent", plain("gone@example.com", s.MasterUser, s.MasterPassword), authzFailed},
		{"master LOGIN, wrong master password", login("anna@example.com*"+s.MasterUser, "wrong"), authnFailed},
		{"master PLAIN, wrong master password", plain("anna@example.com", s.MasterUser, "wrong"), authnFailed},
		{"master LOGIN, wrong master password, mailbox absent", login("gone@example.com*"+s.MasterUser, "wrong"), authnFailed},
		{"master LOGIN, unknown master user", login("anna@example.com*nosuchmaster", s.MasterPassword), authnFailed},
		{"own LOGIN, mailbox absent", login("gone@example.com", "gone-pw"), authnFailed},
		{"own LOGIN, wrong password", login("anna@example.com", "wrong"), authnFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := dial(t, s)
			err := tt.login(c)
			if err == nil {
				t.Fatal("login succeeded")
			}
			ie := imapErr(t, err)
			got := resp{string(ie.Type), string(ie.Code), ie.Text}
			if got != tt.want {
				t.Errorf("response = %+v, want %+v", got, tt.want)
			}
			// The connection stays usable for another attempt.
			if c.State() != imap.ConnStateNotAuthenticated {
				t.Errorf("state after failure = %v, want not authenticated", c.State())
			}
		})
	}
}

// TestNoMaildirUser records that a user in the passdb without a Maildir logs
// in and looks like an empty mailbox: Dovecot creates the Maildir on login.
func TestNoMaildirUser(t *testing.T) {
	s := Start(t, standardFixture())
	root := s.MaildirPath("empty@example.com")
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Fatalf("Maildir exists before login (%v)", err)
	}
	loginAt := time.Now().Unix()
	c := masterLogin(t, s, "empty@example.com")
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatalf("LIST: %v", err)
	}
	if len(list) != 1 || list[0].Mailbox != "INBOX" {
		t.Fatalf("LIST = %+v, want INBOX only", list)
	}
	st, err := c.Status("INBOX", &imap.StatusOptions{NumMessages: true, UIDValidity: true, UIDNext: true}).Wait()
	if err != nil {
		t.Fatalf("STATUS: %v", err)
	}
	if st.NumMessages == nil || *st.NumMessages != 0 {
		t.Errorf("STATUS INBOX MESSAGES = %v, want 0", st.NumMessages)
	}
	// Dovecot's Maildir UIDVALIDITY is the Unix time the mailbox was first
	// indexed: here, the login that created it.
	if now := time.Now().Unix(); int64(st.UIDValidity) < loginAt-1 || int64(st.UIDValidity) > now+1 {
		t.Errorf("UIDVALIDITY %d, want the creation time %d..%d", st.UIDValidity, loginAt, now)
	}
	if st.UIDNext != 1 {
		t.Errorf("UIDNEXT %d, want 1", st.UIDNext)
	}
	if _, err := os.Stat(filepath.Join(root, "cur")); err != nil {
		t.Errorf("Dovecot did not create the Maildir on login: %v", err)
	}
}

func TestInternalDate(t *testing.T) {
	f := standardFixture()
	s := Start(t, f)
	c := masterLogin(t, s, "anna@example.com")
	for _, folder := range f.Users[0].Folders {
		t.Run(folder.Name, func(t *testing.T) {
			if _, err := c.Select(folder.Name, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
				t.Fatalf("EXAMINE: %v", err)
			}
			msgs := fetchAll(t, c, &imap.FetchOptions{InternalDate: true, Envelope: true})
			got := map[string]*imapclient.FetchMessageBuffer{}
			for _, m := range msgs {
				got[m.Envelope.Subject] = m
			}
			if len(got) != len(folder.Messages) {
				t.Fatalf("%d messages, want %d", len(got), len(folder.Messages))
			}
			for _, want := range folder.Messages {
				m := got[want.Subject]
				if m == nil {
					t.Errorf("message %q missing", want.Subject)
					continue
				}
				if !m.InternalDate.Equal(want.Date) {
					t.Errorf("%q: INTERNALDATE %v, want %v", want.Subject, m.InternalDate, want.Date)
				}
				hdr := want.HeaderDate
				if hdr.IsZero() {
					hdr = want.Date
				}
				if !m.Envelope.Date.Equal(hdr) {
					t.Errorf("%q: Date: header %v, want %v", want.Subject, m.Envelope.Date, hdr)
				}
			}
		})
	}
}

func TestCapabilities(t *testing.T) {
	s := Start(t, standardFixture())
	c := dial(t, s)
	pre := c.Caps()
	for _, cp := range []imap.Cap{imap.CapIMAP4rev1, imap.CapStartTLS, "AUTH=PLAIN", "AUTH=LOGIN", imap.CapSASLIR} {
		if !pre.Has(cp) {
			t.Errorf("pre-login capabilities lack %s: %v", cp, pre)
		}
	}
	if pre.Has(imap.CapLoginDisabled) {
		t.Errorf("LOGINDISABLED on the plain port: plaintext login must be allowed")
	}
	if err := c.Login("anna@example.com*"+s.MasterUser, s.MasterPassword).Wait(); err != nil {
		t.Fatal(err)
	}
	post := c.Caps()
	// Recorded from Dovecot 2.3.19: both are offered after login.
	for _, cp := range []imap.Cap{imap.CapListStatus, imap.CapESearch, imap.CapListExtended, imap.CapCondStore} {
		if !post.Has(cp) {
			t.Errorf("post-login capabilities lack %s: %v", cp, post)
		}
	}
	if post.Has(imap.CapIMAP4rev2) {
		t.Errorf("IMAP4rev2 offered; the scanner assumes IMAP4rev1 semantics")
	}
}

func TestTLS(t *testing.T) {
	s := Start(t, standardFixture())
	t.Run("implicit TLS", func(t *testing.T) {
		for _, name := range []string{"127.0.0.1", "localhost"} {
			conn, err := tls.Dial("tcp", s.TLSAddr, serverTLSConfig(t, s, name))
			if err != nil {
				t.Fatalf("TLS to %s as %q: %v", s.TLSAddr, name, err)
			}
			sum := sha256.Sum256(conn.ConnectionState().PeerCertificates[0].Raw)
			if got := hex.EncodeToString(sum[:]); got != s.CertSHA256 {
				t.Errorf("certificate SHA-256 %s, want CertSHA256 %s", got, s.CertSHA256)
			}
			c := imapclient.New(conn, nil)
			if err := c.WaitGreeting(); err != nil {
				t.Fatal(err)
			}
			if c.Caps().Has(imap.CapStartTLS) {
				t.Errorf("STARTTLS offered inside TLS")
			}
			if err := c.Login("anna@example.com*"+s.MasterUser, s.MasterPassword).Wait(); err != nil {
				t.Fatalf("login over TLS: %v", err)
			}
			c.Close()
		}
	})
	t.Run("STARTTLS", func(t *testing.T) {
		c, err := imapclient.DialStartTLS(s.Addr, &imapclient.Options{TLSConfig: serverTLSConfig(t, s, s.Host)})
		if err != nil {
			t.Fatalf("STARTTLS: %v", err)
		}
		defer c.Close()
		if err := c.Login("anna@example.com", "anna-pw").Wait(); err != nil {
			t.Fatalf("login after STARTTLS: %v", err)
		}
	})
	t.Run("unknown CA rejected", func(t *testing.T) {
		_, err := tls.Dial("tcp", s.TLSAddr, &tls.Config{ServerName: s.Host})
		if err == nil {
			t.Fatal("handshake verified against the system roots")
		}
	})
}

// TestPenalty records Dovecot 2.3.19's authentication penalty: after a failed
// login every later login from the IP waits, and login_trusted_networks does
// not exempt the IP; only NoPenalty does.
func TestPenalty(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		opts         []Option
		wantPenalty  bool
		minSecondTry time.Duration
		maxSecondTry time.Duration
	}{
		// Penalty 1 after the first failure: the next attempt waits 4 s.
		{"default", nil, true, 3500 * time.Millisecond, 10 * time.Second},
		{"Trusted", []Option{Trusted()}, true, 3500 * time.Millisecond, 10 * time.Second},
		{"NoPenalty", []Option{NoPenalty()}, false, 0, 2500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := append([]Option{AuthFailureDelay(0)}, tt.opts...)
			s := Start(t, standardFixture(), opts...)
			// Different wrong passwords: anvil does not raise the penalty
			// for a repeat of the same user and password.
			for i, pw := range []string{"wrong-1", "wrong-2"} {
				c := dial(t, s)
				start := time.Now()
				err := c.Login("anna@example.com", pw).Wait()
				took := time.Since(start)
				if ie := imapErr(t, err); ie.Code != imap.ResponseCodeAuthenticationFailed {
					t.Fatalf("attempt %d: %v", i+1, err)
				}
				if i == 1 && (took < tt.minSecondTry || took > tt.maxSecondTry) {
					t.Errorf("second failed login took %v, want %v..%v", took, tt.minSecondTry, tt.maxSecondTry)
				}
			}
			out, err := s.Doveadm("penalty")
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(out, "127.0.0.1"); got != tt.wantPenalty {
				t.Errorf("doveadm penalty lists 127.0.0.1: %v, want %v; output:\n%s", got, tt.wantPenalty, out)
			}
		})
	}
}

// TestMaxUserIPConnections records the answer over mail_max_userip_connections:
// NO [LIMIT], transient, not a finding about the mailbox.
func TestMaxUserIPConnections(t *testing.T) {
	s := Start(t, standardFixture(), MaxUserIPConnections(1))
	masterLogin(t, s, "anna@example.com")
	c := dial(t, s)
	err := c.Login("anna@example.com*"+s.MasterUser, s.MasterPassword).Wait()
	if err == nil {
		t.Fatal("second session of the same user and IP logged in")
	}
	ie := imapErr(t, err)
	if ie.Type != imap.StatusResponseTypeNo || ie.Code != imap.ResponseCodeLimit ||
		ie.Text != "Maximum number of connections from user+IP exceeded (mail_max_userip_connections=1)" {
		t.Errorf("response = %s %s %q", ie.Type, ie.Code, ie.Text)
	}
	// Another mailbox from the same IP is not affected.
	masterLogin(t, s, "empty@example.com")
}

// TestAddMessagesAndDropIndexes records Dovecot's INTERNALDATE cache: a
// changed mtime is ignored once the index cache holds the date, and read
// again after DropIndexes; UIDVALIDITY survives DropIndexes.
func TestAddMessagesAndDropIndexes(t *testing.T) {
	const user = "anna@example.com"
	started := time.Now().Unix()
	s := Start(t, standardFixture())

	examine := func(folder string) (*imapclient.Client, *imap.SelectData) {
		c := masterLogin(t, s, user)
		sel, err := c.Select(folder, &imap.SelectOptions{ReadOnly: true}).Wait()
		if err != nil {
			t.Fatalf("EXAMINE %s: %v", folder, err)
		}
		return c, sel
	}
	dates := func(c *imapclient.Client) map[string]time.Time {
		out := map[string]time.Time{}
		for _, m := range fetchAll(t, c, &imap.FetchOptions{InternalDate: true, Envelope: true}) {
			out[m.Envelope.Subject] = m.InternalDate
		}
		return out
	}

	c, before := examine("INBOX")
	if got := dates(c)["old seen"]; !got.Equal(base) {
		t.Fatalf("INTERNALDATE %v, want %v", got, base)
	}
	// UIDVALIDITY is when Dovecot first indexed the Maildir, not when its
	// mail arrived: a restored Maildir looks as new as a re-created one.
	if int64(before.UIDValidity) < started-1 {
		t.Errorf("UIDVALIDITY %d predates Start (%d)", before.UIDValidity, started)
	}
	c.Logout().Wait()

	added := base.Add(-400 * 24 * time.Hour)
	s.AddMessages(user, "INBOX", Message{Date: added, Subject: "added later", Flags: "S"})
	s.AddMessages(user, "Neu/Ordner", Message{Date: added, Subject: "in a new folder"})

	c, _ = examine("INBOX")
	if got := dates(c)["added later"]; !got.Equal(added) {
		t.Errorf("added message INTERNALDATE %v, want %v", got, added)
	}
	c.Logout().Wait()
	c, sel := examine("Neu/Ordner")
	if sel.NumMessages != 1 {
		t.Errorf("new folder holds %d messages, want 1", sel.NumMessages)
	}
	c.Logout().Wait()

	// Move the first message's mtime a year back behind Dovecot's back.
	moved := base.AddDate(-1, 0, 0)
	files, err := filepath.Glob(filepath.Join(s.MaildirPath(user), "cur", "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("glob cur/: %v %v", files, err)
	}
	var target string
	for _, f := range files {
		if st, err := os.Stat(f); err == nil && st.ModTime().Equal(base) {
			target = f
		}
	}
	if target == "" {
		t.Fatal("no file with the fixture's mtime")
	}
	if err := os.Chtimes(target, moved, moved); err != nil {
		t.Fatal(err)
	}
	c, _ = examine("INBOX")
	if got := dates(c)["old seen"]; !got.Equal(base) {
		t.Errorf("with the index cache: INTERNALDATE %v, want the cached %v", got, base)
	}
	c.Logout().Wait()

	s.DropIndexes(user)
	c, after := examine("INBOX")
	if got := dates(c)["old seen"]; !got.Equal(moved) {
		t.Errorf("after DropIndexes: INTERNALDATE %v, want the new mtime %v", got, moved)
	}
	if after.UIDValidity != before.UIDValidity {
		t.Errorf("UIDVALIDITY changed by DropIndexes: %d -> %d", before.UIDValidity, after.UIDValidity)
	}
}

// TestStopEndsAllProcesses proves Cleanup leaves no Dovecot process behind,
// including login and mail processes of open sessions.
func TestStopEndsAllProcesses(t *testing.T) {
	var pgid int
	t.Run("server", func(t *testing.T) {
		s := Start(t, standardFixture())
		pgid = s.cmd.Process.Pid
		masterLogin(t, s, "anna@example.com") // an imap process
		dial(t, s)                            // an imap-login process
		if n := len(groupMembers(pgid)); n < 5 {
			t.Fatalf("only %d processes in Dovecot's group; want master, log, config, anvil, imap...", n)
		}
	})
	if pgid == 0 {
		return // Start failed; the subtest said why
	}
	if left := groupMembers(pgid); len(left) != 0 {
		t.Errorf("processes %v of group %d survived cleanup", left, pgid)
	}
	if err := syscall.Kill(pgid, 0); err == nil {
		t.Errorf("master %d still exists", pgid)
	}
}

func TestDoveadm(t *testing.T) {
	s := Start(t, standardFixture())
	out, err := s.Doveadm("mailbox", "status", "-u", "anna@example.com", "messages", "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out) != "INBOX messages=3" {
		t.Errorf("doveadm mailbox status = %q, want \"INBOX messages=3\"", out)
	}
	if _, err := s.Doveadm("mailbox", "status", "-u", "gone@example.com", "messages", "INBOX"); err == nil {
		t.Error("doveadm found the absent user")
	}
	if !strings.Contains(s.Log(), "starting up for imap") {
		t.Errorf("Log() lacks Dovecot's start-up line:\n%s", s.Log())
	}
	if strings.Contains(s.Log(), s.MasterPassword) {
		t.Error("the master password reached the log")
	}
}

func TestFreePortsDistinct(t *testing.T) {
	ports, err := freePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	if ports[0] == ports[1] {
		t.Fatalf("ports %v not distinct", ports)
	}
	for _, p := range ports {
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			t.Errorf("port %d not free after freePorts: %v", p, err)
			continue
		}
		l.Close()
	}
}

func TestMissingBinaries(t *testing.T) {
	tests := []struct {
		name             string
		dovecot, doveadm string
		ci               bool
		wantMsg          bool
		wantFatal        bool
	}{
		{"installed", "/usr/sbin/dovecot", "/usr/bin/doveadm", true, false, false},
		{"missing, developer", "", "", false, true, false},
		{"missing, CI", "", "", true, true, true},
		{"doveadm missing, CI", "/usr/sbin/dovecot", "", true, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, fatal := missingBinaries(tt.dovecot, tt.doveadm, tt.ci)
			if (msg != "") != tt.wantMsg || fatal != tt.wantFatal {
				t.Fatalf("missingBinaries = %q, %v", msg, fatal)
			}
			if tt.wantMsg && !strings.Contains(msg, InstallHint) {
				t.Errorf("message %q lacks the install command", msg)
			}
		})
	}
}

func TestInCI(t *testing.T) {
	for v, want := range map[string]bool{"": false, "true": true, "1": true, "yes": true, "false": false, "0": false, "FALSE": false} {
		t.Setenv("CI", v)
		if got := inCI(); got != want {
			t.Errorf("CI=%q: inCI() = %v, want %v", v, got, want)
		}
	}
}

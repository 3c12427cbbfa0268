package scan

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/impact-ops/impact/internal/inventory"
	"github.com/impact-ops/impact/internal/results"
)

// scriptedServer answers like a server Dovecot cannot be made into here
// (PREAUTH, LOGINDISABLED, a malformed folder name): a greeting, then for
// each command the untagged lines scripted for its name and first argument
// ("EXAMINE INBOX") or else for its name, and a tagged OK.
func scriptedServer(t *testing.T, greeting string, script map[string][]string) string {
	t.Helper()
	return serve(t, func(c net.Conn) {
		defer c.Close()
		w := bufio.NewWriter(c)
		w.WriteString("* " + greeting + "\r\n")
		w.Flush()
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			tag, cmd := f[0], strings.ToUpper(f[1])
			lines, ok := []string(nil), false
			if len(f) > 2 {
				// A script for the command and its first argument wins.
				lines, ok = script[cmd+" "+strings.Trim(f[2], `"`)]
			}
			if !ok {
				lines, ok = script[cmd]
			}
			if !ok {
				lines = []string{tag + " BAD unexpected command " + cmd}
			}
			for _, l := range lines {
				w.WriteString(strings.ReplaceAll(l, "$TAG", tag) + "\r\n")
			}
			if ok {
				w.WriteString(tag + " OK done\r\n")
			}
			w.Flush()
			if cmd == "LOGOUT" {
				return
			}
		}
	})
}

func probeScripted(t *testing.T, addr string) (error, string) {
	t.Helper()
	p, err := NewProber(Config{Server: addr, TLS: TLSNone, Auth: AuthMaster, MasterUser: "ops", MasterPassword: "pw",
		Cutoff: time.Now(), Timeouts: Timeouts{Greeting: 2 * time.Second, Command: 2 * time.Second, Login: 2 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := p.Probe(context.Background(), inventory.NewEntry(inventory.Fields{Mailbox: "a@isp.example", AccountID: "1"}))
	return err, rec.Error
}

func TestScriptedServers(t *testing.T) {
	caps := []string{"* CAPABILITY IMAP4rev1 AUTH=PLAIN"}
	tests := []struct {
		name     string
		greeting string
		script   map[string][]string
		check    func(error) bool
		want     string
	}{
		{
			name:     "PREAUTH greeting is refused, not used",
			greeting: "PREAUTH [CAPABILITY IMAP4rev1] logged in as admin",
			check: func(err error) bool {
				var ge *GreetingError
				return errors.As(err, &ge) && ge.PreAuth && !IsTransient(err)
			},
			want: "PREAUTH",
		},
		{
			name:     "LOGINDISABLED stops before sending a password",
			greeting: "OK ready",
			script:   map[string][]string{"CAPABILITY": {"* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED"}, "LOGOUT": {"* BYE"}},
			check:    func(err error) bool { var se *SetupError; return errors.As(err, &se) },
			want:     "LOGINDISABLED",
		},
		{
			name:     "malformed modified UTF-7 folder name fails the mailbox, clearly",
			greeting: "OK ready",
			script: map[string][]string{
				"CAPABILITY": caps,
				"LOGIN":      nil,
				"LIST":       {`* LIST () "/" "INBOX"`, `* LIST () "/" "Bad&AOQ-&-Name&Zz"`},
				"LOGOUT":     {"* BYE"},
			},
			check: func(err error) bool { var pe *ProtocolError; return errors.As(err, &pe) && !IsTransient(err) },
			want:  "LIST",
		},
		{
			name:     "BYE greeting is transient",
			greeting: "BYE Too many connections, try again in 5 seconds",
			check: func(err error) bool {
				return IsTransient(err) && SuggestedBackoff(err) == 5*time.Second
			},
			want: "Too many connections",
		},
		{
			name:     "PRIVACYREQUIRED is a setup error",
			greeting: "OK ready",
			script: map[string][]string{
				"CAPABILITY": caps,
				"LOGIN":      {"$TAG NO [PRIVACYREQUIRED] Plaintext login not allowed"},
				"LOGOUT":     {"* BYE"},
			},
			check: func(err error) bool { var se *SetupError; return errors.As(err, &se) },
			want:  "--tls",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := scriptedServer(t, tt.greeting, tt.script)
			err, recErr := probeScripted(t, addr)
			if err == nil || !tt.check(err) {
				t.Fatalf("err = %#v (%v)", err, err)
			}
			t.Log(recErr)
			if !strings.Contains(recErr, tt.want) {
				t.Errorf("record error %q lacks %q", recErr, tt.want)
			}
		})
	}
}

// TestFolderChangedAfterList: a message arrives in Archive between LIST
// (STATUS says 2) and EXAMINE (3 exist). Counted as a small folder, the
// UID FETCH of 1:* gets all 3; counted by searching, the FETCH of the first
// and last message written for 2 is dropped and the folder counted again.
func TestFolderChangedAfterList(t *testing.T) {
	fetched := []string{
		`* 1 FETCH (UID 1 INTERNALDATE "01-Jan-2020 00:00:00 +0000")`,
		`* 2 FETCH (UID 2 INTERNALDATE "01-Jan-2030 00:00:00 +0000")`,
		`* 3 FETCH (UID 3 INTERNALDATE "02-Jan-2030 00:00:00 +0000")`,
	}
	addr := scriptedServer(t, "OK [CAPABILITY IMAP4rev1 AUTH=PLAIN LITERAL+] ready", map[string][]string{
		"LOGIN":      nil,
		"CAPABILITY": {"* CAPABILITY IMAP4rev1 LITERAL+ ESEARCH LIST-STATUS"},
		"LIST": {`* LIST () "/" INBOX`, `* STATUS INBOX (MESSAGES 0 UIDNEXT 1 UIDVALIDITY 6)`,
			`* LIST () "/" Archive`, `* STATUS Archive (MESSAGES 2 UIDNEXT 4 UIDVALIDITY 7)`},
		"EXAMINE INBOX": {"* 0 EXISTS", "* OK [UIDVALIDITY 6] UIDs valid", "* OK [UIDNEXT 1] next"},
		"EXAMINE":       {"* 3 EXISTS", "* OK [UIDVALIDITY 7] UIDs valid", "* OK [UIDNEXT 4] next"},
		// SENTBEFORE and BEFORE count 1 (the 2020 message), nothing is
		// near the cutoff.
		"SEARCH":     {`* ESEARCH (TAG "$TAG") COUNT 1`},
		"UID SEARCH": {`* ESEARCH (TAG "$TAG") UID`},
		"UID FETCH":  fetched,
		"FETCH":      fetched,
		"LOGOUT":     {"* BYE bye"},
	})
	for _, small := range []uint32{smallFolder, 0} {
		p, err := NewProber(Config{Server: addr, TLS: TLSNone, Auth: AuthMaster, MasterUser: "ops", MasterPassword: "pw",
			Cutoff: time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC), Timeouts: Timeouts{Greeting: 2 * time.Second, Command: 2 * time.Second, Login: 2 * time.Second}})
		if err != nil {
			t.Fatal(err)
		}
		p.smallFolder = small
		rec, err := p.Probe(context.Background(), inventory.NewEntry(inventory.Fields{Mailbox: "a@isp.example", AccountID: "1"}))
		if err != nil {
			t.Fatalf("small folder %d: %v", small, err)
		}
		if len(rec.Folders) != 2 || rec.Folders[0].Name != "Archive" {
			t.Fatalf("small folder %d: folders %+v", small, rec.Folders)
		}
		f := rec.Folders[0]
		if *f.Messages != 3 || *f.BeforeCutoff != 1 || *f.AfterCutoff != 2 {
			t.Errorf("small folder %d: messages %d, before %d, after %d; want 3, 1, 2", small, *f.Messages, *f.BeforeCutoff, *f.AfterCutoff)
		}
	}
}

// TestUnsolicitedFlagUpdate: another session reads message 2 while the
// folder is counted, and the server reports its new flags ("* 2 FETCH
// (FLAGS (\Seen))") before and inside the answer to the FETCH of every
// message's date. The update is not a message dated before the cutoff,
// and message 2's real answer still counts.
func TestUnsolicitedFlagUpdate(t *testing.T) {
	update := `* 2 FETCH (FLAGS (\Seen))`
	fetched := []string{
		`* 1 FETCH (UID 1 INTERNALDATE "01-Jan-2020 00:00:00 +0000")`,
		`* 2 FETCH (UID 2 INTERNALDATE "01-Jan-2030 00:00:00 +0000")`,
		`* 3 FETCH (UID 3 INTERNALDATE "02-Jan-2030 00:00:00 +0000")`,
	}
	for _, where := range []string{"before", "inside"} {
		t.Run(where, func(t *testing.T) {
			search := []string{`* ESEARCH (TAG "$TAG") COUNT 1`}
			fetch := fetched
			if where == "before" {
				search = append(search, update)
			} else {
				fetch = append([]string{fetched[0], update}, fetched[1:]...)
			}
			addr := scriptedServer(t, "OK [CAPABILITY IMAP4rev1 AUTH=PLAIN LITERAL+] ready", map[string][]string{
				"LOGIN":      nil,
				"CAPABILITY": {"* CAPABILITY IMAP4rev1 LITERAL+ ESEARCH LIST-STATUS"},
				"LIST":       {`* LIST () "/" INBOX`, `* STATUS INBOX (MESSAGES 3 UIDNEXT 4 UIDVALIDITY 6)`},
				"EXAMINE":    {"* 3 EXISTS", "* OK [UIDVALIDITY 6] UIDs valid", "* OK [UIDNEXT 4] next"},
				"SEARCH":     search,
				"UID FETCH":  fetch,
				"LOGOUT":     {"* BYE bye"},
			})
			p, err := NewProber(Config{Server: addr, TLS: TLSNone, Auth: AuthMaster, MasterUser: "ops", MasterPassword: "pw",
				Cutoff: time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC), Timeouts: Timeouts{Greeting: 2 * time.Second, Command: 2 * time.Second, Login: 2 * time.Second}})
			if err != nil {
				t.Fatal(err)
			}
			rec, err := p.Probe(context.Background(), inventory.NewEntry(inventory.Fields{Mailbox: "a@isp.example", AccountID: "1"}))
			if err != nil {
				t.Fatal(err)
			}
			f := rec.Folders[0]
			if *f.BeforeCutoff != 1 || *f.AfterCutoff != 2 {
				t.Errorf("before %d, after %d; want 1 and 2", *f.BeforeCutoff, *f.AfterCutoff)
			}
		})
	}
}

// TestFetchAnswersAheadOfSearch: a server may answer pipelined commands
// out of order (RFC 9051 5.5). The answers to a FETCH of a small folder
// that grew to 200 messages after LIST arrive before the SEARCH written
// ahead of it is answered. go-imap queues at most 128 of them for a
// command nobody reads yet, and its reader then reads nothing else, so
// the probe must collect them as they come or it hangs past every
// deadline.
func TestFetchAnswersAheadOfSearch(t *testing.T) {
	var early []string
	for i := 1; i <= 200; i++ {
		early = append(early, fmt.Sprintf(`* %d FETCH (UID %d INTERNALDATE "01-Jan-2030 00:00:00 +0000")`, i, i))
	}
	addr := scriptedServer(t, "OK [CAPABILITY IMAP4rev1 AUTH=PLAIN LITERAL+] ready", map[string][]string{
		"LOGIN":         nil,
		"CAPABILITY":    {"* CAPABILITY IMAP4rev1 LITERAL+ ESEARCH LIST-STATUS"},
		"LIST":          {`* LIST () "/" INBOX`, `* STATUS INBOX (MESSAGES 0 UIDNEXT 1 UIDVALIDITY 6)`, `* LIST () "/" Archive`, `* STATUS Archive (MESSAGES 2 UIDNEXT 3 UIDVALIDITY 7)`},
		"EXAMINE INBOX": {"* 0 EXISTS", "* OK [UIDVALIDITY 6] UIDs valid", "* OK [UIDNEXT 1] next"},
		"EXAMINE":       {"* 200 EXISTS", "* OK [UIDVALIDITY 7] UIDs valid", "* OK [UIDNEXT 201] next"},
		"SEARCH":        append(early, `* ESEARCH (TAG "$TAG") COUNT 0`),
		"UID FETCH":     nil,
		"LOGOUT":        {"* BYE bye"},
	})
	rec := probeBounded(t, addr)
	f := rec.Folders[0]
	if f.Name != "Archive" || *f.Messages != 200 || *f.BeforeCutoff != 0 || *f.AfterCutoff != 200 {
		t.Errorf("%s: messages %d, before %d, after %d; want Archive 200, 0, 200", f.Name, *f.Messages, *f.BeforeCutoff, *f.AfterCutoff)
	}
}

// TestListAnsweredAheadOfExamine: 100 folders listed before EXAMINE
// INBOX, written ahead of LIST, is answered. go-imap queues 64 LIST
// answers for a command nobody reads yet; the probe must not hang.
func TestListAnsweredAheadOfExamine(t *testing.T) {
	var listed []string
	for i := range 100 {
		listed = append(listed, fmt.Sprintf(`* LIST (\HasNoChildren) "/" F%03d`, i), fmt.Sprintf(`* STATUS F%03d (MESSAGES 0 UIDNEXT 1 UIDVALIDITY 9)`, i))
	}
	addr := scriptedServer(t, "OK [CAPABILITY IMAP4rev1 AUTH=PLAIN LITERAL+] ready", map[string][]string{
		"LOGIN":         nil,
		"CAPABILITY":    {"* CAPABILITY IMAP4rev1 LITERAL+ ESEARCH LIST-STATUS"},
		"EXAMINE INBOX": append(listed, "* 0 EXISTS", "* OK [UIDVALIDITY 6] UIDs valid", "* OK [UIDNEXT 1] next"),
		"LIST":          nil,
		"LOGOUT":        {"* BYE bye"},
	})
	rec := probeBounded(t, addr)
	if len(rec.Folders) != 100 || rec.BeforeCutoff == nil || *rec.BeforeCutoff != 0 {
		t.Errorf("%d folders, before %v; want 100 counted", len(rec.Folders), deref(rec.BeforeCutoff))
	}
}

// TestStatusWithoutUIDValidity: LIST-STATUS says 0 messages but gives no
// UIDVALIDITY, as Dovecot does for a full folder under concurrent first
// access: the folder is examined, not taken for empty.
func TestStatusWithoutUIDValidity(t *testing.T) {
	addr := scriptedServer(t, "OK [CAPABILITY IMAP4rev1 AUTH=PLAIN LITERAL+] ready", map[string][]string{
		"LOGIN":      nil,
		"CAPABILITY": {"* CAPABILITY IMAP4rev1 LITERAL+ ESEARCH LIST-STATUS"},
		"LIST": {`* LIST () "/" INBOX`, `* STATUS INBOX (MESSAGES 0 UIDNEXT 1 UIDVALIDITY 6)`,
			`* LIST () "/" Big`, `* STATUS Big (MESSAGES 0 UIDNEXT 1 UIDVALIDITY 0)`},
		"EXAMINE INBOX": {"* 0 EXISTS", "* OK [UIDVALIDITY 6] UIDs valid", "* OK [UIDNEXT 1] next"},
		"EXAMINE":       {"* 2 EXISTS", "* OK [UIDVALIDITY 7] UIDs valid", "* OK [UIDNEXT 3] next"},
		"SEARCH":        {`* ESEARCH (TAG "$TAG") COUNT 1`},
		"UID FETCH": {`* 1 FETCH (UID 1 INTERNALDATE "01-Jan-2020 00:00:00 +0000")`,
			`* 2 FETCH (UID 2 INTERNALDATE "01-Jan-2030 00:00:00 +0000")`},
		"LOGOUT": {"* BYE bye"},
	})
	rec := probeBounded(t, addr)
	f := rec.Folders[0]
	if f.Name != "Big" || f.Messages == nil || *f.Messages != 2 || *f.BeforeCutoff != 1 || *f.AfterCutoff != 1 {
		t.Errorf("%s: messages %v, before %v, after %v; want Big 2, 1, 1", f.Name, deref(f.Messages), deref(f.BeforeCutoff), deref(f.AfterCutoff))
	}
}

// probeBounded probes a@isp.example at addr with a 5 s probe deadline and
// fails the test if the probe outlives it or fails.
func probeBounded(t *testing.T, addr string) results.Mailbox {
	t.Helper()
	p, err := NewProber(Config{Server: addr, TLS: TLSNone, Auth: AuthMaster, MasterUser: "ops", MasterPassword: "pw",
		Cutoff: time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC), Timeouts: Timeouts{Greeting: 2 * time.Second, Command: 2 * time.Second, Login: 2 * time.Second, Probe: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var rec results.Mailbox
	go func() {
		defer close(done)
		rec, err = p.Probe(context.Background(), inventory.NewEntry(inventory.Fields{Mailbox: "a@isp.example", AccountID: "1"}))
	}()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("probe hung past its 5 s deadline")
	}
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

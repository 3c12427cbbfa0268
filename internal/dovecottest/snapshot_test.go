package dovecottest

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
)

func TestSnapshotDiff(t *testing.T) {
	a := MessageState{Flags: "S", SHA256: "aa"}
	tests := []struct {
		name        string
		before, now Snapshot
		want        []string
	}{
		{"equal", Snapshot{"INBOX/1": a}, Snapshot{"INBOX/1": a}, nil},
		{"lost", Snapshot{"INBOX/1": a, "INBOX/2": a}, Snapshot{"INBOX/2": a}, []string{"lost INBOX/1"}},
		{"added", Snapshot{}, Snapshot{"X/1": a}, []string{"added X/1"}},
		{"content", Snapshot{"INBOX/1": a}, Snapshot{"INBOX/1": {Flags: "S", SHA256: "bb"}}, []string{"content changed INBOX/1"}},
		{"flags", Snapshot{"INBOX/1": a}, Snapshot{"INBOX/1": {Flags: "RS", SHA256: "aa"}}, []string{`flags changed INBOX/1: "S" -> "RS"`}},
		{"moved folder", Snapshot{"A/1": a}, Snapshot{"B/1": a}, []string{"lost A/1", "added B/1"}},
		{"both", Snapshot{"INBOX/1": a}, Snapshot{"INBOX/1": {Flags: "", SHA256: "bb"}}, []string{"content changed INBOX/1", `flags changed INBOX/1: "S" -> ""`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.before.Diff(tt.now)
			slices.Sort(got)
			want := slices.Clone(tt.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("Diff = %q, want %q", got, want)
			}
		})
	}
}

func TestSnapshotMaildir(t *testing.T) {
	root := t.TempDir()
	w := &maildirWriter{pid: 1}
	date := time.Date(2022, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := w.writeUser(root, User{Name: "u", Folders: []Folder{
		{Name: "INBOX", Messages: []Message{{Date: date, Flags: "S"}, {Date: date, New: true}}},
		{Name: "Archiv/Prüfung", Messages: []Message{{Date: date, Flags: "F"}}},
	}}); err != nil {
		t.Fatal(err)
	}
	s := SnapshotMaildir(t, root)
	if len(s) != 3 {
		t.Fatalf("snapshot %v, want 3 messages", s)
	}
	var inNew string
	for k, v := range s {
		if strings.HasPrefix(k, "Archiv/Prüfung/") && v.Flags != "F" {
			t.Errorf("%s flags %q, want F", k, v.Flags)
		}
		if strings.HasPrefix(k, "INBOX/") && v.Flags == "" {
			inNew = k
		}
	}
	// Move new/ to cur/ the way Dovecot does: not a change.
	base := strings.TrimPrefix(inNew, "INBOX/")
	if err := os.Rename(filepath.Join(root, "new", base), filepath.Join(root, "cur", base+":2,")); err != nil {
		t.Fatal(err)
	}
	if d := s.Diff(SnapshotMaildir(t, root)); len(d) != 0 {
		t.Errorf("new/ -> cur/ reported as %q", d)
	}
	// A flag change is.
	if err := os.Rename(filepath.Join(root, "cur", base+":2,"), filepath.Join(root, "cur", base+":2,S")); err != nil {
		t.Fatal(err)
	}
	want := []string{`flags changed ` + inNew + `: "" -> "S"`}
	if d := s.Diff(SnapshotMaildir(t, root)); !slices.Equal(d, want) {
		t.Errorf("Diff = %q, want %q", d, want)
	}
	if got := SnapshotMaildir(t, filepath.Join(root, "nonexistent")); len(got) != 0 {
		t.Errorf("snapshot of a missing Maildir = %v, want empty", got)
	}
}

// TestReadOnlyScanLeavesMaildirUnchanged runs what a scanner does over real
// Dovecot and proves the Snapshot sees no change; a deliberate SELECT and
// STORE then shows up as exactly one flag change, although SELECT also moves
// the new/ file to cur/.
func TestReadOnlyScanLeavesMaildirUnchanged(t *testing.T) {
	const user = "anna@example.com"
	s := Start(t, standardFixture())
	root := s.MaildirPath(user)
	before := SnapshotMaildir(t, root)
	if n, _ := filepath.Glob(filepath.Join(root, "new", "*")); len(n) != 1 {
		t.Fatalf("fixture: %d files in new/, want 1", len(n))
	}

	c := masterLogin(t, s, user)
	list, err := c.List("", "*", &imap.ListOptions{ReturnStatus: &imap.StatusOptions{NumMessages: true, UIDValidity: true, UIDNext: true}}).Collect()
	if err != nil {
		t.Fatalf("LIST-STATUS: %v", err)
	}
	scanned := 0
	for _, l := range list {
		if slices.Contains(l.Attrs, imap.MailboxAttrNoSelect) || slices.Contains(l.Attrs, imap.MailboxAttrNonExistent) {
			continue
		}
		if l.Status == nil || l.Status.NumMessages == nil {
			t.Errorf("LIST-STATUS gave no MESSAGES for %q", l.Mailbox)
		}
		if _, err := c.Status(l.Mailbox, &imap.StatusOptions{NumMessages: true, NumUnseen: true}).Wait(); err != nil {
			t.Fatalf("STATUS %s: %v", l.Mailbox, err)
		}
		sel, err := c.Select(l.Mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
		if err != nil {
			t.Fatalf("EXAMINE %s: %v", l.Mailbox, err)
		}
		if _, err := c.Search(&imap.SearchCriteria{Before: base.Add(48 * time.Hour)}, &imap.SearchOptions{ReturnCount: true, ReturnMin: true}).Wait(); err != nil {
			t.Fatalf("SEARCH %s: %v", l.Mailbox, err)
		}
		if sel.NumMessages > 0 {
			fetchAll(t, c, &imap.FetchOptions{
				UID: true, InternalDate: true, Flags: true,
				BodySection: []*imap.FetchItemBodySection{{Specifier: imap.PartSpecifierHeader, Peek: true}},
			})
		}
		scanned++
	}
	if scanned != 2 {
		t.Errorf("scanned %d folders, want 2", scanned)
	}
	if err := c.Logout().Wait(); err != nil {
		t.Fatal(err)
	}

	// Recorded from Dovecot 2.3.19: EXAMINE, STATUS, SEARCH and FETCH leave
	// new/ alone; only a read-write SELECT moves new/ to cur/.
	if n, _ := filepath.Glob(filepath.Join(root, "new", "*")); len(n) != 1 {
		t.Errorf("%d files in new/ after the read-only scan, want the fixture's 1", len(n))
	}
	if d := before.Diff(SnapshotMaildir(t, root)); len(d) != 0 {
		t.Errorf("read-only scan changed the Maildir: %q", d)
	}

	// Now change a flag on purpose, as a careless client would.
	c = masterLogin(t, s, user)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	msgs := fetchAll(t, c, &imap.FetchOptions{UID: true, Envelope: true})
	var uid imap.UID
	for _, m := range msgs {
		if m.Envelope.Subject == "brand new" {
			uid = m.UID
		}
	}
	if err := c.Store(imap.UIDSetNum(uid), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagSeen}}, nil).Close(); err != nil {
		t.Fatalf("STORE: %v", err)
	}
	if err := c.Logout().Wait(); err != nil {
		t.Fatal(err)
	}
	if n, _ := filepath.Glob(filepath.Join(root, "new", "*")); len(n) != 0 {
		t.Errorf("%d files in new/ after SELECT, want 0 (Dovecot moves them to cur/)", len(n))
	}
	d := before.Diff(SnapshotMaildir(t, root))
	if len(d) != 1 || !strings.HasPrefix(d[0], "flags changed INBOX/") || !strings.HasSuffix(d[0], `: "" -> "S"`) {
		t.Errorf("Diff after STORE +FLAGS \\Seen = %q, want one flags change \"\" -> \"S\"", d)
	}
}

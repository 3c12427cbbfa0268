package dovecottest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/impact-ops/impact/internal/syncbuf"
)

func TestFolderDirName(t *testing.T) {
	tests := []struct {
		folder, dir string
		wantErr     bool
	}{
		{folder: "INBOX", dir: ""},
		{folder: "inbox", dir: ""},
		{folder: "Archiv", dir: ".Archiv"},
		{folder: "Archiv/Prüfung", dir: ".Archiv.Pr&APw-fung"},
		{folder: "Sent & Drafts", dir: ".Sent &- Drafts"},
		{folder: "a.b", wantErr: true},
		{folder: "Archiv//x", wantErr: true},
		{folder: "/Archiv", wantErr: true},
		{folder: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.folder, func(t *testing.T) {
			dir, err := folderDirName(tt.folder)
			if (err != nil) != tt.wantErr || dir != tt.dir {
				t.Fatalf("folderDirName(%q) = %q, %v; want %q, error %v", tt.folder, dir, err, tt.dir, tt.wantErr)
			}
			if tt.wantErr || dir == "" {
				return
			}
			back, err := folderNameFromDir(dir)
			if err != nil || back != tt.folder {
				t.Errorf("folderNameFromDir(%q) = %q, %v; want %q", dir, back, err, tt.folder)
			}
		})
	}
}

func TestValidateUserName(t *testing.T) {
	for name, ok := range map[string]bool{
		"anna@example.com": true,
		"user00001":        true,
		"":                 false,
		"..":               false,
		"a:b":              false,
		"a/b":              false,
		"a*master":         false,
		"a b":              false,
		"a\nb":             false,
	} {
		if err := validateUserName(name); (err == nil) != ok {
			t.Errorf("validateUserName(%q) = %v, want ok=%v", name, err, ok)
		}
	}
}

func TestNormalizeFlags(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""}, {"S", "S"}, {"SR", "RS"}, {"TFS", "FST"}, {"Sa", "Sa"},
	}
	for _, tt := range tests {
		if got, err := normalizeFlags(tt.in); err != nil || got != tt.want {
			t.Errorf("normalizeFlags(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"S,", "2", "S R"} {
		if _, err := normalizeFlags(bad); err == nil {
			t.Errorf("normalizeFlags(%q) accepted", bad)
		}
	}
}

func TestWriteMessage(t *testing.T) {
	root := t.TempDir()
	w := &maildirWriter{pid: 42}
	date := time.Date(2021, 6, 30, 8, 15, 59, 700_000_000, time.UTC)
	if err := w.writeFolder(root, "anna", "Archiv/Prüfung", []Message{
		{Date: date, Flags: "SR", Subject: "Grüße"},
		{Date: date, New: true},
	}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, ".Archiv.Pr&APw-fung")
	if _, err := os.Stat(filepath.Join(dir, "maildirfolder")); err != nil {
		t.Errorf("maildirfolder marker: %v", err)
	}
	cur, _ := filepath.Glob(filepath.Join(dir, "cur", "*"))
	nw, _ := filepath.Glob(filepath.Join(dir, "new", "*"))
	tmp, _ := filepath.Glob(filepath.Join(dir, "tmp", "*"))
	if len(cur) != 1 || len(nw) != 1 || len(tmp) != 0 {
		t.Fatalf("cur %v, new %v, tmp %v", cur, nw, tmp)
	}
	if !strings.HasSuffix(cur[0], ":2,RS") {
		t.Errorf("cur file %s lacks sorted flags :2,RS", cur[0])
	}
	if strings.Contains(filepath.Base(nw[0]), ":2,") {
		t.Errorf("new/ file %s carries an info suffix", nw[0])
	}
	st, err := os.Stat(cur[0])
	if err != nil {
		t.Fatal(err)
	}
	if want := date.Truncate(time.Second); !st.ModTime().Equal(want) {
		t.Errorf("mtime %v, want %v", st.ModTime(), want)
	}
	body, err := os.ReadFile(cur[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Date: Wed, 30 Jun 2021 08:15:59 +0000\n",
		"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\n",
		"To: <anna@example.invalid>\n",
		"\n\nFixture message",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("message lacks %q:\n%s", want, body)
		}
	}

	for name, m := range map[string]Message{
		"zero date":       {},
		"flags in new/":   {Date: date, New: true, Flags: "S"},
		"non-letter flag": {Date: date, Flags: "S1"},
	} {
		if err := w.writeFolder(root, "anna", "INBOX", []Message{m}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestStartRejectsBadFixtures(t *testing.T) {
	tests := []struct {
		name string
		f    Fixture
	}{
		{"duplicate user", Fixture{Users: []User{{Name: "a", Password: "p"}, {Name: "a", Password: "p"}}}},
		{"absent with folders", Fixture{Users: []User{{Name: "a", Password: "p", Absent: true, Folders: []Folder{{Name: "INBOX"}}}}}},
		{"colon in password", Fixture{Users: []User{{Name: "a", Password: "p:q"}}}},
		{"dot in folder", Fixture{Users: []User{{Name: "a", Password: "p", Folders: []Folder{{Name: "a.b"}}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Server{Dir: t.TempDir(), stderr: &syncbuf.Buffer{}}
			s.mailDir = filepath.Join(s.Dir, "mail")
			s.writer = &maildirWriter{}
			if err := os.MkdirAll(filepath.Join(s.Dir, "auth"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := s.writeFixture(tt.f); err == nil {
				t.Error("accepted")
			}
		})
	}
}

func TestGenerateFixture(t *testing.T) {
	cutoff := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		n          int
		share      float64
		wantAbsent int
	}{
		{10, 0.3, 3}, {2000, 0.1, 200}, {7, 0, 0}, {5, 1, 5}, {1, 0.4, 0},
	}
	for _, tt := range tests {
		f := GenerateFixture(tt.n, tt.share, cutoff)
		absent, maxRun := 0, 0
		run := 0
		for _, u := range f.Users {
			if u.Absent {
				absent++
				run++
				maxRun = max(maxRun, run)
				continue
			}
			run = 0
			var before, after int
			for _, fo := range u.Folders {
				for _, m := range fo.Messages {
					if m.Date.Before(cutoff) {
						before++
					} else {
						after++
					}
				}
			}
			if before != 3 || after != 3 || len(u.Folders) != 2 {
				t.Errorf("n=%d %s: %d folders, %d before, %d after the cutoff", tt.n, u.Name, len(u.Folders), before, after)
			}
		}
		if len(f.Users) != tt.n || absent != tt.wantAbsent {
			t.Errorf("GenerateFixture(%d, %v): %d users, %d absent; want %d absent", tt.n, tt.share, len(f.Users), absent, tt.wantAbsent)
		}
		if tt.share > 0 && tt.share < 0.5 && maxRun > 1 {
			t.Errorf("GenerateFixture(%d, %v): absent users clustered (run of %d)", tt.n, tt.share, maxRun)
		}
	}
}

// TestGeneratedFixtureAtScale starts Dovecot with 2,000 mailboxes and checks
// a present and an absent one. It also measures how long writing takes.
func TestGeneratedFixtureAtScale(t *testing.T) {
	if testing.Short() {
		t.Skip("2,000 mailboxes")
	}
	t.Parallel()
	cutoff := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	f := GenerateFixture(2000, 0.1, cutoff)
	start := time.Now()
	s := Start(t, f, NoPenalty(), AuthFailureDelay(0))
	took := time.Since(start)
	t.Logf("Start with 2,000 users (1,800 Maildirs, 10,800 messages): %v", took)
	if took > 30*time.Second {
		t.Errorf("Start took %v; benchmarks need it in seconds", took)
	}
	var present, absent string
	for _, u := range f.Users {
		if u.Absent && absent == "" {
			absent = u.Name
		}
		if !u.Absent && present == "" {
			present = u.Name
		}
	}
	c := masterLogin(t, s, present)
	sel, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if sel.NumMessages != 4 {
		t.Errorf("%s INBOX holds %d messages, want 4", present, sel.NumMessages)
	}
	st, err := c.Status("Entwürfe", &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil || st.NumMessages == nil || *st.NumMessages != 2 {
		t.Errorf("STATUS Entwürfe = %+v, %v; want 2 messages", st, err)
	}
	c2 := dial(t, s)
	err = c2.Login(absent+"*"+s.MasterUser, s.MasterPassword).Wait()
	if ie := imapErr(t, err); ie.Code != imap.ResponseCodeAuthorizationFailed {
		t.Errorf("absent %s: %v, want AUTHORIZATIONFAILED", absent, err)
	}
}

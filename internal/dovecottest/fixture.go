package dovecottest

import (
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"time"
)

// Fixture is the set of mailboxes a Start writes before Dovecot runs.
type Fixture struct {
	Users []User
}

// User is one mailbox (IMAP user) of a Fixture.
type User struct {
	// Name is the login name, e.g. "anna@example.com". It must not contain
	// ':', '/', '*' (the master-user separator), whitespace or control
	// characters, and must not be "." or "..".
	Name string
	// Password is the customer's own password, stored as {PLAIN} in the
	// passwd-file. It must not contain ':' or control characters.
	Password string
	// Absent lists the user nowhere: not in the passdb, no Maildir. This is a
	// mailbox that is gone. Folders must be empty.
	Absent bool
	// NoMaildir lists the user in the passdb and userdb but writes no home
	// directory and no Maildir. Folders must be empty.
	NoMaildir bool
	// Folders are written into the user's Maildir. INBOX (the Maildir root)
	// is always created, listed or not. Parent folders are not implied:
	// "Archiv/2023" alone leaves "Archiv" nonexistent on disk.
	Folders []Folder
}

// Folder is one mailbox folder of a User.
type Folder struct {
	// Name is the UTF-8 folder name with '/' as separator, e.g.
	// "Archiv/Prüfung"; "INBOX" (any case) is the Maildir root. Components
	// must be non-empty and must not contain '.', the Maildir++ separator.
	Name     string
	Messages []Message
}

// Message is one message file of a Folder.
type Message struct {
	// Date becomes the INTERNALDATE (the file's mtime, whole seconds). It
	// must not be zero.
	Date time.Time
	// Flags are the Maildir flags after ":2,", e.g. "S" or "RS" (D draft,
	// F flagged, P passed, R replied, S seen, T trashed); stored sorted.
	// Must be empty when New is set.
	Flags string
	// New puts the file in new/ (not yet seen by any client) instead of cur/.
	New bool
	// Subject is the Subject: header, RFC 2047 encoded when not ASCII. Empty
	// gives a generated subject.
	Subject string
	// HeaderDate is the Date: header; zero means the same as Date.
	HeaderDate time.Time
}

// mailOwner is who the Maildir files belong to and who Dovecot accesses
// them as.
type mailOwner struct {
	uid, gid int
	chown    bool // whether files must be chowned (running as root)
}

// maildirWriter writes Maildir++ trees for one Server.
type maildirWriter struct {
	owner mailOwner
	pid   int
	seq   atomic.Uint64 // makes Maildir base names unique within the process
	// live is set once Dovecot runs; from then on messages are staged in
	// tmp/ and renamed into place, so Dovecot never sees a half-set file.
	live atomic.Bool
}

func validateUserName(name string) error {
	if name == "" || name == "." || name == ".." {
		return fmt.Errorf("user name %q is not allowed", name)
	}
	for _, r := range name {
		if r <= ' ' || r == 0x7f || strings.ContainsRune(":/*\\\"", r) {
			return fmt.Errorf("user name %q contains %q, which the passwd-file or the master-user login cannot carry", name, r)
		}
	}
	return nil
}

func validatePassword(user, pw string) error {
	if pw == "" {
		return fmt.Errorf("user %q: empty password", user)
	}
	for _, r := range pw {
		if r < ' ' || r == 0x7f || r == ':' {
			return fmt.Errorf("user %q: password contains a character a passwd-file cannot carry", user)
		}
	}
	return nil
}

// folderDirName returns the directory of a folder relative to the Maildir
// root: "" for INBOX, ".Archiv.Pr&APw-fung" for "Archiv/Prüfung".
func folderDirName(folder string) (string, error) {
	if strings.EqualFold(folder, "INBOX") {
		return "", nil
	}
	parts := strings.Split(folder, "/")
	enc := make([]string, len(parts))
	for i, p := range parts {
		if p == "" || strings.Contains(p, ".") {
			return "", fmt.Errorf("folder %q: component %q must be non-empty and free of '.' (the Maildir++ separator)", folder, p)
		}
		e, err := encodeMUTF7(p)
		if err != nil {
			return "", fmt.Errorf("folder %q: %w", folder, err)
		}
		enc[i] = e
	}
	return "." + strings.Join(enc, "."), nil
}

// folderNameFromDir is the inverse of folderDirName for a directory name
// inside a Maildir root ("" for INBOX).
func folderNameFromDir(dir string) (string, error) {
	if dir == "" {
		return "INBOX", nil
	}
	if !strings.HasPrefix(dir, ".") || len(dir) == 1 {
		return "", fmt.Errorf("%q is not a Maildir++ folder directory", dir)
	}
	parts := strings.Split(dir[1:], ".")
	for i, p := range parts {
		d, err := decodeMUTF7(p)
		if err != nil {
			return "", err
		}
		parts[i] = d
	}
	return strings.Join(parts, "/"), nil
}

// mkdir creates dir (and missing parents up to an existing one) owned by
// the mail user.
func (w *maildirWriter) mkdir(dir string) error {
	err := os.Mkdir(dir, 0o700)
	if errors.Is(err, fs.ErrNotExist) && filepath.Dir(dir) != dir {
		if err := w.mkdir(filepath.Dir(dir)); err != nil {
			return err
		}
		err = os.Mkdir(dir, 0o700)
	}
	switch {
	case errors.Is(err, fs.ErrExist):
		return nil
	case err != nil:
		return fmt.Errorf("create %s: %w", dir, err)
	}
	return w.chown(dir)
}

func (w *maildirWriter) chown(path string) error {
	if !w.owner.chown {
		return nil
	}
	if err := os.Lchown(path, w.owner.uid, w.owner.gid); err != nil {
		return fmt.Errorf("chown %s: %w", path, err)
	}
	return nil
}

// ensureFolder creates the cur/, new/ and tmp/ of a folder (and the
// maildirfolder marker of a subfolder) and returns the folder's directory.
func (w *maildirWriter) ensureFolder(maildir, folder string) (string, error) {
	rel, err := folderDirName(folder)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(maildir, rel)
	// Top-down, so that no mkdir fails for a missing parent.
	if err := w.mkdir(dir); err != nil {
		return "", err
	}
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := w.mkdir(filepath.Join(dir, sub)); err != nil {
			return "", err
		}
	}
	if rel != "" {
		marker := filepath.Join(dir, "maildirfolder")
		if _, err := os.Stat(marker); errors.Is(err, fs.ErrNotExist) {
			if err := os.WriteFile(marker, nil, 0o600); err != nil {
				return "", fmt.Errorf("create %s: %w", marker, err)
			}
			if err := w.chown(marker); err != nil {
				return "", err
			}
		}
	}
	return dir, nil
}

// writeUser writes a user's whole Maildir.
func (w *maildirWriter) writeUser(maildir string, u User) error {
	if err := w.mkdir(filepath.Dir(maildir)); err != nil {
		return fmt.Errorf("user %q: %w", u.Name, err)
	}
	hasInbox := false
	for _, f := range u.Folders {
		hasInbox = hasInbox || strings.EqualFold(f.Name, "INBOX")
	}
	if !hasInbox {
		if _, err := w.ensureFolder(maildir, "INBOX"); err != nil {
			return fmt.Errorf("user %q: %w", u.Name, err)
		}
	}
	for _, f := range u.Folders {
		if err := w.writeFolder(maildir, u.Name, f.Name, f.Messages); err != nil {
			return err
		}
	}
	return nil
}

func (w *maildirWriter) writeFolder(maildir, user, folder string, msgs []Message) error {
	dir, err := w.ensureFolder(maildir, folder)
	if err != nil {
		return fmt.Errorf("user %q: %w", user, err)
	}
	for i, m := range msgs {
		if err := w.writeMessage(dir, user, folder, m); err != nil {
			return fmt.Errorf("user %q folder %q message %d: %w", user, folder, i, err)
		}
	}
	return nil
}

// writeMessage writes one message file with its owner and mtime. While
// Dovecot runs it goes through tmp/ and is renamed into new/ or cur/ only
// then (delivery as in maildir(5)), so Dovecot cannot see, and cache, another
// mtime.
func (w *maildirWriter) writeMessage(folderDir, user, folder string, m Message) error {
	if m.Date.IsZero() {
		return errors.New("zero Date: the INTERNALDATE must be given")
	}
	flags, err := normalizeFlags(m.Flags)
	if err != nil {
		return err
	}
	if m.New && flags != "" {
		return fmt.Errorf("flags %q on a message in new/: Maildir keeps flags only in cur/", m.Flags)
	}
	date := m.Date.Truncate(time.Second)
	sec := date.Unix()
	if sec < 0 {
		sec = 0
	}
	base := fmt.Sprintf("%010d.M%06dP%dQ%d.dovecottest", sec, date.Nanosecond()/1000, w.pid, w.seq.Add(1))

	hdrDate := m.HeaderDate
	if hdrDate.IsZero() {
		hdrDate = m.Date
	}
	subject := m.Subject
	if subject == "" {
		subject = "Fixture message " + date.UTC().Format(time.RFC3339)
	}
	to := user
	if !strings.Contains(to, "@") {
		to += "@example.invalid"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Return-Path: <sender@example.net>\n")
	fmt.Fprintf(&b, "Date: %s\n", hdrDate.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "From: Fixture Sender <sender@example.net>\n")
	fmt.Fprintf(&b, "To: <%s>\n", to)
	fmt.Fprintf(&b, "Subject: %s\n", mime.QEncoding.Encode("utf-8", subject))
	fmt.Fprintf(&b, "Message-ID: <%s@dovecottest.invalid>\n", base)
	fmt.Fprintf(&b, "MIME-Version: 1.0\n")
	fmt.Fprintf(&b, "Content-Type: text/plain; charset=utf-8\n")
	fmt.Fprintf(&b, "Content-Transfer-Encoding: 8bit\n")
	fmt.Fprintf(&b, "\n")
	fmt.Fprintf(&b, "Fixture message for %s in folder %s, received %s.\n", to, folder, date.UTC().Format(time.RFC3339))

	final := filepath.Join(folderDir, "new", base)
	if !m.New {
		final = filepath.Join(folderDir, "cur", base+":2,"+flags)
	}
	path := final
	if w.live.Load() {
		path = filepath.Join(folderDir, "tmp", base)
	}
	if err := w.writeFile(path, []byte(b.String()), date); err != nil {
		return err
	}
	if path != final {
		if err := os.Rename(path, final); err != nil {
			return fmt.Errorf("deliver %s: %w", final, err)
		}
	}
	return nil
}

// writeFile creates path with data, owned by the mail user, with mtime and
// atime set to date.
func (w *maildirWriter) writeFile(path string, data []byte, date time.Time) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if w.owner.chown {
		if err := f.Chown(w.owner.uid, w.owner.gid); err != nil {
			f.Close()
			return fmt.Errorf("chown %s: %w", path, err)
		}
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chtimes(path, date, date); err != nil {
		return fmt.Errorf("set mtime of %s: %w", path, err)
	}
	return nil
}

// normalizeFlags sorts Maildir flags and rejects anything but letters, as
// maildir(5) requires them in ASCII order.
func normalizeFlags(flags string) (string, error) {
	b := []byte(flags)
	for _, c := range b {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return "", fmt.Errorf("Maildir flags %q: only letters allowed", flags)
		}
	}
	sort.Slice(b, func(i, j int) bool { return b[i] < b[j] })
	return string(b), nil
}

// dropIndexes removes Dovecot's index and cache files from a Maildir root and
// its folders, keeping dovecot-uidlist (so UIDs and UIDVALIDITY stay) and
// dovecot-keywords.
func dropIndexes(maildir string) error {
	entries, err := os.ReadDir(maildir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("read %s: %w", maildir, err)
	}
	dirs := []string{maildir}
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), ".") {
			dirs = append(dirs, filepath.Join(maildir, e.Name()))
		}
	}
	for _, d := range dirs {
		files, err := os.ReadDir(d)
		if err != nil {
			return fmt.Errorf("read %s: %w", d, err)
		}
		for _, f := range files {
			n := f.Name()
			if f.Type().IsRegular() && (strings.HasPrefix(n, "dovecot.index") || strings.HasPrefix(n, "dovecot.list.index")) {
				if err := os.Remove(filepath.Join(d, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("remove %s: %w", filepath.Join(d, n), err)
				}
			}
		}
	}
	return nil
}

// GenerateFixture returns n users for benchmarks and scale tests, named
// "user00001@example.test" and so on (password "pw-00001"). A share
// absentShare (0..1) of them, spread evenly, is Absent. Every other user has
// six messages: in INBOX one a day and one an hour before the cutoff (seen),
// one an hour after (seen) and one a day after (unseen, in new/); in
// "Entwürfe" one an hour before and one an hour after the cutoff.
func GenerateFixture(n int, absentShare float64, cutoff time.Time) Fixture {
	absentShare = min(max(absentShare, 0), 1)
	f := Fixture{Users: make([]User, n)}
	for i := range n {
		u := User{
			Name:     fmt.Sprintf("user%05d@example.test", i+1),
			Password: fmt.Sprintf("pw-%05d", i+1),
			// Absent when the rounded running count of absent users steps up
			// here: spreads them evenly and gives round(n*share) in total.
			Absent: int(float64(i+1)*absentShare+0.5) > int(float64(i)*absentShare+0.5),
		}
		if !u.Absent {
			u.Folders = []Folder{
				{Name: "INBOX", Messages: []Message{
					{Date: cutoff.Add(-24 * time.Hour), Flags: "S", Subject: "Before cutoff (day)"},
					{Date: cutoff.Add(-time.Hour), Flags: "S", Subject: "Before cutoff (hour)"},
					{Date: cutoff.Add(time.Hour), Flags: "S", Subject: "After cutoff (hour)"},
					{Date: cutoff.Add(24 * time.Hour), New: true, Subject: "After cutoff (day)"},
				}},
				{Name: "Entwürfe", Messages: []Message{
					{Date: cutoff.Add(-time.Hour), Flags: "S", Subject: "Draft before cutoff"},
					{Date: cutoff.Add(time.Hour), Subject: "Draft after cutoff"},
				}},
			}
		}
		f.Users[i] = u
	}
	return f
}

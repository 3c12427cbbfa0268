package dovecottest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// Snapshot records every message of a Maildir, keyed by "FOLDER/BASE": the
// '/'-separated UTF-8 folder name ("INBOX" for the root) and the message
// file's unique base name (the part before ":2,"). It covers new/ and cur/,
// so a message Dovecot moves from new/ to cur/ keeps its key and state.
type Snapshot map[string]MessageState

// MessageState is what a read-only session must not change.
type MessageState struct {
	Flags  string // Maildir flags after ":2,", "" for a file in new/
	SHA256 string // lowercase hex SHA-256 of the file's content
}

// SnapshotMaildir reads the Maildir++ tree at root. A root that does not
// exist gives an empty Snapshot (a mailbox that is gone); any other read
// error fails the test.
func SnapshotMaildir(t testing.TB, root string) Snapshot {
	t.Helper()
	s, err := snapshotMaildir(root)
	if err != nil {
		t.Fatalf("dovecottest: snapshot %s: %v", root, err)
	}
	return s
}

func snapshotMaildir(root string) (Snapshot, error) {
	s := Snapshot{}
	entries, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, err
	}
	folders := map[string]string{"INBOX": root}
	for _, e := range entries {
		n := e.Name()
		if !e.IsDir() || !strings.HasPrefix(n, ".") || n == "." || n == ".." {
			continue
		}
		name, err := folderNameFromDir(n)
		if err != nil {
			return nil, fmt.Errorf("folder directory %s: %w", n, err)
		}
		folders[name] = filepath.Join(root, n)
	}
	for name, dir := range folders {
		for _, sub := range []string{"new", "cur"} {
			files, err := os.ReadDir(filepath.Join(dir, sub))
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, err
			}
			for _, f := range files {
				if !f.Type().IsRegular() {
					continue
				}
				base, flags, _ := strings.Cut(f.Name(), ":2,")
				sum, err := fileSHA256(filepath.Join(dir, sub, f.Name()))
				if err != nil {
					return nil, err
				}
				key := name + "/" + base
				if _, dup := s[key]; dup {
					return nil, fmt.Errorf("message %s is in both new/ and cur/", key)
				}
				s[key] = MessageState{Flags: flags, SHA256: sum}
			}
		}
	}
	return s, nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Diff lists, sorted by key, how other (taken later) differs from s:
//
//	lost KEY              in s, not in other
//	added KEY             in other, not in s
//	content changed KEY   same key, different SHA-256
//	flags changed KEY: "S" -> "RS"
//
// An empty result means nothing a customer could see has changed.
func (s Snapshot) Diff(other Snapshot) []string {
	keys := make([]string, 0, len(s)+len(other))
	for k := range s {
		keys = append(keys, k)
	}
	for k := range other {
		if _, ok := s[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var out []string
	for _, k := range keys {
		a, inA := s[k]
		b, inB := other[k]
		switch {
		case !inB:
			out = append(out, "lost "+k)
		case !inA:
			out = append(out, "added "+k)
		default:
			if a.SHA256 != b.SHA256 {
				out = append(out, "content changed "+k)
			}
			if a.Flags != b.Flags {
				out = append(out, fmt.Sprintf("flags changed %s: %q -> %q", k, a.Flags, b.Flags))
			}
		}
	}
	return out
}

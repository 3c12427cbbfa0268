package demo

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func readInventory(t *testing.T, path string) [][]string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	body, ok := bytes.CutPrefix(raw, []byte("\xEF\xBB\xBF"))
	if !ok {
		t.Fatalf("%s does not start with a UTF-8 byte order mark: % x", path, raw[:min(3, len(raw))])
	}
	if !bytes.Contains(body, []byte("\r\n")) {
		t.Errorf("%s has no CRLF line ends", path)
	}
	r := csv.NewReader(bytes.NewReader(body))
	r.Comma = ';'
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatalf("re-read %s: %v", path, err)
	}
	return rows
}

func TestWriteInventory(t *testing.T) {
	inc := NewIncident(200, testCutoff, 1)
	tests := []struct {
		name   string
		write  func(string) error
		header []string
	}{
		{"without passwords", inc.WriteInventory, InventoryHeader()},
		{"with passwords", inc.WriteInventoryWithPasswords, append(InventoryHeader(), "password")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "inventory.csv")
			// A file already there is replaced whole.
			if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := tt.write(path); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("mode %v, want 0600", fi.Mode().Perm())
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 1 {
				t.Errorf("directory holds %d files, want only inventory.csv (no temporary file left)", len(entries))
			}
			rows := readInventory(t, path)
			if !reflect.DeepEqual(rows[0], tt.header) {
				t.Fatalf("header %q, want %q", rows[0], tt.header)
			}
			if len(rows) != len(inc.Mailboxes)+1 {
				t.Fatalf("%d rows, want %d", len(rows), len(inc.Mailboxes)+1)
			}
			found00420, hostile := false, false
			for i, row := range rows[1:] {
				e := inc.Mailboxes[i].Entry
				want := []string{e.AccountID(), e.Mailbox(), e.CustomerType(), e.Product(), e.Created().Format("02.01.2006"), e.Access(), e.ContactName(), e.ContactPhone()}
				if len(tt.header) == 9 {
					want = append(want, e.Password())
				}
				if !reflect.DeepEqual(row, want) {
					t.Errorf("row %d = %q, want %q", i+2, row, want)
				}
				opened, err := time.Parse("02.01.2006", row[4])
				if err != nil || !opened.Equal(e.Created()) {
					t.Errorf("row %d: opened %q does not give %v (%v)", i+2, row[4], e.Created(), err)
				}
				found00420 = found00420 || row[0] == "00420"
				hostile = hostile || row[6] == HostileContact
			}
			if !found00420 {
				t.Error(`no customer_id "00420" in the file`)
			}
			if !hostile {
				t.Error("the hostile contact did not survive the round trip")
			}
		})
	}
}

func TestWriteInventoryErrors(t *testing.T) {
	inc := NewIncident(20, testCutoff, 1)
	dir := t.TempDir()
	if err := inc.WriteInventory(filepath.Join(dir, "missing-dir", "inventory.csv")); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
	// A directory in the way makes the rename fail; the temporary file must go.
	target := filepath.Join(dir, "taken")
	if err := os.MkdirAll(filepath.Join(target, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := inc.WriteInventory(target); err == nil {
		t.Error("renaming over a non-empty directory succeeded")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries after a failed write, want 1", len(entries))
	}
}
